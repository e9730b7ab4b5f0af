/* The optimising planner as a scheduler (fg_scheduler.h): the table that
 * flexgw runs as its built-in "planner" and that flexgw-planner.so exports
 * as flexgw_scheduler_v1 (entry.c). */
#ifndef FG_PLANNER_H
#define FG_PLANNER_H

#include "fg_scheduler.h"

const struct fg_sched_plugin *fg_sched_planner_plugin(void);

#endif
