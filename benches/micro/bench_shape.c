/* bench_shape.c - what model-driven validation costs next to parsing:
 * PutRecords with 500 records of a given size, parsed (JSON) and checked
 * against the generated Kinesis shapes, best of many runs.
 *   bench_shape [RECORD_BYTES]   (default 1024) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dataplane/codec/doc.h"
#include "dataplane/codec/shape.h"

extern const struct sl_shape_model sl_shape_model_kinesis;

#define RECORDS 500
#define ROUNDS 200

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	static struct sl_doc_tok toks[8192];
	static char msg[SL_SHAPE_MSG_SIZE];
	int bytes = argc > 1 ? atoi(argv[1]) : 1024;
	size_t cap = (size_t)RECORDS * ((size_t)bytes * 4 / 3 + 64) + 64, n = 0;
	char *body = malloc(cap);
	double parse = 1e18, check = 1e18;

	if (!body || bytes < 1 || sl_shape_model_init(&sl_shape_model_kinesis) != 0)
		return 1;
	n += (size_t)snprintf(body, cap, "{\"StreamName\":\"bench\",\"Records\":[");
	for (int i = 0; i < RECORDS; i++) {
		n += (size_t)snprintf(body + n, cap - n, "%s{\"Data\":\"", i ? "," : "");
		for (int j = 0; j < (bytes + 2) / 3; j++)
			n += (size_t)snprintf(body + n, cap - n, "QUJD");
		n += (size_t)snprintf(body + n, cap - n, "\",\"PartitionKey\":\"pk-%d\"}", i);
	}
	n += (size_t)snprintf(body + n, cap - n, "]}");
	const struct sl_shape_op *op = sl_shape_op_find(&sl_shape_model_kinesis, "PutRecords", 10);
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_us();
		int nt = sl_json_parse((const uint8_t *)body, n, toks, 8192);
		double t1 = now_us();
		int rc = sl_shape_check(&sl_shape_model_kinesis, op, toks, 0, 0, msg, sizeof(msg));
		double t2 = now_us();
		if (nt <= 0 || rc != SL_SHAPE_OK) {
			fprintf(stderr, "bench_shape: parse %d, check %d: %s\n", nt, rc, msg);
			return 1;
		}
		parse = t1 - t0 < parse ? t1 - t0 : parse;
		check = t2 - t1 < check ? t2 - t1 : check;
	}
	printf("PutRecords %d x %d B: parse %.1f us, check %.1f us (%.2f of parse), best of %d\n",
	       RECORDS, bytes, parse, check, check / parse, ROUNDS);
	free(body);
	return 0;
}
