/* battery_sim: one simulated battery behind a Modbus/TCP server on
 * 127.0.0.1 (README.md), with optionally a PV inverter (--pv-unit) and a site
 * meter (--meter-unit) as further unit ids on the same port; --units N
 * answers the battery under N consecutive unit ids (the benchmark's many
 * devices, cheaply). One thread: a
 * select() loop over the listening socket, the clients, and stdin (JSON
 * commands); the clock runs --speed times real time and is stepped on every
 * turn of the loop. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "battery_sim.h"

#define MAX_CLIENTS 64
#define LINE_MAX_BYTES 4096

struct opts {
    double port, unit, base, capacity_wh, soc, soh, max_charge_w, max_discharge_w, eff,
        speed, revert_s, temp_c, voltage_v, pv_unit, meter_unit, pv_rated_w, irradiance,
        base_load_w, units;
    const char *map;
    bool quit_on_eof;
    bool revert_real;
    bool battery_704;
};

static struct bsim S;  /* the battery */
static struct bsim PV; /* --pv-unit */
static struct bsim MT; /* --meter-unit */
static struct bsim *units[3];
static int n_units;
/* --units: the battery also answers unit ids S.unit + 1 .. S.unit + n_alias - 1
 * (same registers, same state); reads answered, per unit id. */
static int n_alias = 1;
static unsigned long reads_by_unit[256];
static int clients[MAX_CLIENTS];
static int nclients;
static bool opt_timeout, opt_quit;
static int opt_exception; /* 0 = off */
static double t0;
/* --revert-real: the revert timeout counts real seconds since this write,
 * not the battery's clock. A master renews its set-point on real time (a
 * real device's timer is real time too), so with --speed > 1 a revert on
 * the fast clock would lapse between its renewals: the demo needs this. */
static bool revert_real;
static double cmd_real_at;
static volatile sig_atomic_t stop;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- events ----------------------------------------------------------------- */

/* Print one event line: members given as a cJSON object to fill. */
static void emit(const char *ev, cJSON *o)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "ev", ev);
    cJSON_AddNumberToObject(out, "t", round((mono() - t0) * 1000));
    while (o && o->child) { /* ev and t first, then the members */
        cJSON *it = cJSON_DetachItemViaPointer(o, o->child);
        cJSON_AddItemToObject(out, it->string, it);
    }
    char *s = cJSON_PrintUnformatted(out);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(s);
    cJSON_Delete(o);
    cJSON_Delete(out);
}

