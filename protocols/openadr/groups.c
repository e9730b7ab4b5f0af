/* The VEN's configured target groups: a comma-separated list (see
 * fg_openadr.h, fg_openadr_groups_check / _has). */
#include <stdio.h>
#include <string.h>

#include "fg_openadr.h"

static bool space(char c)
{
    return c == ' ' || c == '\t';
}

/* The next entry of list from *p: start and length without the blanks
 * around it; *p moves past its comma. false at the end. */
static bool next_entry(const char **p, const char **start, size_t *len)
{
    const char *s = *p;
    if (!s)
        return false;
    const char *comma = strchr(s, ',');
    const char *end = comma ? comma : s + strlen(s);
    *p = comma ? comma + 1 : NULL;
    while (s < end && space(*s))
        s++;
    while (end > s && space(end[-1]))
        end--;
    *start = s;
    *len = (size_t)(end - s);
    return true;
}

int fg_openadr_groups_check(const char *list, char *why, size_t why_n)
{
    const char *p = list, *s;
    size_t len, i = 0;
    while (next_entry(&p, &s, &len)) {
        if (!len)
            return snprintf(why, why_n, "entry %zu is empty (write \"a, b\")", i),
                   FG_EINVAL;
        if (len > FG_OPENADR_GROUP_MAX)
            return snprintf(why, why_n, "entry %zu is longer than %d characters", i,
                            FG_OPENADR_GROUP_MAX),
                   FG_EINVAL;
        for (size_t k = 0; k < len; k++)
            if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
                return snprintf(why, why_n, "entry %zu holds a control character", i),
                       FG_EINVAL;
        i++;
    }
    return 0;
}

bool fg_openadr_groups_has(const char *list, const char *v)
{
    const char *p = list, *s;
    size_t len;
    if (!list || !v)
        return false;
    while (next_entry(&p, &s, &len))
        if (len && strlen(v) == len && !memcmp(s, v, len))
            return true;
    return false;
}
