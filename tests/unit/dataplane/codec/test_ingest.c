/* Tests for dataplane/codec/ingest.c: the UDP ingest protocol's datagrams
 * as docs/ingest-protocol.md specifies them, byte for byte (its worked
 * example), what a server must refuse, record rules, acknowledgement runs
 * and HMAC tags. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "dataplane/codec/ingest.h"

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	unsigned v;

	while (*s) {
		while (*s == ' ' || *s == '\n')
			s++;
		if (!*s || sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

/* The spec's example: producer 7 puts key "k1", data "hi" into "s". */
static const char *example_put =
	"53 4c 55 49 01 01 00 00 07 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00"
	"00 00 00 00 00 00 00 00 01 00 00 01 73"
	"00 00 02 00 02 00 00 00 6b 31 68 69";
static const char *example_ack =
	"53 4c 55 49 01 02 00 00 07 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00"
	"0c 00 00 00 00 00 00 00 01 00 00 00"
	"00 00 01 00 00 00 00 00 05 00 00 00 00 00 00 00";

Test(ingest, the_worked_example_encodes_and_parses_as_the_spec_writes_it)
{
	uint8_t want[256], buf[256];
	size_t wn = unhex(example_put, want);
	struct sl_ingest_writer w;
	struct sl_ingest_hdr h = { .type = SL_INGEST_PUT, .producer_id = 7, .seq = 1 };

	sl_ingest_begin(&w, buf, sizeof(buf), &h, "s");
	sl_ingest_add_record(&w, "k1", 2, "hi", 2, NULL);
	size_t n = sl_ingest_end(&w, NULL, 0);
	cr_assert_eq(n, wn);
	cr_assert_eq(memcmp(buf, want, n), 0, "the PUT is the spec's bytes");

	struct sl_ingest_view v;
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	cr_assert_eq(v.h.producer_id, 7);
	cr_assert_eq(v.h.seq, 1);
	cr_assert_eq(v.h.count, 1);
	cr_assert(v.name && v.h.name_len == 1 && v.name[0] == 's');
	struct sl_ingest_iter it;
	struct sl_ingest_rec r;
	sl_ingest_iter_init(&it, &v);
	cr_assert_eq(sl_ingest_next(&it, &r), 1);
	cr_assert(r.key_len == 2 && memcmp(r.key, "k1", 2) == 0);
	cr_assert(r.data_len == 2 && memcmp(r.data, "hi", 2) == 0);
	cr_assert(!r.has_hash && r.status == SL_INGEST_OK);
	cr_assert_eq(sl_ingest_next(&it, &r), 0);

	/* Its acknowledgement: stream 12, shard 0, record number 5. */
	wn = unhex(example_ack, want);
	struct sl_ingest_hdr a = { .type = SL_INGEST_PUT_ACK, .producer_id = 7, .seq = 1,
				   .stream_id = 12 };
	sl_ingest_begin(&w, buf, sizeof(buf), &a, NULL);
	sl_ingest_add_run(&w, SL_INGEST_OK, 0, 5);
	n = sl_ingest_end(&w, NULL, 0);
	cr_assert_eq(n, wn);
	cr_assert_eq(memcmp(buf, want, n), 0, "the PUT_ACK is the spec's bytes");
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	struct sl_ingest_run run;
	sl_ingest_iter_init(&it, &v);
	cr_assert_eq(sl_ingest_next_run(&it, &run), 1);
	cr_assert(run.status == SL_INGEST_OK && run.run == 1 && run.shard == 0 && run.first_n == 5);
	cr_assert_eq(sl_ingest_next_run(&it, &run), 0);
}

static size_t put_of(uint8_t *buf, size_t cap, const struct sl_ingest_hdr *h, const char *name,
		     int records)
{
	struct sl_ingest_writer w;

	sl_ingest_begin(&w, buf, cap, h, name);
	for (int i = 0; i < records; i++)
		sl_ingest_add_record(&w, "key", 3, "data", 4, NULL);
	return sl_ingest_end(&w, (const uint8_t *)"secret", 6);
}

