/* The simulated battery's registers: SunSpec 1 + 802 + 124 laid out from the
 * generated tables of protocols/sunspec (no hand-typed offsets), values put
 * there with its encoder; or the points of a register-map file, put there
 * with protocols/regmap's encoder. Writes are checked by decoding them with
 * the same libraries. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "battery_sim.h"

/* Model indexes in s->ids per kind. A battery with --battery-704 has 704
 * where 124 would be (M124 then means its 704). */
enum { M1, M802, M124 };
enum { P1, P103, P704 };
enum { E1, E203 };

/* ---- tables ----------------------------------------------------------------- */

static void get_regs(const struct bsim *s, int t, int addr, int n, uint16_t *out)
{
    for (int i = 0; i < n; i++) {
        switch (t) {
        case 0:
            out[i] = s->mb->tab_registers[addr + i];
            break;
        case 1:
            out[i] = s->mb->tab_input_registers[addr + i];
            break;
        case 2:
            out[i] = s->mb->tab_bits[addr + i];
            break;
        default:
            out[i] = s->mb->tab_input_bits[addr + i];
        }
    }
}

static void set_regs(struct bsim *s, int t, int addr, int n, const uint16_t *v)
{
    for (int i = 0; i < n; i++) {
        switch (t) {
        case 0:
            s->mb->tab_registers[addr + i] = v[i];
            break;
        case 1:
            s->mb->tab_input_registers[addr + i] = v[i];
            break;
        case 2:
            s->mb->tab_bits[addr + i] = v[i] != 0;
            break;
        default:
            s->mb->tab_input_bits[addr + i] = v[i] != 0;
        }
    }
}

static bool overlaps(int a, int n, uint32_t b, uint32_t m)
{
    return (uint32_t)a < b + m && b < (uint32_t)(a + n);
}

/* ---- SunSpec ---------------------------------------------------------------- */

static const struct fg_sunspec_point *pt(const struct bsim *s, int mi, const char *name)
{
    const struct fg_sunspec_point *p = fg_sunspec_lookup(s->ids[mi], name);
    if (!p)
        fprintf(stderr, "battery_sim: BUG: no point %u.%s\n", s->ids[mi], name);
    return p;
}

/* The exponent in the registers for p's scale factor (0 without one). */
static int sf_of(const struct bsim *s, int mi, const struct fg_sunspec_point *p)
{
    if (p->sf == FG_SUNSPEC_NONE)
        return 0;
    const struct fg_sunspec_model_def *d = fg_sunspec_model_find(s->ids[mi]);
    return (int16_t)s->mb->tab_registers[s->model_addr[mi] + d->points[p->sf].offset];
}

static void put_raw(struct bsim *s, int mi, const char *name, uint16_t raw)
{
    const struct fg_sunspec_point *p = pt(s, mi, name);
    if (p)
        s->mb->tab_registers[s->model_addr[mi] + p->offset] = raw;
}

/* Put value (in the point's units) with the library's encoder. The device
 * writes its read-only points too, so it encodes a writable copy. */
static void put(struct bsim *s, int mi, const char *name, double value)
{
    const struct fg_sunspec_point *p = pt(s, mi, name);
    if (!p)
        return;
    struct fg_sunspec_point rw = *p;
    rw.flags |= FG_SUNSPEC_RW;
    struct fg_sunspec_write w;
    struct fg_error e;
    if (fg_sunspec_encode_raw(&rw, sf_of(s, mi, p), value, &w, &e)) {
        fprintf(stderr, "battery_sim: %u.%s = %g: %s\n", s->ids[mi], name, value, e.msg);
        return;
    }
    memcpy(&s->mb->tab_registers[s->model_addr[mi] + p->offset], w.regs,
           w.n * sizeof(uint16_t));
}

static void put_str(struct bsim *s, int mi, const char *name, const char *str)
{
    const struct fg_sunspec_point *p = pt(s, mi, name);
    if (!p)
        return;
    uint16_t *r = &s->mb->tab_registers[s->model_addr[mi] + p->offset];
    size_t len = strlen(str);
    for (unsigned i = 0; i < p->size; i++) {
        uint8_t hi = 2 * i < len ? (uint8_t)str[2 * i] : 0;
        uint8_t lo = 2 * i + 1 < len ? (uint8_t)str[2 * i + 1] : 0;
        r[i] = (uint16_t)(hi << 8 | lo);
    }
}

