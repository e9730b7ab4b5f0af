#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fg_err.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities for journald's "<N>" prefix: err, warning, info, debug. */
static const int level_prio[] = {3, 4, 6, 7};

static volatile int cur_level = FG_LOG_INFO;
static volatile int journal = -1; /* -1: not yet detected */

int fg_log_level_parse(const char *s, enum fg_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (enum fg_log_level)i;
            return 0;
        }
    }
    return FG_EINVAL;
}

const char *fg_log_level_name(enum fg_log_level l)
{
    if ((unsigned)l < sizeof(level_names) / sizeof(level_names[0]))
        return level_names[l];
    return "?";
}

void fg_log_set_level(enum fg_log_level l)
{
    cur_level = l;
}

enum fg_log_level fg_log_get_level(void)
{
    return (enum fg_log_level)cur_level;
}

void fg_log_set_journal(int on)
{
    journal = on;
}

static int under_journal(void)
{
    if (journal < 0)
        journal = getenv("JOURNAL_STREAM") != NULL;
    return journal;
}

void fg_vlog(enum fg_log_level l, const char *module, const char *fmt, va_list ap)
{
    if ((int)l > cur_level || (unsigned)l > FG_LOG_DEBUG)
        return;
    char line[2048];
    size_t n;
    if (under_journal()) {
        n = (size_t)snprintf(line, sizeof(line), "<%d>%s: ", level_prio[l], module);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n,
                              ".%03ldZ %-5s %s: ", ts.tv_nsec / 1000000, level_names[l],
                              module);
    }
    if (n < sizeof(line))
        n += (size_t)vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2; /* truncated: keep the newline */
    /* One line, one write: control characters from peers are neutralised so a
     * hostile string cannot forge log lines. */
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            line[i] = '?';
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void fg_log(enum fg_log_level l, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fg_vlog(l, module, fmt, ap);
    va_end(ap);
}