static cJSON *state_json(void)
{
    const struct bsim_battery *b = &S.bat;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "soc", round(b->soc * 1000) / 1000);
    cJSON_AddNumberToObject(o, "soh", b->soh);
    cJSON_AddNumberToObject(o, "w", round(b->w * 10) / 10);
    cJSON_AddNumberToObject(o, "cmd_w", round(b->cmd_w * 10) / 10);
    cJSON_AddNumberToObject(o, "charge_limit_w", b->charge_limit_w);
    cJSON_AddNumberToObject(o, "max_discharge_w", b->max_discharge_w);
    cJSON_AddNumberToObject(o, "capacity_wh", b->capacity_wh);
    cJSON_AddNumberToObject(o, "temperature_c", round(b->temp_c * 100) / 100);
    cJSON_AddNumberToObject(o, "revert_s", b->revert_s);
    cJSON_AddNumberToObject(o, "alarm", b->alarm);
    cJSON_AddNumberToObject(o, "sim_s", round(S.now * 1000) / 1000);
    cJSON_AddBoolToObject(o, "timeout", opt_timeout);
    cJSON_AddNumberToObject(o, "exception", opt_exception);
    cJSON_AddBoolToObject(o, "garbage", S.garbage);
    cJSON_AddBoolToObject(o, "chain_broken", S.chain_broken);
    cJSON_AddNumberToObject(o, "clients", nclients);
    cJSON *rd = cJSON_AddArrayToObject(o, "reads"); /* S.unit, S.unit + 1, ... */
    for (int i = 0; i < n_alias; i++)
        cJSON_AddItemToArray(rd, cJSON_CreateNumber((double)reads_by_unit[S.unit + i]));
    if (PV.mb) {
        const struct bsim_pv *pv = &PV.pv;
        cJSON *p = cJSON_AddObjectToObject(o, "pv");
        cJSON_AddNumberToObject(p, "w", round(pv->w * 10) / 10);
        cJSON_AddNumberToObject(p, "var", round(pv->var * 10) / 10);
        cJSON_AddNumberToObject(p, "irradiance", pv->irradiance);
        cJSON_AddBoolToObject(p, "limit_enabled", pv->lim_ena);
        cJSON_AddNumberToObject(p, "limit_pct", pv->lim_pct);
        cJSON_AddNumberToObject(p, "limit_revert_s", pv->lim_rvrt_s);
        cJSON_AddBoolToObject(p, "var_enabled", pv->var_ena);
        cJSON_AddNumberToObject(p, "var_cmd", pv->var_cmd);
        cJSON_AddNumberToObject(p, "var_revert_s", pv->var_rvrt_s);
    }
    if (MT.mb) {
        const struct bsim_meter *m = &MT.meter;
        cJSON *p = cJSON_AddObjectToObject(o, "meter");
        cJSON_AddNumberToObject(p, "w", round(m->w * 10) / 10);
        cJSON_AddNumberToObject(p, "var", round(m->var * 10) / 10);
        cJSON_AddNumberToObject(p, "base_load_w", m->base_w);
        cJSON_AddNumberToObject(p, "base_load_var", m->base_var);
    }
    return o;
}

/* ---- physics ---------------------------------------------------------------- */

/* The PV and the meter: PV output from irradiance and its limit (with the
 * limit's and the var set-point's revert), then the site balance at the
 * meter: base load - PV + battery (+ = import), shared evenly by three
 * phases whose voltages differ a little (so a test can tell them apart). */
static void step_site(double dt)
{
    (void)dt;
    if (PV.mb) {
        PV.now = S.now;
        PV.real = mono();
        int rv = bsim_pv_step(&PV);
        for (int bit = 1; bit <= 2; bit <<= 1) {
            if (!(rv & bit))
                continue;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "unit", PV.unit);
            cJSON_AddStringToObject(o, "what", bit == 1 ? "WMaxLimPct" : "VarSet");
            cJSON_AddNumberToObject(o, "after_s",
                                    bit == 1 ? PV.pv.lim_rvrt_s : PV.pv.var_rvrt_s);
            emit("reverted", o);
        }
        bsim_regs_publish(&PV);
    }
    if (MT.mb) {
        struct bsim_meter *m = &MT.meter;
        static const double v[3] = {230.0, 231.5, 228.5};
        m->w = m->base_w - (PV.mb ? PV.pv.w : 0) + S.bat.w;
        m->var = m->base_var - (PV.mb ? PV.pv.var : 0);
        for (int p = 0; p < 3; p++) {
            m->v[p] = v[p];
            m->a[p] = m->w / 3 / v[p];
        }
        bsim_regs_publish(&MT);
    }
}

/* Advance the battery by dt simulated seconds: power follows the command
 * within the limits and the SoC bounds, energy moves with the one-way
 * efficiency, the temperature settles (10 min time constant) toward
 * ambient + 20 C at full power, and an unrenewed set-point reverts. */
static void step(double dt)
{
    struct bsim_battery *b = &S.bat;
    S.now += dt;
    double since = revert_real ? mono() - cmd_real_at : S.now - b->cmd_at;
    if (b->cmd_active && b->revert_s > 0 && since >= b->revert_s) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "from_w", b->cmd_w);
        cJSON_AddNumberToObject(o, "after_s", b->revert_s);
        b->cmd_w = 0;
        b->cmd_active = false;
        bsim_regs_revert(&S);
        emit("reverted", o);
    }
    double w = fmax(-b->max_discharge_w, fmin(b->charge_limit_w, b->cmd_w));
    if ((w > 0 && b->soc >= 100) || (w < 0 && b->soc <= 0))
        w = 0;
    b->w = w;
    double wh = (w > 0 ? w * b->eff : w / b->eff) * dt / 3600;
    b->soc = fmax(0, fmin(100, b->soc + wh / b->capacity_wh * 100));
    double full = fmax(b->max_charge_w, b->max_discharge_w);
    double target = b->ambient_c + 20 * fabs(w) / (full > 0 ? full : 1);
    b->temp_c += (target - b->temp_c) * (1 - exp(-dt / 600));
    bsim_regs_publish(&S);
    step_site(dt);
}

