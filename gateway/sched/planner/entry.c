/* flexgw-planner.so: the planner (plugin.c) as a plugin of its own, for a
 * host that loads it by path (scheduler.planner = the .so's path). */
#include "fg_scheduler.h"
#include "planner.h"

__attribute__((visibility("default"))) const struct fg_sched_plugin *
flexgw_scheduler_v1(void);

__attribute__((visibility("default"))) const struct fg_sched_plugin *
flexgw_scheduler_v1(void)
{
    return fg_sched_planner_plugin();
}
