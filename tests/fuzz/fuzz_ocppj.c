/* libFuzzer target for the OCPP-J framing codec: decode arbitrary bytes in
 * both dialects; whatever decodes must re-encode with the matching encoder
 * and decode again to the same type, id, action, error fields and payload.
 * A failed decode must name a CALLERROR code and a description, and may only
 * ask for an answer only with an id (recovered, or "-1"). Crashes, leaks and mismatches
 * are findings. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fg_err.h"
#include "fg_ocppj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_number(double a, double b)
{
    /* cJSON prints 15 significant digits when they read back within
     * DBL_EPSILON (as cJSON_Compare judges), so compare the same way. */
    return fabs(a - b) <= fmax(fabs(a), fabs(b)) * DBL_EPSILON;
}

/* Equal trees, members in the same order. Unlike cJSON_Compare this also
 * holds for objects with duplicate keys. Recursion is bounded by the
 * decoder's depth limit. */
static int same_json(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    if ((a->type & 0xff) != (b->type & 0xff))
        return 0;
    if ((a->string || b->string) &&
        (!a->string || !b->string || strcmp(a->string, b->string)))
        return 0;
    if (cJSON_IsNumber(a))
        return same_number(a->valuedouble, b->valuedouble);
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next) {
        if (!same_json(x, y))
            return 0;
    }
    return !x && !y;
}

static int reencode(const struct fg_ocppj_msg *m, struct fg_buf *b)
{
    switch (m->type) {
    case FG_OCPPJ_CALL:
        return fg_ocppj_encode_call(b, m->id, m->action, m->payload);
    case FG_OCPPJ_SEND:
        return fg_ocppj_encode_send(b, m->id, m->action, m->payload);
    case FG_OCPPJ_CALLRESULT:
        return fg_ocppj_encode_result(b, m->id, m->payload);
    case FG_OCPPJ_CALLERROR:
    case FG_OCPPJ_CALLRESULTERROR:
        return fg_ocppj_encode_error(b, m->type, m->id, m->error_code, m->error_desc,
                                     m->error_details);
    case FG_OCPPJ_NONE:
        break;
    }
    return FG_EINVAL;
}

static int same_msg(const struct fg_ocppj_msg *a, const struct fg_ocppj_msg *b)
{
    int ok = a->type == b->type && !strcmp(a->id, b->id) &&
             !strcmp(a->action, b->action) && same_json(a->payload, b->payload) &&
             same_json(a->error_details, b->error_details);
    if (a->type == FG_OCPPJ_CALLERROR || a->type == FG_OCPPJ_CALLRESULTERROR)
        ok =
            ok && a->error_code == b->error_code && !strcmp(a->error_desc, b->error_desc);
    return ok;
}

static void check_failure(const struct fg_ocppj_msg *m, const struct fg_ocpp_verror *e)
{
    if (e->code == FG_OCPP_OK || !e->desc[0] || m->payload || m->error_details)
        abort();
    if (m->answer != FG_OCPPJ_ANSWER_NONE && !m->id[0])
        abort();
}

static void one(const uint8_t *data, size_t size, enum fg_ocppj_dialect d)
{
    struct fg_ocppj_msg m, again;
    struct fg_ocpp_verror err;
    struct fg_buf b;
    fg_ocppj_msg_init(&m);
    fg_ocppj_msg_init(&again);
    if (fg_ocppj_decode((const char *)data, size, d, &m, &err)) {
        check_failure(&m, &err);
        fg_ocppj_msg_clear(&m);
        return;
    }
    fg_buf_init(&b, 4 * size + 64);
    if (reencode(&m, &b))
        abort();
    char *s = fg_buf_take(&b);
    if (!s || fg_ocppj_decode(s, strlen(s), d, &again, &err) || !same_msg(&m, &again))
        abort();
    free(s);
    fg_ocppj_msg_clear(&m);
    fg_ocppj_msg_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(data, size, FG_OCPPJ_201);
    one(data, size, FG_OCPPJ_21);
    return 0;
}
