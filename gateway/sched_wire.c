/* The scheduler worker protocol (sched_wire.h). */
#include "sched_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

#define N_SERIES 8

void fg_sched_wbuf_init(struct fg_sched_wbuf *w)
{
    memset(w, 0, sizeof(*w));
}

void fg_sched_wbuf_clear(struct fg_sched_wbuf *w)
{
    free(w->p);
    fg_sched_wbuf_init(w);
}

void fg_sched_put(struct fg_sched_wbuf *w, const void *p, size_t n)
{
    if (w->err)
        return;
    if (n > FG_SCHED_FRAME_MAX - w->len) {
        w->err = FG_ETOOBIG;
        return;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *q = realloc(w->p, cap);
        if (!q) {
            w->err = FG_ENOMEM;
            return;
        }
        w->p = q;
        w->cap = cap;
    }
    if (n)
        memcpy(w->p + w->len, p, n);
    w->len += n;
}

void fg_sched_put_u32(struct fg_sched_wbuf *w, uint32_t v)
{
    fg_sched_put(w, &v, sizeof(v));
}

void fg_sched_put_i32(struct fg_sched_wbuf *w, int32_t v)
{
    fg_sched_put(w, &v, sizeof(v));
}

void fg_sched_put_i64(struct fg_sched_wbuf *w, int64_t v)
{
    fg_sched_put(w, &v, sizeof(v));
}

void fg_sched_put_f64(struct fg_sched_wbuf *w, double v)
{
    fg_sched_put(w, &v, sizeof(v));
}

void fg_sched_put_str(struct fg_sched_wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > FG_SCHED_STR_MAX)
        n = FG_SCHED_STR_MAX;
    fg_sched_put_u32(w, (uint32_t)n);
    fg_sched_put(w, s, n);
}

void fg_sched_rbuf_init(struct fg_sched_rbuf *r, const void *p, size_t len)
{
    r->p = p;
    r->len = p ? len : 0;
    r->off = 0;
    r->err = 0;
}

int fg_sched_get(struct fg_sched_rbuf *r, void *out, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = FG_EPARSE;
        memset(out, 0, n);
        return r->err;
    }
    memcpy(out, r->p + r->off, n);
    r->off += n;
    return 0;
}

int fg_sched_get_u32(struct fg_sched_rbuf *r, uint32_t *v)
{
    return fg_sched_get(r, v, sizeof(*v));
}

int fg_sched_get_i32(struct fg_sched_rbuf *r, int32_t *v)
{
    return fg_sched_get(r, v, sizeof(*v));
}

int fg_sched_get_i64(struct fg_sched_rbuf *r, int64_t *v)
{
    return fg_sched_get(r, v, sizeof(*v));
}

int fg_sched_get_f64(struct fg_sched_rbuf *r, double *v)
{
    return fg_sched_get(r, v, sizeof(*v));
}

int fg_sched_get_str(struct fg_sched_rbuf *r, size_t max, char **out)
{
    uint32_t n;
    *out = NULL;
    if (fg_sched_get_u32(r, &n))
        return r->err;
    if (n > max || n > r->len - r->off) {
        r->err = n > max ? FG_ETOOBIG : FG_EPARSE;
        return r->err;
    }
    char *s = malloc((size_t)n + 1);
    if (!s)
        return r->err = FG_ENOMEM;
    fg_sched_get(r, s, n);
    s[n] = '\0';
    *out = s;
    return 0;
}

/* ---- the view --------------------------------------------------------------- */

static const struct fg_sched_series *series_at(const struct fg_sched_view *v, int i)
{
    const struct fg_sched_series *s[N_SERIES] = {
        &v->price_import,        &v->price_export,      &v->import_max_w_series,
        &v->export_max_w_series, &v->dispatch_w_series, &v->pv_forecast_w,
        &v->load_forecast_w,     &v->soc_target_series};
    return s[i];
}

