#include "fg_ocpp_err.h"

#include <string.h>

static const char *const names[] = {"",
#define FG_X_(sym, text) text,
                                    FG_OCPP_ERRORS(FG_X_)
#undef FG_X_
};

const char *fg_ocpp_errcode_name(enum fg_ocpp_errcode c)
{
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "GenericError";
}

int fg_ocpp_errcode_parse(const char *s, enum fg_ocpp_errcode *out)
{
    for (unsigned i = 1; s && i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum fg_ocpp_errcode)i;
            return 0;
        }
    }
    return -1;
}
