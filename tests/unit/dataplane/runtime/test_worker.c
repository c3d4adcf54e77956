/* Tests for dataplane/worker.c with real EAL lcores and rte_rings: calls
 * reach the right thread, a full ring is back-pressure (nothing lost, order
 * kept), worker-to-worker calls come back, appends are acknowledged only
 * after group commit, and QSBR lets go once workers are quiescent. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "dataplane/runtime/config.h"
#include "dataplane/limits.h"
#include "dataplane/runtime/metrics.h"
#include "dataplane/storage/shardlog.h"
#include "dataplane/runtime/worker.h"

static struct sl_config cfg;

static void start_with_idle(unsigned idle_ms);

static void start(void)
{
	start_with_idle(0);
}

static void start_with_idle(unsigned idle_ms)
{
	/* --no-shconf: nothing in /var/run/dpdk, so tests run side by side. */
	char *args[] = { "test", "--no-pci", "--no-huge", "-m", "128", "--no-telemetry",
			 "--no-shconf", "--lcores", "0@0,1@0,2@(0-1)", "--log-level=lib.eal:error" };

	cr_assert_geq(rte_eal_init(sizeof(args) / sizeof(args[0]), args), 0);
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.listen_host, "127.0.0.1");
	cfg.listen_port = 0; /* each worker gets an ephemeral port; nothing connects */
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "/tmp/sl-test-worker-%d", getpid());
	cfg.workers = 2;
	cfg.durability = SL_DUR_SYNC;
	cfg.segment_bytes = SL_SEGMENT_BYTES_MIN;
	cfg.log_level = SL_LOG_WARN;
	cfg.idle_ms = idle_ms;
	sl_cfg = &cfg;
	cr_assert_eq(sl_workers_start(&cfg), 0);
	cr_assert_eq(sl_worker_count(), 2);
}

