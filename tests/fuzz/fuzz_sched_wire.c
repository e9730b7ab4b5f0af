/* The scheduler worker protocol's decoders (gateway/sched_wire.h) on
 * arbitrary bytes: the answer decoder is what the host runs on whatever an
 * untrusted worker sends, the view decoder what the worker runs. Neither may
 * read out of bounds; a view that decodes re-encodes to the same bytes. */
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
