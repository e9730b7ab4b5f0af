/* The safe parse and the reader's helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/globals.h>
#include <libxml/xmlerror.h>

#include "openadr_int.h"

/* ---- arena ---------------------------------------------------------------- */

struct fg_openadr_arena {
    struct fg_openadr_arena *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
};

#define ARENA_BLOCK 16384

void *arena_alloc(struct fg_openadr_arena **a, size_t n)
{
    n = (n + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
    if (!*a || (*a)->cap - (*a)->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        struct fg_openadr_arena *b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = *a;
        b->used = 0;
        b->cap = cap;
        *a = b;
    }
    void *p = (*a)->data + (*a)->used;
    (*a)->used += n;
    memset(p, 0, n);
    return p;
}

void arena_free(struct fg_openadr_arena *a)
{
    while (a) {
        struct fg_openadr_arena *n = a->next;
        free(a);
        a = n;
    }
}

/* ---- parse ------------------------------------------------------------------ */

/* What the SAX hooks see during one parse (the parser context's _private). */
struct pstate {
    int depth, max_depth;
    bool doctype, too_deep;
    bool have_err;
    int err_line;
    char err_msg[200];
};

/* The first error (warnings are ignored). Errors libxml2 raises without a
 * parser context (character encoding conversion, I/O) go to its thread's
 * global handler, which prints to stderr by default; during a parse they
 * are caught here instead. */
static void on_global_error(void *data, xmlErrorPtr e)
{
    struct pstate *ps = data;
    if (ps->have_err || !e || e->level < XML_ERR_ERROR)
        return;
    ps->have_err = true;
    ps->err_line = e->line;
    snprintf(ps->err_msg, sizeof ps->err_msg, "%s", e->message ? e->message : "error");
    size_t n = strlen(ps->err_msg);
    while (n && (ps->err_msg[n - 1] == '\n' || ps->err_msg[n - 1] == ' '))
        ps->err_msg[--n] = '\0';
}

static void on_error(void *data, xmlErrorPtr e)
{
    xmlParserCtxtPtr c = data;
    on_global_error(c->_private, e);
}

/* Why: a DOCTYPE is where entities are declared. Stopping when the parser
 * reports its name, before the internal subset is read, means no entity
 * declaration (billion laughs, external SYSTEM entities) is ever seen. */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext,
                       const xmlChar *sys)
{
    (void)name, (void)ext, (void)sys;
    xmlParserCtxtPtr c = ctx;
    ((struct pstate *)c->_private)->doctype = true;
    xmlStopParser(c);
}

static void on_start(void *ctx, const xmlChar *local, const xmlChar *prefix,
                     const xmlChar *uri, int nns, const xmlChar **ns, int nattr, int ndef,
                     const xmlChar **attr)
{
    xmlParserCtxtPtr c = ctx;
    struct pstate *ps = c->_private;
    if (++ps->depth > ps->max_depth) {
        ps->too_deep = true;
        xmlStopParser(c);
        return;
    }
    xmlSAX2StartElementNs(ctx, local, prefix, uri, nns, ns, nattr, ndef, attr);
}

static void on_end(void *ctx, const xmlChar *local, const xmlChar *prefix,
                   const xmlChar *uri)
{
    xmlParserCtxtPtr c = ctx;
    ((struct pstate *)c->_private)->depth--;
    xmlSAX2EndElementNs(ctx, local, prefix, uri);
}

