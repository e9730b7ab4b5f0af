/* flexgw: command line. Exit codes: 0 ok, 1 runtime failure, 2 usage or
 * configuration error. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "demo.h"
#include "fg_ageing.h"
#include "gateway.h"
#include "log.h"
#include "plan.h"
#include "ocpp/security.h"
#include "sched_host.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: flexgw [options]\n"
        "  --config FILE          run the gateway (default " FG_DEFAULT_CONFIG ")\n"
        "  --check-config FILE    validate FILE, print every error with its JSON path;\n"
        "                         exit 0 if valid, 2 if not\n"
        "  --battery-life FILE    evaluate the battery ageing model offline for the "
        "cases\n"
        "                         in FILE (docs/battery-model.md), print the results as\n"
        "                         JSON; exit 0, or 2 if FILE is not valid\n"
        "  --plan FILE            run the planner offline on the scenario FILE\n"
        "                         (docs/scenario.md), print the plan and its cost as\n"
        "                         JSON; exit 0, or 2 if FILE is not valid or no plan\n"
        "  --csv                  --plan: print one CSV row per ISP instead\n"
        "  --export-lp OUT        --plan: also write the model in CPLEX LP format\n"
        "  --demo                 run the demo site (conf/demo.json, simulated assets)\n"
        "  --speed N              demo: run the simulated clock N times real time\n"
        "  --ocpp-listen HOST:PORT  demo: serve OCPP there (default from demo.json)\n"
        "  --data-dir DIR         override storage.path\n"
        "  --listen HOST:PORT     override web.listen\n"
        "  --log-level LEVEL      error | warn | info | debug (overrides log.level)\n"
        "  --config-schema        print the configuration's JSON Schema\n"
        "  --config-reference     print the configuration reference (Markdown)\n"
        "  --hash-password        read a password from stdin (one line), print its\n"
        "                         argon2id hash for ocpp.stations[].password_hash\n"
        "  --version              print the version\n"
        "  --help                 this text\n");
}

static int check_config(const char *file)
{
    struct fg_config c;
    struct fg_errlist errs;
    fg_config_defaults(&c);
    fg_errlist_init(&errs);
    int rc = fg_config_load(file, &c, &errs);
    for (size_t i = 0; i < errs.n; i++)
        printf("%s: %s%s%s\n", file, errs.v[i].path, errs.v[i].path[0] ? ": " : "",
               errs.v[i].msg);
    if (errs.dropped)
        printf("%s: ... and %zu more errors\n", file, errs.dropped);
    if (!rc)
        printf("%s: valid (%zu assets, %zu signals)\n", file, c.site.n_assets,
               c.site.n_signals);
    else
        printf("%s: %zu errors\n", file, fg_errlist_count(&errs));
    fg_errlist_clear(&errs);
    fg_config_clear(&c);
    return rc ? 2 : 0;
}

#define CASES_FILE_MAX (16u << 20)

/* Read a whole file (at most max bytes) into a NUL-terminated buffer; NULL
 * with the reason in why. */
static char *read_file(const char *file, size_t max, size_t *len, const char **why)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        *why = strerror(errno);
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    *why = !buf        ? "out of memory"
           : ferror(f) ? "read error"
           : n > max   ? "larger than 16 MiB"
                       : NULL;
    fclose(f);
    if (*why) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* --battery-life: the what-if tool of the ageing library on one file. */
static int battery_life(const char *file)
{
    size_t len = 0;
    const char *why = NULL;
    char *text = read_file(file, CASES_FILE_MAX, &len, &why);
    if (!text) {
        fprintf(stderr, "flexgw: %s: %s\n", file, why);
        return 2;
    }
    const char *end = NULL;
    cJSON *cases = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!cases) {
        size_t off = end && end >= text ? (size_t)(end - text) : len, line = 1, col = 1;
        for (size_t i = 0; i < off && i < len; i++, col++)
            if (text[i] == '\n') {
                line++;
                col = 0;
            }
        fprintf(stderr, "flexgw: %s: malformed JSON at line %zu column %zu\n", file, line,
                col);
        free(text);
        return 2;
    }
    free(text);
    char err[FG_ERR_MSG_MAX] = "";
    cJSON *res = fg_age_whatif(cases, err, sizeof(err));
    cJSON_Delete(cases);
    if (!res) {
        fprintf(stderr, "flexgw: %s: %s\n", file, err[0] ? err : "invalid cases");
        return 2;
    }
    char *out = cJSON_Print(res);
    cJSON_Delete(res);
    if (!out) {
        fprintf(stderr, "flexgw: out of memory\n");
        return 1;
    }
    printf("%s\n", out);
    free(out);
    return 0;
}