/* ---- Modbus ----------------------------------------------------------------- */

static int get16(const uint8_t *q)
{
    return q[0] << 8 | q[1];
}

static bool all_defined(const struct bsim *u, int t, int addr, int n)
{
    if (n < 1 || addr + n > 65536)
        return false;
    for (int i = 0; i < n; i++)
        if (!u->defined[t][addr + i])
            return false;
    return true;
}

static void refuse(modbus_t *ctx, const uint8_t *q, int code, int fc, int addr,
                   const char *why)
{
    modbus_reply_exception(ctx, q, (unsigned)code);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "fc", fc);
    cJSON_AddNumberToObject(o, "address", addr);
    cJSON_AddNumberToObject(o, "code", code);
    cJSON_AddStringToObject(o, "why", why);
    emit("refused", o);
}

/* The values a write request carries (host order, bits as 0/1). Returns the
 * count, or -1 for a malformed request. */
static int write_values(int fc, const uint8_t *q, int len, uint16_t *vals)
{
    switch (fc) {
    case MODBUS_FC_WRITE_SINGLE_COIL:
        vals[0] = get16(q + 3) == 0xff00;
        return 1;
    case MODBUS_FC_WRITE_SINGLE_REGISTER:
        vals[0] = (uint16_t)get16(q + 3);
        return 1;
    case MODBUS_FC_WRITE_MULTIPLE_COILS: {
        int n = get16(q + 3);
        if (n < 1 || n > MODBUS_MAX_WRITE_BITS || q[5] != (n + 7) / 8 || 6 + q[5] > len)
            return -1;
        for (int i = 0; i < n; i++)
            vals[i] = q[6 + i / 8] >> (i % 8) & 1;
        return n;
    }
    case MODBUS_FC_WRITE_MULTIPLE_REGISTERS: {
        int n = get16(q + 3);
        if (n < 1 || n > MODBUS_MAX_WRITE_REGISTERS || q[5] != 2 * n || 6 + 2 * n > len)
            return -1;
        for (int i = 0; i < n; i++)
            vals[i] = (uint16_t)get16(q + 6 + 2 * i);
        return n;
    }
    }
    return -1;
}

static void write_event(int unit, int fc, int addr, int n, const uint16_t *vals)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "unit", unit);
    cJSON_AddNumberToObject(o, "fc", fc);
    cJSON_AddNumberToObject(o, "address", addr);
    cJSON *a = cJSON_AddArrayToObject(o, "values");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(vals[i]));
    emit("write", o);
}