static int bind(const struct bsim *s, int mi, struct fg_sunspec_model *m)
{
    struct fg_error e;
    uint32_t a = s->model_addr[mi];
    int rc =
        fg_sunspec_model_bind(m, &s->mb->tab_registers[a], 2u + s->model_len[mi], a, &e);
    if (rc)
        fprintf(stderr, "battery_sim: bind %u: %s\n", s->ids[mi], e.msg);
    return rc;
}

/* A point's value as a client would decode it; NAN when not a number. */
static double get(const struct bsim *s, int mi, const char *name)
{
    struct fg_sunspec_model m;
    struct fg_sunspec_value v;
    struct fg_error e;
    if (bind(s, mi, &m) || fg_sunspec_model_get(&m, name, NULL, &v, &e) ||
        v.status != FG_SUNSPEC_OK)
        return NAN;
    return v.v;
}

/* The smallest exponent >= 0 that fits max into an int16 / uint16. */
static int sf_for(double max)
{
    int sf = 0;
    while (max / pow(10, sf) > 32000 && sf < 10)
        sf++;
    return sf;
}

static void common_statics(struct bsim *s)
{
    char sn[32];
    static const char *const model[] = {"battery_sim", "pv_sim", "meter_sim"};
    snprintf(sn, sizeof(sn), "BSIM-%d-%d", s->port, s->unit);
    put_str(s, M1, "Mn", "flexgw");
    put_str(s, M1, "Md", model[s->kind]);
    put_str(s, M1, "Vr", "1.0");
    put_str(s, M1, "SN", sn);
    put(s, M1, "DA", s->unit);
}

/* 704's scale factors and starting values (the battery's with WSet, the
 * PV's with the limit and var controls). */
static void statics_704(struct bsim *s, int mi, int wsf)
{
    static const struct {
        const char *name;
        int sf;
    } sfs[] = {
        {"PF_SF", -3}, {"WMaxLimPct_SF", -1}, {"WSetPct_SF", -1}, {"VarSetPct_SF", -1}};
    for (size_t i = 0; i < sizeof(sfs) / sizeof(sfs[0]); i++)
        put_raw(s, mi, sfs[i].name, (uint16_t)sfs[i].sf);
    put_raw(s, mi, "WSet_SF", (uint16_t)wsf);
    put_raw(s, mi, "VarSet_SF", (uint16_t)wsf);
    put(s, mi, "WMaxLimPct", 100);
    put(s, mi, "WMaxLimPctRvrt", 100);
    put(s, mi, "WSetMod", 1);   /* WATTS */
    put(s, mi, "VarSetMod", 4); /* VARS */
    /* (the PF groups stay 0: put() knows top-level points only) */
}

static void battery_statics(struct bsim *s)
{
    const struct bsim_battery *b = &s->bat;
    int wsf = sf_for(fmax(b->max_charge_w, b->max_discharge_w));
    static const struct {
        int mi;
        const char *name;
        int sf;
    } sfs[] = {
        {M802, "AHRtg_SF", 0},  {M802, "DisChaRte_SF", 0}, {M802, "SoC_SF", -1},
        {M802, "DoD_SF", -1},   {M802, "SoH_SF", -1},      {M802, "V_SF", -1},
        {M802, "CellV_SF", -3}, {M802, "A_SF", -1},        {M802, "AMax_SF", -1},
    };
    static const struct {
        int mi;
        const char *name;
        int sf;
    } sfs124[] = {
        {M124, "WChaDisChaGra_SF", 0}, {M124, "MinRsvPct_SF", -1},
        {M124, "ChaState_SF", -1},     {M124, "StorAval_SF", -1},
        {M124, "InBatV_SF", -1},       {M124, "InOutWRte_SF", -2},
    };
    for (size_t i = 0; i < sizeof(sfs) / sizeof(sfs[0]); i++)
        put_raw(s, sfs[i].mi, sfs[i].name, (uint16_t)sfs[i].sf);
    put_raw(s, M802, "WHRtg_SF", (uint16_t)sf_for(b->capacity_wh));
    put_raw(s, M802, "WChaDisChaMax_SF", (uint16_t)wsf);
    put_raw(s, M802, "W_SF", (uint16_t)wsf);
    put(s, M802, "SocRsvMax", 100);
    put(s, M802, "SoCRsvMin", 0);
    put(s, M802, "SetOp", 1);
    put(s, M802, "SetInvState", 3);
    if (s->use704) {
        statics_704(s, M124, wsf);
        put(s, M124, "WSetRvrtTms", b->revert_s);
        return;
    }
    for (size_t i = 0; i < sizeof(sfs124) / sizeof(sfs124[0]); i++)
        put_raw(s, sfs124[i].mi, sfs124[i].name, (uint16_t)sfs124[i].sf);
    put_raw(s, M124, "WChaMax_SF", (uint16_t)wsf);
    put_raw(s, M124, "VAChaMax_SF", (uint16_t)wsf);
    /* the writable points' starting values */
    put(s, M124, "WChaMax", b->charge_limit_w);
    put(s, M124, "VAChaMax", b->max_charge_w);
    put(s, M124, "WChaGra", 100);
    put(s, M124, "WDisChaGra", 100);
    put(s, M124, "StorCtl_Mod", 0);
    put(s, M124, "InWRte", 0);
    put(s, M124, "OutWRte", 0);
    put(s, M124, "InOutWRte_RvrtTms", b->revert_s);
    put(s, M124, "ChaGriSet", 1);
}

