/* libFuzzer target: arbitrary bytes as a configuration file. Every input must
 * be rejected or accepted without crashing or leaking; an accepted one must
 * survive to_json -> parse with the same result. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct fg_config *c)
{
    cJSON *j = fg_config_to_json(c, false);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return;
    struct fg_config again;
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    if (fg_config_parse(text, strlen(text), "/nonexistent", &again, &errs) != 0)
        abort(); /* what we wrote, we must read back */
    fg_config_clear(&again);
    fg_errlist_clear(&errs);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fg_config c;
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    if (fg_config_parse((const char *)data, size, "/nonexistent", &c, &errs) == 0)
        roundtrip(&c);
    fg_config_clear(&c);
    fg_errlist_clear(&errs);
    return 0;
}
