/* The REST API: routes, authentication, JSON in and out.
 *
 * Routes (DESIGN.md, plus the set-point and signal-cancel extensions):
 *   GET  /api/v1/health                  no authentication
 *   GET  /api/v1/site | /assets | /assets/{id} | /signals | /plan | /events
 *   PUT|DELETE /api/v1/assets/{id}/setpoint
 *   GET  /api/v1/assets/{id}/health      battery ageing (health.h)
 *   POST /api/v1/assets/{id}/health/checkpoints   {"soh_pct": N}
 *   POST /api/v1/signals · DELETE /api/v1/signals/{id}
 *   GET|PUT /api/v1/config               always authenticated
 *   GET  /metrics                        Prometheus text
 * Every write needs credentials: "Authorization: Bearer <web.token>" or
 * HTTP Basic "admin:<web.admin_password>", compared in constant time. No
 * credentials or wrong ones: 401; writes while neither secret is configured:
 * 403. Reads need credentials only with web.auth_reads. Errors are JSON:
 * {"error": "...", "path": "..."}. */
#ifndef FG_API_H
#define FG_API_H

#include "http.h"

/* The HTTP handler; ctx is the struct fg_gw. */
void fg_api_handle(void *ctx, const struct fg_http_req *req, struct fg_http_resp *resp);

#endif
