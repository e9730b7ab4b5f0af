#!/bin/bash
# flexgw benchmark: idle memory, start-up time and REST throughput of
# `flexgw --demo`, then the OCPP benchmark: flexgw as the CSMS of 1,000 and
# 10,000 stations (tests/bench/ocpp_load) against ocpp-rpc's RPCServer in
# strict mode (tests/bench/ocpp_rpc_server.js) under the identical load.
# Prints a Markdown report (summary tables, raw numbers, machine, commands)
# to stdout; progress goes to stderr.
#
#   tests/bench/run.sh BUILD_DIR        (make bench calls it with build/)
#
# Environment (all optional): BENCH_RSS_RUNS (3), BENCH_IDLE_S (10),
# BENCH_START_RUNS (10), BENCH_WRK_S (10), BENCH_WARM_S (3), BENCH_CONNS (50),
# BENCH_THREADS (2); BENCH_KEEP=1 keeps the data dirs and logs.
# OCPP: BENCH_OCPP (1; 0 skips it), BENCH_HTTP (1; 0 skips the demo/REST
# part), BENCH_OCPP_N ("1000 10000" stations), BENCH_OCPP_HOLD (5 s idle
# before RSS is read), BENCH_OCPP_WARM (5 s), BENCH_OCPP_S (20 s measured),
# BENCH_OCPP_RATE (20000 round trips/s in total, paced run),
# BENCH_OCPP_TMPFS (1: one more flexgw series with storage on /dev/shm, to
# separate the cost of fsync from CPU), BENCH_OCPP_FLOOR (1: the same b2b load
# against tests/bench/ocpp_floor, which answers without parsing: what the
# machine itself costs per round trip), BENCH_NODE_HEAP_MB (4096).
# Modbus: BENCH_MODBUS (1; 0 skips it), BENCH_MODBUS_BUSES (10 simulators,
# one Modbus/TCP bus each), BENCH_MODBUS_UNITS (20 unit ids per simulator:
# 10 x 20 = 200 devices), BENCH_MODBUS_WARM (5 s after all are online),
# BENCH_MODBUS_S (20 s measured), BENCH_MODBUS_SETPOINTS (50, during the
# window): flexgw, then a python3-pymodbus client (tests/bench/modbus_poll.py)
# polling the same devices at 1 Hz on fresh simulators.
# Planner: BENCH_PLANNER (1; 0 skips it): tests/bench/planner_bench, solve
# times at 10, 50 and 200 assets and the reference day against uncontrolled
# charging.
# Ageing: BENCH_AGEING (1; 0 skips it): tests/bench/ageing_bench, one day of
# 1 s samples for 100 batteries and the API's and scheduler's calls.
# OpenADR: BENCH_OPENADR (1; 0 skips it): tests/bench/openadr_bench,
# oadrDistributeEvent parses per second and MB/s for a 1-event and a
# 100-event payload, with and without XSD validation; BENCH_OPENADR_S (2 s
# per row).
# OpenADR dispatch: BENCH_OADR_DISPATCH (1; 0 skips it): flexgw as the VEN of
# the test VTN (tests/sim/openadr_vtn.py, in-process, mutual TLS) and the
# CSMS of BENCH_OADR_STATIONS (1000) stations with an EV charging each
# (ocpp_load --ev), real-time scheduler; per event the time from the VTN
# sending the oadrDistributeEvent to each station reading its reduced
# SetChargingProfile (tests/bench/oadr_dispatch.py). BENCH_OADR_LEVELS
# ("0.35 0.3 0.25 0.2 0.15": one event per level, each lifted again before
# the next), BENCH_OADR_SETTLE (12 s between lift and next event),
# BENCH_OADR_TIMEOUT (30 s per event), BENCH_OADR_LOG (info: flexgw's log
# level).
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
DO_HTTP=${BENCH_HTTP:-1}
DO_OCPP=${BENCH_OCPP:-1}
OCPP_N=${BENCH_OCPP_N:-1000 10000}
OCPP_HOLD=${BENCH_OCPP_HOLD:-5}
OCPP_WARM=${BENCH_OCPP_WARM:-5}
OCPP_S=${BENCH_OCPP_S:-20}
OCPP_RATE=${BENCH_OCPP_RATE:-20000}
OCPP_TMPFS=${BENCH_OCPP_TMPFS:-1}
OCPP_FLOOR=${BENCH_OCPP_FLOOR:-1}
NODE_HEAP_MB=${BENCH_NODE_HEAP_MB:-4096}
DO_MODBUS=${BENCH_MODBUS:-1}
MB_BUSES=${BENCH_MODBUS_BUSES:-10}
MB_UNITS=${BENCH_MODBUS_UNITS:-20}
MB_WARM=${BENCH_MODBUS_WARM:-5}
MB_S=${BENCH_MODBUS_S:-20}
MB_SETPOINTS=${BENCH_MODBUS_SETPOINTS:-50}
DO_AGEING=${BENCH_AGEING:-1}
DO_PLANNER=${BENCH_PLANNER:-1}
DO_OPENADR=${BENCH_OPENADR:-1}
OPENADR_S=${BENCH_OPENADR_S:-2}
DO_OADRD=${BENCH_OADR_DISPATCH:-1}
OADRD_N=${BENCH_OADR_STATIONS:-1000}
OADRD_LEVELS=${BENCH_OADR_LEVELS:-0.35 0.3 0.25 0.2 0.15}
OADRD_SETTLE=${BENCH_OADR_SETTLE:-12}
OADRD_TIMEOUT=${BENCH_OADR_TIMEOUT:-30}
OADRD_LOG=${BENCH_OADR_LOG:-info}

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
LOADGEN=$(cd "$1" && pwd)/tests/bench/ocpp_load
FLOOR=$(cd "$1" && pwd)/tests/bench/ocpp_floor
RPC_JS=$SRC/tests/bench/ocpp_rpc_server.js
if [ "$DO_OCPP" = 1 ]; then
    [ -x "$LOADGEN" ] || die "$LOADGEN not found (build the tree: make build)"
    command -v node >/dev/null 2>&1 || die "node not found: run packaging/install-deps.sh (as root)"
    [ -d "$SRC/tests/node/node_modules/ocpp-rpc" ] ||
        die "ocpp-rpc not installed in tests/node: run packaging/install-deps.sh"