int oadr_parse(const char *xml, size_t len, const struct fg_openadr_opts *opts,
               xmlDocPtr *doc, struct fg_error *err)
{
    size_t max = opts && opts->max_bytes ? opts->max_bytes : FG_OPENADR_MAX_BYTES_DEFAULT;
    int depth = opts && opts->max_depth ? opts->max_depth : FG_OPENADR_MAX_DEPTH_DEFAULT;
    *doc = NULL;
    if (len > max)
        return fg_error_set(err, FG_ETOOBIG, "",
                            "body of %zu bytes over the limit of %zu", len, max);
    if (len > INT32_MAX)
        return fg_error_set(err, FG_ETOOBIG, "", "body of %zu bytes", len);
    xmlInitParser();
    struct pstate ps = {.max_depth = depth};
    /* libxml2 keeps this handler per thread: set here, restored below. */
    xmlStructuredErrorFunc old_fn = xmlStructuredError;
    void *old_data = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(&ps, on_global_error);
    xmlParserCtxtPtr c = xmlCreateMemoryParserCtxt(xml, (int)len);
    if (!c) {
        xmlSetStructuredErrorFunc(old_data, old_fn);
        return fg_error_set(err, len ? FG_ENOMEM : FG_EPARSE, "",
                            "empty or unreadable body");
    }
    c->_private = &ps;
    c->sax->internalSubset = on_doctype;
    c->sax->startElementNs = on_start;
    c->sax->endElementNs = on_end;
    c->sax->serror = on_error;
    /* No NOENT, no DTDLOAD/DTDATTR/DTDVALID, no HUGE, no XINCLUDE. */
    xmlCtxtUseOptions(c, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                             XML_PARSE_NOCDATA | XML_PARSE_NOXINCNODE);
    c->sax->serror = on_error;
    xmlParseDocument(c);
    int rc = 0;
    if (ps.doctype)
        rc = fg_error_set(err, FG_EFORBIDDEN, "",
                          "a DOCTYPE is not allowed (no DTDs, no entities)");
    else if (ps.too_deep)
        rc = fg_error_set(err, FG_ETOOBIG, "", "elements nested deeper than %d", depth);
    /* Why also have_err: libxml2 keeps wellFormed for namespace errors (an
     * undeclared prefix) and recovers from some encoding errors by dropping
     * bytes; either way the document is not the one that was sent. */
    else if (!c->wellFormed || !c->myDoc || ps.have_err)
        rc = fg_error_set(err, FG_EPARSE, "", "not well-formed XML: line %d: %s",
                          ps.err_line, ps.have_err ? ps.err_msg : "parse failed");
    if (rc) {
        if (c->myDoc)
            xmlFreeDoc(c->myDoc);
    } else {
        *doc = c->myDoc;
    }
    c->myDoc = NULL;
    xmlFreeParserCtxt(c);
    xmlSetStructuredErrorFunc(old_data, old_fn);
    return rc;
}

/* ---- reader ----------------------------------------------------------------- */

static const char *const ns_uri[] = {
    [NS_OADR] = FG_OPENADR_NS_OADR,
    [NS_EI] = FG_OPENADR_NS_EI,
    [NS_PYLD] = FG_OPENADR_NS_PYLD,
    [NS_EMIX] = FG_OPENADR_NS_EMIX,
    [NS_XCAL] = FG_OPENADR_NS_XCAL,
    [NS_STRM] = FG_OPENADR_NS_STRM,
    [NS_POWER] = FG_OPENADR_NS_POWER,
    [NS_SCALE] = FG_OPENADR_NS_SCALE,
    [NS_DS] = "http://www.w3.org/2000/09/xmldsig#",
};

static const char *const ns_pfx[] = {
    [NS_OADR] = "oadr",   [NS_EI] = "ei",       [NS_PYLD] = "pyld",
    [NS_EMIX] = "emix",   [NS_XCAL] = "xcal",   [NS_STRM] = "strm",
    [NS_POWER] = "power", [NS_SCALE] = "scale", [NS_DS] = "ds",
};

const char *ns_prefix(enum ns ns)
{
    return ns_pfx[ns];
}

xmlNodePtr rd_enter(struct rd *r, xmlNodePtr el)
{
    xmlNodePtr old = r->at;
    r->at = el;
    return old;
}

void rd_leave(struct rd *r, xmlNodePtr old)
{
    r->at = old;
}

/* Position of n among its siblings of the same name (0-based), -1 if it
 * has none. */
static int sibling_index(xmlNodePtr n)
{
    int before = 0;
    bool seen = false, others = false;
    for (xmlNodePtr s = n->parent ? n->parent->children : NULL; s; s = s->next) {
        if (s == n) {
            seen = true;
        } else if (s->type == XML_ELEMENT_NODE && s->ns == n->ns &&
                   !strcmp((const char *)s->name, (const char *)n->name)) {
            others = true;
            before += !seen;
        }
    }
    return others ? before : -1;
}

/* Why computed on error only: the happy path then costs nothing for paths.
 * The path starts at the payload ("/oadrDistributeEvent/oadrEvent[1]/..."):
 * the two wrappers are the same in every message. */