/* Answer one request (whole ADU in req, len bytes). */
static void handle(modbus_t *ctx, const uint8_t *req, int len)
{
    int hl = modbus_get_header_length(ctx);
    if (len < hl + 5)
        return;
    int unit = req[hl - 1];
    struct bsim *u = NULL;
    for (int i = 0; i < n_units; i++)
        if (units[i]->unit == unit)
            u = units[i];
    if (!u && unit > S.unit && unit < S.unit + n_alias)
        u = &S;
    if (!u)
        return; /* not ours: a TCP device for one unit stays silent */
    if (opt_timeout)
        return;
    const uint8_t *q = req + hl;
    int fc = q[0], addr = get16(q + 1);
    if (opt_exception) {
        refuse(ctx, req, opt_exception, fc, addr, "exception mode");
        return;
    }
    static const int read_table[] = {[MODBUS_FC_READ_COILS] = 2 + 1,
                                     [MODBUS_FC_READ_DISCRETE_INPUTS] = 3 + 1,
                                     [MODBUS_FC_READ_HOLDING_REGISTERS] = 0 + 1,
                                     [MODBUS_FC_READ_INPUT_REGISTERS] = 1 + 1};
    if (fc < (int)(sizeof(read_table) / sizeof(read_table[0])) && read_table[fc]) {
        if (!all_defined(u, read_table[fc] - 1, addr, get16(q + 3)))
            refuse(ctx, req, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS, fc, addr,
                   "not a defined register");
        else if (modbus_reply(ctx, req, len, u->mb) > 0)
            reads_by_unit[unit]++;
        return;
    }
    static uint16_t vals[MODBUS_MAX_WRITE_BITS];
    int n = write_values(fc, q, len - hl, vals);
    if (n < 0) {
        refuse(ctx, req,
               fc == MODBUS_FC_WRITE_SINGLE_COIL ||
                       fc == MODBUS_FC_WRITE_SINGLE_REGISTER ||
                       fc == MODBUS_FC_WRITE_MULTIPLE_COILS ||
                       fc == MODBUS_FC_WRITE_MULTIPLE_REGISTERS
                   ? MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE
                   : MODBUS_EXCEPTION_ILLEGAL_FUNCTION,
               fc, addr, "function not supported or malformed");
        return;
    }
    int t =
        fc == MODBUS_FC_WRITE_SINGLE_COIL || fc == MODBUS_FC_WRITE_MULTIPLE_COILS ? 2 : 0;
    write_event(unit, fc, addr, n, vals);
    char why[BSIM_WHY_MAX] = "";
    int code = addr + n <= 65536 ? bsim_regs_check_write(u, t, addr, n, vals, why)
                                 : MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    if (code) {
        refuse(ctx, req, code, fc, addr, why[0] ? why : "past the address space");
        return;
    }
    modbus_reply(ctx, req, len, u->mb);
    u->real = mono();
    if (!bsim_regs_applied(u, t, addr, n))
        return;
    if (u->kind == BSIM_PV) {
        step_site(0);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "unit", u->unit);
        cJSON_AddBoolToObject(o, "limit_enabled", u->pv.lim_ena);
        cJSON_AddNumberToObject(o, "limit_pct", u->pv.lim_pct);
        cJSON_AddNumberToObject(o, "limit_revert_s", u->pv.lim_rvrt_s);
        cJSON_AddBoolToObject(o, "var_enabled", u->pv.var_ena);
        cJSON_AddNumberToObject(o, "var", u->pv.var_cmd);
        cJSON_AddNumberToObject(o, "var_revert_s", u->pv.var_rvrt_s);
        emit("pv_setpoint", o);
        return;
    }
    if (u == &S) {
        cmd_real_at = mono();
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "unit", unit);
        cJSON_AddNumberToObject(o, "w", S.bat.cmd_w);
        cJSON_AddNumberToObject(o, "revert_s", S.bat.revert_s);
        emit("setpoint", o);
    }
}

static void drop_client(int i)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "fd", clients[i]);
    close(clients[i]);
    clients[i] = clients[--nclients];
    emit("disconnected", o);
}

/* ---- commands --------------------------------------------------------------- */

static const char *cmd_timeout(const cJSON *c)
{
    opt_timeout = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "on"));
    return NULL;
}

static const char *cmd_exception(const cJSON *c)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(c, "code");
    bool on = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "on"));
    if (on && (!cJSON_IsNumber(code) || code->valuedouble < 1 ||
               code->valuedouble > 255 || code->valuedouble != floor(code->valuedouble)))
        return "code: an integer in [1, 255]";
    opt_exception = on ? code->valueint : 0;
    return NULL;
}

static const char *cmd_garbage(const cJSON *c)
{
    S.garbage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "on"));
    bsim_regs_publish(&S);
    return NULL;
}

static const char *cmd_break_chain(const cJSON *c)
{
    if (!S.sunspec)
        return "no SunSpec chain with --map";
    bsim_regs_break_chain(&S, !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "on")));
    return NULL;
}

