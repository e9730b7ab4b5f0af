/* The scheduler worker protocol: how flexgw and its scheduler worker
 * process (flexgw --scheduler-worker) talk over a socketpair.
 *
 * A frame is a u32 type, a u32 payload length and the payload. Numbers are in
 * host byte order and doubles are IEEE 754 as in memory: both ends are the
 * same executable (the worker is /proc/self/exe), so they share one ABI.
 * Every length is checked against what is left of the frame and against a
 * hard maximum; the host treats whatever the worker sends as untrusted.
 *
 *   host -> worker                       worker -> host
 *   INIT    i32 log level, str options   READY   str plugin name | FAIL str why
 *   REALTIME view, u32 cap               WEAR_Q  id[48], dod, crate, temp_c
 *   WEAR_A  f64 cost per kWh             LOG     i32 level, str text
 *                                        RESULT  i32 rc, u32 n, n x setpoint,
 *                                                note[256]
 *
 * A view is: i64 now, i32 isp_s, i32 horizon_s, f64 site_power_w,
 * f64 site_voltage_v[3], f64 import_max_w, export_max_w, kw_max_w, dispatch_w,
 * reactive_var, u32 island, i64 plan_created, f64 plan_site_w, seven series
 * (i64 start, i32 step_s, u32 n, n x f64), u32 n_assets, n_assets x struct fg_sched_asset
 * (raw bytes, its size in this build). A set-point is id[48] (NUL-terminated), f64 w, f64
 * var, u32 flags.
 *
 * Pure: no I/O here except fg_sched_frame_read/write, which take an fd. */
#ifndef FG_SCHED_WIRE_H
#define FG_SCHED_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "fg_err.h"
#include "fg_scheduler.h"

#define FG_SCHED_FRAME_MAX (64u << 20) /* largest frame either way */
#define FG_SCHED_SERIES_MAX 20000      /* values in one series */
#define FG_SCHED_ASSETS_MAX 20000      /* = FG_MODEL_MAX_ASSETS */
#define FG_SCHED_SP_MAX 20000          /* set-points in one answer */
#define FG_SCHED_STR_MAX (1u << 20)    /* options, names, log lines */

enum fg_sched_msg {
    FG_SCHED_MSG_INIT = 1,
    FG_SCHED_MSG_READY = 2,
    FG_SCHED_MSG_FAIL = 3,
    FG_SCHED_MSG_REALTIME = 4,
    FG_SCHED_MSG_RESULT = 5,
    FG_SCHED_MSG_WEAR_Q = 6,
    FG_SCHED_MSG_WEAR_A = 7,
    FG_SCHED_MSG_LOG = 8,
    FG_SCHED_MSG_PLAN = 9,         /* view, u32 cap_isp, u32 slack_cap */
    FG_SCHED_MSG_PLAN_RESULT = 10, /* see fg_sched_plan_result_encode */
};

#define FG_SCHED_SLACK_MAX 4096 /* slack entries in one plan */

/* A growable output buffer; err sticks at the first failure (FG_ENOMEM,
 * FG_ETOOBIG past FG_SCHED_FRAME_MAX). */
struct fg_sched_wbuf {
    unsigned char *p;
    size_t len, cap;
    int err;
};
void fg_sched_wbuf_init(struct fg_sched_wbuf *w);
void fg_sched_wbuf_clear(struct fg_sched_wbuf *w);
void fg_sched_put(struct fg_sched_wbuf *w, const void *p, size_t n);
void fg_sched_put_u32(struct fg_sched_wbuf *w, uint32_t v);
void fg_sched_put_i32(struct fg_sched_wbuf *w, int32_t v);
void fg_sched_put_i64(struct fg_sched_wbuf *w, int64_t v);
void fg_sched_put_f64(struct fg_sched_wbuf *w, double v);
void fg_sched_put_str(struct fg_sched_wbuf *w, const char *s);

/* A reader over one payload; every get fails (returns FG_EPARSE and keeps
 * failing) when fewer bytes are left than asked for. */