Test(ingest, what_is_not_this_protocol_is_dropped_and_a_bad_header_is_malformed)
{
	uint8_t buf[512], bad[512];
	struct sl_ingest_hdr h = { .type = SL_INGEST_PUT, .producer_id = 1, .seq = 9 };
	struct sl_ingest_view v;
	size_t n = put_of(buf, sizeof(buf), &h, "orders", 2);

	cr_assert(n > 0);
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	cr_assert_eq(sl_ingest_parse(buf, SL_INGEST_HDR_BYTES - 1, &v), -1, "short: dropped");
	memcpy(bad, buf, n);
	bad[0] ^= 1;
	cr_assert_eq(sl_ingest_parse(bad, n, &v), -1, "no magic: dropped");

	/* Each of these keeps the header readable for the answer. */
	struct {
		size_t off;
		uint8_t val;
		int want;
	} cases[] = {
		{ 4, 2, SL_INGEST_UNSUPPORTED_VERSION },
		{ 5, 9, SL_INGEST_MALFORMED },   /* unknown type */
		{ 6, 0x04, SL_INGEST_MALFORMED }, /* unknown flag */
		{ 7, 0x80, SL_INGEST_MALFORMED },
		{ 6, SL_INGEST_F_DUPLICATE, SL_INGEST_MALFORMED }, /* only in acks */
		{ 34, 1, SL_INGEST_MALFORMED },   /* a status in a request */
		{ 32, 3, SL_INGEST_MALFORMED },   /* more records than there are */
		{ 32, 1, SL_INGEST_MALFORMED },   /* fewer: bytes left over */
		{ 32, 0, SL_INGEST_MALFORMED },   /* none */
		{ 36, '/', SL_INGEST_MALFORMED }, /* a name Kinesis refuses */
		{ 24, 5, SL_INGEST_MALFORMED },   /* both a name and an id */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, buf, n);
		bad[cases[i].off] = cases[i].val;
		int got = sl_ingest_parse(bad, n, &v);
		cr_expect_eq(got, cases[i].want, "byte %zu = %u: %d, not %d", cases[i].off,
			     cases[i].val, got, cases[i].want);
		cr_expect_eq(v.h.producer_id, 1, "the header is read for the answer");
		cr_expect_eq(v.h.seq, 9);
	}
	/* A truncated record, and a datagram cut short. */
	for (size_t cut = SL_INGEST_HDR_BYTES; cut < n; cut++)
		cr_expect_eq(sl_ingest_parse(buf, cut, &v), SL_INGEST_MALFORMED, "cut at %zu", cut);
	/* By id needs an id; a lookup is by name only. */
	struct sl_ingest_hdr byid = { .type = SL_INGEST_PUT, .producer_id = 1, .stream_id = 0 };
	n = put_of(buf, sizeof(buf), &byid, NULL, 1);
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_MALFORMED);
	byid.stream_id = 77;
	n = put_of(buf, sizeof(buf), &byid, NULL, 1);
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	cr_assert_eq(v.h.stream_id, 77);
	struct sl_ingest_hdr lk = { .type = SL_INGEST_LOOKUP, .stream_id = 77 };
	n = put_of(buf, sizeof(buf), &lk, NULL, 0);
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_MALFORMED);
	lk.stream_id = 0;
	n = put_of(buf, sizeof(buf), &lk, "orders", 0);
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
}