fi

AGE_BENCH=$(cd "$1" && pwd)/tests/bench/ageing_bench
PLAN_BENCH=$(cd "$1" && pwd)/tests/bench/planner_bench
if [ "$DO_PLANNER" = 1 ]; then
    [ -x "$PLAN_BENCH" ] || die "$PLAN_BENCH not found (build the tree: make build)"
fi
if [ "$DO_AGEING" = 1 ]; then
    [ -x "$AGE_BENCH" ] || die "$AGE_BENCH not found (build the tree: make build)"
fi
OADR_BENCH=$(cd "$1" && pwd)/tests/bench/openadr_bench
if [ "$DO_OPENADR" = 1 ]; then
    [ -x "$OADR_BENCH" ] || die "$OADR_BENCH not found (build the tree: make build)"
fi
OADRD=$SRC/tests/bench/oadr_dispatch.py
if [ "$DO_OADRD" = 1 ]; then
    [ -x "$LOADGEN" ] || die "$LOADGEN not found (build the tree: make build)"
    command -v openssl >/dev/null 2>&1 || die "openssl not found (certificates for the VTN)"
fi
BSIM=$(cd "$1" && pwd)/tests/sim/battery_sim
MB_POLL=$SRC/tests/bench/modbus_poll.py
if [ "$DO_MODBUS" = 1 ]; then
    [ -x "$BSIM" ] || die "$BSIM not found (build the tree: make build)"
    "$PY" -c 'import pymodbus.client' 2>/dev/null ||
        die "python3-pymodbus not found: run packaging/install-deps.sh (as root)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flexgw-bench.XXXXXX")
SHM_WORK=""
GW_PID=""
RPC_PID=""
FAILED_EXITS=""
N_GW=0

cleanup() {
    local p
    for p in "$GW_PID" "$RPC_PID"; do
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            sleep 1
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: kept $WORK $SHM_WORK" >&2
    else
        rm -rf "$WORK"
        [ -z "$SHM_WORK" ] || rm -rf "$SHM_WORK"
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
        --ocpp-listen "127.0.0.1:$(free_port)" </dev/null >"$WORK/$1.log" 2>&1 &
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
IDLE_OTHER_PCT="n/a"
# ours_ticks: jiffies used by this script and every child it has waited for
# (gateways, wrk, curl, python3): utime + stime + cutime + cstime of $$.
ours_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$$/stat"; }
read -r B0 TT0 <<<"$(cpu_ticks)"
O0=$(ours_ticks)

# The demo/REST part (a-c) runs unless BENCH_HTTP=0 (body not indented:
# it holds heredocs).
if [ "$DO_HTTP" = 1 ]; then
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
    ms=$("$PY" - "$BIN" "$dir" "$port" "$WORK/start$r.log" "$(free_port)" <<'EOF'
import socket, subprocess, sys, time

binary, data_dir, port, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ocpp_port = int(sys.argv[5])
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
                          "--listen", "127.0.0.1:%d" % port,
                          "--ocpp-listen", "127.0.0.1:%d" % ocpp_port],
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
fi # DO_HTTP

# --- d. OCPP: flexgw and ocpp-rpc as the CSMS of N stations -----------------
# Each series starts a fresh server, lets it settle, and runs ocpp_load once:
# connect N stations (BootNotification each), hold them idle (RSS per station),
# then back-to-back MeterValues (one outstanding call per station) and, at
# 10,000 stations, the same paced at OCPP_RATE round trips/s in total. The
# load generator reads the server's CPU time and RSS from /proc itself, over
# exactly its measured windows. Every JSON line it prints goes to
# $WORK/ocpp.jsonl with the series name; the report is built from that file.
OCPP_JSONL="$WORK/ocpp.jsonl"
: >"$OCPP_JSONL"
OCPP_ERRORS=""

# wait_port PORT: until something accepts on 127.0.0.1:PORT (30 s).
wait_port() {
    local i=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 600 ] || return 1
        sleep 0.05
    done
}

