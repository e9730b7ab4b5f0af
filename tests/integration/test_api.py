"""REST API against the real binary: reads, authentication, limits, errors,
set-points clamped by the model, signals, config, metrics."""

import json
import os
import socket
import time

from fgtest import Gateway, TOKEN, base_config, run


def test_reads_and_health():
    with Gateway(base_config()) as gw:
        st, _, j = gw.get("/api/v1/health")
        assert st == 200 and j["status"] == "ok", j
        st, _, site = gw.get("/api/v1/site")
        assert st == 200
        assert site["site"]["id"] == "test"
        assert {a["id"] for a in site["assets"]} == {"bat1", "pv1", "load1", "ev1"}
        st, _, assets = gw.get("/api/v1/assets")
        assert st == 200 and len(assets) == 4
        st, _, bat = gw.get("/api/v1/assets/bat1")
        assert st == 200 and bat["kind"] == "battery" and bat["online"] is True
        assert bat["battery"]["soc"] == 50
        st, _, j = gw.get("/api/v1/assets/nope")
        assert st == 404 and "nope" in j["error"], j
        st, _, j = gw.get("/api/v1/nothing-here")
        assert st == 404 and j["error"], j
        st, _, j = gw.get("/api/v1/plan")
        assert st == 200 and j["plan"] is None


def test_writes_need_credentials():
    with Gateway(base_config()) as gw:
        sig = {"id": "x", "type": "price", "intervals": [
            {"start": int(time.time()), "duration_s": 900, "value": 0.1}]}
        for method, path, body in [("POST", "/api/v1/signals", sig),
                                   ("PUT", "/api/v1/assets/bat1/setpoint", {"w": 1000}),
                                   ("DELETE", "/api/v1/signals/x", None),
                                   ("PUT", "/api/v1/config", {}),
                                   ("GET", "/api/v1/config", None)]:
            st, h, j = gw.request(method, path, body=body)
            assert st == 401, (method, path, st, j)
            assert "www-authenticate" in h
            st, _, j = gw.request(method, path, body=body,
                                  headers={"Authorization": "Bearer wrong"})
            assert st == 401, (method, path, st, j)
            st, _, j = gw.request(method, path, body=body,
                                  headers={"Authorization": "Basic YWRtaW46d3Jvbmc="})
            assert st == 401, (method, path, st, j)
        # the right ones work, both kinds
        st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 1000},
                              auth="token")
        assert st == 200, j
        st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 2000},
                              auth="basic")
        assert st == 200, j
        assert j["setpoint"]["w"] == 2000
        st, _, m = gw.get("/metrics")
        assert "flexgw_http_auth_failures_total 15" in m, m


def test_guessing_is_throttled():
    with Gateway(base_config()) as gw:
        codes = [gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 1},
                            headers={"Authorization": f"Bearer guess{i}"})[0]
                 for i in range(31)]
        assert codes[:30] == [401] * 30 and codes[30] == 429, codes
        st, h, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 1},
                              auth="token")
        assert st == 429 and h["retry-after"] == "60", (st, j)
        assert "too many failed authentications" in j["error"]
        # reads that need no credentials still work
        assert gw.get("/api/v1/site")[0] == 200
        _, _, ev = gw.get("/api/v1/events")
        assert any(e["kind"] == "security" for e in ev), ev


def test_no_credentials_configured_forbids_writes():
    cfg = base_config()
    del cfg["web"]
    with Gateway(cfg) as gw:
        st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 1000},
                              headers={"Authorization": "Bearer anything"})
        assert st == 403, j
        assert "web.token" in j["error"]
        st, _, _ = gw.get("/api/v1/site")
        assert st == 200


def test_body_limits_and_malformed_json():
    with Gateway(base_config()) as gw:
        big = b"{" + b" " * (10 * 1024 * 1024) + b"}"
        st, _, j = gw.request("POST", "/api/v1/signals", body=big, auth="token",
                              headers={"Content-Type": "application/json"}, timeout=30)
        assert st == 413, (st, j)
        assert "larger than" in j["error"]
        # the server is still fine, on a new connection
        st, _, j = gw.get("/api/v1/health")
        assert st == 200
        st, _, j = gw.request("POST", "/api/v1/signals", body=b'{"id": "a",', auth="token",
                              headers={"Content-Type": "application/json"})
        assert st == 400 and "malformed JSON" in j["error"], j
        assert "line 1" in j["error"], j
        st, _, j = gw.request("POST", "/api/v1/signals", body=b'[1, 2]', auth="token",
                              headers={"Content-Type": "application/json"})
        assert st == 400 and "object" in j["error"], j
        st, _, j = gw.request("POST", "/api/v1/signals", body=b'{}', auth="token",
                              headers={"Content-Type": "text/plain"})
        assert st == 415, j
        st, h, j = gw.request("PATCH", "/api/v1/signals", body=b'{}', auth="token")
        assert st == 405 and "GET" in h["allow"] and "POST" in h["allow"], (st, h)


