"""1,000 random and malformed requests, over HTTP and as raw bytes on the
socket: the gateway answers each with a proper status or closes the
connection, never crashes, and still serves afterwards. Seeded, so a failure
can be replayed (FG_FUZZ_SEED)."""

import json
import os
import random
import socket
import time

from fgtest import Gateway, TOKEN, base_config, run

SEED = int(os.environ.get("FG_FUZZ_SEED", "20261125"))
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW", ""]
PATHS = ["/api/v1/health", "/api/v1/site", "/api/v1/assets", "/api/v1/assets/bat1",
         "/api/v1/assets/bat1/setpoint", "/api/v1/signals", "/api/v1/signals/x",
         "/api/v1/config", "/api/v1/plan", "/metrics", "/", "/api/v1/assets/%00",
         "/api/v1/../../etc/passwd", "//api//v1", "/api/v1/assets/" + "a" * 300,
         "/api/v1/signals?x=" + "%" * 50, "*", "/api/v1/assets/bat1/setpoint/extra"]


def rand_json(r, depth=0):
    k = r.randrange(8 if depth < 4 else 5)
    if k == 0:
        return r.choice([None, True, False])
    if k == 1:
        return r.choice([0, -1, 1e308, -1e308, 2 ** 63, 3.5, r.randrange(-10 ** 9, 10 ** 9)])
    if k == 2:
        return "".join(chr(r.randrange(1, 0x3000)) for _ in range(r.randrange(20)))
    if k in (3, 4):
        return r.choice(["grid_limit", "price", "api", "x" * 70, "2026-11-25T17:00:00Z"])
    if k == 5:
        return [rand_json(r, depth + 1) for _ in range(r.randrange(5))]
    keys = ["id", "type", "intervals", "start", "duration_s", "value", "w", "priority",
            "source", "site", "web", "expires_at", "export_value", "zz"]
    return {r.choice(keys): rand_json(r, depth + 1) for _ in range(r.randrange(6))}


def rand_body(r):
    k = r.randrange(6)
    if k == 0:
        return b""
    if k == 1:
        return bytes(r.randrange(256) for _ in range(r.randrange(1, 2000)))
    if k == 2:
        s = json.dumps(rand_json(r)).encode()
        return s[: r.randrange(len(s) + 1)]  # truncated JSON
    if k == 3:
        return b"[" * r.randrange(1, 5000)  # deep nesting
    sig = {"id": f"f{r.randrange(50)}", "type": r.choice(["grid_limit", "price", "bad"]),
           "intervals": [{"start": int(time.time()) + r.randrange(-9000, 9000),
                          "duration_s": r.choice([0, 1, 900, -5, 10 ** 9]),
                          "value": rand_json(r)} for _ in range(r.randrange(0, 4))]}
    return json.dumps(sig).encode()


def http_request(r):
    method = r.choice(METHODS)
    path = r.choice(PATHS)
    body = rand_body(r)
    headers = []
    if r.random() < 0.5:
        headers.append(("Authorization", r.choice(
            ["Bearer " + TOKEN, "Bearer x", "Basic !!!", "Basic " + "A" * 600, "Digest x"])))
    if r.random() < 0.7:
        headers.append(("Content-Type", r.choice(["application/json", "text/plain", "x" * 200])))
    cl = len(body)
    if r.random() < 0.1:
        cl = r.choice(["-1", "abc", "99999999999999999999", str(len(body) + 10), "0"])
    headers.append(("Content-Length", str(cl)))
    if r.random() < 0.05:
        headers.append(("X-Big", "y" * r.randrange(1000, 20000)))
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body
    # A body shorter than announced would make the server wait for the rest:
    # hang up our side so it sees the end instead.
    return data, str(cl) != str(len(body))


def raw_garbage(r):
    k = r.randrange(4)
    if k == 0:
        return bytes(r.randrange(256) for _ in range(r.randrange(1, 4000)))
    if k == 1:
        return b"GET /api/v1/site HTTP/1.1\r\n" + b"X: y\r\n" * r.randrange(1, 3000)
    if k == 2:
        return b"GET /api/v1/site HTTP/9.9\r\n\r\n"
    return b"POST /api/v1/signals HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"


def raw_case(r):
    return raw_garbage(r), True


def send(port, data, half_close, r):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if r.random() < 0.1:  # dribble, then hang up half way
            s.sendall(data[: len(data) // 2])
            return None
        s.sendall(data)
        if half_close or r.random() < 0.3:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)
    except OSError:  # the server hung up on us: allowed
        return None
    finally:
        s.close()


def test_thousand_bad_requests():
    r = random.Random(SEED)
    with Gateway(base_config()) as gw:
        statuses = {}
        for i in range(1000):
            data, half_close = http_request(r) if r.random() < 0.8 else raw_case(r)
            resp = send(gw.port, data, half_close, r)
            if resp:
                line = resp.split(b"\r\n", 1)[0]
                assert line.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), (i, line)
                code = int(line.split()[1])
                assert 200 <= code < 600, (i, line)
                assert code < 500 or code == 503, (i, data[:200], resp[:300])
                statuses[code] = statuses.get(code, 0) + 1
            assert gw.proc.poll() is None, f"request {i} killed flexgw:\n{gw.stderr()}"
        print("status codes seen:", dict(sorted(statuses.items())))
        assert len(statuses) >= 5, statuses
        st, _, j = gw.get("/api/v1/health")
        assert st == 200 and j["status"] == "ok"
        st, _, site = gw.get("/api/v1/site")
        assert st == 200 and len(site["assets"]) == 4


if __name__ == "__main__":
    run([test_thousand_bad_requests])