static void stop(void)
{
	char cmd[sizeof(cfg.data_dir) + 32];

	sl_workers_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cfg.data_dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(worker, .init = start, .fini = stop, .timeout = 60);

/* The same workers with an hour between housekeeping ticks and between the
 * control thread's checks of its ring: a wake-up lost by either side is a
 * hang, caught by the suite's timeout, instead of a slow round trip. */
static void start_idle(void)
{
	start_with_idle(3600 * 1000);
}

TestSuite(wakeups, .init = start_idle, .fini = stop, .timeout = 120);

struct probe {
	struct sl_msg msg;
	int ran_on;
	uint64_t seq;
};

static _Atomic uint64_t next_seq[SL_WORKERS_MAX];
static _Atomic int out_of_order;

static void probe_fn(struct sl_worker *self, struct sl_msg *msg)
{
	struct probe *p = msg->arg;
	uint16_t me = sl_worker_index(self);

	p->ran_on = me;
	/* Messages from one sender to one recipient arrive in send order. */
	if (p->seq != atomic_fetch_add(&next_seq[me], 1))
		atomic_store(&out_of_order, 1);
	/* A slow start, so that the sender surely finds this ring full. */
	if (p->seq == 0)
		usleep(100 * 1000);
	sl_msg_reply(self, msg);
}

Test(worker, calls_run_on_their_worker_and_a_full_ring_loses_nothing)
{
	/* Far more messages than one ring holds: the overflow waits in the
	 * sender's outbox and goes out as the recipient drains. */
	const unsigned n = SL_RING_SLOTS * 3;
	struct probe *p = calloc(n, sizeof(*p));
	struct sl_msg **msgs = calloc(n, sizeof(*msgs));
	uint16_t *to = calloc(n, sizeof(*to));
	uint64_t per[2] = { 0, 0 };

	for (unsigned i = 0; i < n; i++) {
		to[i] = (uint16_t)(i % 3 == 0 ? 0 : 1);
		p[i].seq = per[to[i]]++;
		p[i].ran_on = -1;
		p[i].msg.fn = probe_fn;
		p[i].msg.arg = &p[i];
		msgs[i] = &p[i].msg;
	}
	sl_control_call_wait(msgs, to, n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(p[i].ran_on, to[i], "message %u ran on %d", i, p[i].ran_on);
	cr_assert_eq(atomic_load(&next_seq[0]), per[0]);
	cr_assert_eq(atomic_load(&next_seq[1]), per[1]);
	cr_assert_eq(atomic_load(&out_of_order), 0);
	cr_assert_gt(atomic_load(&sl_metrics_of(SL_WORKERS_MAX)->ring_full), 0,
		     "the ring never filled: the test did not exercise back-pressure");
	free(p);
	free(msgs);
	free(to);
}

/* Worker 0 calls worker 1 and waits for the reply, then replies to control. */
struct relay {
	struct sl_msg outer;
	struct sl_msg inner;
	int inner_ran_on;
	int done_ran_on;
};

static void inner_fn(struct sl_worker *self, struct sl_msg *msg)
{
	struct relay *r = msg->arg;

	r->inner_ran_on = sl_worker_index(self);
	sl_msg_reply(self, msg);
}

static void inner_done(struct sl_worker *self, struct sl_msg *msg)
{
	struct relay *r = msg->arg;

	r->done_ran_on = sl_worker_index(self);
	sl_msg_reply(self, &r->outer);
}

static void outer_fn(struct sl_worker *self, struct sl_msg *msg)
{
	struct relay *r = msg->arg;

	r->inner.fn = inner_fn;
	r->inner.done = inner_done;
	r->inner.arg = r;
	sl_msg_send(self, 1, &r->inner);
}

Test(worker, worker_to_worker_calls_come_back_to_the_caller)
{
	struct relay r = { .inner_ran_on = -1, .done_ran_on = -1 };
	struct sl_msg *m = &r.outer;
	uint16_t to = 0;

	r.outer.fn = outer_fn;
	r.outer.arg = &r;
	sl_control_call_wait(&m, &to, 1);
	cr_assert_eq(r.inner_ran_on, 1);
	cr_assert_eq(r.done_ran_on, 0);
}

/* Append on the owner; the reply must wait for the durable flush. */
struct append {
	struct sl_msg msg;
	struct sl_waiter wt;
	struct sl_wlog *wl;
	uint64_t n;
	uint64_t durable_at_ack;
	uint64_t fsyncs_at_ack;
	int rc;
};

static void durable_cb(struct sl_worker *self, struct sl_waiter *wt)
{
	struct append *a = wt->arg;

	a->durable_at_ack = sl_shardlog_durable_n(a->wl->log);
	/* In sync mode the worker's journal carries the fdatasync. */
	a->fsyncs_at_ack = sl_shardlog_fsyncs(a->wl->log) + sl_worker_journal_syncs(self);
	sl_msg_reply(self, &a->msg);
}

static void append_fn(struct sl_worker *self, struct sl_msg *msg)
{
	struct append *a = msg->arg;

	a->wl = sl_worker_log(self, 42, 7, &a->rc);
	if (!a->wl) {
		sl_msg_reply(self, msg);
		return;
	}
	a->rc = sl_shardlog_append(a->wl->log, "pk", 2, "data", 4, 1000, &a->n);
	if (a->rc < 0) {
		sl_msg_reply(self, msg);
		return;
	}
	cr_assert_leq(sl_shardlog_durable_n(a->wl->log), a->n, "durable before any flush");
	a->wt = (struct sl_waiter){ .target_n = a->n + 1, .cb = durable_cb, .arg = a };
	sl_worker_commit(self, a->wl, &a->wt);
}

Test(worker, appends_are_acknowledged_after_group_commit)
{
	struct append a[8];
	struct sl_msg *msgs[8];
	uint16_t to[8];

	memset(a, 0, sizeof(a));
	for (int i = 0; i < 8; i++) {
		a[i].msg.fn = append_fn;
		a[i].msg.arg = &a[i];
		msgs[i] = &a[i].msg;
		to[i] = 1;
	}
	sl_control_call_wait(msgs, to, 8);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(a[i].rc, 0);
		cr_assert_eq(a[i].n, (uint64_t)i);
		cr_assert_gt(a[i].durable_at_ack, a[i].n, "acknowledged before durable");
		cr_assert_gt(a[i].fsyncs_at_ack, 0, "sync mode: acknowledged with no fdatasync done");
	}
}

static void nop_fn(struct sl_worker *self, struct sl_msg *msg)
{
	sl_msg_reply(self, msg);
}

/* Holds its worker inside one loop iteration until released. */
static _Atomic int hold_state; /* 0 idle, 1 holding, 2 released */

static void hold_fn(struct sl_worker *self, struct sl_msg *msg)
{
	atomic_store(&hold_state, 1);
	while (atomic_load(&hold_state) != 2)
		;
	sl_msg_reply(self, msg);
}

static _Atomic int hold_replied;

static void hold_done(struct sl_worker *self, struct sl_msg *msg)
{
	(void)self;
	(void)msg;
	atomic_store(&hold_replied, 1);
}

Test(worker, qsbr_waits_for_a_worker_inside_an_iteration)
{
	struct sl_msg m = { .fn = hold_fn, .done = hold_done };

	atomic_store(&hold_state, 0);
	atomic_store(&hold_replied, 0);
	sl_msg_send(NULL, 1, &m);
	while (atomic_load(&hold_state) != 1)
		usleep(100);
	/* Worker 1 entered its iteration before this retire: what was retired
	 * may still be in its hands. */
	uint64_t epoch = sl_qsbr_retire();
	for (int i = 0; i < 20; i++) {
		cr_assert(!sl_qsbr_safe(epoch), "safe while a worker is inside an iteration");
		usleep(1000);
	}
	atomic_store(&hold_state, 2);
	for (int i = 0; i < 5000 && !(atomic_load(&hold_replied) && sl_qsbr_safe(epoch)); i++) {
		sl_control_poll();
		usleep(1000);
	}
	cr_assert(atomic_load(&hold_replied));
	cr_assert(sl_qsbr_safe(epoch), "not released once the worker left its iteration");
}

/* Timers run on the worker that armed them, and never early. */
struct timed {
	struct sl_msg msg;
	struct sl_timer t;
	struct sl_worker *w;
	uint64_t armed_ms;
	uint64_t fired_ms;
	int fired_on;
};

static void timed_fire(struct sl_timer *t, void *arg)
{
	struct timed *d = arg;

	(void)t;
	d->fired_ms = sl_mono_ms();
	d->fired_on = sl_worker_index(d->w);
	sl_msg_reply(d->w, &d->msg);
}

static void timed_arm(struct sl_worker *self, struct sl_msg *msg)
{
	struct timed *d = msg->arg;

	d->w = self;
	d->armed_ms = sl_mono_ms();
	sl_worker_timer(self, &d->t, 30 + 10 * (uint64_t)sl_worker_index(self), timed_fire, d);
}

Test(worker, timers_fire_on_their_worker_and_never_early)
{
	struct timed d[4];
	struct sl_msg *msgs[4];
	uint16_t to[4];

	memset(d, 0, sizeof(d));
	for (int i = 0; i < 4; i++) {
		d[i].msg.fn = timed_arm;
		d[i].msg.arg = &d[i];
		d[i].fired_on = -1;
		msgs[i] = &d[i].msg;
		to[i] = (uint16_t)(i % 2);
	}
	sl_control_call_wait(msgs, to, 4);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(d[i].fired_on, i % 2);
		cr_expect_geq(d[i].fired_ms - d[i].armed_ms, 30 + 10 * (uint64_t)(i % 2), "fired early");
	}
}

