/* The OpenADR 2.0b decoder: oadrDistributeEvent parses per second and MB/s
 * for a small payload (1 event, 1 signal, 24 intervals) and a large one
 * (100 events x 3 signals x 24 intervals), each with the decoder's own
 * checks and with full XSD validation on top. The payloads are generated
 * here and checked against the XSD once before timing.
 *
 *   openadr_bench [SECONDS_PER_CASE]   (default 2)
 *
 * Prints a Markdown table; not a pass/fail test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fg_openadr.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *const signal_kinds[][2] = {
    {"ELECTRICITY_PRICE", "price"},
    {"LOAD_DISPATCH", "setpoint"},
    {"SIMPLE", "level"},
};

/* An oadrDistributeEvent as a VTN would send it. */
static char *payload(int events, int signals, int intervals)
{
    struct fg_buf b;
    fg_buf_init(&b, 64 * 1024 * 1024);
    fg_buf_printf(
        &b,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<oadr:oadrPayload xmlns:oadr=\"" FG_OPENADR_NS_OADR
        "\" xmlns:pyld=\"" FG_OPENADR_NS_PYLD "\" xmlns:ei=\"" FG_OPENADR_NS_EI
        "\" xmlns:emix=\"" FG_OPENADR_NS_EMIX "\" xmlns:xcal=\"" FG_OPENADR_NS_XCAL
        "\" xmlns:strm=\"" FG_OPENADR_NS_STRM "\">\n"
        "<oadr:oadrSignedObject><oadr:oadrDistributeEvent ei:schemaVersion=\"2.0b\">\n"
        "<pyld:requestID>bench-req-1</pyld:requestID><ei:vtnID>bench-vtn</ei:vtnID>\n");
    for (int e = 0; e < events; e++) {
        fg_buf_printf(
            &b,
            "<oadr:oadrEvent><ei:eiEvent><ei:eventDescriptor>\n"
            "<ei:eventID>event-%04d</ei:eventID>"
            "<ei:modificationNumber>%d</ei:modificationNumber>"
            "<ei:priority>1</ei:priority>\n<ei:eiMarketContext><emix:marketContext>"
            "http://vtn.example/market</emix:marketContext></ei:eiMarketContext>\n"
            "<ei:createdDateTime>2026-06-01T00:00:00Z</ei:createdDateTime>"
            "<ei:eventStatus>far</ei:eventStatus>\n</ei:eventDescriptor>\n"
            "<ei:eiActivePeriod><xcal:properties>\n"
            "<xcal:dtstart><xcal:date-time>2026-06-02T00:00:00Z</xcal:date-time>"
            "</xcal:dtstart>\n<xcal:duration><xcal:duration>PT%dH</xcal:duration>"
            "</xcal:duration>\n<xcal:tolerance><xcal:tolerate><xcal:startafter>PT5M"
            "</xcal:startafter></xcal:tolerate></xcal:tolerance>\n"
            "</xcal:properties><xcal:components/></ei:eiActivePeriod>\n"
            "<ei:eiEventSignals>\n",
            e, e % 3, intervals);
        for (int s = 0; s < signals; s++) {
            fg_buf_printf(&b, "<ei:eiEventSignal><strm:intervals>\n");
            for (int i = 0; i < intervals; i++)
                fg_buf_printf(
                    &b,
                    "<ei:interval><xcal:duration><xcal:duration>PT1H"
                    "</xcal:duration></xcal:duration><xcal:uid><xcal:text>%d"
                    "</xcal:text></xcal:uid><ei:signalPayload><ei:payloadFloat>"
                    "<ei:value>%.2f</ei:value></ei:payloadFloat></ei:signalPayload>"
                    "</ei:interval>\n",
                    i, 0.1 + 0.01 * i + s);
            fg_buf_printf(
                &b,
                "</strm:intervals><ei:signalName>%s</ei:signalName>"
                "<ei:signalType>%s</ei:signalType><ei:signalID>sig-%d</ei:signalID>"
                "<ei:currentValue><ei:payloadFloat><ei:value>0</ei:value>"
                "</ei:payloadFloat></ei:currentValue></ei:eiEventSignal>\n",
                signal_kinds[s % 3][0], signal_kinds[s % 3][1], s);
        }
        fg_buf_printf(&b,
                      "</ei:eiEventSignals><ei:eiTarget><ei:venID>bench-ven</ei:venID>"
                      "</ei:eiTarget></ei:eiEvent>\n<oadr:oadrResponseRequired>always"
                      "</oadr:oadrResponseRequired></oadr:oadrEvent>\n");
    }
    fg_buf_printf(
        &b, "</oadr:oadrDistributeEvent></oadr:oadrSignedObject></oadr:oadrPayload>\n");
    return fg_buf_take(&b);
}

