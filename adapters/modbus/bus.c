/* The worker half of the Modbus adapter: libmodbus I/O for one bus.
 *
 * Everything here runs on the bus's worker thread (except open/close, which
 * run before the worker starts and after it is joined). It knows SunSpec
 * only through fg_sunspec.h (marker, chain steps) and nothing about the
 * model: it fills the job and the loop thread decides what it means.
 *
 * Why retries only on silence: a device that answers with an exception has
 * decided; asking again would just repeat the answer and stall the bus. A
 * timeout or a dropped connection, on the other hand, is often transient
 * (a busy gateway, a lost TCP connection), so those are retried after a
 * reconnect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#include "loop.h"
#include "mb.h"

static const char parity_char[] = {'N', 'E', 'O'};

int mb_bus_open(struct mb_bus *b, char *err, size_t errlen)
{
    const struct fg_cfg_modbus_bus *c = &b->cfg;
    if (c->has_rtu)
        b->ctx =
            modbus_new_rtu(c->rtu.device, c->rtu.baud, parity_char[c->rtu.parity % 3],
                           c->rtu.data_bits, c->rtu.stop_bits);
    else {
        char port[8];
        snprintf(port, sizeof(port), "%u", c->tcp_addr.port);
        b->ctx = modbus_new_tcp_pi(c->tcp_addr.host, port);
    }
    if (!b->ctx) {
        snprintf(err, errlen, "bus %s: %s", c->id, modbus_strerror(errno));
        return FG_EIO;
    }
    int ms = c->response_timeout_ms;
    modbus_set_response_timeout(b->ctx, (uint32_t)(ms / 1000),
                                (uint32_t)(ms % 1000) * 1000);
    b->connected = false;
    return 0;
}

void mb_bus_close(struct mb_bus *b)
{
    if (!b->ctx)
        return;
    modbus_close(b->ctx);
    modbus_free(b->ctx);
    b->ctx = NULL;
    b->connected = false;
}

static bool is_exception(int e)
{
    return e >= EMBXILFUN && e <= EMBXGTAR;
}

static void drop_connection(struct mb_bus *b)
{
    if (b->connected) {
        modbus_close(b->ctx);
        b->connected = false;
    }
}

/* libmodbus sets up a serial line with one tcsetattr(), which succeeds when
 * the driver takes only part of the settings (Linux ptys drop parity; some
 * USB adapters drop a stop bit). Devices on such a line never answer, and
 * "timed out" would send the reader to the wiring: check what the line
 * really is. 0, or -1 when parity, data or stop bits differ. */
static int line_as_configured(struct mb_bus *b)
{
    const struct fg_cfg_modbus_rtu *r = &b->cfg.rtu;
    struct termios t;
    if (tcgetattr(modbus_get_socket(b->ctx), &t))
        return -1;
    bool parity = t.c_cflag & PARENB, odd = t.c_cflag & PARODD;
    if (parity != (r->parity != FG_MB_PARITY_NONE) ||
        (parity && odd != (r->parity == FG_MB_PARITY_ODD)) ||
        !(t.c_cflag & CSTOPB) != (r->stop_bits == 1) ||
        (t.c_cflag & CSIZE) != (r->data_bits == 7 ? CS7 : CS8))
        return -1;
    return 0;
}