static const char *cmd_set(const cJSON *c)
{
    struct bsim_battery *b = &S.bat;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "point");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "value");
    if (!cJSON_IsString(p) || !cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return "needs point (string) and value (number)";
    const struct {
        const char *name;
        double *dst, lo, hi;
    } pts[] = {
        {"soc", &b->soc, 0, 100},
        {"soh", &b->soh, 0, 100},
        {"temperature", &b->temp_c, -40, 100},
        {"ambient", &b->ambient_c, -40, 60},
        {"capacity_wh", &b->capacity_wh, 1, 1e7},
        {"max_discharge_w", &b->max_discharge_w, 0, 1e6},
        {"charge_limit_w", &b->charge_limit_w, 0, 1e6},
        {"power", &b->cmd_w, -1e6, 1e6},
        {"irradiance", PV.mb ? &PV.pv.irradiance : NULL, 0, 1500},
        {"base_load_w", MT.mb ? &MT.meter.base_w : NULL, -1e5, 1e5},
        {"base_load_var", MT.mb ? &MT.meter.base_var : NULL, -1e5, 1e5},
    };
    double x = v->valuedouble;
    if (!strcmp(p->valuestring, "alarm")) {
        if (x < 0 || x > 4294967295.0 || x != floor(x))
            return "alarm: an integer in [0, 2^32)";
        b->alarm = (uint32_t)x;
        bsim_regs_publish(&S);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
        if (!strcmp(pts[i].name, p->valuestring)) {
            if (!pts[i].dst)
                return "no such unit (--pv-unit, --meter-unit)";
            if (x < pts[i].lo || x > pts[i].hi)
                return "value out of range";
            *pts[i].dst = x;
            bsim_regs_publish(&S);
            step_site(0);
            return NULL;
        }
    return "unknown point (soc, soh, temperature, ambient, capacity_wh, "
           "max_discharge_w, charge_limit_w, power, alarm, irradiance, base_load_w, "
           "base_load_var)";
}

static const char *cmd_state(const cJSON *c)
{
    (void)c;
    emit("state", state_json());
    return NULL;
}

static const char *cmd_quit(const cJSON *c)
{
    (void)c;
    opt_quit = true;
    return NULL;
}

static const struct {
    const char *name;
    const char *(*fn)(const cJSON *c);
} commands[] = {
    {"timeout", cmd_timeout}, {"exception", cmd_exception},
    {"garbage", cmd_garbage}, {"break_chain", cmd_break_chain},
    {"set", cmd_set},         {"state", cmd_state},
    {"quit", cmd_quit},
};

static void command(const char *line)
{
    cJSON *c = cJSON_Parse(line);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "cmd");
    const char *why = "not a JSON object with \"cmd\"";
    if (cJSON_IsString(name)) {
        why = "unknown cmd";
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (!strcmp(commands[i].name, name->valuestring))
                why = commands[i].fn(c);
    }
    cJSON *o = cJSON_CreateObject();
    if (cJSON_IsString(name))
        cJSON_AddStringToObject(o, "cmd", name->valuestring);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(c, "seq");
    if (seq)
        cJSON_AddItemToObject(o, "seq", cJSON_Duplicate(seq, 1));
    if (why)
        cJSON_AddStringToObject(o, "error", why);
    emit(why ? "error" : "ok", o);
    cJSON_Delete(c);
}

/* Read what stdin has; run each complete line. Returns false at EOF. */
static bool read_stdin(void)
{
    static char buf[LINE_MAX_BYTES];
    static size_t len;
    ssize_t r = read(0, buf + len, sizeof(buf) - 1 - len);
    if (r <= 0)
        return r < 0 && errno == EINTR;
    len += (size_t)r;
    buf[len] = 0;
    char *nl;
    while ((nl = memchr(buf, '\n', len))) {
        *nl = 0;
        if (nl > buf)
            command(buf);
        len -= (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, len);
        buf[len] = 0;
    }
    if (len == sizeof(buf) - 1) { /* a line too long: drop it */
        len = 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", "command line too long");
        emit("error", o);
    }
    return true;
}

