/* fileio.c - see fileio.h. */
#include "control/fileio.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

int sl_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}