/* Many sleep/wake cycles: every message wakes its sleeping recipient at
 * once. A lost wake-up (the flag read before the enqueue is visible) would
 * leave the message until the worker's next timer, the 1 s housekeeping
 * tick: no round trip may take that long. */
Test(worker, qsbr_releases_once_workers_pass_a_quiescent_point)
{
	uint64_t epoch = sl_qsbr_retire();
	struct sl_msg m[2] = { { .fn = nop_fn }, { .fn = nop_fn } };
	struct sl_msg *msgs[2] = { &m[0], &m[1] };
	uint16_t to[2] = { 0, 1 };

	/* After each worker has run a loop iteration since the retire, no
	 * worker can hold what was retired. */
	sl_control_call_wait(msgs, to, 2);
	for (int i = 0; i < 1000 && !sl_qsbr_safe(epoch); i++)
		usleep(1000);
	cr_assert(sl_qsbr_safe(epoch));
}

/* A worker's call to the control thread whose reply waits for the control
 * thread's commit (the catalog's group commit), and becomes an error when
 * that commit fails. */
struct hop {
	struct sl_msg outer; /* control -> worker 0 */
	struct sl_msg inner; /* worker 0 -> control, replied after the commit */
	_Atomic int inner_done;
	_Atomic int outer_done;
	int commits_at_hold; /* commits run when the control thread held the reply */
	int failed_rc;
};