void fg_sched_view_encode(struct fg_sched_wbuf *w, const struct fg_sched_view *v)
{
    fg_sched_put_i64(w, v->now);
    fg_sched_put_i32(w, v->isp_s);
    fg_sched_put_i32(w, v->horizon_s);
    fg_sched_put_f64(w, v->site_power_w);
    for (int i = 0; i < 3; i++)
        fg_sched_put_f64(w, v->site_voltage_v[i]);
    fg_sched_put_f64(w, v->import_max_w);
    fg_sched_put_f64(w, v->export_max_w);
    fg_sched_put_f64(w, v->kw_max_w);
    fg_sched_put_f64(w, v->dispatch_w);
    fg_sched_put_f64(w, v->reactive_var);
    fg_sched_put_u32(w, v->island);
    fg_sched_put_i64(w, v->plan_created);
    fg_sched_put_f64(w, v->plan_site_w);
    fg_sched_put_f64(w, v->soc_target_pct);
    fg_sched_put_i64(w, v->soc_target_until);
    for (int i = 0; i < N_SERIES; i++) {
        const struct fg_sched_series *s = series_at(v, i);
        uint32_t n = s->v ? s->n : 0;
        fg_sched_put_i64(w, s->start);
        fg_sched_put_i32(w, s->step_s);
        fg_sched_put_u32(w, n);
        fg_sched_put(w, s->v, (size_t)n * sizeof(double));
    }
    fg_sched_put_u32(w, v->n_assets);
    for (uint32_t i = 0; i < v->n_assets; i++) {
        struct fg_sched_asset a;
        const struct fg_sched_asset *src = fg_sched_asset_at(v, i);
        size_t n = src->size < sizeof(a) ? src->size : sizeof(a);
        memset(&a, 0, sizeof(a));
        memcpy(&a, src, n);
        a.size = sizeof(a);
        fg_sched_put(w, &a, sizeof(a));
    }
}

void fg_sched_wire_view_clear(struct fg_sched_wire_view *wv)
{
    free(wv->values);
    free(wv->assets);
    memset(wv, 0, sizeof(*wv));
}

int fg_sched_view_decode(struct fg_sched_rbuf *r, struct fg_sched_wire_view *wv,
                         struct fg_error *err)
{
    static const char *const names[N_SERIES] = {
        "price_import",        "price_export",      "import_max_w_series",
        "export_max_w_series", "dispatch_w_series", "pv_forecast_w",
        "load_forecast_w",     "soc_target_series"};
    struct fg_sched_view *v = &wv->v;
    memset(wv, 0, sizeof(*wv));
    v->size = sizeof(*v);
    v->abi = FG_SCHED_ABI_VERSION;
    fg_sched_get_i64(r, &v->now);
    fg_sched_get_i32(r, &v->isp_s);
    fg_sched_get_i32(r, &v->horizon_s);
    fg_sched_get_f64(r, &v->site_power_w);
    for (int i = 0; i < 3; i++)
        fg_sched_get_f64(r, &v->site_voltage_v[i]);
    fg_sched_get_f64(r, &v->import_max_w);
    fg_sched_get_f64(r, &v->export_max_w);
    fg_sched_get_f64(r, &v->kw_max_w);
    fg_sched_get_f64(r, &v->dispatch_w);
    fg_sched_get_f64(r, &v->reactive_var);
    fg_sched_get_u32(r, &v->island);
    fg_sched_get_i64(r, &v->plan_created);
    fg_sched_get_f64(r, &v->plan_site_w);
    fg_sched_get_f64(r, &v->soc_target_pct);
    fg_sched_get_i64(r, &v->soc_target_until);
    if (r->err)
        return fg_error_set(err, r->err, "/view", "truncated in the site fields");
    /* the series: lengths first, so the values fit in one block */
    size_t first = r->off, total = 0;
    for (int i = 0; i < N_SERIES; i++) {
        struct fg_sched_series *s = (struct fg_sched_series *)series_at(v, i);
        fg_sched_get_i64(r, &s->start);
        fg_sched_get_i32(r, &s->step_s);
        fg_sched_get_u32(r, &s->n);
        if (r->err)
            return fg_error_set(err, r->err, names[i], "truncated");
        if (s->n > FG_SCHED_SERIES_MAX)
            return fg_error_set(err, FG_ERANGE, names[i], "%u values, at most %u", s->n,
                                FG_SCHED_SERIES_MAX);
        if ((size_t)s->n * sizeof(double) > r->len - r->off)
            return fg_error_set(err, FG_EPARSE, names[i],
                                "%u values claimed, %zu bytes left", s->n,
                                r->len - r->off);
        r->off += (size_t)s->n * sizeof(double);
        total += s->n;
    }
    wv->values = calloc(total ? total : 1, sizeof(double));
    if (!wv->values)
        return fg_error_set(err, FG_ENOMEM, "/view", "out of memory");
    r->off = first;
    double *p = wv->values;
    for (int i = 0; i < N_SERIES; i++) {
        struct fg_sched_series *s = (struct fg_sched_series *)series_at(v, i);
        r->off += sizeof(int64_t) + sizeof(int32_t) + sizeof(uint32_t);
        fg_sched_get(r, p, (size_t)s->n * sizeof(double));
        s->v = s->n ? p : NULL;
        p += s->n;
    }
    uint32_t n;
    if (fg_sched_get_u32(r, &n))
        return fg_error_set(err, r->err, "/n_assets", "truncated");
    if (n > FG_SCHED_ASSETS_MAX)
        return fg_error_set(err, FG_ERANGE, "/n_assets", "%u assets, at most %u", n,
                            FG_SCHED_ASSETS_MAX);
    if ((size_t)n * sizeof(struct fg_sched_asset) != r->len - r->off)
        return fg_error_set(err, FG_EPARSE, "/assets",
                            "%u assets claimed, %zu bytes left (%zu each)", n,
                            r->len - r->off, sizeof(struct fg_sched_asset));
    wv->assets = calloc(n ? n : 1, sizeof(struct fg_sched_asset));
    if (!wv->assets)
        return fg_error_set(err, FG_ENOMEM, "/assets", "out of memory");
    fg_sched_get(r, wv->assets, (size_t)n * sizeof(struct fg_sched_asset));
    for (uint32_t i = 0; i < n; i++) {
        wv->assets[i].size = sizeof(struct fg_sched_asset);
        wv->assets[i].id[FG_SCHED_ID_MAX - 1] = '\0';
    }
    v->n_assets = n;
    v->asset_stride = sizeof(struct fg_sched_asset);
    v->assets = wv->assets;
    return 0;
}