static void pv_statics(struct bsim *s)
{
    int wsf = sf_for(s->pv.rated_w);
    static const struct {
        const char *name;
        int sf;
    } sfs[] = {{"A_SF", -1}, {"V_SF", -1},   {"Hz_SF", -2},  {"PF_SF", -2},
               {"WH_SF", 0}, {"DCA_SF", -1}, {"DCV_SF", -1}, {"Tmp_SF", -1}};
    for (size_t i = 0; i < sizeof(sfs) / sizeof(sfs[0]); i++)
        put_raw(s, P103, sfs[i].name, (uint16_t)sfs[i].sf);
    const char *const wsfs[] = {"W_SF", "VA_SF", "VAr_SF", "DCW_SF"};
    for (size_t i = 0; i < sizeof(wsfs) / sizeof(wsfs[0]); i++)
        put_raw(s, P103, wsfs[i], (uint16_t)wsf);
    statics_704(s, P704, wsf);
}

static void meter_statics(struct bsim *s)
{
    static const struct {
        const char *name;
        int sf;
    } sfs[] = {{"A_SF", -2},     {"V_SF", -1},     {"Hz_SF", -2}, {"PF_SF", -2},
               {"W_SF", 0},      {"VA_SF", 0},     {"VAR_SF", 0}, {"TotWh_SF", 0},
               {"TotVAh_SF", 0}, {"TotVArh_SF", 0}};
    for (size_t i = 0; i < sizeof(sfs) / sizeof(sfs[0]); i++)
        put_raw(s, E203, sfs[i].name, (uint16_t)sfs[i].sf);
}

static void sunspec_statics(struct bsim *s)
{
    common_statics(s);
    if (s->kind == BSIM_BATTERY)
        battery_statics(s);
    else if (s->kind == BSIM_PV)
        pv_statics(s);
    else
        meter_statics(s);
}

static int sunspec_init(struct bsim *s)
{
    uint16_t *h = s->mb->tab_registers;
    uint32_t a = s->base;
    h[a++] = FG_SUNSPEC_MARKER_HI;
    h[a++] = FG_SUNSPEC_MARKER_LO;
    for (int mi = 0; mi < s->n_models; mi++) {
        const struct fg_sunspec_model_def *d = fg_sunspec_model_find(s->ids[mi]);
        if (!d)
            return -1;
        s->model_addr[mi] = a;
        s->model_len[mi] = d->len;
        h[a] = d->id;
        h[a + 1] = d->len;
        for (uint16_t i = 0; i < d->npoints; i++) {
            const struct fg_sunspec_point *p = &d->points[i];
            if (p->flags & FG_SUNSPEC_RW)
                memset(s->writable[0] + a + p->offset, 1, p->size);
        }
        a += 2u + d->len;
    }
    h[a] = FG_SUNSPEC_END_ID;
    h[a + 1] = 0;
    if (a + 2 > 65536)
        return -1;
    memset(s->defined[0] + s->base, 1, a + 2 - s->base);
    sunspec_statics(s);
    return 0;
}

static int cha_st(const struct bsim_battery *b)
{
    if (b->w > 0)
        return 4; /* CHARGING */
    if (b->w < 0)
        return 3;                                   /* DISCHARGING */
    return b->soc >= 100 ? 5 : b->soc <= 0 ? 2 : 6; /* FULL, EMPTY, HOLDING */
}

