/* flexgw --demo: the demo site's config and its device simulators.
 *
 * The demo runs on a copy of conf/demo.json in its data directory. Its EVSEs
 * are OCPP assets served by the gateway's own CSMS; the chargers behind them
 * are tests/sim's ocpp_sim, started here as child processes (one per
 * station) that connect over loopback, with --auto EVs arriving and leaving
 * and their clock following the gateway's simulated one (--speed). Its
 * battery is a Modbus asset: tests/sim's battery_sim (SunSpec 1 + 802 + 124)
 * on a loopback port chosen free when the copy is written, one process per
 * Modbus battery on a TCP bus to 127.0.0.1, its clock at --speed too.
 *
 * A simulator's stdin is a pipe whose write end only the gateway holds
 * (close-on-exec), and it runs with --quit-on-eof: however the gateway ends,
 * even SIGKILL, the simulators see end of input and exit. fg_demo_stop()
 * asks them to stop (SIGTERM), waits, then SIGKILLs and reaps them.
 *
 * Where a simulator is looked for, in order: $FLEXGW_OCPP_SIM /
 * $FLEXGW_BATTERY_SIM; the build tree (<dir of flexgw>/../tests/sim/NAME);
 * FG_INSTALL_LIBEXEC_DIR/NAME. Not found: the demo runs, those assets stay
 * offline, and the log says so and how to build it. Loop thread only. */
#ifndef FG_DEMO_H
#define FG_DEMO_H

#include <stddef.h>

#include "config.h"
#include "loop.h"

/* Copy demo.json (source tree, else installed) into the data directory
 * (data_dir_opt, else the file's storage.path) and name both. ocpp_listen
 * (HOST:PORT or NULL) replaces ocpp.listen in the copy; the TCP bus of each
 * Modbus battery gets a free port on 127.0.0.1. Messages go to
 * stderr; returns a process exit code (0, 1 runtime, 2 usage/config). */
int fg_demo_prepare(const char *data_dir_opt, const char *ocpp_listen, char *config_out,
                    size_t n, char *data_out, size_t dn);

struct fg_demo;

/* Start the charger simulators for cfg's OCPP EVSE assets and a battery
 * simulator for each Modbus battery on a loopback TCP bus (nothing to do
 * when there are none), watched from a timer on loop; waits (up to 3 s) for
 * each battery simulator to listen. speed: the demo clock's. *out is set even when the
 * simulator is missing (then only a warning is logged); FG_ENOMEM otherwise. */
int fg_demo_start(struct fg_demo **out, const struct fg_config *cfg, struct fg_loop *loop,
                  double speed);
/* Stop and reap the simulators, free d (NULL is fine). Before the loop is
 * freed. */
void fg_demo_stop(struct fg_demo *d);

#endif
