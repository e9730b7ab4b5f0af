/* The decoder's entry point, the message's life cycle and XSD validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "openadr_int.h"

void fg_openadr_msg_init(struct fg_openadr_msg *m)
{
    memset(m, 0, sizeof(*m));
}

void fg_openadr_msg_clear(struct fg_openadr_msg *m)
{
    arena_free(m->arena);
    fg_openadr_msg_init(m);
}

struct fg_openadr_schema {
    xmlSchemaPtr xsd;
};

/* The first error a schema parser or validator reports. */
struct first_err {
    bool have;
    int line;
    char msg[240];
};

static void on_schema_error(void *data, xmlErrorPtr e)
{
    struct first_err *f = data;
    if (f->have || !e)
        return;
    f->have = true;
    f->line = e->line;
    snprintf(f->msg, sizeof f->msg, "%s", e->message ? e->message : "invalid");
    size_t n = strlen(f->msg);
    while (n && (f->msg[n - 1] == '\n' || f->msg[n - 1] == ' '))
        f->msg[--n] = '\0';
}

struct fg_openadr_schema *fg_openadr_schema_load(const char *dir, struct fg_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/oadr_20b.xsd", dir) >= (int)sizeof path) {
        fg_error_set(err, FG_EINVAL, dir, "schema directory name too long");
        return NULL;
    }
    xmlInitParser();
    struct first_err f = {0};
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
    struct fg_openadr_schema *s = calloc(1, sizeof(*s));
    if (!pc || !s) {
        fg_error_set(err, FG_ENOMEM, path, "out of memory");
        goto fail;
    }
    xmlSchemaSetParserStructuredErrors(pc, on_schema_error, &f);
    s->xsd = xmlSchemaParse(pc);
    if (!s->xsd) {
        fg_error_set(err, FG_EIO, path, "schema not loaded: line %d: %s", f.line,
                     f.have ? f.msg : "unreadable");
        goto fail;
    }
    xmlSchemaFreeParserCtxt(pc);
    return s;
fail:
    if (pc)
        xmlSchemaFreeParserCtxt(pc);
    free(s);
    return NULL;
}

void fg_openadr_schema_free(struct fg_openadr_schema *s)
{
    if (!s)
        return;
    xmlSchemaFree(s->xsd);
    free(s);
}

static int validate_doc(const struct fg_openadr_schema *s, xmlDocPtr doc,
                        struct fg_error *err)
{
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(s->xsd);
    if (!vc)
        return fg_error_set(err, FG_ENOMEM, "", "out of memory");
    struct first_err f = {0};
    xmlSchemaSetValidStructuredErrors(vc, on_schema_error, &f);
    int v = xmlSchemaValidateDoc(vc, doc);
    xmlSchemaFreeValidCtxt(vc);
    if (v == 0)
        return 0;
    if (v < 0)
        return fg_error_set(err, FG_ENOMEM, "", "schema validation failed internally");
    return fg_error_set(err, FG_EINVAL, "", "schema-invalid: line %d: %s", f.line,
                        f.have ? f.msg : "invalid");
}

int fg_openadr_validate(const struct fg_openadr_schema *s, const char *xml, size_t len,
                        const struct fg_openadr_opts *opts, struct fg_error *err)
{
    xmlDocPtr doc;
    int rc = oadr_parse(xml, len, opts, &doc, err);
    if (rc)
        return rc;
    rc = validate_doc(s, doc, err);
    xmlFreeDoc(doc);
    return rc;
}

static int signature(struct rd *r, struct cur *c)
{
    (void)r;
    cur_opt(c, NS_DS, "Signature");
    return 0;
}

static int read_doc(struct rd *r, xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || !is_el(root, NS_OADR, "oadrPayload"))
        return rd_fail(r, FG_EINVAL,
                       "the root element must be oadr:oadrPayload, found %s",
                       root ? (const char *)root->name : "nothing");
    rd_enter(r, root);
    struct cur c = cur_of(r, root);
    signature(r, &c);
    xmlNodePtr so = cur_req(&c, NS_OADR, "oadrSignedObject");
    if (!so || cur_end(&c))
        return r->rc;
    rd_enter(r, so);
    struct cur k = cur_of(r, so);
    xmlNodePtr p = cur_any(&k);
    if (!p)
        return rd_fail(r, FG_EINVAL, "empty: no payload");
    if (cur_end(&k))
        return r->rc;
    return decode_payload(r, p);
}

int fg_openadr_decode(const char *xml, size_t len, const struct fg_openadr_opts *opts,
                      struct fg_openadr_msg *m, struct fg_error *err)
{
    xmlDocPtr doc;
    int rc = oadr_parse(xml, len, opts, &doc, err);
    if (rc)
        return rc;
    if (opts && opts->schema && (rc = validate_doc(opts->schema, doc, err)))
        goto out;
    struct rd r = {.m = m, .err = err};
    rc = read_doc(&r, doc);
out:
    xmlFreeDoc(doc);
    return rc;
}