def test_setpoints_are_clamped():
    with Gateway(base_config()) as gw:
        # battery envelope: max charge 10 kW
        st, _, a = gw.request("PUT", "/api/v1/assets/bat1/setpoint",
                              body={"w": 25000, "duration_s": 600}, auth="token")
        assert st == 200, a
        sp = a["setpoint"]
        assert sp["requested_w"] == 25000 and sp["w"] == 10000, sp
        assert "envelope" in sp["clamped"], sp
        assert sp["expires_at"] - sp["set_at"] == 600
        st, _, a = gw.request("PUT", "/api/v1/assets/bat1/setpoint",
                              body={"w": -4000}, auth="token")
        assert a["setpoint"]["w"] == -4000 and not a["setpoint"]["clamped"], a
        # bad values
        now = int(time.time())
        for body, path in [({"w": "x"}, "/w"), ({}, "/w"), ({"w": 1, "bogus": 1}, "/bogus"),
                           ({"w": 1, "duration_s": 0}, "/duration_s"),
                           ({"w": 1, "expires_at": 1e300}, "/expires_at"),
                           ({"w": 1, "expires_at": now - 5}, "/expires_at"),
                           ({"w": 1, "expires_at": "tomorrow"}, "/expires_at"),
                           ({"w": 1, "expires_at": now + 60, "duration_s": 60}, "/expires_at")]:
            st, _, j = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body=body,
                                  auth="token")
            assert st == 400, (body, st, j)
            assert j["path"] == path, (body, j)
        st, _, a = gw.request("PUT", "/api/v1/assets/bat1/setpoint",
                              body={"w": -4000, "expires_at": now + 120}, auth="token")
        assert st == 200 and a["setpoint"]["expires_at"] == now + 120, a
        st, _, j = gw.request("PUT", "/api/v1/assets/nope/setpoint", body={"w": 1},
                              auth="token")
        assert st == 404, j
        # the simulated battery follows: its measured power becomes the set-point
        deadline = time.time() + 5
        while time.time() < deadline:
            _, _, a = gw.get("/api/v1/assets/bat1")
            if a["power_w"] == -4000:
                break
            time.sleep(0.2)
        assert a["power_w"] == -4000, a
        st, _, a = gw.request("DELETE", "/api/v1/assets/bat1/setpoint", auth="token")
        assert st == 200 and a["setpoint"] is None, a


def test_grid_limit_signal_clamps_setpoints():
    with Gateway(base_config()) as gw:
        now = int(time.time())
        # The simulated PV and load follow the time of day: the limit sits
        # 4 kW above what the site draws now, so a 10 kW charge never fits
        # (a fixed 12 kW did not bind around noon, with the PV producing).
        _, _, site = gw.get("/api/v1/site")
        limit = max(1000, round(site["site"]["power_w"]) + 4000)
        sig = {"id": "dso-1", "type": "grid_limit", "priority": 5,
               "intervals": [{"start": now - 60, "duration_s": 3600, "value": limit,
                              "export_value": None}]}
        st, h, j = gw.request("POST", "/api/v1/signals", body=sig, auth="token")
        assert st == 201, j
        assert h["location"] == "/api/v1/signals/dso-1"
        assert j["status"] == "active", j
        st, _, site = gw.get("/api/v1/site")
        lim = site["site"]["limits"]
        assert lim["import_max_w"] == limit, lim
        assert lim["import_by"] == {"source": "api", "id": "dso-1"}, lim
        # a price signal never changes the limit
        price = {"id": "p1", "type": "price", "priority": 100,
                 "intervals": [{"start": now - 60, "duration_s": 3600, "value": 0.5}]}
        st, _, j = gw.request("POST", "/api/v1/signals", body=price, auth="token")
        assert st == 201, j
        _, _, site = gw.get("/api/v1/site")
        assert site["site"]["limits"]["import_max_w"] == limit
        assert site["site"]["limits"]["price_import"] == 0.5
        # charging the battery at 10 kW on top of what the site draws would
        # break the limit: the set-point is cut to what fits
        st, _, a = gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 10000},
                              auth="token")
        assert st == 200
        assert "import" in a["setpoint"]["clamped"], a
        assert a["setpoint"]["w"] < 10000
        # invalid signals are refused with the path of the mistake
        bad = {"id": "b", "type": "grid_limit", "intervals": [
            {"start": now, "duration_s": 600, "value": 1000},
            {"start": now + 300, "duration_s": 600, "value": 1000}]}
        st, _, j = gw.request("POST", "/api/v1/signals", body=bad, auth="token")
        assert st == 400 and j["path"].startswith("/intervals/1"), j
        st, _, j = gw.request("POST", "/api/v1/signals", body=dict(sig, source="openadr"),
                              auth="token")
        assert st == 400 and j["path"] == "/source", j
        # cancel
        st, _, j = gw.request("DELETE", "/api/v1/signals/dso-1", auth="token")
        assert st == 200 and j["status"] == "cancelled", j
        _, _, site = gw.get("/api/v1/site")
        assert site["site"]["limits"]["import_max_w"] == 40000
        st, _, j = gw.request("DELETE", "/api/v1/signals/never", auth="token")
        assert st == 404, j
        _, _, sigs = gw.get("/api/v1/signals")
        assert {s["id"] for s in sigs} >= {"dso-1", "p1"}