static int commit_rc;
static _Atomic int commits, reply_before_commit;

static int test_commit(void)
{
	atomic_fetch_add(&commits, 1);
	return commit_rc;
}

static void hop_failed(struct sl_msg *msg, int rc)
{
	struct hop *h = msg->arg;

	h->failed_rc = rc;
}

static void hop_control_side(struct sl_worker *self, struct sl_msg *msg)
{
	struct hop *h = msg->arg;

	cr_assert_null(self);
	h->commits_at_hold = atomic_load(&commits);
	sl_control_reply_committed(msg, hop_failed);
}

static void hop_inner_done(struct sl_worker *self, struct sl_msg *msg)
{
	struct hop *h = msg->arg;

	/* The reply crossed the ring after the message was handed over, so
	 * this plain read sees what the control thread wrote before it. */
	if (atomic_load(&commits) <= h->commits_at_hold)
		atomic_store(&reply_before_commit, 1);
	atomic_store(&h->inner_done, 1);
	sl_msg_reply(self, &h->outer);
}

static void hop_outer_fn(struct sl_worker *self, struct sl_msg *msg)
{
	struct hop *h = msg->arg;

	h->inner.fn = hop_control_side;
	h->inner.done = hop_inner_done;
	h->inner.arg = h;
	sl_msg_send(self, SL_TO_CONTROL, &h->inner);
}

static void hop_outer_done(struct sl_worker *self, struct sl_msg *msg)
{
	struct hop *h = msg->arg;

	(void)self;
	atomic_store(&h->outer_done, 1);
}

static void run_hop(struct hop *h)
{
	memset(h, 0, sizeof(*h));
	h->outer.fn = hop_outer_fn;
	h->outer.done = hop_outer_done;
	h->outer.arg = h;
	sl_msg_send(NULL, 0, &h->outer);
	for (int i = 0; i < 20000 && !atomic_load(&h->outer_done); i++) {
		if (sl_control_poll() == 0)
			usleep(500);
	}
	cr_assert(atomic_load(&h->outer_done), "the reply never came back");
}

Test(worker, control_replies_wait_for_the_commit_and_fail_with_it)
{
	struct hop h;

	sl_control_set_commit(test_commit);
	commit_rc = 0;
	run_hop(&h);
	cr_assert_geq(atomic_load(&commits), 1);
	cr_assert_eq(atomic_load(&reply_before_commit), 0, "a reply left before its commit");
	cr_assert_eq(h.failed_rc, 0);
	commit_rc = -EIO;
	run_hop(&h);
	cr_assert_eq(atomic_load(&reply_before_commit), 0);
	cr_assert_eq(h.failed_rc, -EIO, "a failed commit must reach the reply");
	sl_control_set_commit(NULL);
}

Test(wakeups, no_message_waits_for_a_timer_over_many_sleep_cycles)
{
	/* Each round trip: control -> worker (the worker may be asleep at any
	 * depth of its way into io_uring_enter) and back (the control thread
	 * may be asleep in poll). With no timer to rescue them, a missed wake
	 * on either side never completes. */
	for (int i = 0; i < 4000; i++) {
		struct sl_msg m = { .fn = nop_fn };
		struct sl_msg *msgs[1] = { &m };
		uint16_t to[1] = { (uint16_t)(i % 2) };
		for (volatile int spin = 0; spin < (i * 7919) % 20000; spin++)
			;
		sl_control_call_wait(msgs, to, 1);
	}
}