struct fg_sched_rbuf {
    const unsigned char *p;
    size_t len, off;
    int err;
};
void fg_sched_rbuf_init(struct fg_sched_rbuf *r, const void *p, size_t len);
int fg_sched_get(struct fg_sched_rbuf *r, void *out, size_t n);
int fg_sched_get_u32(struct fg_sched_rbuf *r, uint32_t *v);
int fg_sched_get_i32(struct fg_sched_rbuf *r, int32_t *v);
int fg_sched_get_i64(struct fg_sched_rbuf *r, int64_t *v);
int fg_sched_get_f64(struct fg_sched_rbuf *r, double *v);
/* A string of at most max bytes: *out is malloc'ed and NUL-terminated. */
int fg_sched_get_str(struct fg_sched_rbuf *r, size_t max, char **out);

/* Encode a view (assets at view->asset_stride, each at most its size read). */
void fg_sched_view_encode(struct fg_sched_wbuf *w, const struct fg_sched_view *v);

/* A decoded view: v points into the owned arrays. */
struct fg_sched_wire_view {
    struct fg_sched_view v;
    double *values; /* the series' values, one block */
    struct fg_sched_asset *assets;
};
/* Decode a view; errors (FG_EPARSE truncated, FG_ERANGE counts past the
 * maximum, FG_ENOMEM) name the field in err. The caller clears wv with
 * fg_sched_wire_view_clear whatever the result. */
int fg_sched_view_decode(struct fg_sched_rbuf *r, struct fg_sched_wire_view *wv,
                         struct fg_error *err);
void fg_sched_wire_view_clear(struct fg_sched_wire_view *wv);

/* Encode a realtime() answer. */
void fg_sched_result_encode(struct fg_sched_wbuf *w, int32_t rc,
                            const struct fg_sched_setpoints *sp);
/* Decode one into out (out->sp holds out->cap entries): FG_ERANGE when the
 * worker claims more than out->cap set-points, FG_EPARSE when truncated, too
 * long or an id is not NUL-terminated. */
int fg_sched_result_decode(struct fg_sched_rbuf *r, int32_t *rc,
                           struct fg_sched_setpoints *out, struct fg_error *err);

/* Encode a plan() answer: i32 rc, i64 start, i32 isp_s, u32 n_isp,
 * u32 n_assets, n_assets x n_isp f64 (row per asset), f64 expected_cost,
 * cost_energy, cost_wear, cost_demand, cost_penalty, services[128],
 * u32 n_slack, n_slack x (name[64], asset[48], i64 at, f64 amount, unit[8]).
 * n_isp and n_slack are cut to the caps the host gave. */
void fg_sched_plan_result_encode(struct fg_sched_wbuf *w, int32_t rc,
                                 const struct fg_sched_plan *p);
/* Decode one into out, whose w (out->n_assets x out->cap_isp) and slack
 * (out->slack_cap) the caller provides: FG_ERANGE when the worker claims more
 * ISPs or slack than there is room for, or another number of assets;
 * FG_EPARSE when truncated, too long or a string is not NUL-terminated. The
 * values are not judged here (NaN is the guard's business). */
int fg_sched_plan_result_decode(struct fg_sched_rbuf *r, int32_t *rc,
                                struct fg_sched_plan *out, struct fg_error *err);
/* The largest plan answer for these caps, for the frame limit. */
size_t fg_sched_plan_result_max(uint32_t n_assets, uint32_t cap_isp, uint32_t slack_cap);

/* Write one frame (blocking, retried on EINTR): 0 or FG_EIO. */
int fg_sched_frame_write(int fd, uint32_t type, const void *p, size_t len);
/* Read one frame, waiting at most until deadline_ms (fg_mono_ms clock; < 0:
 * no deadline). *payload is malloc'ed (NULL when empty). FG_ETIMEOUT,
 * FG_EIO (EOF: the message says "closed"), FG_ETOOBIG past max. */
int fg_sched_frame_read(int fd, int64_t deadline_ms, size_t max, uint32_t *type,
                        unsigned char **payload, size_t *len, struct fg_error *err);
/* The same, giving up with FG_ESTATE ("cancelled") as soon as cancel_fd
 * becomes readable (-1: none). */
int fg_sched_frame_read_c(int fd, int cancel_fd, int64_t deadline_ms, size_t max,
                          uint32_t *type, unsigned char **payload, size_t *len,
                          struct fg_error *err);

#endif
