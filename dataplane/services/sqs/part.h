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
	int64_t first_recv_ms; /* 0 until received */
	uint32_t receives;     /* also the receive sequence of its newest handle */
	uint8_t state;
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
};

int sqs_idx_init(struct sqs_idx *x);
void sqs_idx_fini(struct sqs_idx *x);
/* The message sent as record n, or NULL. */
struct sqs_m *sqs_idx_find(const struct sqs_idx *x, uint64_t n);
/* A new message (record n) in state PENDING (a live send) or, for replay,
 * READY or DELAYED until visible_ms. 0, -EEXIST, -ENOMEM. */
int sqs_idx_add(struct sqs_idx *x, uint64_t n, int64_t sent_ms, int64_t visible_ms,
		enum sqs_state state);
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

#endif