static void battery_publish(struct bsim *s)
{
    const struct bsim_battery *b = &s->bat;
    double v = b->voltage_v;
    put(s, M802, "AHRtg", b->capacity_wh / v);
    put(s, M802, "WChaRteMax", b->max_charge_w);
    put(s, M802, "WDisChaRteMax", b->max_discharge_w);
    put(s, M802, "SoCMax", 100);
    put(s, M802, "SoCMin", 0);
    put(s, M802, "DoD", 100 - b->soc);
    put(s, M802, "ChaSt", cha_st(b));
    put(s, M802, "LocRemCtl", 0);
    put(s, M802, "Typ", 4);
    put(s, M802, "State", 3);
    put(s, M802, "Evt1", b->alarm);
    put(s, M802, "A", -b->w / v); /* SunSpec: + = discharging */
    put(s, M802, "AChaMax", b->max_charge_w / v);
    put(s, M802, "ADisChaMax", b->max_discharge_w / v);
    if (!s->use704) {
        put(s, M124, "ChaSt", cha_st(b));
        put(s, M124, "InBatV", v);
        put(s, M124, "StorAval", b->capacity_wh * b->soc / 100 / v);
    }
    if (s->garbage) {
        put_raw(s, M802, "SoC", 0xffff);      /* "not implemented" */
        put_raw(s, M802, "SoH", 1500);        /* 150.0 % */
        put_raw(s, M802, "W", 0x8000);        /* "not implemented" */
        put_raw(s, M802, "V", 0xffff);        /* "not implemented" */
        put_raw(s, M802, "WHRtg_SF", 0x8000); /* capacity unknown */
        if (!s->use704)
            put_raw(s, M124, "ChaState", 0x7fff); /* 3276.7 % */
        return;
    }
    put_raw(s, M802, "WHRtg_SF", (uint16_t)sf_for(b->capacity_wh));
    put(s, M802, "WHRtg", b->capacity_wh);
    put(s, M802, "SoC", b->soc);
    put(s, M802, "SoH", b->soh);
    put(s, M802, "V", v);
    put(s, M802, "W", -b->w); /* SunSpec: + = discharging */
    if (!s->use704)
        put(s, M124, "ChaState", b->soc);
}

/* Model 103 from the PV's state: three balanced phases at 230 V. */
static void pv_publish(struct bsim *s)
{
    const struct bsim_pv *pv = &s->pv;
    double va = hypot(pv->w, pv->var), a = va / 3 / 230;
    put(s, P103, "W", pv->w);
    put(s, P103, "VAr", pv->var);
    put(s, P103, "VA", va);
    put(s, P103, "PF", va > 0 ? pv->w / va : 1);
    put(s, P103, "A", 3 * a);
    const char *const ph[3][2] = {
        {"AphA", "PhVphA"}, {"AphB", "PhVphB"}, {"AphC", "PhVphC"}};
    for (int i = 0; i < 3; i++) {
        put(s, P103, ph[i][0], a);
        put(s, P103, ph[i][1], 230);
    }
    put(s, P103, "Hz", 50);
    put(s, P103, "DCW", pv->w / 0.97);
    put(s, P103, "DCV", 600);
    put(s, P103, "DCA", pv->w / 0.97 / 600);
    put(s, P103, "TmpCab", 35);
    put(s, P103, "St", pv->w > 0 ? (pv->lim_ena ? 5 : 4) : 2); /* THROTTLED, MPPT,
                                                                 SLEEPING */
    if (s->garbage)
        put_raw(s, P103, "W", 0x8000);
}

/* Model 203 from the site balance (battery_sim.c computes it). */
static void meter_publish(struct bsim *s)
{
    const struct bsim_meter *m = &s->meter;
    const char *const ph[3][4] = {{"AphA", "PhVphA", "WphA", "VARphA"},
                                  {"AphB", "PhVphB", "WphB", "VARphB"},
                                  {"AphC", "PhVphC", "WphC", "VARphC"}};
    double va = hypot(m->w, m->var);
    put(s, E203, "W", m->w);
    put(s, E203, "VAR", m->var);
    put(s, E203, "VA", va);
    put(s, E203, "PF", va > 0 ? m->w / va : 1);
    put(s, E203, "A", m->a[0] + m->a[1] + m->a[2]);
    put(s, E203, "PhV", (m->v[0] + m->v[1] + m->v[2]) / 3);
    put(s, E203, "Hz", 50);
    for (int i = 0; i < 3; i++) {
        put(s, E203, ph[i][0], m->a[i]);
        put(s, E203, ph[i][1], m->v[i]);
        put(s, E203, ph[i][2], m->w / 3);
        put(s, E203, ph[i][3], m->var / 3);
    }
    if (s->garbage)
        put_raw(s, E203, "W", 0x8000);
}

static void sunspec_publish(struct bsim *s)
{
    if (s->kind == BSIM_BATTERY)
        battery_publish(s);
    else if (s->kind == BSIM_PV)
        pv_publish(s);
    else
        meter_publish(s);
}

