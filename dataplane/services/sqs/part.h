/* part.h - the in-memory index of one SQS queue partition, on its owner.
 *
 * Bodies stay in the partition's log; memory holds one entry per message:
 * its record number, when it was sent, when it is next visible, how often
 * it was received, and its state. Three structures find messages in O(1)
 * amortised (O(log n) for the deadline heap):
 *   - a hash table by record number (linear probing, entries inline);
 *   - a ring of the record numbers that became ready, in that order, so a
 *     receive takes the oldest ready messages first;
 *   - a min-heap of (visible_ms, n) for delayed and in-flight messages.
 * Ring and heap entries are hints: a message whose state moved on since is
 * skipped when its entry comes up, so a state change never searches them.
 *
 * A FIFO partition orders by message group instead of the ready ring:
 * each group keeps its messages' record numbers in send order, and counts
 * its messages in flight. A group is receivable when none is in flight and
 * its oldest message is READY; such groups wait in a ring of their own, in
 * the order they became receivable, and a receive takes a group's messages
 * from its oldest on. Groups are found by a 16-byte key (a digest of the
 * MessageGroupId) and freed with their last message.
 *
 * One thread (the owner worker; the control thread during start-up replay).
 * A pointer from sqs_idx_find() is valid until the next add or remove.
 * Record numbers are never reused (they come from a log), which is what
 * makes a ring entry of a removed message harmless.
 */
#ifndef SL_SQS_PART_H
#define SL_SQS_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sqs_state {
	SQS_PENDING = 1, /* sent, not durable yet: nobody may receive it */
	SQS_READY,       /* visible */
	SQS_DELAYED,     /* sent with a delay that has not passed */
	SQS_INFLIGHT,    /* received, its visibility timeout running */
};

struct sqs_m {
	uint64_t n;            /* the send's record number; 0 in a free slot is n + 1 */
	int64_t sent_ms;
	int64_t visible_ms;    /* DELAYED, INFLIGHT: when it becomes READY */
	uint32_t first_recv_d; /* 1 + ms from sent_ms to its first receive; 0: never */
	uint32_t receives;     /* also the receive sequence of its newest handle */
	uint32_t group;        /* FIFO: its group's index; 0: none */
	uint32_t state : 8;
	uint32_t recv_d : 24;  /* 1 + s from sent_ms to its latest receive; 0: never */
};

/* When m was last received (to the second above), or 0; and set it. */
int64_t sqs_m_last_recv(const struct sqs_m *m);
void sqs_m_set_last_recv(struct sqs_m *m, int64_t ms);

/* When m was first received, or 0; and set it (once). */
int64_t sqs_m_first_recv(const struct sqs_m *m);
void sqs_m_set_first_recv(struct sqs_m *m, int64_t ms);

struct sqs_group {
	uint8_t key[16];
	uint64_t *ring;        /* its messages' record numbers, oldest at head (hints) */
	uint32_t ring_cap, ring_head, ring_len;
	uint32_t live;         /* its messages in the index; 0: a free slot */
	uint32_t inflight;     /* of those, in flight */
	uint32_t next_free;
	bool listed;           /* in the ready-group ring */
};

struct sqs_idx {
	struct sqs_m *tab; /* open addressing; key n + 1, 0: empty */
	uint64_t cap;      /* a power of two */
	uint64_t count;
	uint64_t *ring;    /* ready record numbers, oldest at head */
	uint64_t ring_cap, ring_head, ring_len;
	struct sqs_due { int64_t ms; uint64_t n; } *heap;
	uint64_t heap_len, heap_cap;
	uint64_t n_state[SQS_INFLIGHT + 1]; /* messages per state */
	/* FIFO groups: slots 1.., a free list, a key table (open addressing,
	 * entries are slot numbers, 0: empty) and the receivable ring. */
	struct sqs_group *groups;
	uint32_t groups_cap, groups_free, ngroups;
	uint32_t *gtab;
	uint32_t gtab_cap;
	uint32_t *gring;
	uint32_t gring_cap, gring_head, gring_len;
};

int sqs_idx_init(struct sqs_idx *x);
void sqs_idx_fini(struct sqs_idx *x);
/* The message sent as record n, or NULL. */
struct sqs_m *sqs_idx_find(const struct sqs_idx *x, uint64_t n);
/* A new message (record n) in state PENDING (a live send) or, for replay,
 * READY or DELAYED until visible_ms; in the FIFO group of key gkey, or in
 * none (NULL). Record numbers of one group must come in increasing order.
 * 0, -EEXIST, -ENOMEM. */
int sqs_idx_add(struct sqs_idx *x, uint64_t n, int64_t sent_ms, int64_t visible_ms,
		enum sqs_state state, const uint8_t *gkey);
/* Set m's state and deadline (READY ignores visible_ms), moving it between
 * the ring and the heap as needed. -ENOMEM when a ring or heap cannot grow
 * (the message keeps its old state). */
int sqs_idx_set(struct sqs_idx *x, struct sqs_m *m, enum sqs_state state, int64_t visible_ms);
/* Forget message n (deleted, expired, or dropped with its queue). */
void sqs_idx_remove(struct sqs_idx *x, uint64_t n);
/* Move every DELAYED or INFLIGHT message whose time has come to READY. */
void sqs_idx_promote(struct sqs_idx *x, int64_t now_ms);
/* The oldest READY message, unlinked from the ring (still READY: the caller
 * sets its next state), or NULL when none is ready. Bounded work per call
 * amortised over the ring entries it discards. */
struct sqs_m *sqs_idx_pop_ready(struct sqs_idx *x);
/* The earliest deadline of a DELAYED or INFLIGHT message, or -1. */
int64_t sqs_idx_next_ms(struct sqs_idx *x);

/* Whether a receive would find a message now: one READY (no groups), or a
 * receivable group. */
bool sqs_idx_any_ready(struct sqs_idx *x);
/* The group that became receivable first, unlinked from the ring, or 0.
 * The caller takes its messages (sqs_idx_group_ready) and sets them in
 * flight; a group it leaves receivable must be offered again with
 * sqs_idx_group_check. */
uint32_t sqs_idx_pop_group(struct sqs_idx *x);
/* Up to max record numbers of group g's oldest messages, in order, while
 * they are READY; how many. */
uint32_t sqs_idx_group_ready(struct sqs_idx *x, uint32_t g, uint64_t *out, uint32_t max);
/* Put g in the receivable ring if it is receivable and not there. */
void sqs_idx_group_check(struct sqs_idx *x, uint32_t g);
/* The group of key gkey, or 0. */
uint32_t sqs_idx_group_find(const struct sqs_idx *x, const uint8_t *gkey);

#endif
