/* OCPP-J framing codec; see fg_ocppj.h for the rules it enforces. */
#include "fg_ocppj.h"
#include "fg_utf8.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fg_err.h"

/* The frame array is level 1, its payload object level 2. */
#define FRAME_DEPTH_MAX (FG_OCPPJ_DEPTH_MAX + 1)
#define NUMBER_MAX 1e308

/* ---- UTF-8 ------------------------------------------------------------- */

/* Copy s into out (size n) cut to at most n - 1 bytes without splitting a
 * UTF-8 sequence. */
static void copy_utf8(char *out, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len >= n) {
        len = n - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

/* ---- the pre-scan -------------------------------------------------------- */

/* The pre-scan: one linear pass over a frame the parser refused, to say
 * what is wrong with it (not UTF-8, a control character, a malformed number,
 * nested too deep: payload or frame) and where, and to find its message id. */
struct scan {
    const unsigned char *p;
    size_t len, i;
    int depth;
    bool top_array;  /* the outermost value is an array */
    unsigned elem;   /* index of the top-level element being scanned */
    const char *why; /* set on failure */
};

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_digits(const struct scan *s, size_t i)
{
    while (i < s->len && is_digit(s->p[i]))
        i++;
    return i;
}

static bool is_number_char(unsigned char c)
{
    return is_digit(c) || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and nothing number-like
 * after it. */
static bool scan_number(struct scan *s)
{
    size_t i = s->i, j;
    if (s->p[i] == '-')
        i++;
    if (i < s->len && s->p[i] == '0')
        i++;
    else if (i < s->len && is_digit(s->p[i]))
        i = skip_digits(s, i);
    else
        return false;
    if (i < s->len && s->p[i] == '.') {
        j = skip_digits(s, i + 1);
        if (j == i + 1)
            return false;
        i = j;
    }
    if (i < s->len && (s->p[i] == 'e' || s->p[i] == 'E')) {
        i++;
        if (i < s->len && (s->p[i] == '+' || s->p[i] == '-'))
            i++;
        j = skip_digits(s, i);
        if (j == i)
            return false;
        i = j;
    }
    if (i < s->len && is_number_char(s->p[i]))
        return false;
    s->i = i;
    return true;
}

/* From the opening quote past the closing one (or to the end: cJSON then
 * reports the unterminated string). */
static bool scan_string(struct scan *s)
{
    for (s->i++; s->i < s->len;) {
        s->i += fg_json_plain_run(s->p + s->i, s->len - s->i);
        if (s->i >= s->len)
            break;
        unsigned char c = s->p[s->i];
        if (c == '"') {
            s->i++;
            return true;
        }
        if (c == '\\') {
            if (s->len - s->i >= 6 && !memcmp(s->p + s->i + 1, "u0000", 5)) {
                s->why = "\\u0000 is not supported";
                return false;
            }
            s->i += 2;
        } else if (c < 0x20) {
            s->why = "control character in a string";
            return false;
        } else if (c < 0x80) {
            s->i++;
        } else {
            size_t n = fg_utf8_len(s->p + s->i, s->len - s->i);
            if (!n) {
                s->why = "not UTF-8";
                return false;
            }
            s->i += n;
        }
    }
    return true;
}

static bool scan_open(struct scan *s, unsigned char c)
{
    if (s->depth == 0)
        s->top_array = c == '[';
    s->i++;
    if (++s->depth > FRAME_DEPTH_MAX) {
        s->why = "nested too deep";
        return false;
    }
    return true;
}

static bool scan_byte(struct scan *s)
{
    unsigned char c = s->p[s->i];
    switch (c) {
    case '"':
        return scan_string(s);
    case '[':
    case '{':
        return scan_open(s, c);
    case ']':
    case '}':
        s->depth--;
        break;
    case ',':
        s->elem += s->depth == 1 && s->top_array;
        break;
    case '-':
    case '0' ... '9':
        if (scan_number(s))
            return true;
        s->why = "malformed number";
        return false;
    case ' ':
    case '\t':
    case '\n':
    case '\r':
        break;
    default:
        if (c < 0x20 || c >= 0x7F) {
            s->why = c >= 0x80 && !fg_utf8_len(s->p + s->i, s->len - s->i)
                         ? "not UTF-8"
                         : "unexpected byte";
            return false;
        }
    }
    s->i++;
    return true;
}

static bool prescan(struct scan *s)
{
    while (s->i < s->len) {
        if (!scan_byte(s))
            return false;
    }
    return true;
}

/* ---- decoding -------------------------------------------------------------- */

struct dec {
    const char *buf;
    size_t len;
    enum fg_ocppj_dialect d;
    struct fg_ocppj_msg *out;
    struct fg_ocpp_verror *err;
    long type; /* element 0 if it is an integer, else -1 */
};

__attribute__((format(printf, 4, 5))) static int
fail(struct dec *x, int rc, enum fg_ocpp_errcode code, const char *fmt, ...)
{
    va_list ap;
    x->err->code = code;
    va_start(ap, fmt);
    vsnprintf(x->err->desc, sizeof(x->err->desc), fmt, ap);
    va_end(ap);
    return rc;
}

struct kind {
    const char *name;
    int nelem;
    bool v21;
    int (*decode)(struct dec *x, cJSON *root);
};

static int dec_request(struct dec *x, cJSON *root);
static int dec_result(struct dec *x, cJSON *root);
static int dec_error(struct dec *x, cJSON *root);

static const struct kind kinds[] = {
    [FG_OCPPJ_CALL] = {"CALL", 4, false, dec_request},
    [FG_OCPPJ_CALLRESULT] = {"CALLRESULT", 3, false, dec_result},
    [FG_OCPPJ_CALLERROR] = {"CALLERROR", 5, false, dec_error},
    [FG_OCPPJ_CALLRESULTERROR] = {"CALLRESULTERROR", 5, true, dec_error},
    [FG_OCPPJ_SEND] = {"SEND", 4, true, dec_request},
};

static const struct kind *kind_of(long type, enum fg_ocppj_dialect d)
{
    if (type < FG_OCPPJ_CALL || type > FG_OCPPJ_SEND)
        return NULL;
    if (kinds[type].v21 && d != FG_OCPPJ_21)
        return NULL;
    return &kinds[type];
}

/* What to send back for a failed frame, by dialect and type 2..6; other
 * integer types are answered with MessageTypeNotSupported. */
static const enum fg_ocppj_answer answers[2][5] = {
    [FG_OCPPJ_201] = {FG_OCPPJ_ANSWER_CALLERROR, FG_OCPPJ_ANSWER_NONE,
                      FG_OCPPJ_ANSWER_NONE, FG_OCPPJ_ANSWER_CALLERROR,
                      FG_OCPPJ_ANSWER_CALLERROR},
    [FG_OCPPJ_21] = {FG_OCPPJ_ANSWER_CALLERROR, FG_OCPPJ_ANSWER_CALLRESULTERROR,
                     FG_OCPPJ_ANSWER_NONE, FG_OCPPJ_ANSWER_NONE, FG_OCPPJ_ANSWER_NONE},
};

/* OCPP-J 4.2.3: when the message id cannot be read, a CALLERROR says "-1".
 * Never for what is (recognisably) a CALLRESULT, CALLERROR or SEND: those
 * are never answered with a CALLERROR, and an error about an error could
 * bounce between two peers for ever. */
static enum fg_ocppj_answer answer_for(const struct dec *x)
{
    bool known = x->type >= FG_OCPPJ_CALL && x->type <= FG_OCPPJ_SEND;
    if (!x->out->id[0]) {
        if (known && x->type != FG_OCPPJ_CALL)
            return FG_OCPPJ_ANSWER_NONE;
        memcpy(x->out->id, FG_OCPPJ_ID_UNREAD, sizeof(FG_OCPPJ_ID_UNREAD));
        return FG_OCPPJ_ANSWER_CALLERROR;
    }
    if (!known)
        return FG_OCPPJ_ANSWER_CALLERROR;
    return answers[x->d][x->type - FG_OCPPJ_CALL];
}

/* NULL if s (n bytes) is a valid message id, else what is wrong with it. */
static const char *id_problem(const char *s, size_t n)
{
    if (n == 0)
        return "is empty";
    if (n > FG_OCPPJ_ID_MAX)
        return "is longer than 36 characters";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return "contains a control character";
        if (c > 0x7F)
            return "contains a non-ASCII character";
    }
    return NULL;
}

static const char *id_item_problem(const cJSON *e)
{
    if (!fg_json_is(e, cJSON_String))
        return "is not a string";
    return id_problem(e->valuestring, strnlen(e->valuestring, FG_OCPPJ_ID_MAX + 1));
}

/* NULL if s can be an action name, else what is wrong with it. */
static const char *action_problem(const char *s)
{
    size_t n = strnlen(s, FG_OCPPJ_ACTION_MAX + 1);
    if (n == 0)
        return "is empty";
    if (n > FG_OCPPJ_ACTION_MAX)
        return "is longer than 64 characters";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return "contains a character other than A-Z, a-z, 0-9";
    }
    return NULL;
}

