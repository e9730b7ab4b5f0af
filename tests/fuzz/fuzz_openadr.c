/* libFuzzer target for the OpenADR 2.0b decoder: decode arbitrary bytes.
 * A decode must give 0 with a known type, or an error with a message; what
 * decodes as oadrDistributeEvent must be answerable: the oadrCreatedEvent
 * built from its IDs (any text the parser produced, escaped by the builder)
 * must decode again as an oadrCreatedEvent, and every duration read must
 * survive format and parse unchanged. Crashes, leaks and mismatches are
 * findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_openadr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *nz(const char *s)
{
    return s && *s ? s : "x";
}

static void same_duration(int64_t v)
{
    char s[FG_OPENADR_DURATION_MAX];
    int64_t back;
    fg_openadr_duration_format(v, s);
    if (fg_openadr_duration_parse(s, &back, NULL) || back != v)
        abort();
}

static void answer(const struct fg_openadr_distribute_event *d)
{
    struct fg_openadr_event_response *ev = calloc(d->n_events + 1, sizeof(*ev));
    if (!ev)
        return;
    for (size_t i = 0; i < d->n_events; i++) {
        const struct fg_openadr_event *e = &d->events[i];
        ev[i] = (struct fg_openadr_event_response){200,
                                                   e->vtn_comment,
                                                   nz(d->request_id),
                                                   nz(e->event_id),
                                                   e->modification_number,
                                                   e->test ? FG_OADR_OPT_OUT
                                                           : FG_OADR_OPT_IN};
        same_duration(e->duration_s);
        for (size_t k = 0; k < e->n_signals; k++)
            for (size_t j = 0; j < e->signals[k].n_intervals; j++)
                same_duration(e->signals[k].intervals[j].duration_s);
    }
    struct fg_openadr_ei_response r = {200, NULL, d->request_id};
    struct fg_buf b;
    struct fg_error err;
    fg_buf_init(&b, FG_OPENADR_BUILD_MAX);
    if (fg_openadr_build_created_event(&b, &r, ev, d->n_events, nz(d->vtn_id), &err))
        abort();
    free(ev);
    char *xml = fg_buf_take(&b);
    if (!xml)
        abort();
    struct fg_openadr_opts o = {.max_bytes = FG_OPENADR_BUILD_MAX};
    struct fg_openadr_msg m;
    fg_openadr_msg_init(&m);
    if (fg_openadr_decode(xml, strlen(xml), &o, &m, &err) != FG_EUNSUPPORTED ||
        m.type != FG_OADR_CREATED_EVENT)
        abort();
    fg_openadr_msg_clear(&m);
    free(xml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fg_openadr_msg m;
    struct fg_error err;
    fg_error_clear(&err);
    fg_openadr_msg_init(&m);
    int rc = fg_openadr_decode((const char *)data, size, NULL, &m, &err);
    if (rc == 0) {
        if (m.type <= FG_OADR_NONE || m.type >= FG_OADR_TYPE_COUNT)
            abort();
        if (m.type == FG_OADR_DISTRIBUTE_EVENT)
            answer(&m.u.distribute_event);
    } else if (err.code != rc || !err.msg[0]) {
        abort();
    }
    fg_openadr_msg_clear(&m);
    return 0;
}
