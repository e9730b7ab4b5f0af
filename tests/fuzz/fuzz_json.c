/* fg_json_parse against cJSON. Whatever the arena parser accepts must be JSON
 * that cJSON reads to the same tree (compared as cJSON prints both), with the
 * links cJSON's own functions rely on; an arena reused across inputs and a
 * small depth limit must behave. Known, intended differences are skipped:
 * numbers longer than cJSON's 63-character buffer (it truncates them). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fg_json.h"

static struct fg_arena arena; /* reused across inputs, as the adapter does */

static bool long_number(const uint8_t *d, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        bool num = (d[i] >= '0' && d[i] <= '9') || d[i] == '-' || d[i] == '+' ||
                   d[i] == '.' || d[i] == 'e' || d[i] == 'E';
        run = num ? run + 1 : 0;
        if (run > 60)
            return true;
    }
    return false;
}

/* Every container's first child's prev is its last child; next/prev agree. */
static void check_links(const cJSON *j, int depth)
{
    if (depth > 80)
        abort();
    const cJSON *c = j->child, *last = NULL;
    for (; c; c = c->next) {
        if (last && c->prev != last)
            abort();
        if ((j->type & 0xFF) == cJSON_Object ? !c->string : c->string != NULL)
            abort();
        check_links(c, depth + 1);
        last = c;
    }
    if (j->child && j->child->prev != last)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *end = NULL;
    int depth = size > 0 ? data[0] % 8 + 1 : 4;
    cJSON *t = fg_json_parse(&arena, (const char *)data, size, 64, &end);
    if (!end || end < (const char *)data || end > (const char *)data + size)
        abort(); /* out of memory is not expected here */
    if (t) {
        check_links(t, 0);
        size_t used = (size_t)(end - (const char *)data);
        char *copy = malloc(used + 1);
        if (!copy)
            abort();
        memcpy(copy, data, used);
        copy[used] = '\0';
        cJSON *c = cJSON_ParseWithLength(copy, used);
        if (!long_number(data, used)) {
            if (!c)
                abort(); /* we accepted what cJSON, laxer, refuses */
            char *a = cJSON_PrintUnformatted(t), *b = cJSON_PrintUnformatted(c);
            if (!a || !b || strcmp(a, b))
                abort();
            /* (not cJSON_Compare: it matches duplicate keys to the first) */
            cJSON *dup = cJSON_Duplicate(t, 1);
            char *d = dup ? cJSON_PrintUnformatted(dup) : NULL;
            if (!d || strcmp(d, a))
                abort();
            free(d);
            cJSON_Delete(dup);
            free(a);
            free(b);
        }
        cJSON_Delete(c);
        free(copy);
    }
    fg_arena_reset(&arena);
    /* the same input under a tight depth limit: refused or the same tree */
    cJSON *s = fg_json_parse(&arena, (const char *)data, size, depth, &end);
    if (s && !t)
        abort();
    fg_arena_reset(&arena);
    return 0;
}