/* Element 0 as a message type: itself if it is an integral number in
 * [0, 1e9], 0 (unsupported) for any other integral number, -1 otherwise. */
static long read_type(const cJSON *e)
{
    if (!fg_json_is(e, cJSON_Number) || !isfinite(e->valuedouble))
        return -1;
    double v = e->valuedouble;
    if (v != trunc(v))
        return -1;
    return v >= 0 && v <= 1e9 ? (long)v : 0;
}

/* Whether every number in the tree is within +-NUMBER_MAX. Why not just
 * finite: cJSON prints with 15 significant digits whenever that reads back
 * within DBL_EPSILON, and 1.7976931348623157e308 prints as
 * 1.79769313486232e+308, which overflows when read back. Iterative: the
 * parser bounded the depth to FRAME_DEPTH_MAX, which sizes the stack. */
static bool numbers_in_range(const cJSON *root)
{
    const cJSON *stack[FRAME_DEPTH_MAX + 1];
    const cJSON *it = root;
    size_t n = 0;
    for (;;) {
        if (fg_json_is(it, cJSON_Number) && !(fabs(it->valuedouble) <= NUMBER_MAX))
            return false;
        if ((fg_json_is(it, cJSON_Array) || fg_json_is(it, cJSON_Object)) && it->child) {
            if (n == FRAME_DEPTH_MAX + 1)
                return false;
            stack[n++] = it;
            it = it->child;
            continue;
        }
        while (n > 0 && !it->next)
            it = stack[--n];
        if (n == 0)
            return true;
        it = it->next;
    }
}

