"""Harness for integration tests: start the real flexgw binary on loopback,
talk HTTP to it, stop it, and fail on anything a sanitizer reported.

Environment (set by ctest): FLEXGW (binary), FG_SOURCE_DIR (repository).
Standard library only (Debian's python3)."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

FLEXGW = os.environ.get("FLEXGW", "build/gateway/flexgw")
SRC = os.environ.get("FG_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN = "test-token-0123456789"
PASSWORD = "test-password"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_config(**site):
    """A small valid config: a battery, a PV system, a load and one EVSE, all
    simulated, with both write credentials set."""
    cfg = {
        "site": {
            "id": "test",
            "name": "Test site",
            "import_limit_w": 40000,
            "export_limit_w": 30000,
            "tariff": [{"from": "00:00", "import_price": 0.25, "export_price": 0.05}],
            "assets": [
                {"id": "bat1", "kind": "battery", "capacity_wh": 20000,
                 "max_charge_w": 10000, "max_discharge_w": 10000,
                 "sim": {"initial_soc": 50}},
                {"id": "pv1", "kind": "pv", "rated_w": 15000},
                {"id": "load1", "kind": "load", "rated_w": 8000,
                 "sim": {"profile": "flat"}},
                {"id": "ev1", "kind": "evse", "rated_w": 11000,
                 "sim": {"arrival": "00:00", "departure": "23:59", "energy_wh": 50000}},
            ],
        },
        "web": {"token": TOKEN, "admin_password": PASSWORD},
        "log": {"level": "info"},
        # No scheduler: these sites test adapters, the API and storage, where
        # the only set-points are the ones a test makes. The scheduler's own
        # tests (test_scheduler_*) choose theirs.
        "scheduler": {"plugin": "none", "planner": "none"},
    }
    cfg["site"].update(site)
    return cfg


class Gateway:
    """One flexgw process. Use as a context manager."""

    def __init__(self, config=None, args=(), data_dir=None, config_path=None, demo=False):
        self.tmp = tempfile.TemporaryDirectory(prefix="fgtest-")
        self.data_dir = data_dir or os.path.join(self.tmp.name, "data")
        self.port = free_port()
        self.ocpp_port = free_port()
        self.config_path = config_path
        if config is not None:
            self.config_path = os.path.join(self.tmp.name, "flexgw.json")
            with open(self.config_path, "w") as f:
                json.dump(config, f, indent=2)
        self.args = list(args)
        self.demo = demo
        self.proc = None
        self.log_path = os.path.join(self.tmp.name, "stderr.log")
        self.out_path = os.path.join(self.tmp.name, "stdout.log")

    def cmd(self):
        c = [FLEXGW, "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}"]
        if self.demo:
            # the demo's CSMS for its simulated chargers, on a port of its own
            # so that demos run side by side
            c += ["--demo", "--ocpp-listen", f"127.0.0.1:{self.ocpp_port}"]
        else:
            c += ["--config", self.config_path]
        return c + self.args

    def start(self, wait=True, timeout=15):
        self.log = open(self.log_path, "ab")
        self.out = open(self.out_path, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd(), stdout=self.out, stderr=self.log)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"flexgw exited with {self.proc.returncode}:\n"
                                     + self.stderr())
            try:
                st, _, _ = self.request("GET", "/api/v1/health", timeout=1)
                if st == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("flexgw did not answer /api/v1/health in time:\n" + self.stderr())

    def stderr(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            with open(self.out_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def check_sanitizers(self):
        err = self.stderr()
        for mark in SANITIZER_MARKS:
            if mark in err:
                raise AssertionError("sanitizer report:\n" + err)

    def stop(self, expect_code=0):
        """SIGTERM, wait, and check the exit code and the sanitizers."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("flexgw did not stop on SIGTERM:\n" + self.stderr())
        code = self.proc.returncode if self.proc else 0
        self.log.close()
        self.out.close()
        self.check_sanitizers()
        if expect_code is not None and code != expect_code:
            raise AssertionError(f"flexgw exited with {code}, expected {expect_code}:\n"
                                 + self.stderr())
        return code

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        self.out.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        elif self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            sys.stderr.write("---- flexgw stderr ----\n" + self.stderr())
        self.tmp.cleanup()
        return False

    # -- HTTP --
    def request(self, method, path, body=None, headers=None, auth=None, timeout=10):
        """Returns (status, headers dict (lower-case), parsed JSON or text)."""
        h = dict(headers or {})
        if auth == "token":
            h["Authorization"] = "Bearer " + TOKEN
        elif auth == "basic":
            import base64
            h["Authorization"] = "Basic " + base64.b64encode(
                f"admin:{PASSWORD}".encode()).decode()
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        ctype = hdrs.get("content-type", "")
        if ctype.startswith("application/json") and data:
            return r.status, hdrs, json.loads(data)
        return r.status, hdrs, data.decode("utf-8", "replace")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)


def wait_asset(gw, asset_id, pred, what, timeout=3.0):
    """Poll GET /api/v1/assets/{asset_id} until pred(asset); the asset, or an
    AssertionError saying what was expected and what was there."""
    deadline = time.monotonic() + timeout
    while True:
        st, _, a = gw.get(f"/api/v1/assets/{asset_id}")
        if st == 200 and pred(a):
            return a
        if time.monotonic() > deadline:
            raise AssertionError(f"{asset_id}: expected {what} within {timeout} s, "
                                 f"got {st} {a!r}")
        time.sleep(0.05)


def run(tests):
    """Run test functions in order, report, exit non-zero on failure."""
    failed = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
            print(f"ok   {t.__name__} ({time.monotonic() - t0:.2f} s)")
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}")
            import traceback
            traceback.print_exc()
    print(f"{len(tests) - failed}/{len(tests)} passed")
    sys.exit(1 if failed else 0)
