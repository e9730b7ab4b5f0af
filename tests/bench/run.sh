#!/bin/bash
# flexgw benchmark: idle memory, start-up time and REST throughput of
# `flexgw --demo`. Prints a Markdown report (summary table, raw numbers,
# machine, commands) to stdout; progress goes to stderr.
#
#   tests/bench/run.sh BUILD_DIR        (make bench calls it with build/)
#
# Environment (all optional): BENCH_RSS_RUNS (3), BENCH_IDLE_S (10),
# BENCH_START_RUNS (10), BENCH_WRK_S (10), BENCH_WARM_S (3), BENCH_CONNS (50),
# BENCH_THREADS (2); BENCH_KEEP=1 keeps the data dirs and logs.
#
# Each gateway run gets its own fresh data dir and a free loopback port, is
# stopped with SIGTERM and must exit 0; the script exits 1 if any did not.
# This is not a pass/fail timing test: the figures are printed, not judged.
set -eu

RSS_RUNS=${BENCH_RSS_RUNS:-3}
IDLE_S=${BENCH_IDLE_S:-10}
START_RUNS=${BENCH_START_RUNS:-10}
WRK_S=${BENCH_WRK_S:-10}
WARM_S=${BENCH_WARM_S:-3}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-2}

die() {
    echo "bench: $*" >&2
    exit 1
}
say() { echo "bench: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 BUILD_DIR"
BIN=$(cd "$1" 2>/dev/null && pwd)/gateway/flexgw ||
    die "build dir $1 not found (run make build)"
[ -x "$BIN" ] || die "$BIN not found or not executable (run make build)"
command -v wrk >/dev/null 2>&1 || die "wrk not found: run packaging/install-deps.sh (as root)"
command -v curl >/dev/null 2>&1 || die "curl not found: run packaging/install-deps.sh (as root)"
# Debian's python3 (standard library only), not whatever is first in PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY not found: run packaging/install-deps.sh (as root)"
SRC=$(cd "$(dirname "$0")/../.." && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flexgw-bench.XXXXXX")
GW_PID=""
FAILED_EXITS=""
N_GW=0

cleanup() {
    if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
        kill -TERM "$GW_PID" 2>/dev/null || true
        sleep 1
        kill -KILL "$GW_PID" 2>/dev/null || true
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# is_running PID: true while the process exists and is not a zombie.
is_running() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# start_gw NAME: start the demo in $WORK/NAME on a free port; sets GW_PID,
# GW_PORT, GW_DIR and waits (up to 30 s) for /api/v1/health to answer 200.
start_gw() {
    GW_DIR="$WORK/$1"
    GW_PORT=$(free_port)
    "$BIN" --demo --data-dir "$GW_DIR" --listen "127.0.0.1:$GW_PORT" \
        </dev/null >"$WORK/$1.log" 2>&1 &
    GW_PID=$!
    N_GW=$((N_GW + 1))
    local i=0
    until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$GW_PORT/api/v1/health" 2>/dev/null; do
        if ! is_running "$GW_PID"; then
            tail -20 "$WORK/$1.log" >&2
            die "$1: gateway exited before answering /api/v1/health"
        fi
        i=$((i + 1))
        [ $i -lt 600 ] || die "$1: no answer from /api/v1/health within 30 s"
        sleep 0.05
    done
}

# stop_gw NAME: SIGTERM, wait up to 15 s, record a non-zero exit.
stop_gw() {
    local rc=0 i=0
    kill -TERM "$GW_PID"
    while is_running "$GW_PID" && [ $i -lt 150 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if is_running "$GW_PID"; then
        say "$1: still running 15 s after SIGTERM; killing"
        kill -KILL "$GW_PID" 2>/dev/null || true
    fi
    wait "$GW_PID" || rc=$?
    GW_PID=""
    if [ "$rc" -ne 0 ]; then
        say "$1: gateway exited with status $rc after SIGTERM; log tail:"
        tail -20 "$WORK/$1.log" >&2
        FAILED_EXITS="$FAILED_EXITS $1:$rc"
    fi
}

# status_kb PID FIELD: a kB field of /proc/PID/status.
status_kb() {
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# median / max of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1}
        END {if (NR % 2) printf "%.1f", v[(NR + 1) / 2];
             else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
max() { printf '%s\n' "$@" | sort -g | tail -1; }

# wrk_ms VALUE: wrk's "1.23ms" / "456.00us" / "1.02s" → milliseconds.
wrk_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000;
        else if (u == "m") n *= 60000;
        printf "%.2f", n}'
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
T0=$(date +%s)

# cpu_ticks: "BUSY TOTAL" jiffies of all CPUs so far (/proc/stat).
cpu_ticks() {
    awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i;
                      print t - $5 - $6, t; exit}' /proc/stat
}
# pid_ticks PID: user + system jiffies of PID (its comm has no spaces).
pid_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
IDLE_BUSY=0 IDLE_TOTAL=0 IDLE_GW=0
# ours_ticks: jiffies used by this script and every child it has waited for
# (gateways, wrk, curl, python3): utime + stime + cutime + cstime of $$.
ours_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$$/stat"; }
read -r B0 TT0 <<<"$(cpu_ticks)"
O0=$(ours_ticks)

# --- a. idle RSS ---------------------------------------------------------
RSS_LIST=""
HWM_LIST=""
for r in $(seq 1 "$RSS_RUNS"); do
    say "idle RSS run $r/$RSS_RUNS (${IDLE_S} s idle)"
    start_gw "rss$r"
    read -r c0b c0t <<<"$(cpu_ticks)"
    g0=$(pid_ticks "$GW_PID")
    sleep "$IDLE_S"
    read -r c1b c1t <<<"$(cpu_ticks)"
    g1=$(pid_ticks "$GW_PID")
    IDLE_BUSY=$((IDLE_BUSY + c1b - c0b))
    IDLE_TOTAL=$((IDLE_TOTAL + c1t - c0t))
    IDLE_GW=$((IDLE_GW + g1 - g0))
    RSS_LIST="$RSS_LIST $(status_kb "$GW_PID" VmRSS)"
    HWM_LIST="$HWM_LIST $(status_kb "$GW_PID" VmHWM)"
    THREADS_IDLE=$(awk '$1 == "Threads:" {print $2}' "/proc/$GW_PID/status")
    stop_gw "rss$r"
done
# During the idle windows: the gateway's own CPU (% of one core) and what
# everything else on the machine used (% of all cores).
IDLE_GW_PCT=$(awk -v g="$IDLE_GW" -v t="$IDLE_TOTAL" -v n="$(nproc)" \
    'BEGIN {printf "%.2f", t ? 100 * g * n / t : 0}')
IDLE_OTHER_PCT=$(awk -v b="$IDLE_BUSY" -v g="$IDLE_GW" -v t="$IDLE_TOTAL" \
    'BEGIN {printf "%.0f", t ? 100 * (b - g) / t : 0}')
# shellcheck disable=SC2086
RSS_MED=$(median $RSS_LIST)
# shellcheck disable=SC2086
HWM_MED=$(median $HWM_LIST)

# --- b. start-up time to first 200 on /api/v1/health -----------------------
# The timer starts right before fork/exec (subprocess.Popen) and stops at the
# first complete "HTTP/1.x 200" status line; the port is polled every 0.5 ms
# so the poller does not steal a core from the starting gateway.
START_LIST=""
for r in $(seq 1 "$START_RUNS"); do
    port=$(free_port)
    dir="$WORK/start$r"
    N_GW=$((N_GW + 1))
    set +e
    ms=$("$PY" - "$BIN" "$dir" "$port" "$WORK/start$r.log" <<'EOF'
import socket, subprocess, sys, time

binary, data_dir, port, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
req = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

def healthy():
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(req)
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(256)
                if not chunk:
                    return False
                buf += chunk
            return buf.split(b" ", 2)[1] == b"200"
    except OSError:
        return False

with open(log, "wb") as out:
    t0 = time.monotonic_ns()
    p = subprocess.Popen([binary, "--demo", "--data-dir", data_dir,
                          "--listen", "127.0.0.1:%d" % port],
                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    ok = False
    while time.monotonic_ns() - t0 < 30e9:
        if healthy():
            ok = True
            break
        if p.poll() is not None:
            break
        time.sleep(0.0005)
    t1 = time.monotonic_ns()
    if p.poll() is None:
        p.terminate()
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    if not ok:
        sys.stderr.write("start-up: no 200 from /api/v1/health (exit %s)\n" % rc)
        sys.exit(3)
    print("%.1f" % ((t1 - t0) / 1e6))
    sys.exit(0 if rc == 0 else 4)
EOF
)
    prc=$?
    set -e
    case $prc in
    0) ;;
    4) FAILED_EXITS="$FAILED_EXITS start$r:nonzero" ;;
    *)
        tail -20 "$WORK/start$r.log" >&2
        die "start-up run $r failed"
        ;;
    esac
    say "start-up run $r/$START_RUNS: $ms ms"
    START_LIST="$START_LIST $ms"
done
# shellcheck disable=SC2086
START_MED=$(median $START_LIST)
# shellcheck disable=SC2086
START_MAX=$(max $START_LIST)

# --- c. REST throughput with wrk ------------------------------------------
# wrk_run NAME PATH: fresh gateway, WARM_S s warm-up (discarded), then the
# measured run; sets W_RPS, W_P50, W_P99, W_ERR, W_RSS (VmHWM after load, kB).
wrk_run() {
    start_gw "$1"
    local url="http://127.0.0.1:$GW_PORT$2"
    say "wrk $2: ${WARM_S} s warm-up, ${WRK_S} s measured"
    wrk -t"$THREADS" -c"$CONNS" -d"${WARM_S}s" "$url" >/dev/null
    wrk -t"$THREADS" -c"$CONNS" -d"${WRK_S}s" --latency "$url" >"$WORK/$1.wrk"
    cat "$WORK/$1.wrk" >&2
    W_RPS=$(awk '$1 == "Requests/sec:" {print $2}' "$WORK/$1.wrk")
    W_P50=$(wrk_ms "$(awk '$1 == "50%" {print $2}' "$WORK/$1.wrk")")
    W_P99=$(wrk_ms "$(awk '$1 == "99%" {print $2}' "$WORK/$1.wrk")")
    W_REQ=$(awk '/requests in/ {sub(/,$/, "", $4); print $1 " requests in " $4}' "$WORK/$1.wrk")
    W_ERR=$(awk '/Non-2xx or 3xx/ {n += $NF} /Socket errors/ {print; exit}
                 END {if (n) print "non-2xx: " n}' "$WORK/$1.wrk" | paste -sd';' -)
    [ -n "$W_ERR" ] || W_ERR="none"
    W_RSS=$(status_kb "$GW_PID" VmHWM)
    W_BYTES=$(curl -fsS -o /dev/null -w '%{size_download}' "$url")
    is_running "$GW_PID" || die "$1: gateway died under load"
    stop_gw "$1"
}
wrk_run wrk-site /api/v1/site
SITE_RPS=$W_RPS SITE_P50=$W_P50 SITE_P99=$W_P99 SITE_ERR=$W_ERR SITE_HWM=$W_RSS
SITE_REQ=$W_REQ SITE_BYTES=$W_BYTES
wrk_run wrk-health /api/v1/health
HEALTH_RPS=$W_RPS HEALTH_P50=$W_P50 HEALTH_P99=$W_P99 HEALTH_ERR=$W_ERR
HEALTH_HWM=$W_RSS HEALTH_REQ=$W_REQ HEALTH_BYTES=$W_BYTES

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# Everything else that ran on the machine during the whole bench (concurrent
# builds, tests, fuzzers), as % of all cores; a busy machine shows here.
read -r B1 TT1 <<<"$(cpu_ticks)"
O1=$(ours_ticks)
OTHER_PCT=$(awk -v b=$((B1 - B0)) -v o=$((O1 - O0)) -v t=$((TT1 - TT0)) \
    'BEGIN {p = t ? 100 * (b - o) / t : 0; printf "%.0f", p < 0 ? 0 : p}')
OTHER_TOP=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 5 && $2 != "ps" {
    printf "%s%s (%s%%)", n++ ? ", " : "", $2, $1}')
[ -n "$OTHER_TOP" ] || OTHER_TOP="none"
ELAPSED=$(($(date +%s) - T0))

# --- report ----------------------------------------------------------------
COMMIT=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null) || COMMIT="uncommitted"
if [ "$COMMIT" != uncommitted ] && [ -n "$(git -C "$SRC" status --porcelain 2>/dev/null)" ]; then
    COMMIT="$COMMIT (working tree modified)"
fi
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
RAM=$(awk '$1 == "MemTotal:" {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
EXITS="all $N_GW gateway runs exited 0 on SIGTERM"
[ -z "$FAILED_EXITS" ] || EXITS="NON-ZERO EXITS:$FAILED_EXITS (of $N_GW runs)"

cat <<EOF
# flexgw benchmark

| Figure | Value |
|---|---|
| Idle RSS (VmRSS, median of $RSS_RUNS, after ${IDLE_S} s idle) | $(mib "$RSS_MED") MiB |
| Idle peak RSS (VmHWM, median of $RSS_RUNS) | $(mib "$HWM_MED") MiB |
| Start-up to first 200 on /api/v1/health (median / max of $START_RUNS) | $START_MED ms / $START_MAX ms |
| GET /api/v1/site, $CONNS connections | $SITE_RPS req/s, p50 $SITE_P50 ms, p99 $SITE_P99 ms |
| GET /api/v1/health, $CONNS connections | $HEALTH_RPS req/s, p50 $HEALTH_P50 ms, p99 $HEALTH_P99 ms |

## Raw numbers
- idle VmRSS kB:$RSS_LIST
- idle VmHWM kB:$HWM_LIST
- threads when idle: $THREADS_IDLE; gateway CPU while idle: $IDLE_GW_PCT % of one core
- start-up ms:$START_LIST
- /api/v1/site: $SITE_REQ, $SITE_RPS req/s, p50 $SITE_P50 ms, p99 $SITE_P99 ms, errors: $SITE_ERR, body $SITE_BYTES bytes, VmHWM after load $SITE_HWM kB
- /api/v1/health: $HEALTH_REQ, $HEALTH_RPS req/s, p50 $HEALTH_P50 ms, p99 $HEALTH_P99 ms, errors: $HEALTH_ERR, body $HEALTH_BYTES bytes, VmHWM after load $HEALTH_HWM kB
- exits: $EXITS

## Machine
- date: $DATE (took ${ELAPSED} s)
- commit: $COMMIT; $("$BIN" --version)
- CPU: $CPU, nproc $(nproc)
- RAM: $RAM
- kernel: $(uname -srm)
- load average (1/5/15 min) before: $LOAD_BEFORE, after: $LOAD_AFTER
- CPU used by other processes (not this script or its children), % of all
  cores: $OTHER_PCT % over the whole bench, $IDLE_OTHER_PCT % during the idle-RSS windows;
  processes at >= 5 % CPU at the end (ps, lifetime average): $OTHER_TOP

## Commands
- gateway: \`$BIN --demo --data-dir FRESH_TMP_DIR --listen 127.0.0.1:FREE_PORT\`
- idle RSS: wait for 200 on /api/v1/health, \`sleep $IDLE_S\`, read VmRSS/VmHWM from /proc/PID/status
- start-up: python3 subprocess.Popen of the gateway, then raw HTTP GET /api/v1/health every 0.5 ms until a 200; time from just before fork/exec to the 200
- throughput, for each of /api/v1/site and /api/v1/health on a fresh gateway:
  warm-up \`wrk -t$THREADS -c$CONNS -d${WARM_S}s http://127.0.0.1:PORT/api/v1/site\` (output discarded), then
  measured \`wrk -t$THREADS -c$CONNS -d${WRK_S}s --latency http://127.0.0.1:PORT/api/v1/site\`
- stop: SIGTERM, expect exit status 0
EOF

[ -z "$FAILED_EXITS" ] || exit 1
