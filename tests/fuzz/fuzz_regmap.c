/* libFuzzer target for register-map files. Input: a map file's text, then
 * after the first NUL (if any) registers to decode, big-endian. Every point
 * of a map that loads is decoded from those registers; a value that
 * decodes OK from a writable point is encoded back and must decode to the
 * same raw bits. Crashes, leaks and mismatches are findings. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_err.h"
#include "fg_regmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    uint16_t regs[4] = {0xffff, 0xffff, 0xffff, 0xffff};
    if (nul)
        for (size_t i = 0; i < 4 && tlen + 2 + 2 * i < size; i++)
            regs[i] = (uint16_t)(data[tlen + 1 + 2 * i] << 8 | data[tlen + 2 + 2 * i]);
    struct fg_regmap m = {0};
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    int rc = fg_regmap_load(&m, (const char *)data, tlen, &errs);
    if (rc == 0) {
        for (size_t i = 0; i < m.npoints; i++) {
            const struct fg_regmap_point *p = &m.points[i];
            struct fg_regmap_value v;
            struct fg_error e;
            if (fg_regmap_decode(p, regs, 4, &v, &e))
                abort();
            if (v.status != FG_REGMAP_OK || p->type == FG_REGMAP_F32)
                continue;
            uint16_t out[4];
            struct fg_regmap_value back;
            if (fg_regmap_encode_raw(p, v.v, out, &e) == 0 &&
                fg_regmap_decode(p, out, 4, &back, &e) == 0 && fabs(p->scale) == 1 &&
                fabs(v.v) < 9e15 && back.raw != v.raw)
                abort();
        }
    }
    fg_errlist_clear(&errs);
    fg_regmap_clear(&m);
    return 0;
}