/* ---- the answer ------------------------------------------------------------- */

void fg_sched_result_encode(struct fg_sched_wbuf *w, int32_t rc,
                            const struct fg_sched_setpoints *sp)
{
    uint32_t n = sp->n <= sp->cap ? sp->n : sp->cap;
    fg_sched_put_i32(w, rc);
    fg_sched_put_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        fg_sched_put(w, sp->sp[i].id, FG_SCHED_ID_MAX);
        fg_sched_put_f64(w, sp->sp[i].w);
        fg_sched_put_f64(w, sp->sp[i].var);
        fg_sched_put_u32(w, sp->sp[i].flags);
    }
    fg_sched_put(w, sp->note, sizeof(sp->note));
}

int fg_sched_result_decode(struct fg_sched_rbuf *r, int32_t *rc,
                           struct fg_sched_setpoints *out, struct fg_error *err)
{
    uint32_t n;
    out->n = 0;
    out->note[0] = '\0';
    fg_sched_get_i32(r, rc);
    if (fg_sched_get_u32(r, &n))
        return fg_error_set(err, r->err, "/n", "truncated");
    if (n > out->cap)
        return fg_error_set(err, FG_ERANGE, "/n", "%u set-points, room for %u", n,
                            out->cap);
    for (uint32_t i = 0; i < n; i++) {
        struct fg_sched_setpoint *s = &out->sp[i];
        fg_sched_get(r, s->id, FG_SCHED_ID_MAX);
        fg_sched_get_f64(r, &s->w);
        fg_sched_get_f64(r, &s->var);
        fg_sched_get_u32(r, &s->flags);
        if (r->err)
            return fg_error_set(err, r->err, "/sp", "truncated at set-point %u of %u", i,
                                n);
        if (!memchr(s->id, '\0', FG_SCHED_ID_MAX))
            return fg_error_set(err, FG_EPARSE, "/sp",
                                "set-point %u: id not NUL-terminated", i);
    }
    if (fg_sched_get(r, out->note, sizeof(out->note)))
        return fg_error_set(err, r->err, "/note", "truncated");
    out->note[sizeof(out->note) - 1] = '\0';
    if (r->off != r->len)
        return fg_error_set(err, FG_EPARSE, "/", "%zu bytes past the end",
                            r->len - r->off);
    out->n = n;
    return 0;
}

/* ---- the plan ------------------------------------------------------------------ */

#define SLACK_WIRE (64 + FG_SCHED_ID_MAX + 8 + 8 + 8)

size_t fg_sched_plan_result_max(uint32_t n_assets, uint32_t cap_isp, uint32_t slack_cap)
{
    return 4 + 8 + 4 + 4 + 4 + (size_t)n_assets * cap_isp * 8 + 5 * 8 + 128 + 4 +
           (size_t)slack_cap * SLACK_WIRE;
}