Test(ingest, records_follow_kinesis_rules_one_by_one)
{
	static uint8_t buf[SL_INGEST_DATAGRAM_MAX];
	static char big[SL_INGEST_RECORD_MAX];
	char key257[258];
	struct sl_ingest_hdr h = { .type = SL_INGEST_PUT, .producer_id = 3, .seq = 1 };
	struct sl_ingest_writer w;
	uint8_t hash[16] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80 };

	memset(key257, 'k', 257);
	key257[257] = '\0';
	memset(big, 'x', sizeof(big));
	sl_ingest_begin(&w, buf, sizeof(buf), &h, "s");
	sl_ingest_add_record(&w, "a", 1, "", 0, hash);                /* ok, empty data */
	sl_ingest_add_record(&w, "", 0, "d", 1, NULL);                /* no key */
	sl_ingest_add_record(&w, key257, 257, "d", 1, NULL);          /* 257 characters */
	sl_ingest_add_record(&w, "\xc3\xa9t\xc3\xa9", 5, "d", 1, NULL); /* "été": ok */
	sl_ingest_add_record(&w, "\xc3", 1, "d", 1, NULL);            /* not UTF-8 */
	sl_ingest_add_record(&w, "\xed\xa0\x80", 3, "d", 1, NULL);    /* a surrogate */
	size_t n = sl_ingest_end(&w, NULL, 0);
	cr_assert(n > 0);
	struct sl_ingest_view v;
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	uint8_t want[] = { SL_INGEST_OK, SL_INGEST_INVALID, SL_INGEST_INVALID, SL_INGEST_OK,
			   SL_INGEST_INVALID, SL_INGEST_INVALID };
	struct sl_ingest_iter it;
	struct sl_ingest_rec r;
	sl_ingest_iter_init(&it, &v);
	for (size_t i = 0; i < sizeof(want); i++) {
		cr_assert_eq(sl_ingest_next(&it, &r), 1);
		cr_expect_eq(r.status, want[i], "record %zu: %u", i, r.status);
		if (i == 0)
			cr_assert(r.has_hash && memcmp(r.hash, hash, 16) == 0 && r.data_len == 0);
	}
	cr_assert_eq(sl_ingest_next(&it, &r), 0);

	/* Key and data over 1 MiB together: too large (the datagram here is
	 * not a UDP one: the codec reads what it is given). */
	static uint8_t huge[SL_INGEST_RECORD_MAX + 256];
	sl_ingest_begin(&w, huge, sizeof(huge), &h, "s");
	sl_ingest_add_record(&w, "kk", 2, big, sizeof(big) - 1, NULL);
	n = sl_ingest_end(&w, NULL, 0);
	cr_assert(n > 0);
	cr_assert_eq(sl_ingest_parse(huge, n, &v), SL_INGEST_OK);
	sl_ingest_iter_init(&it, &v);
	cr_assert_eq(sl_ingest_next(&it, &r), 1);
	cr_assert_eq(r.status, SL_INGEST_RECORD_TOO_LARGE);

	/* At most 500 records; the writer refuses the 501st. */
	sl_ingest_begin(&w, buf, sizeof(buf), &h, "s");
	for (int i = 0; i < SL_INGEST_RECORDS_MAX; i++)
		sl_ingest_add_record(&w, "k", 1, "", 0, NULL);
	cr_assert(!w.err);
	sl_ingest_add_record(&w, "k", 1, "", 0, NULL);
	cr_assert(w.err);
	cr_assert_eq(sl_ingest_end(&w, NULL, 0), 0);
}

