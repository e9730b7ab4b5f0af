/* The Modbus adapter's two halves and the job that travels between them.
 *
 * bus.c runs on a bus's worker thread: it owns the bus's modbus_t (libmodbus
 * blocks) and executes one job at a time: SunSpec discovery and chain walk,
 * reads of whole models, writes with read-back. modbus.c runs on the loop
 * thread: it owns the devices, decides what a job does, and turns its
 * results into the model. A job is filled by the loop thread, handed over
 * with fg_worker_submit(), run by the worker, and handed back through the
 * worker's done callback; at no time do both threads touch it. */
#ifndef FG_MB_H
#define FG_MB_H

#include <stdbool.h>
#include <stdint.h>

#include <modbus.h>

#include "config.h"
#include "fg_regmap.h"
#include "fg_sunspec.h"
#include "model.h"

#define MB_MAX_READS 32 /* models (or map blocks) read per poll */
#define MB_MAX_WRITES 8 /* points written per set-point */
#define MB_READ_MAX 512 /* registers of one model read (2 + L) at most */
#define MB_REQ_REGS 125 /* registers per read request (Modbus limit) */
#define MB_WRITE_REGS 4 /* registers of one point at most */

/* One bus: its config and, on the worker, its libmodbus context. */
struct mb_bus {
    struct fg_cfg_modbus_bus cfg; /* copied */
    struct fg_worker *worker;
    /* worker thread only, after start: */
    modbus_t *ctx;
    bool connected;
};

/* Read one model: ID, L and L registers from addr; or (id 0) one block of
 * a register map. */
struct mb_read {
    uint16_t id;
    uint8_t function; /* enum fg_regmap_function; 0 = holding registers */
    uint32_t addr;
    uint16_t n;     /* registers to read: 2 + L */
    uint16_t *regs; /* result, malloc'd by the worker; taken by the loop side */
};

/* Write one point and read it back (holding: FC 16; coil: FC 5). */
struct mb_write {
    const char *what; /* "124/InWRte", for messages */
    uint8_t function; /* enum fg_regmap_function: holding (0) or coil */
    uint32_t addr;
    uint16_t n;
    uint16_t regs[MB_WRITE_REGS];
    uint16_t got[MB_WRITE_REGS]; /* read back */
};

enum mb_fail {
    MB_OK,
    MB_FAIL_COMM,      /* no answer: connection, timeout, CRC (retried) */
    MB_FAIL_EXCEPTION, /* the device answered with a Modbus exception */
    MB_FAIL_MISMATCH,  /* a written value did not read back */
    MB_FAIL_SUNSPEC,   /* no SunSpec marker, or the chain is broken */
};

struct mb_job {
    /* in */
    struct mb_bus *bus;
    int unit_id;
    int retries;
    bool discover; /* find the marker and walk the chain first */
    int base;      /* marker address, -1 = try FG_SUNSPEC_BASES */
    size_t n_reads;
    struct mb_read reads[MB_MAX_READS];
    size_t n_writes;
    struct mb_write writes[MB_MAX_WRITES];
    /* out */
    struct fg_sunspec_chain chain; /* discover: the models found */
    int chain_rc;                  /* 0, or why the walk stopped early */
    enum mb_fail fail;
    int mb_errno;    /* libmodbus errno of the failure (exceptions > ENOBASE) */
    size_t write_at; /* writes: the first one that failed (n_writes if none) */
    char err[200];   /* what failed, for the log and sp.detail */
    /* loop side */
    void *owner;
    unsigned gen;
};

/* Open the bus's libmodbus context (not connected yet). Loop thread, before
 * the first job. FG_EIO with the reason in err. */
int mb_bus_open(struct mb_bus *b, char *err, size_t errlen);
/* Close and free the context. After the worker is joined. */
void mb_bus_close(struct mb_bus *b);

/* Run a job on the bus's worker thread (fg_worker work function). */
void mb_job_run(void *job);
/* Free what the worker allocated in a job (read buffers) and the job. */
void mb_job_free(struct mb_job *j);

/* ---- register-map devices (regmap_dev.c), loop thread only ----------------
 * A device with profile "map": its map file, which points are polled in
 * which blocks, their last values, and the writes of a set-point. */
struct mb_map;

/* Load file (checked by the config already) for a device whose configured
 * limits are max_charge_w / max_discharge_w (battery; never exceeded). The
 * blocks to poll: the points mapped into the model, adjacent registers of
 * one function merged, at most MB_REQ_REGS per block. FG_E... with err. */
int mb_map_new(const char *file, double max_charge_w, double max_discharge_w,
               struct mb_map **out, char *err, size_t errlen);
void mb_map_free(struct mb_map *m);
/* "generic_battery.json (flexgw Generic battery)", for the log. */
const char *mb_map_name(const struct mb_map *m);

/* Add the poll blocks to a job (reads with id 0). */
void mb_map_reads(const struct mb_map *m, struct mb_job *j);
/* Decode what a job read; -1 with err if a block did not come back. */
int mb_map_take(struct mb_map *m, const struct mb_job *j, char *err, size_t errlen);
/* Put the last values into the asset (a; battery or pv map) or the site's
 * meter (s; meter map). Points without a valid value (na, implausible)
 * become unknown and are named in miss ("soc_pct (na), ..."). */
void mb_map_apply(const struct mb_map *m, struct fg_asset *a, struct fg_site *s,
                  char *miss, size_t misslen);

/* The writes that put the asset's set-point (a->sp; released when not
 * active) on the device, setpoint_revert_s = revert_s first where the map
 * has it. Returns the number of writes in w[0..MB_MAX_WRITES), or
 * FG_EUNSUPPORTED (no writable set-point point for the asset; a value the
 * map's min/max or type refuses) with the reason in e. Nothing is sent. */
int mb_map_writes(const struct mb_map *m, const struct fg_asset *a, int revert_s,
                  struct mb_write *w, struct fg_error *e);

#endif
