/* log.c - stderr logging, one write(2) per line so lines never interleave. */
#include "dataplane/runtime/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static __thread char tl_name[16] = "main";
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void sl_log_thread_name(const char *name)
{
	snprintf(tl_name, sizeof(tl_name), "%s", name);
}

void sl_log(enum sl_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (sl_cfg && level < sl_cfg->log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %-7s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], tl_name);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t rc = write(STDERR_FILENO, line, (size_t)n);
	(void)rc;
}
