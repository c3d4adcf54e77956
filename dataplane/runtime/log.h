/* log.h - one line per event on stderr: time, level, thread, message.
 *
 * On a worker, lines are buffered and written by its io_uring (logbuf.h);
 * elsewhere each line is one write(2). */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "dataplane/runtime/config.h"

void sl_log(enum sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Name this thread in log lines ("main", "control", "w0"...). */
void sl_log_thread_name(const char *name);

#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

#endif