/* Refused values of writable points: [lo, hi] in the point's units. */
static bool sunspec_in_range(const struct bsim *s, int mi,
                             const struct fg_sunspec_point *p, double v)
{
    static const struct {
        uint16_t id;
        const char *name;
        double lo, hi;
    } lim[] = {
        {124, "InWRte", -100, 100},
        {124, "OutWRte", -100, 100},
        {124, "StorCtl_Mod", 0, 3},
        {124, "InOutWRte_RvrtTms", 0, 86400},
        {124, "WChaGra", 0, 100},
        {124, "WDisChaGra", 0, 100},
        {802, "SocRsvMax", 0, 100},
        {802, "SoCRsvMin", 0, 100},
        {802, "SetOp", 1, 2},
        {802, "SetInvState", 1, 3},
        {1, "DA", 1, 247},
        {704, "WMaxLimPct", 0, 100},
        {704, "WMaxLimPctEna", 0, 1},
        {704, "WSetEna", 0, 1},
        {704, "WSetMod", 0, 1},
        {704, "VarSetEna", 0, 1},
        {704, "VarSetMod", 0, 4},
        {704, "WSetRvrtTms", 0, 86400},
        {704, "WMaxLimPctRvrtTms", 0, 86400},
        {704, "VarSetRvrtTms", 0, 86400},
    };
    uint16_t id = s->ids[mi];
    if (id == 124 && !strcmp(p->name, "WChaMax"))
        return v >= 0 && v <= s->bat.max_charge_w;
    /* 704 WSet and VarSet: DER convention, + = discharge / inject. */
    if (id == 704 && !strcmp(p->name, "WSet"))
        return s->kind == BSIM_BATTERY
                   ? v >= -s->bat.max_charge_w && v <= s->bat.max_discharge_w
                   : v >= 0 && v <= s->pv.rated_w;
    if (id == 704 && !strcmp(p->name, "VarSet"))
        return s->kind == BSIM_PV ? fabs(v) <= s->pv.var_max : v == 0;
    for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++)
        if (lim[i].id == id && !strcmp(lim[i].name, p->name))
            return v >= lim[i].lo && v <= lim[i].hi;
    return true;
}

static int sunspec_check(struct bsim *s, int addr, int n, char *why)
{
    for (int mi = 0; mi < s->n_models; mi++) {
        if (!overlaps(addr, n, s->model_addr[mi], 2u + s->model_len[mi]))
            continue;
        struct fg_sunspec_model m;
        if (bind(s, mi, &m))
            return MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE;
        const struct fg_sunspec_model_def *d = m.def;
        for (uint16_t i = 0; i < d->npoints; i++) {
            const struct fg_sunspec_point *p = &d->points[i];
            if (!(p->flags & FG_SUNSPEC_RW) ||
                !overlaps(addr, n, s->model_addr[mi] + p->offset, p->size))
                continue;
            struct fg_sunspec_value v;
            struct fg_error e;
            int rc = fg_sunspec_model_point(&m, p, NULL, &v, &e);
            if (rc || v.status != FG_SUNSPEC_OK) {
                snprintf(why, BSIM_WHY_MAX, "%u.%s: not a value", d->id, p->name);
                return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
            }
            if (!sunspec_in_range(s, mi, p, v.v)) {
                snprintf(why, BSIM_WHY_MAX, "%u.%s: %g out of range", d->id, p->name,
                         v.v);
                return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
            }
        }
    }
    return 0;
}

/* Model 124's controls as a power command. A mode bit enables its rate as
 * a command (this battery has no local load to follow): CHARGE alone
 * charges at InWRte % of WChaMax (negative: discharges), DISCHARGE alone
 * discharges at OutWRte % of the discharge rating; both make the window
 * [-OutWRte, InWRte] and the battery runs at its point nearest 0 (a window
 * moved off 0 forces charge or discharge, as Fronius documents it). */
static double sunspec_command(const struct bsim *s)
{
    double mode = get(s, M124, "StorCtl_Mod"), in = get(s, M124, "InWRte"),
           out = get(s, M124, "OutWRte");
    double cha = s->bat.charge_limit_w, dis = s->bat.max_discharge_w;
    if (isnan(mode) || isnan(in) || isnan(out))
        return 0;
    int m = (int)mode;
    double hi = in / 100 * (in >= 0 ? cha : dis);
    double lo = -out / 100 * (out >= 0 ? dis : cha);
    if (m == 1)
        return hi;
    if (m == 2)
        return lo;
    if (m == 3 && lo <= hi)
        return lo > 0 ? lo : hi < 0 ? hi : 0;
    return 0;
}

