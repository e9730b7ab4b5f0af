/* libFuzzer target for the ageing library's two inputs from outside: a
 * stored state (JSON, from the database) and a what-if document (flexgw
 * --battery-life). The first byte picks which. A state that loads must
 * survive samples, the forecast and the cost functions with finite
 * results, and write back to JSON that loads to the same loss. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fg_ageing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_state(const cJSON *j)
{
    struct fg_age_state st, back;
    char err[128];
    if (fg_age_state_from_json(&st, j, err, sizeof err) != 0)
        return;
    double l0 = fg_age_loss(&st);
    if (!isfinite(l0))
        abort();
    cJSON *w = fg_age_state_to_json(&st);
    if (!w || fg_age_state_from_json(&back, w, err, sizeof err) != 0)
        abort();
    cJSON_Delete(w);
    if (fg_age_loss(&back) != l0 && !(isnan(l0) && isnan(fg_age_loss(&back))))
        abort();
    int64_t t = st.t_last ? st.t_last : 1;
    for (int i = 0; i < 20; i++)
        fg_age_sample(&st, t + 60 * i, (i % 7) / 6.0, 1000.0 * ((i % 3) - 1), 20 + i);
    struct fg_age_forecast fc;
    fg_age_predict(&st, t + 1200, 0.8, 5, &fc);
    struct fg_age_step steps[4] = {
        {900, 0.2, 25}, {900, 0.8, 25}, {900, 0.4, NAN}, {900, 0.5, 30}};
    struct fg_age_cost c;
    if (fg_age_schedule_cost(&st, steps, 4, 1000, 0.8, &c) == 0 && !isfinite(c.cost))
        abort();
    (void)fg_age_cycle_cost(&st, 0.5, 0.5, 0.5, 30, 1000, 0.8);
    double f[FG_AGE_FACTORS];
    fg_age_factors(&st, f);
    fg_age_checkpoint(&st, 0.95);
    fg_age_fit(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j)
        return 0;
    if (data[0] & 1) {
        check_state(j);
    } else {
        /* bound the work: a few cases, few points */
        const cJSON *cases = cJSON_GetObjectItemCaseSensitive(j, "cases");
        if (cJSON_GetArraySize(cases) <= 8) {
            char err[256];
            cJSON *out = fg_age_whatif(j, err, sizeof err);
            if (!out && !err[0])
                abort(); /* a refusal always says why */
            cJSON_Delete(out);
        }
    }
    cJSON_Delete(j);
    return 0;
}