/* ---- command line ----------------------------------------------------------- */

static int usage(const char *why)
{
    fprintf(stderr,
            "battery_sim: %s\n"
            "usage: battery_sim --port P [--unit 1] [--base 40000|50000|0 | --map FILE]\n"
            "  [--capacity-wh 10000] [--soc 50] [--soh 98] [--max-charge-w 5000]\n"
            "  [--max-discharge-w 5000] [--efficiency 0.95] [--revert-s 0]\n"
            "  [--temperature 25] [--voltage 51.2] [--speed 1] [--revert-real]\n"
            "  [--battery-704] [--pv-unit N [--pv-rated-w 10000] [--irradiance 1000]]\n"
            "  [--meter-unit N [--base-load-w 2000]] [--units 1] [--quit-on-eof]\n",
            why);
    return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    const struct {
        const char *name;
        double *dst, lo, hi;
    } num[] = {
        {"--port", &o->port, 1, 65535},
        {"--unit", &o->unit, 1, 247},
        {"--base", &o->base, 0, 50000},
        {"--capacity-wh", &o->capacity_wh, 1, 1e7},
        {"--soc", &o->soc, 0, 100},
        {"--soh", &o->soh, 0, 100},
        {"--max-charge-w", &o->max_charge_w, 0, 1e6},
        {"--max-discharge-w", &o->max_discharge_w, 0, 1e6},
        {"--efficiency", &o->eff, 0.5, 1},
        {"--speed", &o->speed, 0.01, 100000},
        {"--revert-s", &o->revert_s, 0, 65534},
        {"--temperature", &o->temp_c, -40, 60},
        {"--voltage", &o->voltage_v, 1, 1500},
        {"--pv-unit", &o->pv_unit, 1, 247},
        {"--meter-unit", &o->meter_unit, 1, 247},
        {"--pv-rated-w", &o->pv_rated_w, 1, 1e6},
        {"--irradiance", &o->irradiance, 0, 1500},
        {"--base-load-w", &o->base_load_w, -1e5, 1e5},
        {"--units", &o->units, 1, 247},
    };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quit-on-eof")) {
            o->quit_on_eof = true;
            continue;
        }
        if (!strcmp(argv[i], "--revert-real")) {
            o->revert_real = true;
            continue;
        }
        if (!strcmp(argv[i], "--battery-704")) {
            o->battery_704 = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage("an option without its value");
        if (!strcmp(argv[i], "--map")) {
            o->map = argv[++i];
            continue;
        }
        size_t k = 0;
        while (k < sizeof(num) / sizeof(num[0]) && strcmp(num[k].name, argv[i]))
            k++;
        if (k == sizeof(num) / sizeof(num[0]))
            return usage("unknown option");
        char *end;
        errno = 0;
        double d = strtod(argv[++i], &end);
        if (errno || *end || end == argv[i] || !(d >= num[k].lo && d <= num[k].hi))
            return usage("a number out of range");
        *num[k].dst = d;
    }
    if (!o->port)
        return usage("--port is required");
    if (o->base != 0 && o->base != 40000 && o->base != 50000)
        return usage("--base: 40000, 50000 or 0");
    if (o->port != floor(o->port) || o->unit != floor(o->unit) ||
        o->pv_unit != floor(o->pv_unit) || o->meter_unit != floor(o->meter_unit) ||
        o->units != floor(o->units))
        return usage("--port and the unit ids are integers");
    if ((o->pv_unit || o->meter_unit || o->battery_704) && o->map)
        return usage("--pv-unit, --meter-unit and --battery-704 are SunSpec only");
    if (o->pv_unit == o->unit || o->meter_unit == o->unit ||
        (o->pv_unit && o->pv_unit == o->meter_unit))
        return usage("the unit ids must differ");
    if (o->unit + o->units - 1 > 247)
        return usage("--unit + --units - 1 must be at most 247");
    if ((o->pv_unit > o->unit && o->pv_unit < o->unit + o->units) ||
        (o->meter_unit > o->unit && o->meter_unit < o->unit + o->units))
        return usage("--units covers --pv-unit or --meter-unit");
    return 0;
}