/* Did the write [addr, addr + n) touch one of the named points of model mi? */
static bool touched(const struct bsim *s, int mi, int addr, int n,
                    const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct fg_sunspec_point *p = pt(s, mi, names[i]);
        if (p && overlaps(addr, n, s->model_addr[mi] + p->offset, p->size))
            return true;
    }
    return false;
}

#define TOUCHED(s, mi, addr, n, ...)                                                     \
    touched(s, mi, addr, n, (const char *const[]){__VA_ARGS__},                          \
            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Battery with 704: WSet in W (DER convention: + = discharge) when WSetEna
 * and WSetMod = WATTS; anything else is 0 W. */
static int battery_704_applied(struct bsim *s, int addr, int n)
{
    if (TOUCHED(s, M124, addr, n, "WSetRvrtTms")) {
        double v = get(s, M124, "WSetRvrtTms");
        s->bat.revert_s = isnan(v) ? 0 : v;
    }
    if (!TOUCHED(s, M124, addr, n, "WSetEna", "WSetMod", "WSet"))
        return 0;
    bool ena = get(s, M124, "WSetEna") == 1;
    double w = get(s, M124, "WSet");
    s->bat.cmd_w = ena && get(s, M124, "WSetMod") == 1 && !isnan(w) ? -w : 0;
    s->bat.cmd_at = s->now;
    s->bat.cmd_active = ena;
    return 1;
}

static int battery_applied(struct bsim *s, int addr, int n)
{
    if (s->use704)
        return battery_704_applied(s, addr, n);
    int setpoint = TOUCHED(s, M124, addr, n, "StorCtl_Mod", "InWRte", "OutWRte");
    if (TOUCHED(s, M124, addr, n, "WChaMax")) {
        double v = get(s, M124, "WChaMax");
        if (!isnan(v))
            s->bat.charge_limit_w = v;
        setpoint = 1;
    }
    if (TOUCHED(s, M124, addr, n, "InOutWRte_RvrtTms")) {
        double v = get(s, M124, "InOutWRte_RvrtTms");
        s->bat.revert_s = isnan(v) ? 0 : v;
    }
    if (setpoint) {
        s->bat.cmd_w = sunspec_command(s);
        s->bat.cmd_at = s->now;
        s->bat.cmd_active = get(s, M124, "StorCtl_Mod") != 0;
    }
    return setpoint;
}

/* PV with 704: the active-power limit (WMaxLimPct of rated_w, when
 * WMaxLimPctEna) and the reactive power (VarSet in var when VarSetEna and
 * VarSetMod = VARS; VarSetPct of var_max with VAR_MAX_PCT). Each has its
 * revert timer, restarted by a write to its points. */
static int pv_applied(struct bsim *s, int addr, int n)
{
    struct bsim_pv *pv = &s->pv;
    int what = 0;
    if (TOUCHED(s, P704, addr, n, "WMaxLimPctRvrtTms"))
        pv->lim_rvrt_s = fmax(0, get(s, P704, "WMaxLimPctRvrtTms"));
    if (TOUCHED(s, P704, addr, n, "VarSetRvrtTms"))
        pv->var_rvrt_s = fmax(0, get(s, P704, "VarSetRvrtTms"));
    if (TOUCHED(s, P704, addr, n, "WMaxLimPctEna", "WMaxLimPct")) {
        pv->lim_ena = get(s, P704, "WMaxLimPctEna") == 1;
        pv->lim_pct = get(s, P704, "WMaxLimPct");
        pv->lim_at = s->now;
        pv->lim_real_at = s->real;
        what |= 1;
    }
    if (TOUCHED(s, P704, addr, n, "VarSetEna", "VarSetMod", "VarSet", "VarSetPct")) {
        double mode = get(s, P704, "VarSetMod");
        pv->var_ena = get(s, P704, "VarSetEna") == 1;
        pv->var_cmd = mode == 4   ? get(s, P704, "VarSet")
                      : mode == 1 ? get(s, P704, "VarSetPct") / 100 * pv->var_max
                                  : 0;
        if (isnan(pv->var_cmd))
            pv->var_cmd = 0;
        pv->var_at = s->now;
        pv->var_real_at = s->real;
        what |= 2;
    }
    return what ? 1 : 0;
}

static int sunspec_applied(struct bsim *s, int addr, int n)
{
    if (s->kind == BSIM_BATTERY)
        return battery_applied(s, addr, n);
    if (s->kind == BSIM_PV)
        return pv_applied(s, addr, n);
    return 0;
}

int bsim_pv_step(struct bsim *s)
{
    struct bsim_pv *pv = &s->pv;
    int reverted = 0;
    double lim_since = s->rvrt_real ? s->real - pv->lim_real_at : s->now - pv->lim_at;
    double var_since = s->rvrt_real ? s->real - pv->var_real_at : s->now - pv->var_at;
    if (pv->lim_ena && pv->lim_rvrt_s > 0 && lim_since >= pv->lim_rvrt_s) {
        pv->lim_ena = false;
        put(s, P704, "WMaxLimPctEna", 0);
        reverted |= 1;
    }
    if (pv->var_ena && pv->var_rvrt_s > 0 && var_since >= pv->var_rvrt_s) {
        pv->var_ena = false;
        put(s, P704, "VarSetEna", 0);
        reverted |= 2;
    }
    double avail = pv->rated_w * pv->irradiance / 1000;
    double cap = pv->lim_ena ? pv->lim_pct / 100 * pv->rated_w : pv->rated_w;
    pv->w = fmax(0, fmin(avail, cap));
    pv->var = pv->var_ena ? fmax(-pv->var_max, fmin(pv->var_max, pv->var_cmd)) : 0;
    return reverted;
}

/* ---- register map ----------------------------------------------------------- */

/* The battery's value for a vocabulary name; false for names it has none. */
static bool map_value(const struct bsim *s, const char *name, double *v)
{
    const struct bsim_battery *b = &s->bat;
    const struct {
        const char *name;
        double v;
    } vals[] = {
        {"soc_pct", b->soc},
        {"soh_pct", b->soh},
        {"capacity_wh", b->capacity_wh},
        {"power_w", b->w},
        {"max_charge_w", b->charge_limit_w},
        {"max_discharge_w", b->max_discharge_w},
        {"temperature_c", b->temp_c},
        {"voltage_v", b->voltage_v},
        {"current_a", b->w / b->voltage_v},
        {"alarm", b->alarm},
        {"state", b->w > 0   ? 1
                  : b->w < 0 ? 2
                             : 0}, /* idle, charging, discharging */
        {"rated_w", b->max_charge_w},
    };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        if (!strcmp(vals[i].name, name)) {
            *v = vals[i].v;
            return true;
        }
    return false;
}

/* A garbage reading: the point's "na" value, else the type's extreme. */
static void map_garbage(struct bsim *s, const struct fg_regmap_point *p)
{
    uint16_t r[4] = {0xffff, 0xffff, 0xffff, 0xffff};
    if (p->type == FG_REGMAP_BOOL)
        return;
    if (p->type == FG_REGMAP_I16 || p->type == FG_REGMAP_I32 ||
        p->type == FG_REGMAP_I64) {
        struct fg_regmap_point q = *p;
        q.scale = 1;
        fg_regmap_encode_raw(&q, -pow(2, 16 * p->size - 1), r, NULL);
    }
    if (p->has_na && p->size < 4) {
        struct fg_regmap_point q = *p; /* the na bits, laid out as p is */
        q.scale = 1;
        q.type = p->size == 1 ? FG_REGMAP_U16 : FG_REGMAP_U32;
        fg_regmap_encode_raw(&q, (double)p->na, r, NULL);
    }
    set_regs(s, p->function, p->address, p->size, r);
}

static void map_publish(struct bsim *s)
{
    for (size_t i = 0; i < s->map.npoints; i++) {
        const struct fg_regmap_point *p = &s->map.points[i];
        double v;
        if (!p->vocab || p->writable)
            continue; /* set-points keep what was written */
        if (s->garbage) {
            map_garbage(s, p);
            continue;
        }
        if (!map_value(s, p->vocab->name, &v))
            continue;
        uint16_t r[4];
        struct fg_error e;
        if (fg_regmap_encode_raw(p, v, r, &e) == 0)
            set_regs(s, p->function, p->address, p->size, r);
    }
}

static void map_put(struct bsim *s, const char *name, double v)
{
    const struct fg_regmap_point *p = fg_regmap_find(&s->map, name);
    uint16_t r[4];
    struct fg_error e;
    if (p && fg_regmap_encode_raw(p, v, r, &e) == 0)
        set_regs(s, p->function, p->address, p->size, r);
}

static int map_init(struct bsim *s)
{
    for (size_t i = 0; i < s->map.npoints; i++) {
        const struct fg_regmap_point *p = &s->map.points[i];
        memset(s->defined[p->function] + p->address, 1, p->size);
        if (p->writable)
            memset(s->writable[p->function] + p->address, 1, p->size);
    }
    map_put(s, "setpoint_w", 0);
    map_put(s, "grid_setpoint_w", 0);
    map_put(s, "setpoint_revert_s", s->bat.revert_s);
    map_put(s, "max_charge_w", s->bat.charge_limit_w);
    map_put(s, "max_discharge_w", s->bat.max_discharge_w);
    return 0;
}

static bool map_decode(const struct bsim *s, const struct fg_regmap_point *p, double *v)
{
    uint16_t r[4];
    struct fg_regmap_value val;
    get_regs(s, p->function, p->address, p->size, r);
    if (fg_regmap_decode(p, r, p->size, &val, NULL) || val.status == FG_REGMAP_NA)
        return false;
    *v = val.v;
    return true;
}

static int map_check(struct bsim *s, int t, int addr, int n, char *why)
{
    for (size_t i = 0; i < s->map.npoints; i++) {
        const struct fg_regmap_point *p = &s->map.points[i];
        double v;
        if (p->function != t || !p->writable || !overlaps(addr, n, p->address, p->size))
            continue;
        if (!map_decode(s, p, &v)) {
            snprintf(why, BSIM_WHY_MAX, "%s: not a value", p->name);
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        }
        bool sp = p->vocab && (!strcmp(p->vocab->name, "setpoint_w") ||
                               !strcmp(p->vocab->name, "grid_setpoint_w"));
        if ((p->has_min && v < p->min) || (p->has_max && v > p->max) ||
            (sp && (v > s->bat.max_charge_w || v < -s->bat.max_discharge_w))) {
            snprintf(why, BSIM_WHY_MAX, "%s: %g out of range", p->name, v);
            return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
        }
    }
    return 0;
}

/* grid_setpoint_w is taken as a battery set-point: this site has no other
 * load, so what the grid delivers is what the battery takes. */
static int map_applied(struct bsim *s, int t, int addr, int n)
{
    int setpoint = 0;
    for (size_t i = 0; i < s->map.npoints; i++) {
        const struct fg_regmap_point *p = &s->map.points[i];
        double v;
        if (p->function != t || !p->vocab || !overlaps(addr, n, p->address, p->size) ||
            !map_decode(s, p, &v))
            continue;
        const char *name = p->vocab->name;
        if (!strcmp(name, "setpoint_w") || !strcmp(name, "grid_setpoint_w")) {
            s->bat.cmd_w = v;
            s->bat.cmd_at = s->now;
            s->bat.cmd_active = v != 0;
            setpoint = 1;
        } else if (!strcmp(name, "setpoint_revert_s")) {
            s->bat.revert_s = v;
        } else if (!strcmp(name, "max_charge_w")) {
            s->bat.charge_limit_w = fmin(v, s->bat.max_charge_w);
        }
    }
    return setpoint;
}

/* ---- both ------------------------------------------------------------------- */

int bsim_regs_init(struct bsim *s)
{
    return s->sunspec ? sunspec_init(s) : map_init(s);
}

void bsim_regs_publish(struct bsim *s)
{
    if (s->sunspec)
        sunspec_publish(s);
    else
        map_publish(s);
}

int bsim_regs_check_write(struct bsim *s, int t, int addr, int n, const uint16_t *vals,
                          char *why)
{
    uint16_t old[2048];
    if (n <= 0 || n > 2048)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    for (int i = 0; i < n; i++)
        if (!s->writable[t][addr + i]) {
            snprintf(why, BSIM_WHY_MAX, "address %d is not writable", addr + i);
            return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
        }
    /* decode the registers as they would be, then put the old ones back */
    get_regs(s, t, addr, n, old);
    set_regs(s, t, addr, n, vals);
    int rc = s->sunspec ? sunspec_check(s, addr, n, why) : map_check(s, t, addr, n, why);
    set_regs(s, t, addr, n, old);
    return rc;
}

int bsim_regs_applied(struct bsim *s, int t, int addr, int n)
{
    return s->sunspec ? sunspec_applied(s, addr, n) : map_applied(s, t, addr, n);
}

void bsim_regs_revert(struct bsim *s)
{
    if (s->sunspec && s->use704) {
        put(s, M124, "WSetEna", 0);
    } else if (s->sunspec) {
        put(s, M124, "StorCtl_Mod", 0);
        put(s, M124, "InWRte", 0);
        put(s, M124, "OutWRte", 0);
    } else {
        map_put(s, "setpoint_w", 0);
        map_put(s, "grid_setpoint_w", 0);
    }
}

/* Model 802's L made to run past the end of the address space: a walk
 * fails with a range error instead of finding 124 and the end marker. */
void bsim_regs_break_chain(struct bsim *s, bool on)
{
    if (!s->sunspec)
        return;
    s->chain_broken = on;
    s->mb->tab_registers[s->model_addr[M802] + 1] =
        on ? (uint16_t)60000 : s->model_len[M802];
}
