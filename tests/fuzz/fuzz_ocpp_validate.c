/* libFuzzer target for the OCPP schema validators. Byte 0 picks the version
 * (bit 0) and request/response (bit 1), bytes 1-2 the action (index modulo
 * the version's action count); the rest is JSON, parsed with cJSON and
 * validated. A crash, leak, hang, or an inconsistent verdict (code vs return
 * value, oversized or non-UTF-8 path/description, a different verdict on a
 * second run) is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fg_err.h"
#include "fg_ocpp_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strnlen(s, max);
    if (len >= max)
        return 0;
    while (*p) {
        int n = *p < 0x80 ? 0 : *p >= 0xf0 ? 3 : *p >= 0xe0 ? 2 : *p >= 0xc2 ? 1 : -1;
        if (n < 0)
            return 0;
        for (p++; n > 0; n--, p++)
            if ((*p & 0xc0) != 0x80)
                return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fg_ocpp_verror e, e2;
    enum fg_ocpp_version v;
    const struct fg_ocpp_msg_schema *s;
    cJSON *j;
    size_t n;
    int rc;
    if (size < 3)
        return 0;
    v = (data[0] & 1) ? FG_OCPP_V21 : FG_OCPP_V201;
    n = fg_ocpp_schema_count(v);
    s = fg_ocpp_schema_find(
        v, fg_ocpp_schema_action(v, ((size_t)data[1] << 8 | data[2]) % n), data[0] & 2);
    j = cJSON_ParseWithLength((const char *)data + 3, size - 3);
    rc = fg_ocpp_validate(s, j, &e);
    if (rc != 0 && rc != FG_EINVAL)
        abort();
    if ((rc == 0) != (e.code == FG_OCPP_OK))
        abort();
    if (rc == 0 && (e.path[0] || e.desc[0]))
        abort();
    if (rc && !e.desc[0])
        abort();
    if (!valid_utf8(e.path, sizeof(e.path)) || !valid_utf8(e.desc, sizeof(e.desc)))
        abort();
    if (fg_ocpp_validate(s, j, &e2) != rc || e2.code != e.code ||
        strcmp(e.path, e2.path) || strcmp(e.desc, e2.desc))
        abort();
    cJSON_Delete(j);
    return 0;
}
