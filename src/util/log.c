/*
 * log: levelled messages on stderr, one line each, with a monotonic
 * timestamp. The level can change at run time (the daemon exposes it).
 */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

static enum log_level current_level = LOG_INFO;
static const char *current_ident = "warren";

static const char *const level_names[] = {
	[LOG_ERR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	current_level = level;
}

void log_set_ident(const char *ident)
{
	current_ident = ident;
}

const char *log_level_to_string(enum log_level level)
{
	if ((size_t)level >= ARRAY_SIZE(level_names))
		return "unknown";
	return level_names[level];
}

int log_level_from_string(const char *s, enum log_level *ret_level)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*ret_level = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

static void log_vemit(enum log_level level, int err, const char *fmt, va_list ap)
{
	char msg[2048];
	struct timespec ts;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	if (err)
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%d] %s: %s: %s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, current_ident, (int)getpid(),
			log_level_to_string(level), msg, strerror(err < 0 ? -err : err));
	else
		fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%d] %s: %s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, current_ident, (int)getpid(),
			log_level_to_string(level), msg);
}

void log_emit(enum log_level level, int err, const char *fmt, ...)
{
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	log_vemit(level, err, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
