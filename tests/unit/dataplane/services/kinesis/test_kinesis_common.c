/* Tests for control/kinesis/common.c and the 128-bit helpers of control/kinesis/stream_codec.c:
 * the strings clients see and send back. */
#include <criterion/criterion.h>

#include <string.h>

#include "control/kinesis/streams.h"
#include "dataplane/services/kinesis/kinesis.h"

Test(kinesis_common, sequence_numbers_round_trip_and_sort)
{
	char a[SL_SEQ_LEN + 1], b[SL_SEQ_LEN + 1];
	uint32_t ord;
	uint64_t n;

	sl_kin_seq_fmt(7, 1, a);
	cr_assert_str_eq(a, "49000000000700000000000000000001");
	sl_kin_seq_fmt(7, 10, b);
	cr_assert_lt(strcmp(a, b), 0, "text order must follow numeric order");
	cr_assert_eq(sl_kin_seq_parse(b, strlen(b), &ord, &n), 0);
	cr_assert_eq(ord, 7);
	cr_assert_eq(n, 10);
	sl_kin_seq_fmt(UINT32_MAX, 12345678901234567890ull, a);
	cr_assert_eq(sl_kin_seq_parse(a, strlen(a), &ord, &n), 0);
	cr_assert_eq(ord, UINT32_MAX);
	cr_assert_eq(n, 12345678901234567890ull);
}

Test(kinesis_common, bad_sequence_numbers_are_refused)
{
	const char *bad[] = { "", "49", "4900000000070000000000000000000",  /* 31 digits */
			      "490000000007000000000000000000011", /* 33 digits */
			      "48000000000700000000000000000001", "4900000000070000000000000000000x",
			      "49999999999900000000000000000001" /* ordinal over 2^32 */ };
	uint32_t ord;
	uint64_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sl_kin_seq_parse(bad[i], strlen(bad[i]), &ord, &n), -1, "%s", bad[i]);
}

Test(kinesis_common, shard_ids)
{
	char id[32];

	sl_kin_shard_id(0, id);
	cr_assert_str_eq(id, "shardId-000000000000");
	sl_kin_shard_id(123456, id);
	cr_assert_str_eq(id, "shardId-000000123456");
	cr_assert_eq(sl_kin_shard_parse(id), 123456);
	cr_assert_eq(sl_kin_shard_parse("shardId-000000000003"), 3);
	cr_assert_eq(sl_kin_shard_parse("3"), 3);
	cr_assert_eq(sl_kin_shard_parse("shardId-"), -1);
	cr_assert_eq(sl_kin_shard_parse("shardId-00000000000x"), -1);
	cr_assert_eq(sl_kin_shard_parse("shardId-9999999999999"), -1);
	cr_assert_eq(sl_kin_shard_parse("shard-1"), -1);
}

Test(kinesis_common, hash_keys_cover_the_128_bit_range)
{
	sl_u128 v;
	char out[40];
	const char *max = "340282366920938463463374607431768211455";

	cr_assert_eq(sl_u128_parse(max, strlen(max), &v), 0);
	cr_assert(v == ~(sl_u128)0);
	sl_u128_fmt(v, out);
	cr_assert_str_eq(out, max);
	cr_assert_eq(sl_u128_parse("340282366920938463463374607431768211456", 39, &v), -1);
	cr_assert_eq(sl_u128_parse("0", 1, &v), 0);
	cr_assert(v == 0);
	sl_u128_fmt(v, out);
	cr_assert_str_eq(out, "0");
	cr_assert_eq(sl_u128_parse("", 0, &v), -1);
	cr_assert_eq(sl_u128_parse("12a", 3, &v), -1);
	cr_assert_eq(sl_u128_parse("-1", 2, &v), -1);
	cr_assert_eq(sl_u128_parse("1000000000000000000000000000000000000000", 40, &v), -1);
}