static int take_object(struct dec *x, cJSON *root, cJSON *e, const char *what,
                       cJSON **dst)
{
    if (!fg_json_is(e, cJSON_Object))
        return fail(x, FG_ETYPE, FG_OCPP_FORMAT_VIOLATION, "%s is not a JSON object",
                    what);
    *dst = cJSON_DetachItemViaPointer(root, e);
    if (!numbers_in_range(*dst))
        return fail(x, FG_ERANGE, FG_OCPP_FORMAT_VIOLATION,
                    "%s holds a number beyond +-1e308", what);
    return 0;
}

static int dec_request(struct dec *x, cJSON *root)
{
    cJSON *a = root->child->next->next;
    if (!fg_json_is(a, cJSON_String))
        return fail(x, FG_ETYPE, FG_OCPP_RPC_FRAMEWORK_ERROR, "action is not a string");
    const char *why = action_problem(a->valuestring);
    if (why)
        return fail(x, FG_EUNKNOWN, FG_OCPP_NOT_IMPLEMENTED, "action %s", why);
    strcpy(x->out->action, a->valuestring);
    return take_object(x, root, a->next, "payload", &x->out->payload);
}

static int dec_result(struct dec *x, cJSON *root)
{
    return take_object(x, root, root->child->next->next, "payload", &x->out->payload);
}