/* --plan: the optimising planner on one scenario file. */
static int plan_offline(const char *file, bool csv, const char *lp_file)
{
    struct fg_plan_problem p;
    struct fg_plan_result r = {0};
    struct fg_errlist errs;
    struct fg_error err = {0};
    fg_plan_problem_init(&p);
    fg_errlist_init(&errs);
    int rc = fg_plan_scenario_load(file, &p, &errs), exit_code = 2;
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "flexgw: %s: %s%s%s\n", file, errs.v[i].path,
                errs.v[i].path[0] ? ": " : "", errs.v[i].msg);
    if (errs.dropped)
        fprintf(stderr, "flexgw: %s: ... and %zu more errors\n", file, errs.dropped);
    if (rc)
        goto out;
    if (lp_file) {
        FILE *f = fopen(lp_file, "w");
        rc = f ? fg_plan_write_lp(&p, f, &err)
               : fg_error_set(&err, FG_EIO, NULL, "%s", strerror(errno));
        if (f && fclose(f) && !rc)
            rc = fg_error_set(&err, FG_EIO, NULL, "write error");
        if (rc) {
            fprintf(stderr, "flexgw: %s: %s\n", lp_file, err.msg);
            goto out;
        }
    }
    rc = fg_plan_solve(&p, &r, &err);
    if (rc) {
        fprintf(stderr, "flexgw: %s: no plan: %s\n", file, err.msg);
        goto out;
    }
    rc = csv ? fg_plan_print_csv(&p, &r, stdout) : fg_plan_print_json(&p, &r, stdout);
    exit_code = rc ? 1 : 0;
out:
    fg_plan_result_clear(&r);
    fg_errlist_clear(&errs);
    fg_plan_problem_clear(&p);
    return exit_code;
}

/* One line from stdin (no echo on a terminal), its hash on stdout. */
static int hash_password(void)
{
    char pw[1026];
    struct termios t, quiet;
    bool tty = isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &t);
    if (tty) {
        fprintf(stderr, "password: ");
        quiet = t;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool got = fgets(pw, sizeof(pw), stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
        fputc('\n', stderr);
    }
    size_t n = got ? strlen(pw) : 0;
    bool whole = n && (pw[n - 1] == '\n' || feof(stdin));
    while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
        n--;
    char hash[FG_OCPP_PWHASH_MAX];
    int rc = 2;
    if (!n || !whole)
        fprintf(stderr, "flexgw: --hash-password: %s\n",
                !n ? "no password on stdin" : "longer than 1024 bytes");
    else if (fg_ocpp_sec_hash_password(pw, n, hash))
        fprintf(stderr, "flexgw: --hash-password: cannot hash (out of memory?)\n");
    else
        rc = 0;
    if (!rc && (n < 16 || n > 40))
        fprintf(stderr,
                "flexgw: warning: OCPP 2.0.1 stations take Basic auth passwords of 16 to "
                "40 characters; this one has %zu\n",
                n);
    if (!rc)
        printf("%s\n", hash);
    explicit_bzero(pw, sizeof(pw));
    return rc;
}

static int print_generated(char *(*gen)(void))
{
    char *s = gen();
    if (!s) {
        fprintf(stderr, "flexgw: out of memory\n");
        return 1;
    }
    size_t n = strlen(s);
    fputs(s, stdout);
    if (n == 0 || s[n - 1] != '\n')
        fputc('\n', stdout); /* text files end with a newline */
    free(s);
    return 0;
}

static int parse_speed(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0.1 || v > 100000)
        return -1;
    *out = v;
    return 0;
}

/* Every connected station is a socket: take the hard limit of open files (up
 * to NOFILE_WANT, what packaging/flexgw.service grants) instead of the usual
 * soft 1024, before libwebsockets sizes its tables from it. */
#define NOFILE_WANT 65536

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= NOFILE_WANT)
        return;
    rl.rlim_cur = rl.rlim_max < NOFILE_WANT ? rl.rlim_max : NOFILE_WANT;
    if (setrlimit(RLIMIT_NOFILE, &rl))
        fprintf(stderr, "flexgw: cannot raise the open-file limit: %s\n",
                strerror(errno));
}

enum {
    OPT_CHECK = 256,
    OPT_SPEED,
    OPT_DATA,
    OPT_LISTEN,
    OPT_OCPP_LISTEN,
    OPT_LOG,
    OPT_SCHEMA,
    OPT_REF,
    OPT_HASH,
    OPT_LIFE,
    OPT_PLAN,
    OPT_CSV,
    OPT_EXPORT_LP
};

/* flexgw --scheduler-worker FD PLUGIN: the scheduler's worker process
 * (sched_host.h), started by the gateway itself. Handled before anything
 * else: the worker needs none of the gateway's start-up. Not in --help: it
 * is not for people. */
