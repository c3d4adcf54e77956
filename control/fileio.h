/* fileio.h - blocking file helpers for the control thread and the helper
 * threads it starts (never a worker: workers write through io_uring). */
#ifndef SL_CONTROL_FILEIO_H
#define SL_CONTROL_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all n bytes of p to fd (retrying short writes and EINTR).
 * 0, or -errno (-EIO for a write that wrote nothing). */
int sl_write_all(int fd, const void *p, size_t n);

/* Replace path with p[0..n) whole or not at all: a temporary file beside
 * it, written and fdatasynced, renamed over it, and the directory synced.
 * 0 or -errno. */
int sl_write_file_atomic(const char *path, const void *p, size_t n, mode_t mode);

/* The whole file at path, NUL-terminated, in a malloc'd buffer (*len
 * without the NUL); NULL with errno set (EFBIG past max bytes). */
char *sl_read_file(const char *path, size_t max, size_t *len);

#endif