static int dec_error(struct dec *x, cJSON *root)
{
    struct fg_ocppj_msg *m = x->out;
    cJSON *code = root->child->next->next, *desc = code->next;
    if (!fg_json_is(code, cJSON_String))
        return fail(x, FG_ETYPE, FG_OCPP_RPC_FRAMEWORK_ERROR,
                    "errorCode is not a string");
    if (!fg_json_is(desc, cJSON_String))
        return fail(x, FG_ETYPE, FG_OCPP_RPC_FRAMEWORK_ERROR,
                    "errorDescription is not a string");
    if (fg_ocpp_errcode_parse(code->valuestring, &m->error_code))
        m->error_code = FG_OCPP_GENERIC_ERROR;
    copy_utf8(m->error_code_text, sizeof(m->error_code_text), code->valuestring);
    copy_utf8(m->error_desc, sizeof(m->error_desc), desc->valuestring);
    return take_object(x, root, desc->next, "errorDetails", &m->error_details);
}

/* Fill x->type and out->id from a parsed frame, as far as they are readable,
 * before anything is judged, so that every error can carry the id. */
static void peek_header(struct dec *x, const cJSON *root)
{
    const cJSON *e0 = fg_json_is(root, cJSON_Array) ? root->child : NULL;
    if (!e0)
        return;
    x->type = read_type(e0);
    if (e0->next && !id_item_problem(e0->next))
        strcpy(x->out->id, e0->next->valuestring);
}

static int check_header(struct dec *x, const cJSON *root)
{
    if (!fg_json_is(root, cJSON_Array))
        return fail(x, FG_EPARSE, FG_OCPP_RPC_FRAMEWORK_ERROR,
                    "frame is not a JSON array");
    const cJSON *e0 = root->child;
    if (!e0)
        return fail(x, FG_EPARSE, FG_OCPP_RPC_FRAMEWORK_ERROR, "frame is an empty array");
    if (x->type < 0)
        return fail(x, FG_ETYPE, FG_OCPP_RPC_FRAMEWORK_ERROR,
                    "message type is not an integer");
    if (!e0->next)
        return fail(x, FG_EPARSE, FG_OCPP_RPC_FRAMEWORK_ERROR, "message id is missing");
    const char *why = id_item_problem(e0->next);
    if (why)
        return fail(x, fg_json_is(e0->next, cJSON_String) ? FG_ERANGE : FG_ETYPE,
                    FG_OCPP_RPC_FRAMEWORK_ERROR, "message id %s", why);
    return 0;
}

static int check_kind(struct dec *x, const cJSON *root, const struct kind **k)
{
    *k = kind_of(x->type, x->d);
    if (!*k) {
        bool v21 = x->type == FG_OCPPJ_CALLRESULTERROR || x->type == FG_OCPPJ_SEND;
        return fail(x, FG_EUNSUPPORTED, FG_OCPP_MESSAGE_TYPE_NOT_SUPPORTED,
                    "message type %.17g is not supported%s", root->child->valuedouble,
                    v21 ? " before OCPP 2.1" : "");
    }
    x->out->type = (enum fg_ocppj_type)x->type;
    int n = cJSON_GetArraySize(root);
    if (n != (*k)->nelem)
        return fail(x, FG_EPARSE, FG_OCPP_RPC_FRAMEWORK_ERROR,
                    "%s must have %d elements, not %d", (*k)->name, (*k)->nelem, n);
    return 0;
}

