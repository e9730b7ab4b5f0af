/* The built-in real-time controller: a scheduler table named "realtime"
 * that implements only realtime() (plan is NULL). Pure: no I/O, no clock
 * reads (time is view->now), no globals but the const table; its state
 * (hysteresis, dwell timers, islanding) lives in the instance.
 *
 * Options (create()'s JSON, every key optional, unknown keys are errors):
 *   hysteresis_w     100     an EV set-point change smaller than this is not made
 *   min_dwell_s      300     minimum time between an EV's pause and resume
 *   v_nominal        230     V, the base of the per-unit curves
 *   volt_var         {"v_pu": [0.92, 0.98, 1.02, 1.08],
 *                     "q_pct": [-44, 0, 0, 44]}   % of rated, + = absorbing
 *   volt_watt        {"v_start_pu": 1.06, "v_end_pu": 1.10}
 *   price_margin     0       currency/kWh a later import price must exceed
 *                            the export price now by to store PV surplus
 *   island_margin_pct 10     % of the grid-forming battery's charge limit
 *                            kept free when curtailing PV in an island
 *   island_reserve_pct 20    % SoC above soc_min a grid-forming battery keeps
 *                            for an island (only the hard import limit
 *                            may use it)
 *   grid_charge_pct  50      % of the import limit the site may reach while
 *                            batteries charge without a plan or a target
 *   plan_catchup_s   900     s over which an EV that fell behind its plan
 *                            makes the energy up (when there is room)
 * With a plan in the view (plan_created != 0) it follows the plan and
 * corrects deviations per ISP. See docs/realtime.md. */
#ifndef FG_SCHED_REALTIME_H
#define FG_SCHED_REALTIME_H

#include "fg_scheduler.h"

/* The controller's constant table (never NULL). */
const struct fg_sched_plugin *fg_sched_realtime_plugin(void);

#endif
