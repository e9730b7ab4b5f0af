/* xcal durations and date-times (RFC 5545 / ISO 8601 as OpenADR uses them). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fg_openadr.h"

#define SECS_MAX (INT64_MAX / 4)

/* Read the digits at *p into *v; false if none or too many. */
static bool digits(const char **p, int64_t *v)
{
    const char *s = *p;
    int64_t n = 0;
    while (*s >= '0' && *s <= '9') {
        if (n > (SECS_MAX - 9) / 10)
            return false;
        n = n * 10 + (*s - '0');
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *v = n;
    return true;
}

/* The units of a duration in the order they must come; weeks stand alone. */
static const struct {
    char unit;
    bool time; /* after "T" */
    int64_t secs;
} units[] = {
    {'Y', false, 0},   {'M', false, 0}, {'D', false, 86400},
    {'H', true, 3600}, {'M', true, 60}, {'S', true, 1},
};

int fg_openadr_duration_parse(const char *s, int64_t *out, struct fg_error *err)
{
    const char *p = s;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (*p++ != 'P')
        return fg_error_set(err, FG_ERANGE, NULL, "duration '%s': must start with P", s);
    int64_t total = 0, v;
    size_t next = 0; /* index in units of the first one still allowed */
    bool in_time = false, any = false, time_any = false;
    while (*p) {
        if (*p == 'T') {
            if (in_time)
                return fg_error_set(err, FG_ERANGE, NULL, "duration '%s': second T", s);
            in_time = true;
            p++;
            continue;
        }
        if (!digits(&p, &v))
            return fg_error_set(err, FG_ERANGE, NULL,
                                "duration '%s': expected a number at '%s'", s, p);
        if (*p == 'W' && !any && !in_time && p[1] == '\0') {
            if (v > SECS_MAX / 604800)
                return fg_error_set(err, FG_ERANGE, NULL, "duration '%s': too long", s);
            *out = sign * v * 604800;
            return 0;
        }
        size_t i = next;
        while (i < sizeof units / sizeof units[0] &&
               (units[i].unit != *p || units[i].time != in_time))
            i++;
        if (i == sizeof units / sizeof units[0] || !*p)
            return fg_error_set(err, FG_ERANGE, NULL,
                                "duration '%s': unit '%c' not allowed here", s,
                                *p ? *p : '?');
        if (units[i].secs == 0)
            return fg_error_set(err, FG_EUNSUPPORTED, NULL,
                                "duration '%s': years and months have no fixed length",
                                s);
        if (v > (SECS_MAX - total) / units[i].secs)
            return fg_error_set(err, FG_ERANGE, NULL, "duration '%s': too long", s);
        total += v * units[i].secs;
        next = i + 1;
        any = true;
        time_any |= in_time;
        p++;
    }
    if (!any)
        return fg_error_set(err, FG_ERANGE, NULL, "duration '%s': no component", s);
    if (in_time && !time_any)
        return fg_error_set(err, FG_ERANGE, NULL, "duration '%s': T without a time", s);
    *out = sign * total;
    return 0;
}

void fg_openadr_duration_format(int64_t s, char *out)
{
    char *o = out;
    uint64_t a = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    if (s < 0)
        *o++ = '-';
    *o++ = 'P';
    uint64_t d = a / 86400, h = a / 3600 % 24, m = a / 60 % 60, sec = a % 60;
    if (d)
        o += sprintf(o, "%" PRIu64 "D", d);
    if (h || m || sec || !d) {
        *o++ = 'T';
        if (h)
            o += sprintf(o, "%" PRIu64 "H", h);
        if (m)
            o += sprintf(o, "%" PRIu64 "M", m);
        if (sec || (!h && !m))
            o += sprintf(o, "%" PRIu64 "S", sec);
    }
    *o = '\0';
}

/* n decimal digits at p; -1 if any is not a digit. */
static int fixed(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int month_days(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int fg_openadr_datetime_parse(const char *s, int64_t *out, struct fg_error *err)
{
    /* YYYY-MM-DDThh:mm:ss: 19 characters, then fraction and zone. */
    const char *p = s;
    if (strlen(p) < 19 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') ||
        p[13] != ':' || p[16] != ':')
        return fg_error_set(err, FG_ERANGE, NULL,
                            "date-time '%s': expected YYYY-MM-DDThh:mm:ss", s);
    int y = fixed(p, 4), mo = fixed(p + 5, 2), d = fixed(p + 8, 2);
    int h = fixed(p + 11, 2), mi = fixed(p + 14, 2), se = fixed(p + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        se < 0 || se > 60 || d > month_days(y, mo))
        return fg_error_set(err, FG_ERANGE, NULL, "date-time '%s': no such time", s);
    p += 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return fg_error_set(err, FG_ERANGE, NULL, "date-time '%s': empty fraction",
                                s);
        while (*p >= '0' && *p <= '9')
            p++;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = fixed(p + 1, 2), om = p[3] == ':' ? fixed(p + 4, 2) : -1;
        if (oh < 0 || oh > 14 || om < 0 || om > 59)
            return fg_error_set(err, FG_ERANGE, NULL, "date-time '%s': bad zone offset",
                                s);
        offset = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        p += 6;
    }
    if (*p)
        return fg_error_set(err, FG_ERANGE, NULL, "date-time '%s': trailing '%s'", s, p);
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    *out = (int64_t)timegm(&tm) - offset;
    return 0;
}

void fg_openadr_datetime_format(int64_t t, char *out)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        strcpy(out, "1970-01-01T00:00:00Z");
        return;
    }
    char s[96];
    snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, s, 21); /* the year is 0..9999: always 20 characters and the NUL */
}