static size_t skip_ws(const char *p, size_t i, size_t len)
{
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static int decode_tree(struct dec *x, cJSON *root, const char *end)
{
    peek_header(x, root);
    size_t off = skip_ws(x->buf, (size_t)(end - x->buf), x->len);
    if (off < x->len)
        return fail(x, FG_EPARSE, FG_OCPP_RPC_FRAMEWORK_ERROR,
                    "frame has trailing data at byte %zu", off);
    const struct kind *k;
    int rc = check_header(x, root);
    if (!rc)
        rc = check_kind(x, root, &k);
    return rc ? rc : k->decode(x, root);
}

/* Read "[<int>, "<id>"" from the start of a frame that failed before a tree
 * existed, so the peer can still be answered. Ids with escapes are left
 * alone. */
static void salvage(struct dec *x)
{
    const char *p = x->buf;
    size_t i = skip_ws(p, 0, x->len), j;
    if (i >= x->len || p[i] != '[')
        return;
    i = skip_ws(p, i + 1, x->len);
    for (j = i; j < x->len && j - i < 9 && is_digit((unsigned char)p[j]); j++)
        ;
    if (j == i || (j < x->len && is_number_char((unsigned char)p[j])))
        return;
    long type = 0;
    for (; i < j; i++)
        type = type * 10 + (p[i] - '0');
    i = skip_ws(p, j, x->len);
    if (i >= x->len || p[i] != ',')
        return;
    i = skip_ws(p, i + 1, x->len);
    if (i >= x->len || p[i] != '"')
        return;
    const char *id = p + i + 1, *q = memchr(id, '"', x->len - i - 1);
    if (!q || memchr(id, '\\', (size_t)(q - id)) || id_problem(id, (size_t)(q - id)))
        return;
    memcpy(x->out->id, id, (size_t)(q - id));
    x->out->id[q - id] = '\0';
    x->type = type;
    if (kind_of(type, x->d))
        x->out->type = (enum fg_ocppj_type)type;
}

static int prescan_fail(struct dec *x, const struct scan *s)
{
    salvage(x);
    if (s->depth > FRAME_DEPTH_MAX && s->top_array && s->elem >= 2)
        return fail(x, FG_ETOOBIG, FG_OCPP_FORMAT_VIOLATION,
                    "payload nests deeper than %d levels at byte %zu", FG_OCPPJ_DEPTH_MAX,
                    s->i);
    if (s->depth > FRAME_DEPTH_MAX)
        return fail(x, FG_ETOOBIG, FG_OCPP_RPC_FRAMEWORK_ERROR,
                    "frame nests too deep at byte %zu", s->i);
    return fail(x, FG_EPARSE, FG_OCPP_RPC_FRAMEWORK_ERROR,
                "frame is not valid JSON at byte %zu: %s", s->i, s->why);
}

/* The strict parser first; only a frame it refuses gets the pre-scan, whose
 * account of what is wrong (UTF-8, control characters, numbers, depth) is
 * more precise than a position. */
static int decode_frame(struct dec *x)
{
    if (x->len == 0)
        return fail(x, FG_EPARSE, FG_OCPP_RPC_FRAMEWORK_ERROR, "frame is empty");
    const char *end = x->buf;
    cJSON *root = fg_json_parse(&x->out->arena, x->buf, x->len, FRAME_DEPTH_MAX, &end);
    if (!root) {
        struct scan s = {.p = (const unsigned char *)x->buf, .len = x->len};
        if (!prescan(&s))
            return prescan_fail(x, &s);
        salvage(x);
        if (!end)
            return fail(x, FG_ENOMEM, FG_OCPP_INTERNAL_ERROR, "out of memory");
        size_t at = (size_t)(end - x->buf);
        return fail(x, FG_EPARSE, FG_OCPP_RPC_FRAMEWORK_ERROR,
                    "frame is not valid JSON at byte %zu%s", at,
                    at == x->len ? ": it ends too early" : "");
    }
    return decode_tree(x, root, end);
}

int fg_ocppj_decode(const char *buf, size_t len, enum fg_ocppj_dialect d,
                    struct fg_ocppj_msg *out, struct fg_ocpp_verror *err)
{
    struct fg_ocpp_verror scratch;
    struct dec x = {buf, len, d, out, err ? err : &scratch, -1};
    /* (field by field: the structs are mostly text buffers, and this runs
     * for every frame) */
    x.err->code = FG_OCPP_OK;
    x.err->path[0] = x.err->desc[0] = '\0';
    fg_arena_reset(&out->arena);
    out->type = FG_OCPPJ_NONE;
    out->id[0] = out->action[0] = out->error_code_text[0] = out->error_desc[0] = '\0';
    out->payload = out->error_details = NULL;
    out->error_code = FG_OCPP_OK;
    out->answer = FG_OCPPJ_ANSWER_NONE;
    int rc = decode_frame(&x);
    if (rc) {
        out->payload = out->error_details = NULL;
        out->answer = answer_for(&x);
    }
    return rc;
}

void fg_ocppj_msg_init(struct fg_ocppj_msg *m)
{
    memset(m, 0, sizeof(*m));
    fg_arena_init(&m->arena);
}

void fg_ocppj_msg_clear(struct fg_ocppj_msg *m)
{
    fg_arena_free(&m->arena);
    fg_ocppj_msg_init(m);
}

/* ---- encoding -------------------------------------------------------------- */

/* Appends that remember the first failure, so an encoder is a straight list
 * of puts followed by one check. */
struct out {
    struct fg_buf *b;
    int rc;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->rc)
        return;
    if (n > o->b->max - o->b->len) {
        o->b->failed = true;
        o->rc = FG_ETOOBIG;
        return;
    }
    fg_buf_append(o->b, s, n);
    if (o->b->failed)
        o->rc = FG_ENOMEM;
}

