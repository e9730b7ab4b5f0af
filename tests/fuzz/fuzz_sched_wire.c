/* The scheduler worker protocol's decoders (gateway/sched_wire.h) on
 * arbitrary bytes: the answer decoders (set-points, plan) are what the host
 * runs on whatever an untrusted worker sends, the view decoder what the
 * worker runs. None may read or write out of bounds; a view or a plan that
 * decodes re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sched_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fg_sched_rbuf r;
    struct fg_error e;
    struct fg_sched_setpoint sp[8];
    struct fg_sched_setpoints out = {.cap = 8, .sp = sp};
    int32_t rc;
    fg_sched_rbuf_init(&r, data, size);
    if (!fg_sched_result_decode(&r, &rc, &out, &e) && out.n > out.cap)
        abort();

    /* a plan for 2 assets, room for 4 ISPs and 2 slack entries */
    double w4[2 * 4];
    struct fg_sched_slack sl[2];
    struct fg_sched_plan plan = {
        .cap_isp = 4, .n_assets = 2, .w = w4, .slack_cap = 2, .slack = sl};
    fg_sched_rbuf_init(&r, data, size);
    if (!fg_sched_plan_result_decode(&r, &rc, &plan, &e)) {
        if (plan.n_isp > plan.cap_isp || plan.n_slack > plan.slack_cap)
            abort();
        struct fg_sched_wbuf w;
        fg_sched_wbuf_init(&w);
        /* rc != 0 sends no rows: only an rc 0 answer re-encodes whole */
        fg_sched_plan_result_encode(&w, rc, &plan);
        if (!rc && (w.err || w.len != size))
            abort();
        fg_sched_wbuf_clear(&w);
    }

    struct fg_sched_wire_view wv;
    fg_sched_rbuf_init(&r, data, size);
    if (!fg_sched_view_decode(&r, &wv, &e)) {
        struct fg_sched_wbuf w;
        fg_sched_wbuf_init(&w);
        fg_sched_view_encode(&w, &wv.v);
        /* ids are NUL-terminated and sizes set on decode: compare the rest */
        if (w.err || w.len != size)
            abort();
        fg_sched_wbuf_clear(&w);
    }
    fg_sched_wire_view_clear(&wv);
    return 0;
}
