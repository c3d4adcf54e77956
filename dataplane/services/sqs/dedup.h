/* dedup.h - a FIFO partition's deduplication window: the sends of the last
 * SL_SQS_DEDUP_WINDOW_MS, by deduplication key.
 *
 * A key is a 16-byte digest of the MessageDeduplicationId (with the
 * MessageGroupId under DeduplicationScope messageGroup). Entries sit in a
 * ring in send order, which is also record-number order and (with the
 * window fixed) expiry order, so expiry pops from the head and a record
 * number is found by binary search. A hash table over the ring finds keys.
 *
 * The window must survive a restart, so a send's record must outlive its
 * message until its window ends: an entry whose message left the index is
 * marked gone, and its record is killed only when the entry expires
 * (sqs_dedup_expire calls back for it). Start-up replay rebuilds the
 * window from the records still in the log.
 *
 * One thread (the partition's owner; the control thread during replay).
 */
#ifndef SL_SQS_DEDUP_H
#define SL_SQS_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

struct sqs_dedup_e {
	uint8_t key[16];
	uint8_t msg_id[16]; /* what a duplicate send answers */
	uint64_t n;         /* the send's record number */
	int64_t until_ms;   /* the end of its window */
	bool gone;          /* its message left the index */
};

struct sqs_dedup {
	struct sqs_dedup_e *ring; /* entry s at ring[s & (cap - 1)] */
	uint64_t cap;             /* a power of two, or 0 */
	uint64_t head, tail;      /* live entries: sequence numbers [head, tail) */
	uint64_t *tab;            /* open addressing: s + 1, 0: empty */
	uint64_t tab_cap;
};

void sqs_dedup_init(struct sqs_dedup *d);
void sqs_dedup_fini(struct sqs_dedup *d);
static inline uint64_t sqs_dedup_count(const struct sqs_dedup *d)
{
	return d->tail - d->head;
}
/* The entry of key within its window at now_ms, or NULL. */
struct sqs_dedup_e *sqs_dedup_find(const struct sqs_dedup *d, const uint8_t *key,
				   int64_t now_ms);
/* Remember a send. Record numbers must increase from one add to the next.
 * 0, -ENOSPC (SL_SQS_DEDUP_MAX entries), -ENOMEM. A key already present
 * (an expired entry not dropped yet) is replaced in the table. */
int sqs_dedup_add(struct sqs_dedup *d, const uint8_t *key, const uint8_t *msg_id, uint64_t n,
		  int64_t until_ms);
/* The entry of record n, or NULL: O(log entries). */
struct sqs_dedup_e *sqs_dedup_by_n(const struct sqs_dedup *d, uint64_t n);
/* Drop up to max entries whose window ended by now_ms, oldest first,
 * calling gone(arg, n) for each one marked gone; how many were dropped. */
uint64_t sqs_dedup_expire(struct sqs_dedup *d, int64_t now_ms, uint64_t max,
			  void (*gone)(void *arg, uint64_t n), void *arg);

#endif