# start_ocpp_gw NAME DATA_DIR: flexgw with OCPP on a free port; sets GW_PID,
# OCPP_PORT. Unknown stations accepted, log level warn.
start_ocpp_gw() {
    local dir="$WORK/$1" web
    mkdir -p "$dir" "$2"
    OCPP_PORT=$(free_port)
    web=$(free_port)
    cat >"$dir/flexgw.json" <<EOF
{
  "site": {"id": "bench", "name": "OCPP benchmark", "import_limit_w": 100000000,
           "export_limit_w": 100000000,
           "tariff": [{"from": "00:00", "import_price": 0.25, "export_price": 0.05}],
           "assets": []},
  "ocpp": {"enabled": true, "listen": "127.0.0.1:$OCPP_PORT",
           "allow_unknown_stations": true},
  "storage": {"path": "$2"},
  "log": {"level": "warn"}
}
EOF
    "$BIN" --config "$dir/flexgw.json" --listen "127.0.0.1:$web" \
        </dev/null >"$WORK/$1.log" 2>&1 &
    GW_PID=$!
    N_GW=$((N_GW + 1))
    wait_port "$OCPP_PORT" || {
        tail -20 "$WORK/$1.log" >&2
        die "$1: flexgw does not listen on the OCPP port"
    }
}

# start_rpc NAME: ocpp-rpc's strict RPCServer on a free port; sets RPC_PID,
# OCPP_PORT, RPC_VERSION.
start_rpc() {
    OCPP_PORT=$(free_port)
    node --max-old-space-size="$NODE_HEAP_MB" "$RPC_JS" "$OCPP_PORT" \
        </dev/null >"$WORK/$1.log" 2>&1 &
    RPC_PID=$!
    local i=0
    until grep -q '^ready ' "$WORK/$1.log" 2>/dev/null; do
        is_running "$RPC_PID" || {
            cat "$WORK/$1.log" >&2
            die "$1: ocpp-rpc server exited"
        }
        i=$((i + 1))
        [ $i -lt 600 ] || die "$1: ocpp-rpc server not ready within 30 s"
        sleep 0.05
    done
    RPC_VERSION=$(sed -n 's/^ready .*version=\([^ ]*\).*/\1/p' "$WORK/$1.log")
}

stop_rpc() {
    local i=0
    kill -TERM "$RPC_PID" 2>/dev/null || true
    while is_running "$RPC_PID" && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$RPC_PID" 2>/dev/null || true
    wait "$RPC_PID" 2>/dev/null || true
    RPC_PID=""
}

# ocpp_load_run SERIES PID N LOADS: one ocpp_load run against OCPP_PORT.
ocpp_load_run() {
    local series=$1 pid=$2 n=$3 loads=$4 out="$WORK/$1.load"
    # let the fresh server settle before its "RSS before" is read
    sleep 2
    say "$series: $n stations, hold ${OCPP_HOLD} s, load ${loads:-none} (${OCPP_WARM} s warm-up + ${OCPP_S} s each)"
    timeout $((300 + 3 * (OCPP_WARM + OCPP_S) + OCPP_HOLD)) \
        "$LOADGEN" --port "$OCPP_PORT" --stations "$n" --src-addrs 4 \
        --connect-rate 2000 --max-pending 200 --connect-timeout 240 \
        --hold "$OCPP_HOLD" --load "$loads" --warmup "$OCPP_WARM" --duration "$OCPP_S" \
        --rate "$OCPP_RATE" --server-pid "$pid" --label "$series" >"$out" || true
    grep '^ocpp_load:' "$out" >&2 || true
    grep '^{' "$out" >>"$OCPP_JSONL" || true
    is_running "$pid" || {
        say "$series: THE SERVER DIED under load"
        echo "{\"phase\":\"died\",\"label\":\"$series\"}" >>"$OCPP_JSONL"
    }
}

# loads_for N: the load phases of a series: b2b always, paced at 10,000+.
loads_for() { if [ "$1" -ge 10000 ]; then echo b2b,paced; else echo b2b; fi; }

if [ "$DO_OCPP" = 1 ]; then
    # ulimit: flexgw raises its own soft RLIMIT_NOFILE; node does the same.
    say "OCPP: file descriptor limit soft $(ulimit -Sn) hard $(ulimit -Hn)"
    for n in $OCPP_N; do
        start_ocpp_gw "fg-$n" "$WORK/fg-$n/data"
        ocpp_load_run "flexgw-$n" "$GW_PID" "$n" "$(loads_for "$n")"
        if ! is_running "$GW_PID"; then
            OCPP_ERRORS="$OCPP_ERRORS flexgw-$n:died"
            wait "$GW_PID" || true
            GW_PID=""
        else
            stop_gw "fg-$n"
        fi
        start_rpc "rpc-$n"
        ocpp_load_run "ocpp-rpc-$n" "$RPC_PID" "$n" "$(loads_for "$n")"
        stop_rpc
    done
    if [ "$OCPP_TMPFS" = 1 ] && [ -d /dev/shm ]; then
        SHM_WORK=$(mktemp -d /dev/shm/flexgw-bench.XXXXXX)
        for n in $OCPP_N; do
            start_ocpp_gw "fgshm-$n" "$SHM_WORK/fg-$n"
            ocpp_load_run "flexgw-tmpfs-$n" "$GW_PID" "$n" "$(loads_for "$n")"
            if ! is_running "$GW_PID"; then
                OCPP_ERRORS="$OCPP_ERRORS flexgw-tmpfs-$n:died"
                wait "$GW_PID" || true
                GW_PID=""
            else
                stop_gw "fgshm-$n"
            fi
        done
    fi
    if [ "$OCPP_FLOOR" = 1 ]; then
        for n in $OCPP_N; do
            OCPP_PORT=$(free_port)
            "$FLOOR" "$OCPP_PORT" </dev/null >"$WORK/floor-$n.log" 2>&1 &
            FLOOR_PID=$!
            wait_port "$OCPP_PORT" || die "floor-$n: ocpp_floor does not listen"
            ocpp_load_run "floor-$n" "$FLOOR_PID" "$n" b2b
            kill -TERM "$FLOOR_PID" 2>/dev/null || true
            wait "$FLOOR_PID" 2>/dev/null || true
        done
    fi