def test_config_get_put():
    with Gateway(base_config()) as gw:
        st, _, cfg = gw.get("/api/v1/config", auth="token")
        assert st == 200
        assert cfg["web"]["token"] == "********", cfg["web"]
        # a redacted document can be edited and put back: secrets are kept
        cfg["site"]["name"] = "Renamed site"
        st, _, j = gw.request("PUT", "/api/v1/config", body=cfg, auth="token")
        assert st == 200, j
        _, _, site = gw.get("/api/v1/site")
        assert site["site"]["name"] == "Renamed site"
        with open(gw.config_path) as f:
            on_disk = json.load(f)
        assert on_disk["site"]["name"] == "Renamed site"
        assert on_disk["web"]["token"] == TOKEN
        # still authenticated with the same token
        st, _, _ = gw.get("/api/v1/config", auth="token")
        assert st == 200
        # an invalid document is refused with every error, nothing changes
        cfg["site"]["import_limit_w"] = -5
        cfg["site"]["bogus"] = 1
        cfg["ocpp"]["listen"] = "0.0.0.0:99999"
        st, _, j = gw.request("PUT", "/api/v1/config", body=cfg, auth="token")
        assert st == 422, j
        paths = {e["path"] for e in j["errors"]}
        assert {"/site/import_limit_w", "/site/bogus", "/ocpp/listen"} <= paths, j
        with open(gw.config_path) as f:
            assert json.load(f)["site"]["import_limit_w"] == 40000


def test_metrics():
    with Gateway(base_config()) as gw:
        gw.request("PUT", "/api/v1/assets/bat1/setpoint", body={"w": 99999}, auth="token")
        st, h, m = gw.get("/metrics")
        assert st == 200 and h["content-type"].startswith("text/plain"), h
        for line in ['flexgw_assets_online{kind="battery"} 1',
                     'flexgw_assets{kind="evse"} 1',
                     "flexgw_setpoints_sent_total 1",
                     "flexgw_setpoints_clamped_total 1",
                     'flexgw_adapter_messages_out_total{adapter="sim"} 1',
                     "flexgw_loop_lag_seconds "]:
            assert line in m, (line, m)
        # every sample line is "name{labels} value"
        for line in m.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                float(value)


def test_auth_reads():
    cfg = base_config()
    cfg["web"]["auth_reads"] = True
    with Gateway(cfg) as gw:
        assert gw.get("/api/v1/health")[0] == 200
        assert gw.get("/api/v1/site")[0] == 401
        assert gw.get("/api/v1/site", auth="token")[0] == 200


def test_keepalive_many_requests_one_connection():
    import http.client
    with Gateway(base_config()) as gw:
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
        for _ in range(200):
            conn.request("GET", "/api/v1/health")
            r = conn.getresponse()
            assert r.status == 200
            json.loads(r.read())
        conn.close()


def test_stop_with_connections_open():
    """SIGTERM while clients are mid-request: a clean exit (code 0, no
    sanitizer report), whatever state the connections are in."""
    gw = Gateway(base_config()).start()
    socks = []
    for data in [b"POST /api/v1/signals HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                 b"Content-Type: application/json\r\n\r\n{\"id\":",
                 b"GET /api/v1/si",
                 b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
                 b""]:
        s = socket.create_connection(("127.0.0.1", gw.port))
        if data:
            s.sendall(data)
        socks.append(s)
    time.sleep(0.3)
    try:
        gw.stop()
    finally:
        for s in socks:
            s.close()
        gw.tmp.cleanup()


if __name__ == "__main__":
    run([test_reads_and_health, test_writes_need_credentials,
         test_guessing_is_throttled, test_no_credentials_configured_forbids_writes, test_body_limits_and_malformed_json,
         test_setpoints_are_clamped, test_grid_limit_signal_clamps_setpoints,
         test_config_get_put, test_metrics, test_auth_reads,
         test_keepalive_many_requests_one_connection, test_stop_with_connections_open])