void fg_sched_plan_result_encode(struct fg_sched_wbuf *w, int32_t rc,
                                 const struct fg_sched_plan *p)
{
    /* a plugin claiming more ISPs than it had room for wrote past its
     * buffer: nothing of it is sent (the worker refuses the call first) */
    uint32_t n = rc || !p->w || p->n_isp > p->cap_isp ? 0 : p->n_isp;
    uint32_t ns =
        rc || !p->slack ? 0 : (p->n_slack <= p->slack_cap ? p->n_slack : p->slack_cap);
    char services[sizeof(p->services)];
    memcpy(services, p->services, sizeof(services));
    services[sizeof(services) - 1] = '\0';
    fg_sched_put_i32(w, rc);
    fg_sched_put_i64(w, p->start);
    fg_sched_put_i32(w, p->isp_s);
    fg_sched_put_u32(w, n);
    fg_sched_put_u32(w, p->n_assets);
    /* rows are stored n_isp apart (fg_scheduler.h) */
    for (uint32_t a = 0; a < p->n_assets && n; a++)
        fg_sched_put(w, p->w + (size_t)a * p->n_isp, (size_t)n * sizeof(double));
    fg_sched_put_f64(w, p->expected_cost);
    fg_sched_put_f64(w, p->cost_energy);
    fg_sched_put_f64(w, p->cost_wear);
    fg_sched_put_f64(w, p->cost_demand);
    fg_sched_put_f64(w, p->cost_penalty);
    fg_sched_put(w, services, sizeof(services));
    fg_sched_put_u32(w, ns);
    for (uint32_t i = 0; i < ns; i++) {
        struct fg_sched_slack s = p->slack[i];
        s.name[sizeof(s.name) - 1] = s.asset[sizeof(s.asset) - 1] = '\0';
        s.unit[sizeof(s.unit) - 1] = '\0';
        fg_sched_put(w, s.name, sizeof(s.name));
        fg_sched_put(w, s.asset, sizeof(s.asset));
        fg_sched_put_i64(w, s.at);
        fg_sched_put_f64(w, s.amount);
        fg_sched_put(w, s.unit, sizeof(s.unit));
    }
}

int fg_sched_plan_result_decode(struct fg_sched_rbuf *r, int32_t *rc,
                                struct fg_sched_plan *out, struct fg_error *err)
{
    uint32_t n, na, ns;
    out->n_isp = 0;
    out->n_slack = 0;
    fg_sched_get_i32(r, rc);
    fg_sched_get_i64(r, &out->start);
    fg_sched_get_i32(r, &out->isp_s);
    fg_sched_get_u32(r, &n);
    if (fg_sched_get_u32(r, &na))
        return fg_error_set(err, r->err, "/plan", "truncated in the header");
    if (n > out->cap_isp)
        return fg_error_set(err, FG_ERANGE, "/plan/n_isp", "%u ISPs, room for %u", n,
                            out->cap_isp);
    if (n && na != out->n_assets)
        return fg_error_set(err, FG_ERANGE, "/plan/n_assets",
                            "%u asset rows for a view of %u assets", na, out->n_assets);
    if ((size_t)na * n * sizeof(double) > r->len - r->off)
        return fg_error_set(err, FG_EPARSE, "/plan/w",
                            "%u x %u values claimed, %zu bytes left", na, n,
                            r->len - r->off);
    /* rows n apart in out->w (n <= cap_isp: they fit) */
    for (uint32_t a = 0; a < na && n; a++)
        fg_sched_get(r, out->w + (size_t)a * n, (size_t)n * sizeof(double));
    fg_sched_get_f64(r, &out->expected_cost);
    fg_sched_get_f64(r, &out->cost_energy);
    fg_sched_get_f64(r, &out->cost_wear);
    fg_sched_get_f64(r, &out->cost_demand);
    fg_sched_get_f64(r, &out->cost_penalty);
    fg_sched_get(r, out->services, sizeof(out->services));
    if (fg_sched_get_u32(r, &ns))
        return fg_error_set(err, r->err, "/plan", "truncated before the slack");
    if (!memchr(out->services, '\0', sizeof(out->services)))
        return fg_error_set(err, FG_EPARSE, "/plan/services", "not NUL-terminated");
    if (ns > out->slack_cap)
        return fg_error_set(err, FG_ERANGE, "/plan/n_slack",
                            "%u slack entries, room for %u", ns, out->slack_cap);
    for (uint32_t i = 0; i < ns; i++) {
        struct fg_sched_slack *s = &out->slack[i];
        fg_sched_get(r, s->name, sizeof(s->name));
        fg_sched_get(r, s->asset, sizeof(s->asset));
        fg_sched_get_i64(r, &s->at);
        fg_sched_get_f64(r, &s->amount);
        fg_sched_get(r, s->unit, sizeof(s->unit));
        if (r->err)
            return fg_error_set(err, r->err, "/plan/slack", "truncated at entry %u of %u",
                                i, ns);
        if (!memchr(s->name, '\0', sizeof(s->name)) ||
            !memchr(s->asset, '\0', sizeof(s->asset)) ||
            !memchr(s->unit, '\0', sizeof(s->unit)))
            return fg_error_set(err, FG_EPARSE, "/plan/slack",
                                "entry %u: a string not NUL-terminated", i);
    }
    if (r->off != r->len)
        return fg_error_set(err, FG_EPARSE, "/plan", "%zu bytes past the end",
                            r->len - r->off);
    out->n_isp = n;
    out->n_slack = ns;
    return 0;
}

