/* fileio.h - blocking file helpers for the control thread and the helper
 * threads it starts (never a worker: workers write through io_uring). */
#ifndef SL_CONTROL_FILEIO_H
#define SL_CONTROL_FILEIO_H

#include <stddef.h>

/* Write all n bytes of p to fd (retrying short writes and EINTR).
 * 0, or -errno (-EIO for a write that wrote nothing). */
int sl_write_all(int fd, const void *p, size_t n);

#endif
