/* libFuzzer target for the strict signal decoder: decode, store, re-encode,
 * decode again and compare. Any crash, leak or mismatch is a finding. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model.h"
#include "model_json.h"

#define FUZZ_NOW 1795626000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* Equal field by field; the status compared is the one a view decodes to. */
static bool same_signal(const struct fg_signal *a, const struct fg_signal *b)
{
    bool ok = strcmp(a->id, b->id) == 0 && a->source == b->source && a->type == b->type &&
              a->priority == b->priority && strcmp(a->target, b->target) == 0 &&
              a->created == b->created && a->updated == b->updated &&
              a->modification == b->modification && a->n_intervals == b->n_intervals &&
              (a->status == FG_SIGST_CANCELLED) == (b->status == FG_SIGST_CANCELLED);
    for (size_t i = 0; ok && i < a->n_intervals; i++) {
        const struct fg_signal_interval *x = &a->intervals[i], *y = &b->intervals[i];
        ok = x->start == y->start && x->duration_s == y->duration_s &&
             same_double(x->value, y->value) &&
             same_double(x->export_value, y->export_value);
    }
    return ok;
}

/* signal -> view -> decode must give the same signal back. */
static void round_trip(const struct fg_signal *s, struct fg_signal *tmp)
{
    struct fg_error err;
    cJSON *j = fg_signal_to_json(s);
    if (!j)
        abort();
    if (fg_signal_from_json(j, tmp, &err) != 0 || !same_signal(s, tmp))
        abort();
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (!j)
        return 0;
    struct fg_signal *s = malloc(sizeof(*s)), *tmp = malloc(sizeof(*tmp));
    struct fg_error err;
    if (!s || !tmp)
        abort();
    if (fg_signal_from_json(j, s, &err) == 0) {
        round_trip(s, tmp);
        struct fg_model m;
        fg_model_init(&m);
        m.site.import_limit_w = 10000;
        m.site.export_limit_w = 5000;
        if (fg_model_signal_put(&m, s, FUZZ_NOW, &err) == 0) {
            const struct fg_signal *st = fg_model_signal_find(&m, s->source, s->id);
            if (!st)
                abort();
            round_trip(st, tmp);
            struct fg_limits l;
            fg_model_limits_at(&m, st->intervals[0].start, &l);
            if (!(l.import_max_w >= 0 && l.export_max_w >= 0))
                abort();
            cJSON *v = fg_model_to_json(&m, FUZZ_NOW);
            cJSON_Delete(v);
            fg_model_expire(&m, FUZZ_NOW + 172800, 0);
        } else if (err.code == 0 || err.path[0] != '/') {
            abort(); /* every rejection names its field */
        }
        fg_model_clear(&m);
    } else if (err.code >= 0) {
        abort();
    }
    free(s);
    free(tmp);
    cJSON_Delete(j);
    return 0;
}
