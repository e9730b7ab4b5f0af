/* libFuzzer target for scenario files (flexgw --plan): parse and validate;
 * a scenario that is accepted must build into a model and write as CPLEX
 * LP (not solved here: solve times would swamp the fuzzer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct fg_plan_problem p;
    struct fg_errlist errs;
    fg_plan_problem_init(&p);
    fg_errlist_init(&errs);
    int rc = fg_plan_scenario_parse(text, size, &p, &errs);
    if (rc && !fg_errlist_count(&errs))
        abort(); /* a refusal always says why */
    if (!rc && (size_t)p.n_isp * (p.n_assets + 1) <= 20000) {
        struct fg_error err = {0};
        FILE *f = fopen("/dev/null", "w");
        if (f && fg_plan_write_lp(&p, f, &err) && err.code != FG_ENOMEM)
            abort();
        if (f)
            fclose(f);
    }
    fg_errlist_clear(&errs);
    fg_plan_problem_clear(&p);
    free(text);
    return 0;
}
