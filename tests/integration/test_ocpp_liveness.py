"""A connected station that is silent for longer than the gateway's offline
timeout (60 s) stays online: its open, pinged WebSocket is the evidence. A
station only has to speak every heartbeat interval (here 300 s)."""

import time

from fgtest import run
from test_ocpp import boot, ocpp_gateway, status, wait_asset, ws_open


def test_silent_connected_station_stays_online():
    with ocpp_gateway(heartbeat_s=300) as gw:
        ws = ws_open(gw)
        boot(ws)
        status(ws, "Available", id="s1")
        wait_asset(gw, "cp1-1", lambda a: a["online"] is True, "online")
        deadline = time.monotonic() + 75
        while time.monotonic() < deadline:  # silent, but answering pings
            try:
                m = ws.recv(timeout=1)
                raise AssertionError(f"unexpected message from the gateway: {m!r}")
            except TimeoutError:
                pass
        _, _, a = gw.get("/api/v1/assets/cp1-1")
        assert a["online"] is True, a
        ws.close()
        wait_asset(gw, "cp1-1", lambda a: a["online"] is False, "offline on close")


if __name__ == "__main__":
    run([test_silent_connected_station_stays_online])