fi

# --- e. Modbus: 200 devices polled at 1 s -----------------------------------
# modbus_poll.py starts MB_BUSES battery_sim processes (--units MB_UNITS each),
# then flexgw (one bus per simulator, one SunSpec battery asset per unit id,
# poll 1000 ms) or the pymodbus poller, and measures itself: one JSON line per
# client into $WORK/modbus.jsonl.
MB_JSONL="$WORK/modbus.jsonl"
: >"$MB_JSONL"
if [ "$DO_MODBUS" = 1 ]; then
    for client in flexgw pymodbus; do
        say "Modbus, $client: $MB_BUSES x $MB_UNITS devices at 1 Hz, ${MB_WARM} s warm-up, ${MB_S} s measured"
        [ "$client" = pymodbus ] || N_GW=$((N_GW + 1))
        rc=0
        timeout $((180 + MB_WARM + MB_S)) "$PY" "$MB_POLL" bench --client "$client" \
            --sim "$BSIM" --gw "$BIN" --work "$WORK/modbus-$client" --buses "$MB_BUSES" \
            --units "$MB_UNITS" --warm "$MB_WARM" --duration "$MB_S" \
            --setpoints "$MB_SETPOINTS" >"$WORK/modbus-$client.out" || rc=$?
        cat "$WORK/modbus-$client.out" >&2
        grep '^{' "$WORK/modbus-$client.out" >>"$MB_JSONL" || true
        if [ "$rc" != 0 ]; then
            say "Modbus, $client: the run failed (status $rc)"
            [ "$client" = pymodbus ] || tail -20 "$WORK/modbus-$client/flexgw-modbus.log" >&2 || true
            echo "{\"label\":\"$client\",\"failed\":$rc}" >>"$MB_JSONL"
        fi
    done
fi

# --- f. OpenADR: oadrDistributeEvent to set-points at N stations ------------
# oadr_dispatch.py runs the VTN, flexgw and ocpp_load --ev and measures
# itself: one JSON line into $WORK/oadr-dispatch.json.
OADRD_JSON="$WORK/oadr-dispatch.json"
OADRD_LOAD=""
if [ "$DO_OADRD" = 1 ]; then
    say "OpenADR dispatch: $OADRD_N stations, levels $OADRD_LEVELS"
    N_GW=$((N_GW + 1))
    OADRD_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
    rc=0
    # shellcheck disable=SC2086
    timeout $((300 + $(echo $OADRD_LEVELS | wc -w) * (2 * OADRD_TIMEOUT + OADRD_SETTLE + 20))) \
        "$PY" "$OADRD" bench --gw "$BIN" --load "$LOADGEN" --work "$WORK/oadr-dispatch" \
        --stations "$OADRD_N" --levels "$(echo $OADRD_LEVELS | tr ' ' ,)" \
        --settle "$OADRD_SETTLE" --event-timeout "$OADRD_TIMEOUT" \
        --log-level "$OADRD_LOG" >"$OADRD_JSON" || rc=$?
    if [ "$rc" != 0 ]; then
        say "OpenADR dispatch: the run failed (status $rc)"
        tail -20 "$WORK/oadr-dispatch/flexgw.log" >&2 || true
        grep -q '"exit": 0' "$OADRD_JSON" 2>/dev/null || FAILED_EXITS="$FAILED_EXITS oadr-dispatch"
    fi
fi

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

echo "# flexgw benchmark"
echo
if [ "$DO_HTTP" = 1 ]; then
    cat <<EOF
## Demo site: memory, start-up, REST

| Figure | Value |
|---|---|
| Idle RSS (VmRSS, median of $RSS_RUNS, after ${IDLE_S} s idle) | $(mib "$RSS_MED") MiB |
| Idle peak RSS (VmHWM, median of $RSS_RUNS) | $(mib "$HWM_MED") MiB |
| Start-up to first 200 on /api/v1/health (median / max of $START_RUNS) | $START_MED ms / $START_MAX ms |
| GET /api/v1/site, $CONNS connections | $SITE_RPS req/s, p50 $SITE_P50 ms, p99 $SITE_P99 ms |
| GET /api/v1/health, $CONNS connections | $HEALTH_RPS req/s, p50 $HEALTH_P50 ms, p99 $HEALTH_P99 ms |

Raw numbers:
- idle VmRSS kB:$RSS_LIST
- idle VmHWM kB:$HWM_LIST
- threads when idle: $THREADS_IDLE; gateway CPU while idle: $IDLE_GW_PCT % of one core
- start-up ms:$START_LIST
- /api/v1/site: $SITE_REQ, $SITE_RPS req/s, p50 $SITE_P50 ms, p99 $SITE_P99 ms, errors: $SITE_ERR, body $SITE_BYTES bytes, VmHWM after load $SITE_HWM kB
- /api/v1/health: $HEALTH_REQ, $HEALTH_RPS req/s, p50 $HEALTH_P50 ms, p99 $HEALTH_P99 ms, errors: $HEALTH_ERR, body $HEALTH_BYTES bytes, VmHWM after load $HEALTH_HWM kB