static void path_of(xmlNodePtr n, char *out, size_t size)
{
    xmlNodePtr chain[64];
    int k = 0;
    for (; n && n->type == XML_ELEMENT_NODE && k < 64; n = n->parent)
        chain[k++] = n;
    int top = k - 1;
    if (k > 2 && is_el(chain[top], NS_OADR, "oadrPayload") &&
        is_el(chain[top - 1], NS_OADR, "oadrSignedObject"))
        top -= 2;
    size_t o = 0;
    out[0] = '\0';
    for (int i = top; i >= 0 && o < size; i--) {
        int idx = sibling_index(chain[i]);
        int w = idx >= 0
                    ? snprintf(out + o, size - o, "/%s[%d]", (const char *)chain[i]->name,
                               idx)
                    : snprintf(out + o, size - o, "/%s", (const char *)chain[i]->name);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (!out[0])
        snprintf(out, size, "/");
}

int rd_fail(struct rd *r, int code, const char *fmt, ...)
{
    if (r->rc)
        return r->rc;
    char msg[FG_ERR_MSG_MAX], path[FG_ERR_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    path_of(r->at, path, sizeof path);
    r->rc = fg_error_set(r->err, code, path, "%s", msg);
    return r->rc;
}

static xmlNodePtr next_el(xmlNodePtr n)
{
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

struct cur cur_of(struct rd *r, xmlNodePtr parent)
{
    struct cur c = {r, parent, next_el(parent->children)};
    return c;
}

bool is_el(xmlNodePtr n, enum ns ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->name, name) == 0 &&
           strcmp((const char *)n->ns->href, ns_uri[ns]) == 0;
}

/* "ns:name" of an element as found, for messages. */
static const char *found(xmlNodePtr n, char *buf, size_t size)
{
    const char *uri = n->ns && n->ns->href ? (const char *)n->ns->href : "";
    const char *pfx = NULL;
    for (size_t i = 0; i < sizeof ns_uri / sizeof ns_uri[0]; i++)
        if (strcmp(uri, ns_uri[i]) == 0)
            pfx = ns_pfx[i];
    if (pfx)
        snprintf(buf, size, "%s:%s", pfx, (const char *)n->name);
    else
        snprintf(buf, size, "{%s}%s", uri, (const char *)n->name);
    return buf;
}

xmlNodePtr cur_opt(struct cur *c, enum ns ns, const char *name)
{
    if (!is_el(c->next, ns, name))
        return NULL;
    xmlNodePtr n = c->next;
    c->next = next_el(n->next);
    return n;
}

xmlNodePtr cur_req(struct cur *c, enum ns ns, const char *name)
{
    xmlNodePtr n = cur_opt(c, ns, name);
    if (n)
        return n;
    char buf[160];
    if (c->next)
        rd_fail(c->r, FG_EINVAL, "expected %s:%s, found %s", ns_pfx[ns], name,
                found(c->next, buf, sizeof buf));
    else
        rd_fail(c->r, FG_EINVAL, "missing %s:%s", ns_pfx[ns], name);
    return NULL;
}

xmlNodePtr cur_any(struct cur *c)
{
    xmlNodePtr n = c->next;
    if (n)
        c->next = next_el(n->next);
    return n;
}

void cur_skip(struct cur *c, enum ns ns, const char *name)
{
    while (cur_opt(c, ns, name))
        ;
}

int cur_end(struct cur *c)
{
    if (!c->next)
        return 0;
    char buf[160];
    return rd_fail(c->r, FG_EINVAL, "unexpected %s", found(c->next, buf, sizeof buf));
}

/* ---- simple values ---------------------------------------------------------- */

/* Why not xmlNodeGetContent: it allocates every value with libxml2's malloc
 * and reads through child elements; values here are text children copied
 * straight into the message's arena, and an element inside is an error. */
int rd_str(struct rd *r, xmlNodePtr el, const char **out)
{
    xmlNodePtr plen = rd_enter(r, el);
    size_t total = 0;
    for (xmlNodePtr n = el->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE)
            return rd_fail(r, FG_EINVAL, "expected text, found element %s",
                           (const char *)n->name);
        if (n->type == XML_ENTITY_REF_NODE)
            return rd_fail(r, FG_EINVAL, "entity reference &%s; not allowed",
                           (const char *)n->name);
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content)
            total += strlen((const char *)n->content);
    }
    char *d = arena_alloc(&r->m->arena, total + 1);
    if (!d)
        return rd_fail(r, FG_ENOMEM, "out of memory");
    size_t o = 0;
    for (xmlNodePtr n = el->children; n; n = n->next)
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
            n->content) {
            size_t k = strlen((const char *)n->content);
            memcpy(d + o, n->content, k);
            o += k;
        }
    d[o] = '\0';
    *out = d;
    rd_leave(r, plen);
    return 0;
}

static bool xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int rd_token(struct rd *r, xmlNodePtr el, const char **out)
{
    const char *s;
    if (rd_str(r, el, &s))
        return r->rc;
    while (xml_space(*s))
        s++;
    char *e = (char *)s + strlen(s);
    while (e > s && xml_space(e[-1]))
        *--e = '\0';
    *out = s;
    return 0;
}

