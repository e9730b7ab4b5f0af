#!/bin/sh
# Install every Debian 12 package flexgw needs to build, test and run its demo.
# Idempotent: packages already present are skipped, so a second run is quick.
# Uses apt-get only. Run as root (make demo / make check call it).
set -eu

# Build and runtime libraries (the -dev packages pull in the shared libraries).
BUILD="build-essential cmake pkg-config \
 libwebsockets-dev libwebsockets-evlib-ev libev-dev libcjson-dev libxml2-dev libssl-dev libmodbus-dev \
 libmosquitto-dev libsqlite3-dev libsodium-dev libcmocka-dev \
 coinor-libcbc-dev libcurl4-openssl-dev"
# Tests: real peers, fuzzing and sanitizers (clang + its runtime), load tools;
# socat makes the virtual serial line (pty pair) of test_modbus_rtu.py.
TEST="clang libclang-rt-14-dev clang-format python3 mosquitto wrk procps \
 curl libxml2-utils chromium openssl nodejs \
 python3-pymodbus python3-serial python3-serial-asyncio socat glpk-utils"
# npm comes with nodejs from some sources; Debian packages it apart.
command -v npm >/dev/null 2>&1 || TEST="$TEST npm"

missing=""
for p in $BUILD $TEST; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

# Independent OCPP peers for interop tests and benchmarks (npm registry),
# pinned by tests/node/package-lock.json; reinstalled when the lock changes.
node_peers() {
    here=$(cd "$(dirname "$0")/.." && pwd)
    dir="$here/tests/node"
    stamp="$dir/node_modules/.flexgw-installed-lock"
    if ! cmp -s "$dir/package-lock.json" "$stamp"; then
        echo "install-deps: npm ci in tests/node"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error &&
            cp package-lock.json "$stamp")
    fi
}

if [ -z "$missing" ]; then
    node_peers
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root (or: sudo apt-get install$missing)" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Refresh the index only when an install is actually needed.
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
node_peers