EOF
fi
OCPP_RC=0
if [ "$DO_OCPP" = 1 ]; then
    # The OCPP report: tables, ratios, the targets, the raw JSON lines.
    "$PY" - "$OCPP_JSONL" "$OCPP_N" "$OCPP_RATE" "$OCPP_HOLD" "$OCPP_WARM" "$OCPP_S" <<'PYEOF' || OCPP_RC=$?
import json, os, sys

path, ns, rate, hold, warm, dur = sys.argv[1:7]
ns = [int(x) for x in ns.split()]
runs = {}
for line in open(path):
    line = line.strip()
    if not line:
        continue
    j = json.loads(line)
    runs.setdefault(j["label"], {})[j["phase"]] = j

def get(series, phase, key):
    v = runs.get(series, {}).get(phase, {}).get(key)
    return None if v is None or v == -1 else v

def f(v, fmt="%.1f"):
    return "n/a" if v is None else fmt % v

def ratio(a, b, fmt="%.2f"):
    return "n/a" if a is None or not b else fmt % (a / b)

def thousands(n):
    return f"{n:,}"

def errs(series, phase):
    r = runs.get(series, {}).get(phase)
    if not r:
        return "not run" if series in runs else "no data"
    e = []
    for k, name in (("callerrors", "CALLERROR"), ("boot_callerrors", "boot CALLERROR"),
                    ("bad_frames", "bad frames"), ("lost", "connections lost"),
                    ("failed", "stations not connected")):
        if r.get(k):
            e.append(f"{r[k]} {name}")
    return ", ".join(e) if e else "none"

bad = []
for s, phases in runs.items():
    if "died" in phases:
        bad.append(f"{s}: server died")
    for p, r in phases.items():
        if p != "died" and errs(s, p) != "none":
            bad.append(f"{s} {p}: {errs(s, p)}" + (f" (first: {r.get('first_error') or r.get('first_failure')})" if (r.get('first_error') or r.get('first_failure')) else ""))

out = []
w = out.append
w("## OCPP: flexgw and ocpp-rpc as the CSMS of N stations\n")
w(f"Identical load from `ocpp_load` against each: N stations connect (2,000/s, at most 200 handshakes in flight) and boot; held idle {hold} s; then every station sends MeterValues back to back, one outstanding call each ({warm} s warm-up, {dur} s measured); at 10,000 stations also paced at {thousands(int(float(rate)))} round trips/s in total. Every answer is checked (a CALLRESULT with the expected id). Ratios are flexgw / ocpp-rpc.\n")
for n in ns:
    fg, rp = f"flexgw-{n}", f"ocpp-rpc-{n}"
    w(f"### {thousands(n)} stations\n")
    w("| Figure | flexgw | ocpp-rpc | ratio |")
    w("|---|---|---|---|")
    def row(name, key, phase, fmt="%.1f", rfmt="%.2f"):
        a, b = get(fg, phase, key), get(rp, phase, key)
        w(f"| {name} | {f(a, fmt)} | {f(b, fmt)} | {ratio(a, b, rfmt)} |")
    hf, hr = get(fg, "held", "held"), get(rp, "held", "held")
    w(f"| Stations connected and held | {f(hf, '%d')} of {n} | {f(hr, '%d')} of {n} | |")
    row("Connect + boot time, s", "connect_s", "held", "%.2f")
    row("RSS per station, idle (KiB)", "server_kib_per_station", "held")
    row("Round trips/s, back to back", "rt_per_s", "b2b", "%.0f")
    row("p50 latency, back to back (ms)", "p50_ms", "b2b", "%.2f")
    row("p99 latency, back to back (ms)", "p99_ms", "b2b", "%.2f")
    row("Server CPU per round trip (µs)", "server_cpu_us_per_rt", "b2b", "%.1f")
    row("Server CPU, back to back (% of one core)", "server_cpu_pct", "b2b", "%.0f")
    row("RSS per station under load (KiB)", "server_kib_per_station_load", "b2b")
    if "paced" in runs.get(fg, {}) or "paced" in runs.get(rp, {}):
        row(f"Paced {thousands(int(float(rate)))}/s: round trips/s", "rt_per_s", "paced", "%.0f")
        row("Paced: p50 latency (ms)", "p50_ms", "paced", "%.2f")
        row("Paced: p99 latency (ms)", "p99_ms", "paced", "%.2f")
        row("Paced: max latency (ms)", "max_ms", "paced", "%.2f")
        row("Paced: server CPU per round trip (µs)", "server_cpu_us_per_rt", "paced", "%.1f")
        row("Paced: server CPU (% of one core)", "server_cpu_pct", "paced", "%.0f")
    row("Load generator CPU, back to back (% of one core)", "client_cpu_pct", "b2b", "%.0f")
    w(f"| Errors | {errs(fg, 'b2b') if fg in runs else 'no data'} | {errs(rp, 'b2b') if rp in runs else 'no data'} | |")
    w("")
tm = [n for n in ns if f"flexgw-tmpfs-{n}" in runs]
if tm:
    w("### flexgw with its storage on tmpfs (no fsync cost; diagnostic)\n")
    w("| Stations | Round trips/s | p50 / p99 (ms) | CPU/rt (µs) | CPU (% of a core) | Paced: p50 / p99 / max (ms), CPU/rt (µs) | Errors |")
    w("|---|---|---|---|---|---|---|")
    for n in tm:
        s = f"flexgw-tmpfs-{n}"
        paced = "n/a"
        if get(s, "paced", "p99_ms") is not None:
            paced = f"{f(get(s,'paced','p50_ms'),'%.2f')} / {f(get(s,'paced','p99_ms'),'%.2f')} / {f(get(s,'paced','max_ms'),'%.2f')}, {f(get(s,'paced','server_cpu_us_per_rt'))}"
        w(f"| {thousands(n)} | {f(get(s,'b2b','rt_per_s'),'%.0f')} | {f(get(s,'b2b','p50_ms'),'%.2f')} / {f(get(s,'b2b','p99_ms'),'%.2f')} | {f(get(s,'b2b','server_cpu_us_per_rt'))} | {f(get(s,'b2b','server_cpu_pct'),'%.0f')} | {paced} | {errs(s,'b2b')} |")
    w("")