/* ---- frames ------------------------------------------------------------------ */

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *q = p;
    while (n) {
        /* send, not write: a worker gone away must not SIGPIPE the gateway */
        ssize_t k = send(fd, q, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return FG_EIO;
        q += k;
        n -= (size_t)k;
    }
    return 0;
}

int fg_sched_frame_write(int fd, uint32_t type, const void *p, size_t len)
{
    if (len > FG_SCHED_FRAME_MAX)
        return FG_ETOOBIG;
    uint32_t h[2] = {type, (uint32_t)len};
    int rc = write_all(fd, h, sizeof(h));
    return rc ? rc : write_all(fd, p, len);
}

static int read_all(int fd, int cancel_fd, int64_t deadline_ms, void *p, size_t n,
                    struct fg_error *err)
{
    unsigned char *q = p;
    while (n) {
        if (deadline_ms >= 0 || cancel_fd >= 0) {
            int64_t left = deadline_ms >= 0 ? deadline_ms - fg_mono_ms() : 60000;
            if (left <= 0)
                return fg_error_set(err, FG_ETIMEOUT, NULL, "no answer in time");
            struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
                                    {.fd = cancel_fd, .events = POLLIN}};
            int k = poll(pfd, cancel_fd >= 0 ? 2 : 1, left > 60000 ? 60000 : (int)left);
            if (k < 0 && errno != EINTR)
                return fg_error_set(err, FG_EIO, NULL, "poll: %s", strerror(errno));
            if (cancel_fd >= 0 && k > 0 && (pfd[1].revents & POLLIN))
                return fg_error_set(err, FG_ESTATE, NULL, "cancelled");
            if (k <= 0)
                continue;
        }
        ssize_t k = read(fd, q, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return fg_error_set(err, FG_EIO, NULL, "read: %s", strerror(errno));
        if (k == 0)
            return fg_error_set(err, FG_EIO, NULL, "connection closed");
        q += k;
        n -= (size_t)k;
    }
    return 0;
}

int fg_sched_frame_read(int fd, int64_t deadline_ms, size_t max, uint32_t *type,
                        unsigned char **payload, size_t *len, struct fg_error *err)
{
    return fg_sched_frame_read_c(fd, -1, deadline_ms, max, type, payload, len, err);
}

int fg_sched_frame_read_c(int fd, int cancel_fd, int64_t deadline_ms, size_t max,
                          uint32_t *type, unsigned char **payload, size_t *len,
                          struct fg_error *err)
{
    uint32_t h[2];
    *payload = NULL;
    *len = 0;
    int rc = read_all(fd, cancel_fd, deadline_ms, h, sizeof(h), err);
    if (rc)
        return rc;
    if (h[1] > max)
        return fg_error_set(err, FG_ETOOBIG, NULL, "frame of %u bytes, at most %zu", h[1],
                            max);
    unsigned char *p = NULL;
    if (h[1]) {
        p = malloc(h[1]);
        if (!p)
            return fg_error_set(err, FG_ENOMEM, NULL, "out of memory");
        rc = read_all(fd, cancel_fd, deadline_ms, p, h[1], err);
        if (rc) {
            free(p);
            return rc;
        }
    }
    *type = h[0];
    *payload = p;
    *len = h[1];
    return 0;
}
