"""A minimal RFC 6455 WebSocket client for the integration tests, with an
OCPP-J helper (call). Standard library only.

    ws = connect("127.0.0.1", port, "/ocpp/CP1", subprotocols=["ocpp2.0.1"])
    ws = connect(..., tls=ssl_context, basic_auth=("CP1", "password"))  # wss://
    ws.subprotocol                   # what the server picked, or None
    ws.call("Heartbeat", {})         # -> [3, "<id>", {...}] or [4, ...]
    ws.recv()                        # ("text", str) | ("binary", bytes) |
                                     # ("close", code, reason) | ("ping", bytes)
    ws.close()

A refused handshake raises HandshakeRefused(status_code, body, headers),
status_code None when the server closed without an answer or the TLS
handshake failed (body then says why); end of stream in recv()
raises ConnectionClosed. Timeouts raise TimeoutError (socket.timeout)."""

import base64
import hashlib
import itertools
import json
import os
import socket
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeRefused(Exception):
    def __init__(self, status_code, body=b"", headers=None):
        super().__init__(f"WebSocket handshake refused: status {status_code}, body {body[:200]!r}")
        self.status_code = status_code
        self.body = body
        self.headers = headers or {}


class ConnectionClosed(EOFError):
    """The server closed the TCP connection (no close frame, or after one)."""


class ProtocolError(Exception):
    """The server sent something a WebSocket client must not accept."""


def connect(host, port, path, subprotocols=(), headers=None, timeout=5.0, tls=None,
            basic_auth=None):
    """Open a WebSocket; returns a WebSocket whose .subprotocol is the one the
    server selected (None if it sent none). tls: an ssl.SSLContext for wss://
    (its certificates, CA and versions are the caller's); basic_auth: (user,
    password) sent as an HTTP Basic Authorization header."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        raise HandshakeRefused(None, str(e).encode()) from e
    if tls is not None:
        try:
            sock = tls.wrap_socket(sock, server_hostname=host)
        except OSError as e:  # ssl.SSLError included: alert, version, reset
            sock.close()
            raise HandshakeRefused(None, f"TLS: {e}".encode()) from e
    headers = dict(headers or {})
    if basic_auth is not None:
        cred = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
        headers["Authorization"] = "Basic " + cred
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if subprotocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(subprotocols))
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    buf = b""
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
    except OSError as e:  # reset or timeout: no usable answer
        sock.close()
        raise HandshakeRefused(None, buf or str(e).encode()) from e
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        sock.close()
        raise HandshakeRefused(None, buf)
    status_line, *hlines = head.decode("iso-8859-1").split("\r\n")
    parts = status_line.split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    hdrs = {}
    for h in hlines:
        k, _, v = h.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if status != 101:
        n = int(hdrs.get("content-length", "0") or 0)
        try:
            while len(rest) < n:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                rest += chunk
        except OSError:
            pass
        sock.close()
        raise HandshakeRefused(status, rest, hdrs)
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    proto = hdrs.get("sec-websocket-protocol")
    problem = None
    if hdrs.get("upgrade", "").lower() != "websocket":
        problem = "Upgrade header is not websocket"
    elif hdrs.get("sec-websocket-accept") != want:
        problem = f"Sec-WebSocket-Accept {hdrs.get('sec-websocket-accept')!r} != {want!r}"
    elif proto is not None and proto not in subprotocols:
        problem = f"server chose subprotocol {proto!r}, not offered"
    if problem:
        sock.close()
        raise ProtocolError(problem)
    return WebSocket(sock, proto, rest)


class WebSocket:
    _ids = itertools.count(1)

    def __init__(self, sock, subprotocol, pending=b""):
        self.sock = sock
        self.subprotocol = subprotocol
        self.buf = pending
        self.closed = False   # a close frame was sent
        self.calls = []       # CALLs from the server seen by call(), in order

    # -- sending --
    def send_raw_frame(self, opcode, payload, fin=True, mask=True, rsv=0):
        """One frame exactly as given (may break the protocol on purpose)."""
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
        mbit = 0x80 if mask else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([mbit | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            head += key
            payload = _mask(payload, key)
        self.sock.sendall(head + payload)

    def send_text(self, s):
        self.send_raw_frame(OP_TEXT, s.encode() if isinstance(s, str) else s)

    def send_binary(self, b):
        self.send_raw_frame(OP_BINARY, bytes(b))

    def close(self, code=1000, reason=""):
        """Send a close frame (once) and close the socket."""
        try:
            if not self.closed:
                self.closed = True
                self.send_raw_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode())
        except OSError:
            pass
        self.sock.close()

    # -- receiving --
    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed("server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self):
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        if b1 & 0x80:
            raise ProtocolError("server frame is masked")
        if b0 & 0x70:
            raise ProtocolError(f"server frame has RSV bits {b0 & 0x70:#x}")
        return bool(b0 & 0x80), b0 & 0x0F, self._read(n)

    def recv(self, timeout=None, pings=False):
        """The next message. Pings are answered with a pong automatically and
        returned only if pings=True; pongs are skipped. A close frame is
        answered (once) and returned as ("close", code, reason), code None if
        the frame had no body."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        parts, first = [], None
        while True:
            fin, op, data = self._frame()
            if op == OP_PING:
                self.send_raw_frame(OP_PONG, data)
                if pings:
                    return ("ping", data)
            elif op == OP_PONG:
                continue
            elif op == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                reason = data[2:].decode("utf-8", "replace")
                if not self.closed:
                    self.closed = True
                    try:
                        self.send_raw_frame(OP_CLOSE, data[:2])
                    except OSError:
                        pass
                return ("close", code, reason)
            elif op in (OP_TEXT, OP_BINARY, OP_CONT):
                if (op == OP_CONT) != (first is not None):
                    raise ProtocolError(f"unexpected opcode {op} in fragmentation")
                first = op if first is None else first
                parts.append(data)
                if fin:
                    msg = b"".join(parts)
                    return ("text", msg.decode("utf-8")) if first == OP_TEXT \
                        else ("binary", msg)
            else:
                raise ProtocolError(f"unknown opcode {op:#x}")

    def recv_json(self, timeout=None):
        """The next message, which must be a JSON text message, decoded."""
        m = self.recv(timeout)
        if m[0] != "text":
            raise ProtocolError(f"expected a text message, got {m!r}")
        return json.loads(m[1])

    # -- OCPP-J --
    def call(self, action, payload, id=None, timeout=None):
        """Send [2, id, action, payload] and return the server's next answer
        (a decoded JSON array that is not a CALL of its own: those are kept in
        self.calls). The id is not checked here: tests assert it."""
        id = str(next(self._ids)) if id is None else id
        self.send_text(json.dumps([2, id, action, payload]))
        return self.answer(timeout)

    def answer(self, timeout=None):
        """The next non-CALL JSON array from the server."""
        while True:
            m = self.recv(timeout)
            if m[0] == "close":
                raise ConnectionClosed(f"server sent close {m[1]} {m[2]!r}")
            if m[0] != "text":
                raise ProtocolError(f"expected a text message, got {m!r}")
            j = json.loads(m[1])
            if isinstance(j, list) and j and j[0] == 2:
                self.calls.append(j)
                continue
            return j


def _mask(payload, key):
    """XOR with the repeated 4-byte key, as one big integer (fast)."""
    n = len(payload)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")