static int connect_bus(struct mb_bus *b, bool *refused)
{
    *refused = false;
    if (modbus_connect(b->ctx) == -1)
        return -1;
    if (b->cfg.has_rtu && line_as_configured(b)) {
        modbus_close(b->ctx);
        *refused = true;
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* One request with retries. op does the libmodbus call and returns its
 * result (-1 with errno on failure). */
typedef int (*mb_op)(modbus_t *ctx, void *arg);

static int attempt(struct mb_job *j, mb_op op, void *arg, const char *what)
{
    struct mb_bus *b = j->bus;
    int e = 0;
    bool no_line = false, refused = false;
    for (int i = 0; i <= j->retries; i++) {
        no_line = false;
        if (!b->connected) {
            if (connect_bus(b, &refused) == -1) {
                e = errno;
                no_line = true;
                continue;
            }
            b->connected = true;
        }
        if (modbus_set_slave(b->ctx, j->unit_id) == -1) {
            e = errno;
            break;
        }
        if (op(b->ctx, arg) != -1)
            return 0;
        e = errno;
        if (is_exception(e))
            break;
        /* Silence or garbage: start over on a fresh connection, so a late
         * answer to this request cannot be taken for the next one's. */
        drop_connection(b);
    }
    j->mb_errno = e;
    j->fail = is_exception(e) ? MB_FAIL_EXCEPTION : MB_FAIL_COMM;
    if (no_line && b->cfg.has_rtu) {
        /* Name the device and its settings: "reading ...: No such file or
         * directory" sends the reader looking for a missing map file. */
        const struct fg_cfg_modbus_rtu *r = &b->cfg.rtu;
        snprintf(
            j->err, sizeof(j->err), "cannot open serial device %.100s (%d %d%c%d): %s",
            r->device, r->baud, r->data_bits, parity_char[r->parity % 3], r->stop_bits,
            refused ? "its driver does not take these settings" : modbus_strerror(e));
        return -1;
    }
    snprintf(j->err, sizeof(j->err), "%s: %s%s", what,
             is_exception(e) ? "Modbus exception: " : "", modbus_strerror(e));
    return -1;
}

struct rd {
    int addr, n;
    uint16_t *dst;
    uint8_t function; /* enum fg_regmap_function */
};

/* One request of k registers (or bits, one per uint16_t) of r's function. */
static int read_fn(modbus_t *ctx, const struct rd *r, int addr, int k, uint16_t *dst)
{
    uint8_t bits[MB_REQ_REGS];
    int got;
    switch (r->function) {
    case FG_REGMAP_INPUT:
        return modbus_read_input_registers(ctx, addr, k, dst);
    case FG_REGMAP_COIL:
    case FG_REGMAP_DISCRETE:
        got = r->function == FG_REGMAP_COIL ? modbus_read_bits(ctx, addr, k, bits)
                                            : modbus_read_input_bits(ctx, addr, k, bits);
        for (int i = 0; i < got; i++)
            dst[i] = bits[i] != 0;
        return got;
    default:
        return modbus_read_registers(ctx, addr, k, dst);
    }
}

static int op_read(modbus_t *ctx, void *arg)
{
    struct rd *r = arg;
    for (int done = 0; done < r->n;) {
        int k = r->n - done > MB_REQ_REGS ? MB_REQ_REGS : r->n - done;
        int got = read_fn(ctx, r, r->addr + done, k, r->dst + done);
        if (got == -1)
            return -1;
        if (got != k) {
            errno = EMBBADDATA;
            return -1;
        }
        done += k;
    }
    return 0;
}

static int read_fn_regs(struct mb_job *j, uint8_t function, uint32_t addr, int n,
                        uint16_t *dst)
{
    char what[48];
    struct rd r = {(int)addr, n, dst, function};
    snprintf(what, sizeof(what), "reading %d registers at %u", n, addr);
    return attempt(j, op_read, &r, what);
}

static int read_regs(struct mb_job *j, uint32_t addr, int n, uint16_t *dst)
{
    return read_fn_regs(j, FG_REGMAP_HOLDING, addr, n, dst);
}

/* Discovery: the marker at the configured base or the first of the usual
 * bases, then the chain header by header. A fault after the marker leaves
 * the models found so far and the reason in chain_rc / err. */
static int discover(struct mb_job *j)
{
    static const uint16_t bases[] = FG_SUNSPEC_BASES;
    uint16_t regs[2];
    int found = -1, exc = 0;
    for (size_t i = 0; i < FG_SUNSPEC_NBASES && found < 0; i++) {
        uint16_t base = j->base >= 0 ? (uint16_t)j->base : bases[i];
        if (read_regs(j, base, 2, regs) == 0 && fg_sunspec_is_marker(regs))
            found = base;
        else if (j->fail == MB_FAIL_COMM)
            return -1; /* the device is not there at all */
        else if (j->fail == MB_FAIL_EXCEPTION)
            exc = j->mb_errno;
        if (j->base >= 0)
            break;
    }
    if (found < 0) {
        /* Say when the device refused the reads: "no marker" alone would
         * send the reader looking for a wrong base address. */
        char why[80] = "";
        if (exc)
            snprintf(why, sizeof(why), " (Modbus exception: %s)", modbus_strerror(exc));
        j->fail = MB_FAIL_SUNSPEC;
        if (j->base >= 0)
            snprintf(j->err, sizeof(j->err), "no SunSpec marker \"SunS\" at %d%s",
                     j->base, why);
        else
            snprintf(j->err, sizeof(j->err),
                     "no SunSpec marker \"SunS\" at 40000, 50000 or 0%s", why);
        return -1;
    }
    j->fail = MB_OK;
    j->err[0] = '\0';
    fg_sunspec_chain_init(&j->chain, (uint16_t)found);
    for (;;) {
        struct fg_error e = {0};
        if (j->chain.next > 65534) {
            j->chain_rc = FG_ERANGE;
            snprintf(j->err, sizeof(j->err), "model chain runs past address 65535");
            return 0;
        }
        if (read_regs(j, j->chain.next, 2, regs)) {
            if (j->fail == MB_FAIL_COMM)
                return -1;
            /* An exception where a header should be: the chain has no end
             * marker. Keep what was found; the caller reports it. */
            j->chain_rc = FG_EMISSING;
            j->fail = MB_OK;
            return 0;
        }
        int rc = fg_sunspec_chain_step(&j->chain, regs[0], regs[1], &e);
        if (rc == 1)
            return 0;
        if (rc < 0) {
            j->chain_rc = rc;
            snprintf(j->err, sizeof(j->err), "%.190s", e.msg);
            return 0;
        }
    }
}

struct wr {
    int addr, n;
    const uint16_t *src;
    uint8_t function; /* holding or coil */
};

static int op_write(modbus_t *ctx, void *arg)
{
    struct wr *w = arg;
    if (w->function == FG_REGMAP_COIL)
        return modbus_write_bit(ctx, w->addr, w->src[0] != 0) == 1 ? 0 : -1;
    int rc = modbus_write_registers(ctx, w->addr, w->n, w->src);
    return rc == w->n ? 0 : -1;
}

/* Each point: write, read back, compare. The first failure stops the rest:
 * later points (the mode that enables a control) must not take effect
 * with an earlier value missing. */
static void write_all(struct mb_job *j)
{
    for (j->write_at = 0; j->write_at < j->n_writes; j->write_at++) {
        struct mb_write *w = &j->writes[j->write_at];
        struct wr a = {(int)w->addr, w->n, w->regs, w->function};
        char what[64];
        snprintf(what, sizeof(what), "writing %s at %u", w->what, w->addr);
        if (attempt(j, op_write, &a, what))
            return;
        snprintf(what, sizeof(what), "reading back %s at %u", w->what, w->addr);
        if (read_fn_regs(j, w->function, w->addr, w->n, w->got))
            return;
        if (memcmp(w->regs, w->got, w->n * sizeof(uint16_t))) {
            j->fail = MB_FAIL_MISMATCH;
            snprintf(j->err, sizeof(j->err),
                     "%s: wrote 0x%04x, reads back 0x%04x (value refused)", w->what,
                     w->regs[w->n - 1], w->got[w->n - 1]);
            return;
        }
    }
}

void mb_job_run(void *arg)
{
    struct mb_job *j = arg;
    j->fail = MB_OK;
    j->write_at = j->n_writes;
    if (j->discover && discover(j))
        return;
    if (j->n_writes) {
        write_all(j);
        if (j->fail)
            return;
    }
    for (size_t i = 0; i < j->n_reads; i++) {
        struct mb_read *r = &j->reads[i];
        r->regs = malloc(r->n * sizeof(uint16_t));
        if (!r->regs) {
            j->fail = MB_FAIL_COMM;
            snprintf(j->err, sizeof(j->err), "out of memory");
            return;
        }
        char what[64];
        if (r->id)
            snprintf(what, sizeof(what), "reading model %u at %u", r->id, r->addr);
        else
            snprintf(what, sizeof(what), "reading %u %s registers at %u", r->n,
                     fg_regmap_function_name(r->function), r->addr);
        struct rd rr = {(int)r->addr, r->n, r->regs, r->function};
        if (attempt(j, op_read, &rr, what))
            return;
    }
}

void mb_job_free(struct mb_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n_reads; i++)
        free(j->reads[i].regs);
    free(j);
}