static int load_map(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "battery_sim: %s: %s\n", path, strerror(errno));
        return -1;
    }
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof(text), f);
    fclose(f);
    struct fg_errlist errs;
    fg_errlist_init(&errs);
    int rc = n == sizeof(text) ? FG_ETOOBIG : fg_regmap_load(&S.map, text, n, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "battery_sim: %s: %s: %s\n", path, errs.v[i].path, errs.v[i].msg);
    fg_errlist_clear(&errs);
    if (rc == 0 && S.map.kind != FG_REGMAP_BATTERY) {
        fprintf(stderr, "battery_sim: %s: not a battery map\n", path);
        rc = FG_EINVAL;
    }
    return rc;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Give a unit its address space, lay it out, publish, and serve it. */
static int add_unit(struct bsim *u)
{
    u->mb = modbus_mapping_new(65536, 65536, 65536, 65536);
    for (int t = 0; t < 4; t++) {
        u->defined[t] = calloc(65536, 1);
        u->writable[t] = calloc(65536, 1);
        if (!u->defined[t] || !u->writable[t])
            return -1;
    }
    if (!u->mb || bsim_regs_init(u)) {
        fprintf(stderr, "battery_sim: cannot lay out the registers of unit %d\n",
                u->unit);
        return -1;
    }
    bsim_regs_publish(u);
    units[n_units++] = u;
    return 0;
}

static int setup(const struct opts *o)
{
    struct bsim_battery *b = &S.bat;
    *b = (struct bsim_battery){.capacity_wh = o->capacity_wh,
                               .soc = o->soc,
                               .soh = o->soh,
                               .eff = o->eff,
                               .max_charge_w = o->max_charge_w,
                               .max_discharge_w = o->max_discharge_w,
                               .charge_limit_w = o->max_charge_w,
                               .temp_c = o->temp_c,
                               .ambient_c = o->temp_c,
                               .revert_s = o->revert_s,
                               .voltage_v = o->voltage_v};
    revert_real = o->revert_real;
    n_alias = (int)o->units;
    S.unit = (int)o->unit;
    S.port = (int)o->port;
    S.base = (uint16_t)o->base;
    S.sunspec = !o->map;
    if (o->map && load_map(o->map))
        return -1;
    S.kind = BSIM_BATTERY;
    S.use704 = o->battery_704;
    S.n_models = 3;
    memcpy(S.ids, (uint16_t[]){1, 802, o->battery_704 ? 704 : 124}, sizeof(S.ids));
    if (add_unit(&S))
        return -1;
    if (o->pv_unit) {
        PV = (struct bsim){.kind = BSIM_PV,
                           .n_models = 3,
                           .ids = {1, 103, 704},
                           .unit = (int)o->pv_unit,
                           .port = S.port,
                           .base = S.base,
                           .sunspec = true,
                           .rvrt_real = o->revert_real,
                           .pv = {.rated_w = o->pv_rated_w,
                                  .var_max = 0.44 * o->pv_rated_w,
                                  .irradiance = o->irradiance,
                                  .lim_pct = 100}};
        if (add_unit(&PV))
            return -1;
    }
    if (o->meter_unit) {
        MT = (struct bsim){.kind = BSIM_METER,
                           .n_models = 2,
                           .ids = {1, 203},
                           .unit = (int)o->meter_unit,
                           .port = S.port,
                           .base = S.base,
                           .sunspec = true,
                           .meter = {.base_w = o->base_load_w}};
        if (add_unit(&MT))
            return -1;
    }
    step_site(0);
    return 0;
}