fl = [n for n in ns if f"floor-{n}" in runs]
if fl:
    w("### The machine's floor (diagnostic)\n")
    w("The same back-to-back load against `tests/bench/ocpp_floor`, which answers every frame at once without parsing or validating it (one thread, epoll): about what the kernel and the loopback TCP path cost per round trip on this machine, before a server does anything.\n")
    w("| Stations | Round trips/s | CPU/rt (µs) | as a share of ocpp-rpc's CPU/rt | Load generator CPU (% of a core) |")
    w("|---|---|---|---|---|")
    for n in fl:
        s = f"floor-{n}"
        a, b = get(s, "b2b", "server_cpu_us_per_rt"), get(f"ocpp-rpc-{n}", "b2b", "server_cpu_us_per_rt")
        w(f"| {thousands(n)} | {f(get(s,'b2b','rt_per_s'),'%.0f')} | {f(a)} | {ratio(a, b)} | {f(get(s,'b2b','client_cpu_pct'),'%.0f')} |")
    w("")
w("### Against the targets\n")
big = max(ns)
fgb, rpb = f"flexgw-{big}", f"ocpp-rpc-{big}"
held = get(fgb, "held", "held")
w(f"- {thousands(big)} stations held: {f(held, '%d')} of {big}: **{'met' if held == big and big >= 10000 else 'NOT met'}**")
for n in ns:
    a, b = get(f"flexgw-{n}", "b2b", "server_cpu_us_per_rt"), get(f"ocpp-rpc-{n}", "b2b", "server_cpu_us_per_rt")
    ok = a is not None and b and a / b <= 0.2
    w(f"- CPU per round trip at most 1/5 of ocpp-rpc's ({thousands(n)} stations): {f(a)} vs {f(b)} µs, ratio {ratio(a, b)}: **{'met' if ok else 'NOT met'}** (aim: 0.10)")
for n in ns:
    a, b = get(f"flexgw-{n}", "b2b", "server_kib_per_station_load"), get(f"ocpp-rpc-{n}", "b2b", "server_kib_per_station_load")
    ok = a is not None and b and a / b <= 0.25
    w(f"- RSS per station under load at most 1/4 of ocpp-rpc's ({thousands(n)} stations): {f(a)} vs {f(b)} KiB, ratio {ratio(a, b)}: **{'met' if ok else 'NOT met'}** (aim: 0.10)")
p99 = get(fgb, "paced", "p99_ms")
rt = get(fgb, "paced", "rt_per_s")
w(f"- p99 < 20 ms with {thousands(big)} stations paced at {thousands(int(float(rate)))} round trips/s: p99 {f(p99, '%.2f')} ms at {f(rt, '%.0f')} round trips/s: **{'met' if p99 is not None and p99 < 20 and rt and rt >= 0.98 * float(rate) else 'NOT met'}**")
w("")
w("Errors: " + ("none (every call got its CALLRESULT; every station connected and booted)" if not bad else "**" + "; ".join(bad) + "**"))
w("")
w("### Raw ocpp_load output (JSON, one line per series and phase)\n")
w("```")
for line in open(path):
    if line.strip():
        w(line.rstrip())
w("```")
print("\n".join(out))
fg_bad = [b for b in bad if b.startswith("flexgw")]
sys.exit(3 if fg_bad else 0)
PYEOF
    echo
fi

MB_RC=0
if [ "$DO_MODBUS" = 1 ]; then
    "$PY" - "$MB_JSONL" "$MB_BUSES" "$MB_UNITS" "$MB_WARM" "$MB_S" "$MB_SETPOINTS" <<'PYEOF' || MB_RC=$?
import json, sys

path, buses, units, warm, dur, nsp = sys.argv[1:7]
runs = {}
for line in open(path):
    if line.strip():
        j = json.loads(line)
        runs[j["label"]] = j
fg, py = runs.get("flexgw", {}), runs.get("pymodbus", {})
n = int(buses) * int(units)

def f(v, fmt="%.1f"):
    return "n/a" if v is None else fmt % v

def ratio(a, b):
    return "n/a" if a is None or not b else "%.2f" % (a / b)

out = []
w = out.append
w(f"## Modbus: {n} devices polled at 1 s\n")
w(f"{buses} `battery_sim` processes on loopback, each a Modbus/TCP server answering {units} unit ids (like {buses} Modbus/TCP gateways with {units} SunSpec batteries behind each; the unit ids of one simulator share one battery's registers and state). "
  f"flexgw: one bus per simulator, {n} battery assets (profile sunspec, base_address 40000, poll_interval_ms 1000, scheduler none, log warn); a poll reads models 802 (64 registers) and 124 (26), one request at a time per bus. "
  f"pymodbus: Debian's python3-pymodbus asyncio client reading the same two blocks of every device once a second, one connection per simulator and one request at a time on it; on fresh simulators after flexgw. "
  f"Both: all devices answering, {warm} s warm-up, then {dur} s measured. Polls are counted by the simulators (reads answered per unit id, minus flexgw's read-backs of its writes, / 2); CPU is utime + stime of the client process from /proc over the window. "
  f"During flexgw's window {nsp} set-points (PUT /api/v1/assets/{{id}}/setpoint, ±2000 W, each on another device) are timed from just before the PUT to the simulator's write events (its stdout, read as it comes): the first register written and StorCtl_Mod (written last; it turns the set-point on). flexgw's CPU includes those PUTs and writes.\n")
