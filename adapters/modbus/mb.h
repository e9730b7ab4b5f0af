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
#include "fg_sunspec.h"

#define MB_MAX_READS 12 /* models read per poll */
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

/* Read one model: ID, L and L registers from addr. */
struct mb_read {
    uint16_t id;
    uint32_t addr;
    uint16_t n;     /* registers to read: 2 + L */
    uint16_t *regs; /* result, malloc'd by the worker; taken by the loop side */
};

/* Write one point and read it back. */
struct mb_write {
    const char *what; /* "124/InWRte", for messages */
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

#endif
