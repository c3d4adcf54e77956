/* fuzz_sigv4.c - the SigV4 Authorization scope reader: whatever it accepts
 * must give NUL-terminated region and service that fit their buffers and
 * appear in the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/net/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char region[32], service[16];
	char *copy = malloc(size ? size : 1);

	if (!copy)
		abort();
	memcpy(copy, data, size); /* a heap copy so ASan sees any over-read */
	memset(region, 0x55, sizeof(region));
	memset(service, 0x55, sizeof(service));
	if (sl_sigv4_scope(copy, size, region, sizeof(region), service, sizeof(service)) == 0) {
		size_t rl = strnlen(region, sizeof(region)), sl = strnlen(service, sizeof(service));
		if (rl == 0 || rl == sizeof(region) || sl == 0 || sl == sizeof(service))
			abort();
		if (!memmem(copy, size, region, rl) || !memmem(copy, size, service, sl))
			abort();
	}
	free(copy);
	return 0;
}