w("| Figure | flexgw | pymodbus | ratio |")
w("|---|---|---|---|")
w(f"| Devices online | {f(fg.get('online'), '%d')} of {n} (after {f(fg.get('online_s'), '%.1f')} s) | {f(py.get('online'), '%d')} of {n} | |")
w(f"| Polls/s, all devices | {f(fg.get('polls_per_s'))} | {f(py.get('polls_per_s'))} | |")
w(f"| Slowest / fastest device (polls/s) | {f(fg.get('min_device_hz'), '%.2f')} / {f(fg.get('max_device_hz'), '%.2f')} | {f(py.get('min_device_hz'), '%.2f')} / {f(py.get('max_device_hz'), '%.2f')} | |")
w(f"| CPU (% of one core) | {f(fg.get('cpu_pct'), '%.2f')} | {f(py.get('cpu_pct'), '%.2f')} | {ratio(fg.get('cpu_pct'), py.get('cpu_pct'))} |")
w(f"| CPU per poll (µs) | {f(fg.get('cpu_us_per_poll'))} | {f(py.get('cpu_us_per_poll'))} | {ratio(fg.get('cpu_us_per_poll'), py.get('cpu_us_per_poll'))} |")
sp = fg.get("setpoint") or {}
w(f"| Set-point: PUT to first register write, p50 / p99 (ms) | {f(sp.get('first_write_p50_ms'), '%.2f')} / {f(sp.get('first_write_p99_ms'), '%.2f')} | | |")
w(f"| Set-point: PUT to StorCtl_Mod write, p50 / p99 / max (ms) | {f(sp.get('p50_ms'), '%.2f')} / {f(sp.get('p99_ms'), '%.2f')} / {f(sp.get('max_ms'), '%.2f')} ({f(sp.get('measured'), '%d')} of {f(sp.get('n'), '%d')}) | | |")
w("")
w("### Against the targets\n")
pps, cpu = fg.get("polls_per_s"), fg.get("cpu_pct")
a, b = fg.get("cpu_us_per_poll"), py.get("cpu_us_per_poll")
w(f"- all {n} at 1 Hz (at least {0.98 * n:.0f} polls/s): {f(pps)} polls/s, slowest device {f(fg.get('min_device_hz'), '%.2f')}/s: **{'met' if pps is not None and pps >= 0.98 * n else 'NOT met'}**")
w(f"- gateway CPU < 15 % of one core: {f(cpu, '%.2f')} %: **{'met' if cpu is not None and cpu < 15 else 'NOT met'}**")
w(f"- CPU per poll at least 10x less than pymodbus' (ratio <= 0.10, the goal): {f(a)} vs {f(b)} µs, ratio {ratio(a, b)}: **{'met' if a is not None and b and a / b <= 0.1 else 'NOT met'}**")
bad = []
for k, r in (("flexgw", fg), ("pymodbus", py)):
    if not r:
        bad.append(f"{k}: no data")
    elif r.get("failed") is not None:
        bad.append(f"{k}: run failed (status {r['failed']})")
    elif r.get("died"):
        bad.append(f"{k}: died during the window")
if fg.get("exit"):
    bad.append(f"flexgw: exit status {fg['exit']} after SIGTERM")
if sp.get("n_errors"):
    bad.append(f"flexgw set-points: {sp['n_errors']} not written ({'; '.join(sp.get('errors', []))})")
if (py.get("poller") or {}).get("errors"):
    bad.append(f"pymodbus: {py['poller']['errors']} failed reads (first: {py['poller'].get('first_error')})")
w("")
w("Errors: " + ("none" if not bad else "**" + "; ".join(bad) + "**"))
w("")
w("### Raw output (JSON, one line per client)\n")
w("```")
for line in open(path):
    if line.strip():
        w(line.rstrip())
w("```")
print("\n".join(out))
sys.exit(3 if any(x.startswith("flexgw") for x in bad) else 0)
PYEOF
    echo
fi

AGE_RC=0
if [ "$DO_AGEING" = 1 ]; then
    "$AGE_BENCH" || AGE_RC=$?
    echo
fi
PLAN_RC=0
if [ "$DO_PLANNER" = 1 ]; then
    "$PLAN_BENCH" || PLAN_RC=$?
    echo
fi
OADR_RC=0
if [ "$DO_OPENADR" = 1 ]; then
    "$OADR_BENCH" "$OPENADR_S" || OADR_RC=$?
    echo
fi

OADRD_RC=0
if [ "$DO_OADRD" = 1 ]; then
    if [ -s "$OADRD_JSON" ]; then
        "$PY" "$OADRD" report "$OADRD_JSON" || OADRD_RC=$?
        echo
        echo "Load average (1/5/15 min) before this section: $OADRD_LOAD"
    else
        echo "## OpenADR: event to set-points at $OADRD_N stations"
        echo
        echo "**no result** (the run failed; see the progress output)"
        OADRD_RC=1
    fi
    echo