static void put_escape(struct out *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    const char *simple = c == '"'    ? "\\\""
                         : c == '\\' ? "\\\\"
                         : c == '\n' ? "\\n"
                         : c == '\r' ? "\\r"
                         : c == '\t' ? "\\t"
                                     : NULL;
    if (simple)
        put(o, simple, 2);
    else
        put(o, e, sizeof(e));
}

/* s[0..n) as a JSON string; invalid UTF-8 bytes become '?'. */
static void put_string(struct out *o, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0, i = 0;
    put(o, "\"", 1);
    while (i < n) {
        size_t l = fg_utf8_len(p + i, n - i);
        if (l && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\') {
            i += l;
            continue;
        }
        put(o, s + run, i - run);
        if (l)
            put_escape(o, p[i]);
        else
            put(o, "?", 1);
        run = ++i;
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

/* Make at least `room` bytes (plus the NUL) available after b->len, so the
 * payload can be serialised with cJSON_PrintPreallocated straight into the
 * buffer, without the allocation and copy of cJSON_PrintUnformatted. */
static void reserve(struct out *o, size_t room)
{
    if (o->rc)
        return;
    if (room > o->b->max - o->b->len) {
        o->b->failed = true;
        o->rc = FG_ETOOBIG;
    } else if (!fg_buf_reserve(o->b, room)) {
        o->rc = FG_ENOMEM;
    }
}

static void put_json(struct out *o, const cJSON *j)
{
    struct fg_buf *b = o->b;
    size_t room = 512;
    if (!j) {
        put(o, "{}", 2);
        return;
    }
    if (!o->rc && b->max - b->len < 2) {
        b->failed = true;
        o->rc = FG_ETOOBIG;
    }
    for (; !o->rc; room *= 2) {
        size_t avail = b->max - b->len;
        room = room < avail ? room : avail;
        reserve(o, room);
        if (o->rc)
            return;
        size_t space = b->cap - b->len;
        space = space < INT_MAX ? space : INT_MAX;
        /* cJSON_PrintPreallocated does not modify the item; its prototype
         * just lacks the const. */
        if (cJSON_PrintPreallocated((cJSON *)j, b->s + b->len, (int)space, 0)) {
            b->len += strlen(b->s + b->len);
            return;
        }
        b->s[b->len] = '\0';
        if (room == avail) {
            b->failed = true;
            o->rc = FG_ETOOBIG;
        }
    }
}

static bool valid_id(const char *id)
{
    return id && !id_problem(id, strnlen(id, FG_OCPPJ_ID_MAX + 1));
}

static bool valid_object(const cJSON *j)
{
    return !j || fg_json_is(j, cJSON_Object);
}

static int start(struct out *o, enum fg_ocppj_type t, const char *id)
{
    static const char *const heads[] = {
        [FG_OCPPJ_CALL] = "[2,",      [FG_OCPPJ_CALLRESULT] = "[3,",
        [FG_OCPPJ_CALLERROR] = "[4,", [FG_OCPPJ_CALLRESULTERROR] = "[5,",
        [FG_OCPPJ_SEND] = "[6,",
    };
    if (o->b->failed)
        return FG_ENOMEM;
    put(o, heads[t], 3);
    put_string(o, id, strlen(id));
    put(o, ",", 1);
    return o->rc;
}

static int encode_request(struct fg_buf *b, enum fg_ocppj_type t, const char *id,
                          const char *action, const cJSON *payload)
{
    struct out o = {b, 0};
    if (!valid_id(id) || !action || action_problem(action) || !valid_object(payload))
        return FG_EINVAL;
    if (start(&o, t, id))
        return o.rc ? o.rc : FG_ENOMEM;
    put_string(&o, action, strlen(action));
    put(&o, ",", 1);
    put_json(&o, payload);
    put(&o, "]", 1);
    return o.rc;
}

int fg_ocppj_encode_call(struct fg_buf *b, const char *id, const char *action,
                         const cJSON *payload)
{
    return encode_request(b, FG_OCPPJ_CALL, id, action, payload);
}

int fg_ocppj_encode_send(struct fg_buf *b, const char *id, const char *action,
                         const cJSON *payload)
{
    return encode_request(b, FG_OCPPJ_SEND, id, action, payload);
}

int fg_ocppj_encode_result(struct fg_buf *b, const char *id, const cJSON *payload)
{
    struct out o = {b, 0};
    if (!valid_id(id) || !valid_object(payload))
        return FG_EINVAL;
    if (start(&o, FG_OCPPJ_CALLRESULT, id))
        return o.rc ? o.rc : FG_ENOMEM;
    put_json(&o, payload);
    put(&o, "]", 1);
    return o.rc;
}

#define FG_X_(sym, text) +1
enum { N_ERRCODES = 0 FG_OCPP_ERRORS(FG_X_) };
#undef FG_X_

int fg_ocppj_encode_error(struct fg_buf *b, enum fg_ocppj_type t, const char *id,
                          enum fg_ocpp_errcode code, const char *desc,
                          const cJSON *details)
{
    struct out o = {b, 0};
    if ((t != FG_OCPPJ_CALLERROR && t != FG_OCPPJ_CALLRESULTERROR) || !valid_id(id) ||
        (int)code <= FG_OCPP_OK || (int)code > N_ERRCODES || !valid_object(details))
        return FG_EINVAL;
    if (start(&o, t, id))
        return o.rc ? o.rc : FG_ENOMEM;
    const char *name = fg_ocpp_errcode_name(code);
    put_string(&o, name, strlen(name));
    put(&o, ",", 1);
    desc = desc ? desc : "";
    size_t n = strnlen(desc, FG_OCPPJ_DESC_MAX + 1);
    if (n > FG_OCPPJ_DESC_MAX) {
        n = FG_OCPPJ_DESC_MAX;
        while (n > 0 && ((unsigned char)desc[n] & 0xC0) == 0x80)
            n--;
    }
    put_string(&o, desc, n);
    put(&o, ",", 1);
    put_json(&o, details);
    put(&o, "]", 1);
    return o.rc;
}

/* ---- message ids ----------------------------------------------------------- */

static char *put_hex(char *p, uint64_t v, int min_digits)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v || n < min_digits);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

void fg_ocppj_make_id(char out[FG_OCPPJ_ID_MAX + 1], uint64_t prefix, uint64_t counter)
{
    char *p = put_hex(out, prefix, 16);
    *p++ = '-';
    p = put_hex(p, counter, 1);
    *p = '\0';
}
