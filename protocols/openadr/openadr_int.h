/* Inside the OpenADR codec: the arena, the safe parse, and the reader that
 * walks an element's children in schema order. */
#ifndef FG_OPENADR_INT_H
#define FG_OPENADR_INT_H

#include <libxml/tree.h>

#include "fg_openadr.h"

/* ---- arena: every decoded string and array, freed at once ---- */
void *arena_alloc(struct fg_openadr_arena **a, size_t n);
void arena_free(struct fg_openadr_arena *a);

/* ---- parse: limits, no DTD, errors into err ---- */
/* Parse len bytes into a document (caller frees with xmlFreeDoc). */
int oadr_parse(const char *xml, size_t len, const struct fg_openadr_opts *opts,
               xmlDocPtr *doc, struct fg_error *err);

/* ---- reader ---- */
struct rd {
    struct fg_openadr_msg *m;
    struct fg_error *err;
    int rc;
    xmlNodePtr at; /* the element being read: errors name its path */
};

/* The element children of one element, consumed in order. */
struct cur {
    struct rd *r;
    xmlNodePtr parent, next;
};

enum ns { NS_OADR, NS_EI, NS_PYLD, NS_EMIX, NS_XCAL, NS_STRM, NS_POWER, NS_SCALE, NS_DS };

/* Make el the element errors are about; returns the previous one for
 * rd_leave. */
xmlNodePtr rd_enter(struct rd *r, xmlNodePtr el);
void rd_leave(struct rd *r, xmlNodePtr old);
int rd_fail(struct rd *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct cur cur_of(struct rd *r, xmlNodePtr parent);
bool is_el(xmlNodePtr n, enum ns ns, const char *name);
/* The next child if it is ns:name (consumed), else NULL. */
xmlNodePtr cur_opt(struct cur *c, enum ns ns, const char *name);
/* The same, but its absence is an error (NULL, r->rc set). */
xmlNodePtr cur_req(struct cur *c, enum ns ns, const char *name);
/* The next child whatever it is (NULL at the end). */
xmlNodePtr cur_any(struct cur *c);
/* Skip children while they are ns:name. */
void cur_skip(struct cur *c, enum ns ns, const char *name);
/* Error if children are left. */
int cur_end(struct cur *c);

/* Values of simple elements, r->path naming the element on error. */
int rd_str(struct rd *r, xmlNodePtr el, const char **out);
int rd_token(struct rd *r, xmlNodePtr el, const char **out);
int rd_uint(struct rd *r, xmlNodePtr el, uint32_t *out);
int rd_float(struct rd *r, xmlNodePtr el, double *out);
int rd_bool(struct rd *r, xmlNodePtr el, bool *out);
int rd_int(struct rd *r, xmlNodePtr el, int lo, int hi, int *out);
int rd_duration_text(struct rd *r, xmlNodePtr el, int64_t *out);
/* DurationPropType: <x><xcal:duration>PT1H</xcal:duration></x>. */
int rd_duration_prop(struct rd *r, xmlNodePtr el, int64_t *out);
int rd_datetime_text(struct rd *r, xmlNodePtr el, int64_t *out);
/* <xcal:dtstart><xcal:date-time>...</xcal:date-time></xcal:dtstart>. */
int rd_dtstart(struct rd *r, xmlNodePtr el, int64_t *out);

/* The element's local name with a readable prefix for messages ("ei:venID"). */
const char *ns_prefix(enum ns ns);

/* Decoders of the payloads (decode.c). */
int decode_payload(struct rd *r, xmlNodePtr el);

#endif