struct result {
    double parses_per_s, mb_per_s, us_per_parse, cpu_us_per_parse;
};

static int run(const char *xml, size_t len, const struct fg_openadr_opts *o, int events,
               double seconds, struct result *res)
{
    long n = 0;
    double t0 = now_s(), c0 = cpu_s(), t;
    do {
        struct fg_openadr_msg m;
        struct fg_error e;
        fg_openadr_msg_init(&m);
        int rc = fg_openadr_decode(xml, len, o, &m, &e);
        if (rc || m.type != FG_OADR_DISTRIBUTE_EVENT ||
            m.u.distribute_event.n_events != (size_t)events) {
            fprintf(stderr, "openadr_bench: decode failed: %s %s: %s\n", fg_errname(rc),
                    e.path, e.msg);
            fg_openadr_msg_clear(&m);
            return 1;
        }
        fg_openadr_msg_clear(&m);
        n++;
        t = now_s() - t0;
    } while (t < seconds);
    double cpu = cpu_s() - c0;
    res->parses_per_s = n / t;
    res->mb_per_s = (double)len * n / t / 1e6;
    res->us_per_parse = t / n * 1e6;
    res->cpu_us_per_parse = cpu / n * 1e6;
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0)
        seconds = 2.0;
    struct fg_error e;
    fg_error_clear(&e);
    struct fg_openadr_schema *xsd =
        fg_openadr_schema_load(FG_SOURCE_DIR "/protocols/openadr/xsd", &e);
    if (!xsd) {
        fprintf(stderr, "openadr_bench: %s: %s\n", e.path, e.msg);
        return 1;
    }
    static const struct {
        const char *name;
        int events, signals, intervals;
    } cases[] = {{"small", 1, 1, 24}, {"large", 100, 3, 24}};
    printf("## OpenADR 2.0b: oadrDistributeEvent parse rate\n\n");
    printf(
        "`BUILD_DIR/tests/bench/openadr_bench %g`: fg_openadr_decode() in a loop for "
        "%g s per row on one thread, the message cleared after each parse; payloads "
        "generated by the bench (each event: descriptor, active period with "
        "start-after, N signals of 24 one-hour intervals, target) and valid against "
        "oadr_20b.xsd. Rows \"decoder + XSD\" add libxml2's schema validation of every "
        "document (opts.schema).\n\n",
        seconds, seconds);
    printf(
        "| Payload | bytes | checks | parses/s | MB/s | µs per parse (wall) | µs CPU per "
        "parse |\n|---|---|---|---|---|---|---|\n");
    int rc = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *xml = payload(cases[i].events, cases[i].signals, cases[i].intervals);
        if (!xml) {
            fprintf(stderr, "openadr_bench: payload too large\n");
            return 1;
        }
        size_t len = strlen(xml);
        if (fg_openadr_validate(xsd, xml, len,
                                &(struct fg_openadr_opts){.max_bytes = len}, &e)) {
            fprintf(stderr, "openadr_bench: generated payload invalid: %s\n", e.msg);
            return 1;
        }
        for (int with = 0; with < 2; with++) {
            struct fg_openadr_opts o = {.max_bytes = len, .schema = with ? xsd : NULL};
            struct result r = {0};
            rc |= run(xml, len, &o, cases[i].events, seconds, &r);
            printf("| %s: %d event%s x %d signal%s x %d intervals | %zu | %s | %.0f | "
                   "%.1f | "
                   "%.1f | %.1f |\n",
                   cases[i].name, cases[i].events, cases[i].events > 1 ? "s" : "",
                   cases[i].signals, cases[i].signals > 1 ? "s" : "", cases[i].intervals,
                   len, with ? "decoder + XSD" : "decoder", r.parses_per_s, r.mb_per_s,
                   r.us_per_parse, r.cpu_us_per_parse);
        }
        free(xml);
    }
    fg_openadr_schema_free(xsd);
    return rc;
}
