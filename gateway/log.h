/* Logging with levels to stderr.
 *
 * Under systemd (JOURNAL_STREAM set) lines carry a "<N>" syslog priority
 * prefix and no timestamp, since journald adds its own; otherwise each line
 * starts with an ISO-8601 UTC timestamp and the level name. One write(2) per
 * line, so lines from different threads never interleave. */
#ifndef FG_LOG_H
#define FG_LOG_H

#include <stdarg.h>

enum fg_log_level { FG_LOG_ERROR, FG_LOG_WARN, FG_LOG_INFO, FG_LOG_DEBUG };

/* Parse "error" | "warn" | "info" | "debug"; 0 or FG_EINVAL. */
int fg_log_level_parse(const char *s, enum fg_log_level *out);
const char *fg_log_level_name(enum fg_log_level l);

void fg_log_set_level(enum fg_log_level l);
enum fg_log_level fg_log_get_level(void);
/* Force the journald format on (1) / off (0); -1 = detect from JOURNAL_STREAM. */
void fg_log_set_journal(int on);

void fg_log(enum fg_log_level l, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fg_vlog(enum fg_log_level l, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define fg_err(mod, ...) fg_log(FG_LOG_ERROR, mod, __VA_ARGS__)
#define fg_warn(mod, ...) fg_log(FG_LOG_WARN, mod, __VA_ARGS__)
#define fg_info(mod, ...) fg_log(FG_LOG_INFO, mod, __VA_ARGS__)
#define fg_dbg(mod, ...) fg_log(FG_LOG_DEBUG, mod, __VA_ARGS__)

#endif