fi

cat <<EOF
## Machine
- date: $DATE (took ${ELAPSED} s)
- commit: $COMMIT; $("$BIN" --version)$([ "$DO_OCPP" = 1 ] && echo "; reference: ${RPC_VERSION:-ocpp-rpc} (strict mode, ocpp2.0.1) on node $(node --version)")
- CPU: $CPU, nproc $(nproc)
- RAM: $RAM
- kernel: $(uname -srm)
- load average (1/5/15 min) before: $LOAD_BEFORE, after: $LOAD_AFTER
- CPU used by other processes (not this script or its children), % of all
  cores: $OTHER_PCT % over the whole bench, $IDLE_OTHER_PCT % during the idle-RSS windows;
  processes at >= 5 % CPU at the end (ps, lifetime average): $OTHER_TOP
- exits: $EXITS

## Commands
EOF
if [ "$DO_HTTP" = 1 ]; then
    cat <<EOF
- gateway: \`$BIN --demo --data-dir FRESH_TMP_DIR --listen 127.0.0.1:FREE_PORT --ocpp-listen 127.0.0.1:FREE_PORT\`
- idle RSS: wait for 200 on /api/v1/health, \`sleep $IDLE_S\`, read VmRSS/VmHWM from /proc/PID/status
- start-up: python3 subprocess.Popen of the gateway, then raw HTTP GET /api/v1/health every 0.5 ms until a 200; time from just before fork/exec to the 200
- throughput, for each of /api/v1/site and /api/v1/health on a fresh gateway:
  warm-up \`wrk -t$THREADS -c$CONNS -d${WARM_S}s http://127.0.0.1:PORT/api/v1/site\` (output discarded), then
  measured \`wrk -t$THREADS -c$CONNS -d${WRK_S}s --latency http://127.0.0.1:PORT/api/v1/site\`
- stop: SIGTERM, expect exit status 0
EOF
fi
if [ "$DO_OCPP" = 1 ]; then
    cat <<EOF
- OCPP, flexgw: \`$BIN --config CONF --listen 127.0.0.1:FREE_PORT\` where CONF has
  \`"ocpp": {"enabled": true, "listen": "127.0.0.1:PORT", "allow_unknown_stations": true}\`,
  \`"storage": {"path": FRESH_TMP_DIR}\` (sync_full default: true), \`"log": {"level": "warn"}\`, no assets
- OCPP, ocpp-rpc: \`node --max-old-space-size=$NODE_HEAP_MB tests/bench/ocpp_rpc_server.js PORT\`
- OCPP, floor (diagnostic): \`BUILD_DIR/tests/bench/ocpp_floor PORT\`, b2b only
- load, per server and N, 2 s after the server is up:
  \`ocpp_load --port PORT --stations N --src-addrs 4 --connect-rate 2000 --max-pending 200 --connect-timeout 240 --hold $OCPP_HOLD --load b2b[,paced] --warmup $OCPP_WARM --duration $OCPP_S --rate $OCPP_RATE --server-pid PID\`
  (paced only at 10,000 stations); MeterValues with evseId 1, one Power.Active.Import and one Energy.Active.Import.Register sample
- server CPU: utime + stime from /proc/PID/stat over the measured window / round trips; RSS per station: (VmRSS - VmRSS before the first connection) / stations, idle after the hold, under load the highest of the once-a-second samples in the window
EOF
fi

if [ "$DO_OADRD" = 1 ]; then
    cat <<EOF
- OpenADR dispatch: \`tests/bench/oadr_dispatch.py bench --gw $BIN --load BUILD_DIR/tests/bench/ocpp_load --work DIR --stations $OADRD_N --levels $(echo $OADRD_LEVELS | tr ' ' ,) --settle $OADRD_SETTLE --event-timeout $OADRD_TIMEOUT --log-level $OADRD_LOG\`
  (flexgw: \`$BIN --config CONF --listen 127.0.0.1:FREE_PORT\` with CONF written by oadr_dispatch.py; stations:
  \`ocpp_load --port PORT --stations $OADRD_N --connect-rate 2000 --max-pending 200 --hold 3600 --ev --profile-log FILE --meter-s 10 --ev-w 11000\`)
EOF
fi
if [ "$DO_MODBUS" = 1 ]; then
    cat <<EOF
- Modbus: \`tests/bench/modbus_poll.py bench --client flexgw|pymodbus --sim BUILD_DIR/tests/sim/battery_sim --gw $BIN --buses $MB_BUSES --units $MB_UNITS --warm $MB_WARM --duration $MB_S --setpoints $MB_SETPOINTS\`
  (simulators: \`battery_sim --port FREE_PORT --units $MB_UNITS --quit-on-eof\`; flexgw: \`$BIN --config CONF\` with CONF written by modbus_poll.py;
  pymodbus: \`modbus_poll.py poll --target 127.0.0.1:PORT:1:$MB_UNITS ...\`, one --target per simulator)
EOF
fi

[ -z "$FAILED_EXITS" ] || exit 1
[ "$MB_RC" = 0 ] || exit 1
[ "$AGE_RC" = 0 ] || exit 1
[ "$PLAN_RC" = 0 ] || exit 1
[ "$OADR_RC" = 0 ] || exit 1
[ "$OADRD_RC" = 0 ] || exit 1
[ "$OCPP_RC" = 0 ] || exit 1