/* Run a value check with the element on the path; convert its error. */
#define WITH_PATH(r, el, expr)                                                           \
    do {                                                                                 \
        xmlNodePtr plen_ = rd_enter(r, el);                                              \
        struct fg_error e_;                                                              \
        e_.msg[0] = '\0';                                                                \
        int rc_ = (expr);                                                                \
        if (rc_)                                                                         \
            return rd_fail(r, rc_, "%s", e_.msg);                                        \
        rd_leave(r, plen_);                                                              \
    } while (0)

static int uint_of(const char *s, uint32_t *out, struct fg_error *e)
{
    const char *p = *s == '+' ? s + 1 : s;
    uint64_t v = 0;
    if (!*p)
        return fg_error_set(e, FG_ERANGE, NULL, "'%s' is not an unsigned integer", s);
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return fg_error_set(e, FG_ERANGE, NULL, "'%s' is not an unsigned integer", s);
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return fg_error_set(e, FG_ERANGE, NULL, "'%s' over %u", s, UINT32_MAX);
    }
    *out = (uint32_t)v;
    return 0;
}

int rd_uint(struct rd *r, xmlNodePtr el, uint32_t *out)
{
    const char *s;
    if (rd_token(r, el, &s))
        return r->rc;
    WITH_PATH(r, el, uint_of(s, out, &e_));
    return 0;
}

int rd_int(struct rd *r, xmlNodePtr el, int lo, int hi, int *out)
{
    uint32_t v;
    if (rd_uint(r, el, &v))
        return r->rc;
    if ((int64_t)v < lo || (int64_t)v > hi) {
        xmlNodePtr plen = rd_enter(r, el);
        rd_fail(r, FG_ERANGE, "%u not in [%d, %d]", v, lo, hi);
        rd_leave(r, plen);
        return r->rc;
    }
    *out = (int)v;
    return 0;
}

static int float_of(const char *s, double *out, struct fg_error *e)
{
    /* xs:float's lexical space without INF / NaN: a VEN cannot act on them. */
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return fg_error_set(e, FG_ERANGE, NULL, "'%s' is not a finite number", s);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE)
        return fg_error_set(e, FG_ERANGE, NULL, "'%s' is not a finite number", s);
    *out = v;
    return 0;
}

int rd_float(struct rd *r, xmlNodePtr el, double *out)
{
    const char *s;
    if (rd_token(r, el, &s))
        return r->rc;
    WITH_PATH(r, el, float_of(s, out, &e_));
    return 0;
}

static int bool_of(const char *s, bool *out, struct fg_error *e)
{
    if (!strcmp(s, "true") || !strcmp(s, "1"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "0"))
        *out = false;
    else
        return fg_error_set(e, FG_EINVAL, NULL, "'%s' is not a boolean", s);
    return 0;
}

int rd_bool(struct rd *r, xmlNodePtr el, bool *out)
{
    const char *s;
    if (rd_token(r, el, &s))
        return r->rc;
    WITH_PATH(r, el, bool_of(s, out, &e_));
    return 0;
}

int rd_duration_text(struct rd *r, xmlNodePtr el, int64_t *out)
{
    const char *s;
    if (rd_token(r, el, &s))
        return r->rc;
    WITH_PATH(r, el, fg_openadr_duration_parse(s, out, &e_));
    return 0;
}

int rd_datetime_text(struct rd *r, xmlNodePtr el, int64_t *out)
{
    const char *s;
    if (rd_token(r, el, &s))
        return r->rc;
    WITH_PATH(r, el, fg_openadr_datetime_parse(s, out, &e_));
    return 0;
}

/* <el><ns:name>text</ns:name></el>, nothing else, value by fn. */
static xmlNodePtr only_child(struct rd *r, xmlNodePtr el, enum ns ns, const char *name)
{
    xmlNodePtr plen = rd_enter(r, el);
    struct cur c = cur_of(r, el);
    xmlNodePtr v = cur_req(&c, ns, name);
    if (v && cur_end(&c))
        v = NULL;
    if (v)
        rd_leave(r, plen);
    return v;
}

int rd_duration_prop(struct rd *r, xmlNodePtr el, int64_t *out)
{
    xmlNodePtr v = only_child(r, el, NS_XCAL, "duration");
    if (!v)
        return r->rc;
    xmlNodePtr plen = rd_enter(r, el);
    if (rd_duration_text(r, v, out))
        return r->rc;
    rd_leave(r, plen);
    return 0;
}

int rd_dtstart(struct rd *r, xmlNodePtr el, int64_t *out)
{
    xmlNodePtr v = only_child(r, el, NS_XCAL, "date-time");
    if (!v)
        return r->rc;
    xmlNodePtr plen = rd_enter(r, el);
    if (rd_datetime_text(r, v, out))
        return r->rc;
    rd_leave(r, plen);
    return 0;
}