static void teardown(modbus_t *ctx, int server)
{
    while (nclients)
        drop_client(0);
    if (server >= 0)
        close(server);
    if (ctx)
        modbus_free(ctx);
    struct bsim *all[] = {&S, &PV, &MT};
    for (size_t i = 0; i < 3; i++) {
        if (all[i]->mb)
            modbus_mapping_free(all[i]->mb);
        for (int t = 0; t < 4; t++) {
            free(all[i]->defined[t]);
            free(all[i]->writable[t]);
        }
    }
    fg_regmap_clear(&S.map);
}

static void serve(modbus_t *ctx, int server, const struct opts *o)
{
    double last = mono();
    bool in_open = true;
    while (!stop && !opt_quit) {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(server, &rd);
        int maxfd = server;
        if (in_open)
            FD_SET(0, &rd);
        for (int i = 0; i < nclients; i++) {
            FD_SET(clients[i], &rd);
            maxfd = clients[i] > maxfd ? clients[i] : maxfd;
        }
        struct timeval tv = {0, 50000};
        int rc = select(maxfd + 1, &rd, NULL, NULL, &tv);
        double now = mono();
        step((now - last) * o->speed);
        last = now;
        if (rc < 0)
            continue; /* EINTR: the signal flag decides */
        if (in_open && FD_ISSET(0, &rd) && !read_stdin()) {
            in_open = false;
            if (o->quit_on_eof)
                break;
        }
        if (FD_ISSET(server, &rd)) {
            int s = server;
            int fd = modbus_tcp_accept(ctx, &s);
            if (fd >= 0 && (nclients == MAX_CLIENTS || fd >= FD_SETSIZE)) {
                close(fd);
            } else if (fd >= 0) {
                clients[nclients++] = fd;
                cJSON *ev = cJSON_CreateObject();
                cJSON_AddNumberToObject(ev, "fd", fd);
                emit("connected", ev);
            }
        }
        for (int i = nclients - 1; i >= 0; i--) {
            if (!FD_ISSET(clients[i], &rd))
                continue;
            uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
            modbus_set_socket(ctx, clients[i]);
            int len = modbus_receive(ctx, req);
            if (len < 0)
                drop_client(i);
            else if (len > 0)
                handle(ctx, req, len);
        }
    }
}

int main(int argc, char **argv)
{
    struct opts o = {.unit = 1,
                     .units = 1,
                     .base = 40000,
                     .capacity_wh = 10000,
                     .soc = 50,
                     .soh = 98,
                     .max_charge_w = 5000,
                     .max_discharge_w = 5000,
                     .eff = 0.95,
                     .speed = 1,
                     .temp_c = 25,
                     .voltage_v = 51.2,
                     .pv_rated_w = 10000,
                     .irradiance = 1000,
                     .base_load_w = 2000};
    t0 = mono();
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    modbus_t *ctx = NULL;
    int server = -1;
    if (setup(&o)) {
        rc = 1;
        goto out;
    }
    ctx = modbus_new_tcp("127.0.0.1", (int)o.port);
    server = ctx ? modbus_tcp_listen(ctx, 16) : -1;
    if (server < 0) {
        fprintf(stderr, "battery_sim: listen on 127.0.0.1:%d: %s\n", (int)o.port,
                modbus_strerror(errno));
        rc = 1;
        goto out;
    }
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "port", o.port);
    cJSON_AddNumberToObject(ev, "unit", o.unit);
    cJSON_AddNumberToObject(ev, "units", o.units);
    if (o.pv_unit)
        cJSON_AddNumberToObject(ev, "pv_unit", o.pv_unit);
    if (o.meter_unit)
        cJSON_AddNumberToObject(ev, "meter_unit", o.meter_unit);
    cJSON_AddNumberToObject(ev, "battery_model", S.ids[2]);
    cJSON_AddStringToObject(ev, "layout", S.sunspec ? "sunspec" : "regmap");
    if (S.sunspec)
        cJSON_AddNumberToObject(ev, "base", o.base);
    else
        cJSON_AddStringToObject(ev, "map", o.map);
    emit("listening", ev);
    serve(ctx, server, &o);
    emit("state", state_json());
out:
    teardown(ctx, server);
    return rc;
}