static int scheduler_worker(int argc, char **argv)
{
    char *end;
    long fd;
    if (argc != 4) {
        fprintf(stderr, "flexgw: --scheduler-worker needs FD and PLUGIN\n");
        return 2;
    }
    errno = 0;
    fd = strtol(argv[2], &end, 10);
    if (errno || *end || end == argv[2] || fd < 3 || fd > 1024) {
        fprintf(stderr, "flexgw: --scheduler-worker: \"%s\" is not a descriptor\n",
                argv[2]);
        return 2;
    }
    return fg_sched_worker_main((int)fd, argv[3]);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--scheduler-worker"))
        return scheduler_worker(argc, argv);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", required_argument, NULL, OPT_CHECK},
        {"demo", no_argument, NULL, 'd'},
        {"speed", required_argument, NULL, OPT_SPEED},
        {"data-dir", required_argument, NULL, OPT_DATA},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"ocpp-listen", required_argument, NULL, OPT_OCPP_LISTEN},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"config-schema", no_argument, NULL, OPT_SCHEMA},
        {"config-reference", no_argument, NULL, OPT_REF},
        {"hash-password", no_argument, NULL, OPT_HASH},
        {"battery-life", required_argument, NULL, OPT_LIFE},
        {"plan", required_argument, NULL, OPT_PLAN},
        {"csv", no_argument, NULL, OPT_CSV},
        {"export-lp", required_argument, NULL, OPT_EXPORT_LP},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fg_gw_opts o = {
        .config_path = FG_DEFAULT_CONFIG, .speed = 1.0, .log_level = -1};
    const char *ocpp_listen = NULL, *plan_file = NULL, *lp_file = NULL;
    bool csv = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:dVh", opts, NULL)) != -1) {
        enum fg_log_level lvl;
        switch (opt) {
        case 'c':
            o.config_path = optarg;
            break;
        case OPT_CHECK:
            return check_config(optarg);
        case 'd':
            o.demo = true;
            break;
        case OPT_SPEED:
            if (parse_speed(optarg, &o.speed)) {
                fprintf(stderr,
                        "flexgw: --speed: \"%s\" is not a number in [0.1, 100000]\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_DATA:
            o.data_dir = optarg;
            break;
        case OPT_LISTEN:
            o.listen = optarg;
            break;
        case OPT_OCPP_LISTEN: {
            struct fg_hostport hp;
            if (fg_hostport_parse(optarg, &hp)) {
                fprintf(stderr,
                        "flexgw: --ocpp-listen: \"%s\" is not a valid host:port\n",
                        optarg);
                return 2;
            }
            ocpp_listen = optarg;
            break;
        }
        case OPT_LOG:
            if (fg_log_level_parse(optarg, &lvl)) {
                fprintf(stderr,
                        "flexgw: --log-level: \"%s\" is not error|warn|info|debug\n",
                        optarg);
                return 2;
            }
            o.log_level = (int)lvl;
            break;
        case OPT_SCHEMA:
            return print_generated(fg_config_schema);
        case OPT_REF:
            return print_generated(fg_config_reference);
        case OPT_HASH:
            return hash_password();
        case OPT_LIFE:
            return battery_life(optarg);
        case OPT_PLAN:
            plan_file = optarg;
            break;
        case OPT_CSV:
            csv = true;
            break;
        case OPT_EXPORT_LP:
            lp_file = optarg;
            break;
        case 'V':
            printf("flexgw %s\n", FG_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "flexgw: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if ((csv || lp_file) && !plan_file) {
        fprintf(stderr, "flexgw: --csv and --export-lp only apply to --plan\n");
        return 2;
    }
    if (plan_file)
        return plan_offline(plan_file, csv, lp_file);
    if (o.speed != 1.0 && !o.demo) {
        fprintf(stderr, "flexgw: --speed only applies to --demo\n");
        return 2;
    }
    if (ocpp_listen && !o.demo) {
        fprintf(stderr, "flexgw: --ocpp-listen only applies to --demo\n");
        return 2;
    }

    char demo_config[PATH_MAX], demo_data[PATH_MAX];
    if (o.demo) {
        int rc = fg_demo_prepare(o.data_dir, ocpp_listen, demo_config,
                                 sizeof(demo_config), demo_data, sizeof(demo_data));
        if (rc)
            return rc;
        o.config_path = demo_config;
        o.data_dir = demo_data;
        o.status_lines = true;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    struct fg_gw gw;
    struct fg_error err = {0};
    int rc = fg_gw_init(&gw, &o, &err);
    if (rc) {
        fprintf(stderr, "flexgw: %s%s%s\n", err.path, err.path[0] ? ": " : "", err.msg);
        fg_gw_clear(&gw);
        return rc == FG_ECONFIG || rc == FG_EUNSUPPORTED || rc == FG_EINVAL ? 2 : 1;
    }
    /* the demo's chargers: started once the CSMS listens, stopped before the
     * loop goes */
    struct fg_demo *demo = NULL;
    if (o.demo && fg_demo_start(&demo, &gw.cfg, gw.loop, o.speed))
        fprintf(stderr, "flexgw: out of memory starting the charger simulator\n");
    rc = fg_gw_run(&gw);
    fg_demo_stop(demo);
    fg_gw_clear(&gw);
    return rc;
}