Test(ingest, acknowledgement_runs_merge_consecutive_records_of_a_shard)
{
	uint8_t buf[1024];
	struct sl_ingest_writer w;
	struct sl_ingest_hdr a = { .type = SL_INGEST_PUT_ACK, .producer_id = 4, .seq = 2,
				   .stream_id = 9 };

	sl_ingest_begin(&w, buf, sizeof(buf), &a, NULL);
	sl_ingest_add_run(&w, SL_INGEST_OK, 1, 100);
	sl_ingest_add_run(&w, SL_INGEST_OK, 1, 101);
	sl_ingest_add_run(&w, SL_INGEST_OK, 1, 102);
	sl_ingest_add_run(&w, SL_INGEST_OK, 2, 7);      /* another shard */
	sl_ingest_add_run(&w, SL_INGEST_OK, 2, 9);      /* not the next number */
	sl_ingest_add_run(&w, SL_INGEST_INVALID, 0, 0);
	sl_ingest_add_run(&w, SL_INGEST_INVALID, 5, 5); /* refused: shard and n ignored */
	sl_ingest_add_run(&w, SL_INGEST_OK, 1, 103);
	size_t n = sl_ingest_end(&w, NULL, 0);
	cr_assert_eq(n, SL_INGEST_HDR_BYTES + 5 * SL_INGEST_RUN_BYTES);
	struct sl_ingest_view v;
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	cr_assert_eq(v.h.count, 5);
	struct sl_ingest_run want[] = {
		{ SL_INGEST_OK, 3, 1, 100 }, { SL_INGEST_OK, 1, 2, 7 }, { SL_INGEST_OK, 1, 2, 9 },
		{ SL_INGEST_INVALID, 2, 0, 0 }, { SL_INGEST_OK, 1, 1, 103 },
	};
	struct sl_ingest_iter it;
	struct sl_ingest_run run;
	sl_ingest_iter_init(&it, &v);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(sl_ingest_next_run(&it, &run), 1);
		cr_expect(run.status == want[i].status && run.run == want[i].run &&
			  run.shard == want[i].shard && run.first_n == want[i].first_n,
			  "run %d: %u x%u shard %u n %llu", i, run.status, run.run, run.shard,
			  (unsigned long long)run.first_n);
	}
	/* An acknowledgement of a refused datagram has no runs. */
	struct sl_ingest_hdr stale = { .type = SL_INGEST_PUT_ACK, .status = SL_INGEST_STALE };
	sl_ingest_begin(&w, buf, sizeof(buf), &stale, NULL);
	n = sl_ingest_end(&w, NULL, 0);
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	cr_assert_eq(v.h.status, SL_INGEST_STALE);
	buf[34] = SL_INGEST_OK; /* OK with no runs: malformed */
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_MALFORMED);
}

Test(ingest, tags_verify_with_the_producers_key_only)
{
	uint8_t buf[512];
	struct sl_ingest_hdr h = { .type = SL_INGEST_PUT, .flags = SL_INGEST_F_AUTH,
				   .producer_id = 5, .seq = 3 };
	struct sl_ingest_view v;
	size_t n = put_of(buf, sizeof(buf), &h, "s", 2);

	cr_assert(n > SL_INGEST_TAG_BYTES);
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	cr_assert(v.tag == buf + n - SL_INGEST_TAG_BYTES);
	cr_assert(sl_ingest_verify(&v, (const uint8_t *)"secret", 6));
	cr_assert(!sl_ingest_verify(&v, (const uint8_t *)"secreT", 6), "another key");
	for (size_t i = 0; i < n; i++) {
		if (i == 6 || i == 7)
			continue; /* flags: a changed AUTH bit changes the framing */
		buf[i] ^= 0x10;
		int rc = sl_ingest_parse(buf, n, &v);
		cr_expect(rc != SL_INGEST_OK || !sl_ingest_verify(&v, (const uint8_t *)"secret", 6),
			  "byte %zu changed still verifies", i);
		buf[i] ^= 0x10;
	}
	/* A change to a signed datagram (an answer's DUPLICATE flag) needs
	 * its tag written again. */
	buf[6] |= SL_INGEST_F_DUPLICATE;
	cr_assert(sl_ingest_parse(buf, n, &v) != SL_INGEST_OK ||
		  !sl_ingest_verify(&v, (const uint8_t *)"secret", 6));
	buf[5] = SL_INGEST_PUT_ACK;
	buf[6] = SL_INGEST_F_AUTH | SL_INGEST_F_DUPLICATE;
	sl_ingest_sign(buf, n, (const uint8_t *)"secret", 6);
	struct sl_ingest_view sv = v;
	sv.tag = buf + n - SL_INGEST_TAG_BYTES;
	sv.signed_len = n - SL_INGEST_TAG_BYTES;
	cr_assert(sl_ingest_verify(&sv, (const uint8_t *)"secret", 6), "re-signed");
	/* Without AUTH there is no tag to verify. */
	h.flags = 0;
	n = put_of(buf, sizeof(buf), &h, "s", 1);
	cr_assert_eq(sl_ingest_parse(buf, n, &v), SL_INGEST_OK);
	cr_assert(!sl_ingest_verify(&v, (const uint8_t *)"secret", 6));
}
