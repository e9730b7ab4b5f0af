"""One tests/sim/battery_sim process for a test: commands on stdin, JSON
events read from stdout by a thread. kill() and start() again keep the port.

revert_real (the default) makes its revert timer count real seconds
whatever its --speed: flexgw renews a set-point every revert_s / 2 of real
time, so on a fast battery clock it would lapse between renewals. Tests of
the simulator itself pass revert_real=False.

Environment: BATTERY_SIM (the binary; ctest sets it)."""

import json
import os
import queue
import signal
import subprocess
import threading
import time

from fgtest import SANITIZER_MARKS, free_port

BATTERY_SIM = os.environ.get("BATTERY_SIM", "build/tests/sim/battery_sim")


class BatterySim:
    def __init__(self, *args, port=None, revert_real=True):
        self.port = port or free_port()
        self.args = (["--revert-real"] if revert_real else []) + list(args)
        self.events = queue.Queue()
        self.log = []
        self.proc = None
        self.seq = 0

    def start(self):
        self.proc = subprocess.Popen(
            [BATTERY_SIM, "--port", str(self.port), "--quit-on-eof", *self.args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr = []
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        self._err = threading.Thread(target=self._read_err, args=(self.proc,), daemon=True)
        self._err.start()
        self.wait("listening")
        return self

    def _read(self, proc):
        for line in proc.stdout:
            ev = json.loads(line)  # every line one JSON object
            self.log.append(ev)
            self.events.put(ev)

    def _read_err(self, proc):
        for line in proc.stderr:
            self.stderr.append(line)

    def wait(self, ev, timeout=10, **match):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            try:
                e = self.events.get(timeout=max(0.01, left))
            except queue.Empty:
                e = None
            if e and e["ev"] == ev and all(e.get(k) == v for k, v in match.items()):
                return e
            if left <= 0:
                raise AssertionError(f"battery_sim: no {ev} {match} within {timeout} s; "
                                     f"last events {self.log[-8:]}")

    def command(self, **cmd):
        """Send one command; its seq, to match the answer."""
        self.seq += 1
        self.proc.stdin.write(json.dumps(dict(cmd, seq=self.seq)) + "\n")
        self.proc.stdin.flush()
        return self.seq

    def send(self, **cmd):
        return self.wait("ok", seq=self.command(**cmd))

    def state(self):
        self.command(cmd="state")
        return self.wait("state")

    def seen(self, ev):
        return [e for e in self.log if e["ev"] == ev]

    def writes(self, address):
        """The values of every write the simulator took at this address."""
        return [e["values"] for e in self.log if e["ev"] == "write" and
                e["address"] == address]

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self):
        """SIGTERM; it must exit 0 without a sanitizer report."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        if self.proc:
            self.proc.stdin.close()
            self._err.join(timeout=5)
            err = "".join(self.stderr)
            assert not any(m in err for m in SANITIZER_MARKS), err
            assert self.proc.returncode == 0, \
                f"battery_sim exited {self.proc.returncode}: {err[-2000:]}"
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill() if exc[0] else self.stop()
        return False
