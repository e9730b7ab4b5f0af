"""A test VTN for OpenADR 2.0b (B profile, simple HTTP, pull mode), standard
library only (Debian's python3). The integration tests run it in-process
(class Vtn) or as a process driven over a small JSON control endpoint; see
tests/sim/README.md.

It serves POST {prefix}/OpenADR2/Simple/2.0b/{EiRegisterParty, EiEvent,
EiReport, EiOpt, OadrPoll} over HTTPS with mutual TLS (TLS 1.2, the two
suites the 2.0b profile requires plus modern ECDHE-GCM ones) or plain HTTP.
Payloads are the real oadrPayload/oadrSignedObject XML, built and read with
xml.etree.ElementTree; every payload received and sent is validated with
`xmllint --schema oadr_20b.xsd` and recorded with the outcome, so a test can
assert that everything the VEN emitted validates.

The XSD is found through $OADR_XSD, else the repository's
protocols/openadr/xsd/oadr_20b.xsd, else the shared specification copy.

Misbehaviour modes (Vtn.misbehave) make the next answers malformed XML, a
schema-invalid payload, a billion-laughs bomb, an external-entity reference,
a DOCTYPE, a 100 MB body, no answer, a connection closed mid-answer, or
HTTP 500, for the VEN's bad-input tests."""

import argparse
import collections
import datetime
import hashlib
import http.server
import itertools
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
SHARED_XSD = "/work/shared/specs/openadr-2.0b/xsd/oadr_20b.xsd"

NS = {
    "oadr": "http://openadr.org/oadr-2.0b/2012/07",
    "ei": "http://docs.oasis-open.org/ns/energyinterop/201110",
    "pyld": "http://docs.oasis-open.org/ns/energyinterop/201110/payloads",
    "emix": "http://docs.oasis-open.org/ns/emix/2011/06",
    "xcal": "urn:ietf:params:xml:ns:icalendar-2.0",
    "strm": "urn:ietf:params:xml:ns:icalendar-2.0:stream",
    "power": "http://docs.oasis-open.org/ns/emix/2011/06/power",
    "scale": "http://docs.oasis-open.org/ns/emix/2011/06/siscale",
}
for _p, _u in NS.items():
    ET.register_namespace(_p, _u)

SERVICES = ("EiRegisterParty", "EiEvent", "EiReport", "EiOpt", "OadrPoll")
SERVICE_PATH = "/OpenADR2/Simple/2.0b/"
# TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 and TLS_RSA_WITH_AES_128_CBC_SHA256
# (required by the 2.0b profile), then what current clients prefer.
CIPHERS = ("ECDHE-ECDSA-AES128-SHA256:AES128-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:"
           "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
           "ECDHE-RSA-AES256-GCM-SHA384")
MISBEHAVIOURS = ("malformed", "invalid", "bomb", "xxe", "doctype", "huge", "huge_chunked",
                 "hang", "close", "http500")
MAX_BODY = 1 << 20  # largest request body read; larger ones get 413
DRAIN_BODY = 16 << 20  # a larger body is refused without reading it
RECORD_BODY = 256 * 1024  # bodies are kept in the records up to this size


def default_xsd():
    """The oadr_20b.xsd to validate against (see the module comment)."""
    env = os.environ.get("OADR_XSD")
    if env:
        return env
    repo = os.path.join(SRC, "protocols", "openadr", "xsd", "oadr_20b.xsd")
    return repo if os.path.exists(repo) else SHARED_XSD


# ---------------------------------------------------------------- XML helpers

def q(name):
    """'ei:venID' -> '{http://...}venID'."""
    prefix, local = name.split(":")
    return "{%s}%s" % (NS[prefix], local)


def sub(parent, name, text=None):
    """Append element `name` ('prefix:local') to `parent`, with `text`."""
    e = ET.SubElement(parent, q(name))
    if text is not None:
        e.text = str(text)
    return e


def payload(name):
    """A new oadrPayload/oadrSignedObject/<name> with ei:schemaVersion 2.0b;
    returns (root, the <name> element)."""
    root = ET.Element(q("oadr:oadrPayload"))
    signed = sub(root, "oadr:oadrSignedObject")
    body = sub(signed, "oadr:" + name)
    body.set(q("ei:schemaVersion"), "2.0b")
    return root, body


def to_bytes(root):
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def iso_time(t):
    """Seconds since the epoch -> '2026-01-02T03:04:05Z' (xcal DateTimeType)."""
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    """'2026-01-02T03:04:05(.fff)Z' (or with an offset) -> epoch seconds."""
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


def iso_duration(seconds):
    """Seconds -> 'PT1H30M' style (xcal DurationValueType); 0 -> 'PT0S'."""
    s = int(round(seconds))
    sign = "-" if s < 0 else ""
    s = abs(s)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    out = sign + "P" + (f"{d}D" if d else "")
    t = (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s else "")
    if t or not d:
        out += "T" + (t or "0S")
    return out


_DUR = re.compile(r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_duration(s):
    """'PT1H30M' -> 5400 seconds (weeks, days, hours, minutes, seconds)."""
    m = _DUR.match(s.strip())
    if not m:
        raise ValueError(f"bad duration {s!r}")
    w, d, h, mi, sec = (int(x or 0) for x in m.groups()[1:])
    v = (((w * 7 + d) * 24 + h) * 60 + mi) * 60 + sec
    return -v if m.group(1) == "-" else v


def dur(parent, name, seconds):
    """A DurationPropType element: <name><xcal:duration>PT..</xcal:duration></name>."""
    e = sub(parent, name)
    sub(e, "xcal:duration", seconds if isinstance(seconds, str) else iso_duration(seconds))
    return e


def dtstart(parent, t):
    sub(sub(parent, "xcal:dtstart"), "xcal:date-time", iso_time(t))


def text(e, path):
    """Text of the first element at `path` ('ei:venID/...', prefixes of NS)
    under e, stripped, or None."""
    f = e.find(path, NS)
    return None if f is None or f.text is None else f.text.strip()


def local(tag):
    return tag.rsplit("}", 1)[-1]


def ei_response(parent, request_id, code=200, description="OK"):
    r = sub(parent, "ei:eiResponse")
    sub(r, "ei:responseCode", f"{code:03d}")
    sub(r, "ei:responseDescription", description)
    sub(r, "pyld:requestID", request_id or "")
    return r


def target(parent, name, targets):
    """An EiTargetType element from {"groupID": [...], "resourceID": [...],
    "venID": [...], "partyID": [...], "groupName": [...]} (schema order)."""
    e = sub(parent, name)
    for key in ("groupID", "groupName", "resourceID", "venID", "partyID"):
        for v in (targets or {}).get(key, ()):
            sub(e, "ei:" + key, v)
    return e


def resource_status(e):
    """oadrPayloadResourceStatus under `e` as {"online", "manualOverride",
    "capacity": {"min", "max", "current", "normal"} (present parts only),
    "levelOffset", "percentOffset", "setPoint"}, or None."""
    rs = e.find("oadr:oadrPayloadResourceStatus", NS)
    if rs is None:
        return None
    out = {"online": text(rs, "oadr:oadrOnline") == "true",
           "manualOverride": text(rs, "oadr:oadrManualOverride") == "true"}
    lcs = rs.find("oadr:oadrLoadControlState", NS)
    for part in ("capacity", "levelOffset", "percentOffset", "setPoint"):
        el = None if lcs is None else lcs.find("oadr:oadr" + part[0].upper() + part[1:], NS)
        if el is not None:
            out[part] = {k.lower(): float(text(el, "oadr:oadr" + k))
                         for k in ("Min", "Max", "Current", "Normal")
                         if text(el, "oadr:oadr" + k) is not None}
    return out


def item_base(parent, item):
    """An emix:itemBase substitute: "powerReal" (W), "energyReal" (Wh) or
    "currencyPerKWh" (EUR)."""
    if item == "powerReal":
        e = sub(parent, "power:powerReal")
        sub(e, "power:itemDescription", "RealPower")
        sub(e, "power:itemUnits", "W")
        sub(e, "scale:siScaleCode", "none")
        a = sub(e, "power:powerAttributes")
        sub(a, "power:hertz", "50")
        sub(a, "power:voltage", "230")
        sub(a, "power:ac", "true")
    elif item == "energyReal":
        e = sub(parent, "power:energyReal")
        sub(e, "power:itemDescription", "RealEnergy")
        sub(e, "power:itemUnits", "Wh")
        sub(e, "scale:siScaleCode", "none")
    elif item == "currencyPerKWh":
        e = sub(parent, "oadr:currencyPerKWh")
        sub(e, "oadr:itemDescription", "currencyPerKWh")
        sub(e, "oadr:itemUnits", "EUR")
        sub(e, "scale:siScaleCode", "none")
    else:
        raise ValueError(f"unknown item {item!r}")


# ----------------------------------------------------------------- validation

class Validator:
    """Runs `xmllint --noout --nonet --schema XSD -` on one payload at a time
    (a process each: simple, and a few ms per payload)."""

    def __init__(self, xsd=None):
        self.xsd = xsd or default_xsd()
        if not os.path.exists(self.xsd):
            raise FileNotFoundError(f"OpenADR schema not found: {self.xsd} (set OADR_XSD)")

    def check(self, data):
        """(True, "") or (False, xmllint's messages) for bytes `data`."""
        r = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", self.xsd, "-"],
                           input=data, capture_output=True, timeout=60)
        if r.returncode == 0:
            return True, ""
        return False, r.stderr.decode("utf-8", "replace").strip()


# --------------------------------------------------------------------- events

def make_event(event_id, signals, dtstart=None, start_in=0, duration=3600, status=None,
               modification=0, priority=None, targets=None, start_after=None, ramp_up=None,
               recovery=None, notification=None, response_required="always",
               market_context="http://flexgw.invalid/market/dr", test_event=None,
               vtn_comment=None):
    """An event as the VTN keeps it (a plain dict, JSON-friendly).

    signals: [{"name": "SIMPLE", "type": "level", "id": "s1" (optional),
               "intervals": [{"duration": 600, "value": 1}, ...],
               "item": None | "powerReal" | "energyReal" | "currencyPerKWh",
               "current": None | float, "targets": None | {...}}]
    dtstart: epoch seconds (default: now + start_in); duration, start_after,
    ramp_up, recovery, notification: seconds or ISO 8601 durations.
    status: None derives far/near/active/completed from the clock."""
    sigs = []
    for i, s in enumerate(signals):
        s = dict(s)
        s.setdefault("id", f"{event_id}-sig{i}")
        s["intervals"] = [dict(iv) for iv in s["intervals"]]
        sigs.append(s)
    return {
        "eventID": str(event_id), "modificationNumber": int(modification),
        "dtstart": float(dtstart if dtstart is not None else time.time() + start_in),
        "duration": duration, "status": status, "priority": priority,
        "targets": targets or {}, "start_after": start_after, "ramp_up": ramp_up,
        "recovery": recovery, "notification": notification,
        "response_required": response_required, "market_context": market_context,
        "test_event": test_event, "vtn_comment": vtn_comment, "signals": sigs,
        "created": time.time(), "modified": None, "modification_reason": None,
    }


def _secs(v):
    return parse_duration(v) if isinstance(v, str) else v


def event_status(ev, now):
    if ev["status"]:
        return ev["status"]
    start, end = ev["dtstart"], ev["dtstart"] + _secs(ev["duration"])
    if now >= end:
        return "completed"
    if now >= start:
        return "active"
    note = _secs(ev["notification"]) if ev["notification"] is not None else 0
    return "near" if note and now >= start - note else "far"


def build_event(parent, ev, now):
    """Append <oadr:oadrEvent> for `ev` (make_event's dict) to `parent`."""
    oe = sub(parent, "oadr:oadrEvent")
    e = sub(oe, "ei:eiEvent")
    d = sub(e, "ei:eventDescriptor")
    sub(d, "ei:eventID", ev["eventID"])
    sub(d, "ei:modificationNumber", ev["modificationNumber"])
    if ev["modified"]:
        sub(d, "ei:modificationDateTime", iso_time(ev["modified"]))
    if ev["modification_reason"]:
        sub(d, "ei:modificationReason", ev["modification_reason"])
    if ev["priority"] is not None:
        sub(d, "ei:priority", int(ev["priority"]))
    sub(sub(d, "ei:eiMarketContext"), "emix:marketContext", ev["market_context"])
    sub(d, "ei:createdDateTime", iso_time(ev["created"]))
    sub(d, "ei:eventStatus", event_status(ev, now))
    if ev["test_event"] is not None:
        sub(d, "ei:testEvent", ev["test_event"])
    if ev["vtn_comment"] is not None:
        sub(d, "ei:vtnComment", ev["vtn_comment"])
    ap = sub(e, "ei:eiActivePeriod")
    props = sub(ap, "xcal:properties")
    dtstart(props, ev["dtstart"])
    dur(props, "xcal:duration", ev["duration"])
    if ev["start_after"] is not None:
        tol = sub(sub(props, "xcal:tolerance"), "xcal:tolerate")
        sa = ev["start_after"]
        sub(tol, "xcal:startafter", sa if isinstance(sa, str) else iso_duration(sa))
    for key, name in (("notification", "ei:x-eiNotification"), ("ramp_up", "ei:x-eiRampUp"),
                      ("recovery", "ei:x-eiRecovery")):
        if ev[key] is not None:
            dur(props, name, ev[key])
    sub(ap, "xcal:components")
    sigs = sub(e, "ei:eiEventSignals")
    for s in ev["signals"]:
        build_signal(sigs, s)
    target(e, "ei:eiTarget", ev["targets"])
    sub(oe, "oadr:oadrResponseRequired", ev["response_required"])


def build_signal(parent, s):
    es = sub(parent, "ei:eiEventSignal")
    ivs = sub(es, "strm:intervals")
    for i, iv in enumerate(s["intervals"]):
        e = sub(ivs, "ei:interval")
        dur(e, "xcal:duration", iv["duration"])
        sub(sub(e, "xcal:uid"), "xcal:text", i)
        pf = sub(sub(e, "ei:signalPayload"), "ei:payloadFloat")
        sub(pf, "ei:value", _num(iv["value"]))
    if s.get("targets"):
        target(es, "ei:eiTarget", s["targets"])
    sub(es, "ei:signalName", s["name"])
    sub(es, "ei:signalType", s["type"])
    sub(es, "ei:signalID", s["id"])
    if s.get("item"):
        item_base(es, s["item"])
    if s.get("current") is not None:
        sub(sub(sub(es, "ei:currentValue"), "ei:payloadFloat"), "ei:value", _num(s["current"]))


def _num(v):
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


# ---------------------------------------------------------- misbehaving bodies

def _wrap(inner, doctype=""):
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + doctype +
            f'<oadrPayload xmlns="{NS["oadr"]}" xmlns:ei="{NS["ei"]}" '
            f'xmlns:pyld="{NS["pyld"]}"><oadrSignedObject>{inner}'
            '</oadrSignedObject></oadrPayload>\n').encode()


def _response_xml(description):
    return ('<oadrResponse ei:schemaVersion="2.0b"><ei:eiResponse><ei:responseCode>200'
            f'</ei:responseCode><ei:responseDescription>{description}'
            '</ei:responseDescription><pyld:requestID/></ei:eiResponse></oadrResponse>')


def bad_body(mode):
    """The body a misbehaviour mode answers with (not "huge": streamed)."""
    if mode == "malformed":
        return _wrap(_response_xml("OK"))[:-40] + b"<ei:unclosed>&bogus;<"
    if mode == "invalid":
        # Well-formed, but responseCode must be three digits, requestID and
        # vtnID are missing and eventStatus is not in the enumeration.
        return _wrap('<oadrDistributeEvent ei:schemaVersion="2.0b"><oadrEvent><ei:eiEvent>'
                     '<ei:eventDescriptor><ei:eventStatus>sometimes</ei:eventStatus>'
                     '</ei:eventDescriptor></ei:eiEvent></oadrEvent>'
                     '</oadrDistributeEvent>')
    if mode == "bomb":
        ents = ['<!ENTITY lol0 "lol">']
        for i in range(1, 10):
            ents.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
        dt = "<!DOCTYPE oadrPayload [\n" + "\n".join(ents) + "\n]>\n"
        return _wrap(_response_xml("&lol9;"), dt)
    if mode == "xxe":
        dt = '<!DOCTYPE oadrPayload [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
        return _wrap(_response_xml("&xxe;"), dt)
    if mode == "doctype":
        return _wrap(_response_xml("OK"), "<!DOCTYPE oadrPayload>\n")
    raise ValueError(mode)


# ------------------------------------------------------------------------ VTN

class Vtn:
    """The VTN's state and behaviour; thread-safe. start() serves it.

    Parameters: port (0: any free one), host, prefix (before /OpenADR2/...),
    tls: None for plain HTTP, or a dict {"certs": [(crt, key), ...] (the
    server certificates, RSA and/or ECDSA), "ca": client CA file (mutual
    TLS: a client certificate is required and verified), "tls13": False};
    poll_freq (seconds, oadrRequestedOadrPollFreq), vtn_id, xsd, strict
    (answer schema-invalid requests with responseCode 454 instead of acting
    on them), report_request: None or {"granularity": s, "report_back": s}
    (oadrRegisteredReport then asks for every TELEMETRY_USAGE report the VEN
    registers), ven_id (the venID handed out; default ven-<n>)."""

    def __init__(self, port=0, host="127.0.0.1", prefix="", tls=None, poll_freq=2,
                 vtn_id="flexgw-test-vtn", xsd=None, strict=False, report_request=None,
                 ven_id=None, validate=True):
        self.host, self.port, self.prefix, self.tls = host, port, prefix.rstrip("/"), tls
        self.poll_freq, self.vtn_id, self.strict = poll_freq, vtn_id, strict
        self.report_request_policy = report_request
        self.fixed_ven_id = ven_id
        self.validator = Validator(xsd) if validate else None
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.ids = itertools.count(1)
        self.server = self.thread = None
        self.huge_bytes = 100 * 1024 * 1024  # the "huge" misbehaviour's body
        self.clear()

    def clear(self):
        """Forget all state and records (not the configuration)."""
        with self.lock:
            self.registrations = {}      # venID -> {"registrationID", "venName", ...}
            self.canceled_registrations = []
            self.events = collections.OrderedDict()  # eventID -> event dict
            self.event_version = 0
            self.delivered = {}          # venID -> event_version last distributed
            self.outbox = collections.defaultdict(collections.deque)  # venID -> payloads
            self.event_responses = []    # every eventResponse received, in order
            self.opt_in = {}             # (eventID, modificationNumber) -> optType
            self.registered_reports = {}  # reportSpecifierID -> report metadata
            self.report_requests = {}    # reportRequestID -> request
            self.created_reports = []    # oadrCreatedReport pending lists
            self.canceled_reports = []
            self.report_values = collections.defaultdict(list)  # rID -> [values]
            self.opts = {}               # optID -> opt
            self.records = []            # every payload in and out
            self.connections = []        # every TLS handshake, ok or not
            self.misbehaviours = []      # pending [{"mode", "service", "count"}]
            self.requests = 0

    # -- records

    def _record(self, direction, service, data, name=None, ven_id=None, note=None,
                cipher=None, validate=True):
        rec = {"seq": next(self.ids), "time": time.time(), "dir": direction,
               "service": service, "name": name, "venID": ven_id, "size": len(data),
               "valid": None, "errors": "", "note": note, "cipher": cipher,
               "body": data[:RECORD_BODY].decode("utf-8", "replace")}
        if validate and self.validator:
            rec["valid"], rec["errors"] = self.validator.check(data)
        with self.lock:
            self.records.append(rec)
            self.changed.notify_all()
        return rec

    def payloads(self, direction=None, name=None):
        """The records ({"dir": "in"|"out", "service", "name" (payload
        element), "valid", "errors", "body", "venID", "cipher", ...}),
        filtered by direction and payload name."""
        with self.lock:
            return [r for r in self.records if (direction is None or r["dir"] == direction)
                    and (name is None or r["name"] == name)]

    def dump(self, directory):
        """Write every recorded payload that validated to `directory` as
        <seq>-<in|out>-<name>.xml (examples and seeds for a codec); returns
        how many."""
        os.makedirs(directory, exist_ok=True)
        n = 0
        for r in self.payloads():
            if r["valid"] and r["size"] <= RECORD_BODY:
                path = os.path.join(directory, f"{r['seq']:04d}-{r['dir']}-{r['name']}.xml")
                with open(path, "w") as f:
                    f.write(r["body"])
                n += 1
        return n

    def invalid_payloads(self, direction=None):
        return [r for r in self.payloads(direction) if r["valid"] is False]

    def wait_for(self, predicate, timeout=10.0):
        """Wait until predicate() (called under the lock) is true; returns its
        last value."""
        deadline = time.time() + timeout
        with self.lock:
            while True:
                v = predicate()
                if v or time.time() >= deadline:
                    return v
                self.changed.wait(min(0.2, max(0.0, deadline - time.time())))

    # -- the test's side: events

    def add_event(self, event_id, signals, **kw):
        """Queue a new event (make_event's arguments) or replace one with the
        same eventID; it goes out on each VEN's next poll. Returns it."""
        ev = make_event(event_id, signals, **kw)
        with self.lock:
            self.events[ev["eventID"]] = ev
            self._events_changed()
        return ev

    def modify_event(self, event_id, reason=None, **changes):
        """Change fields of an event (make_event's names: signals, duration,
        dtstart, status, targets, ...) and bump its modificationNumber."""
        with self.lock:
            ev = self.events[str(event_id)]
            if "signals" in changes:
                fresh = make_event(event_id, changes.pop("signals"))
                ev["signals"] = fresh["signals"]
            for k, v in changes.items():
                if k not in ev:
                    raise KeyError(f"unknown event field {k!r}")
                ev[k] = v
            ev["modificationNumber"] += 1
            ev["modified"] = time.time()
            ev["modification_reason"] = reason
            self._events_changed()
            return ev

    def cancel_event(self, event_id):
        """Set the event's status to cancelled (a modification)."""
        return self.modify_event(event_id, reason="cancelled", status="cancelled")

    def remove_event(self, event_id):
        """Drop the event from later oadrDistributeEvents."""
        with self.lock:
            self.events.pop(str(event_id))
            self._events_changed()

    def _events_changed(self):
        self.event_version += 1
        self.changed.notify_all()

    # -- the test's side: registration, reports, misbehaviour

    def _vens(self, ven_id):
        with self.lock:
            vens = [ven_id] if ven_id else list(self.registrations)
        if not vens:
            raise ValueError("no VEN is registered")
        return vens

    def request_reregistration(self, ven_id=None):
        """Send oadrRequestReregistration on the next poll."""
        for v in self._vens(ven_id):
            root, body = payload("oadrRequestReregistration")
            sub(body, "ei:venID", v)
            self._queue(v, root)

    def cancel_registration(self, ven_id=None):
        """Send oadrCancelPartyRegistration on the next poll; the VEN's
        oadrCanceledPartyRegistration ends the registration."""
        for v in self._vens(ven_id):
            root, body = payload("oadrCancelPartyRegistration")
            sub(body, "pyld:requestID", self._new_id("req"))
            sub(body, "ei:registrationID", self.registrations[v]["registrationID"])
            sub(body, "ei:venID", v)
            self._queue(v, root)

    def request_report(self, report_specifier_id, rids, granularity=10, report_back=10,
                       ven_id=None, reading_type="Direct Read", duration=None, start_in=0):
        """Send oadrCreateReport for `rids` of a registered report on the next
        poll; with duration a reportInterval from now + start_in s; returns
        its reportRequestID."""
        rr_id = self._new_id("rr")
        for v in self._vens(ven_id):
            root, body = payload("oadrCreateReport")
            sub(body, "pyld:requestID", self._new_id("req"))
            self._report_request(body, rr_id, report_specifier_id, rids, granularity,
                                 report_back, reading_type, duration, v, start_in)
            sub(body, "ei:venID", v)
            self._queue(v, root)
        return rr_id

    def _report_request(self, parent, rr_id, spec_id, rids, granularity, report_back,
                        reading_type, duration, ven_id, start_in=0):
        rr = sub(parent, "oadr:oadrReportRequest")
        sub(rr, "ei:reportRequestID", rr_id)
        spec = sub(rr, "ei:reportSpecifier")
        sub(spec, "ei:reportSpecifierID", spec_id)
        dur(spec, "xcal:granularity", granularity)
        dur(spec, "ei:reportBackDuration", report_back)
        if duration is not None:
            props = sub(sub(spec, "ei:reportInterval"), "xcal:properties")
            dtstart(props, time.time() + start_in)
            dur(props, "xcal:duration", duration)
        for rid in rids:
            sp = sub(spec, "ei:specifierPayload")
            sub(sp, "ei:rID", rid)
            sub(sp, "ei:readingType", reading_type)
        with self.lock:
            self.report_requests[rr_id] = {
                "reportRequestID": rr_id, "reportSpecifierID": spec_id, "rIDs": list(rids),
                "granularity": granularity, "report_back": report_back, "venID": ven_id,
                "created": False, "canceled": False}

    def cancel_report(self, report_request_id, ven_id=None, report_to_follow=False):
        """Send oadrCancelReport on the next poll."""
        for v in self._vens(ven_id):
            root, body = payload("oadrCancelReport")
            sub(body, "pyld:requestID", self._new_id("req"))
            sub(body, "ei:reportRequestID", report_request_id)
            sub(body, "pyld:reportToFollow", "true" if report_to_follow else "false")
            sub(body, "ei:venID", v)
            self._queue(v, root)

    def misbehave(self, mode, service=None, count=1):
        """Answer the next `count` requests (to `service`, or any) in `mode`
        (MISBEHAVIOURS) instead of normally."""
        if mode not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {mode!r}; one of {MISBEHAVIOURS}")
        if service is not None and service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        with self.lock:
            self.misbehaviours.append({"mode": mode, "service": service, "count": int(count)})

    def _take_misbehaviour(self, service):
        with self.lock:
            for m in self.misbehaviours:
                if m["service"] in (None, service):
                    m["count"] -= 1
                    if m["count"] <= 0:
                        self.misbehaviours.remove(m)
                    return m["mode"]
        return None

    def _queue(self, ven_id, root):
        with self.lock:
            self.outbox[ven_id].append(root)
            self.changed.notify_all()

    def _new_id(self, kind):
        return f"{kind}-{next(self.ids)}"

    def state(self):
        """Everything the VTN knows, JSON-friendly (records without bodies)."""
        with self.lock:
            return {
                "url": self.url(), "registrations": self.registrations,
                "canceled_registrations": self.canceled_registrations,
                "events": list(self.events.values()), "event_responses": self.event_responses,
                "opt_in": {f"{k[0]}/{k[1]}": v for k, v in self.opt_in.items()},
                "registered_reports": self.registered_reports,
                "report_requests": self.report_requests,
                "created_reports": self.created_reports,
                "canceled_reports": self.canceled_reports,
                "report_values": self.report_values, "opts": self.opts,
                "connections": self.connections,
                "pending": {k: len(v) for k, v in self.outbox.items()},
                "misbehaviours": self.misbehaviours,
                "payloads": [{k: v for k, v in r.items() if k != "body"}
                             for r in self.records],
            }

    # -- handling payloads (called from the HTTP handler threads)

    def handle(self, service, data, peer=None):
        """Answer one request body to `service`: (HTTP status, body bytes).
        Records the request and the answer."""
        cipher = peer.get("cipher") if peer else None
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            # Not parsed, so not validated either; recorded as invalid, since
            # an OpenADR peer has no business sending a DTD.
            rec = self._record("in", service, data, note="DTD refused", cipher=cipher,
                               validate=False)
            rec["valid"], rec["errors"] = False, "a DTD (<!DOCTYPE or <!ENTITY)"
            return 400, b"DTDs are not accepted\n"
        try:
            root = ET.fromstring(data)
        except ET.ParseError as e:
            self._record("in", service, data, note=f"not well-formed: {e}", cipher=cipher)
            return 400, f"not well-formed XML: {e}\n".encode()
        obj = root.find("oadr:oadrSignedObject", NS)
        inner = list(obj)[0] if obj is not None and len(obj) else None
        name = local(inner.tag) if inner is not None else None
        ven_id = text(inner, ".//ei:venID") if inner is not None else None
        rec = self._record("in", service, data, name=name, ven_id=ven_id, cipher=cipher)
        handler = HANDLERS.get(name)
        request_id = text(inner, "pyld:requestID") if inner is not None else None
        if root.tag != q("oadr:oadrPayload") or handler is None:
            out = self._response(request_id, 453, f"not an OpenADR 2.0b payload: {name}")
        elif handler[0] != service:
            out = self._response(request_id, 451, f"{name} is not served by {service}")
        elif self.strict and rec["valid"] is False:
            out = self._response(request_id, 454, "schema-invalid payload")
        else:
            with self.lock:
                self.requests += 1
            try:
                out = handler[1](self, inner, ven_id)
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                # e.g. a number that is not one, in a schema-invalid payload
                rec["note"] = f"not processed: {type(e).__name__}: {e}"
                out = self._response(request_id, 454, rec["note"], ven_id)
        data_out = to_bytes(out)
        out_name = local(out.find("oadr:oadrSignedObject", NS)[0].tag)
        self._record("out", service, data_out, name=out_name, ven_id=ven_id, cipher=cipher)
        return 200, data_out

    def _response(self, request_id, code=200, description="OK", ven_id=None):
        root, body = payload("oadrResponse")
        ei_response(body, request_id, code, description)
        if ven_id:
            sub(body, "ei:venID", ven_id)
        return root

    def _registered(self, ven_id):
        with self.lock:
            return ven_id in self.registrations

    # registration

    def _created_registration(self, request_id, reg=None):
        root, body = payload("oadrCreatedPartyRegistration")
        ei_response(body, request_id)
        if reg:
            sub(body, "ei:registrationID", reg["registrationID"])
            sub(body, "ei:venID", reg["venID"])
        sub(body, "ei:vtnID", self.vtn_id)
        prof = sub(sub(body, "oadr:oadrProfiles"), "oadr:oadrProfile")
        sub(prof, "oadr:oadrProfileName", "2.0b")
        tr = sub(sub(prof, "oadr:oadrTransports"), "oadr:oadrTransport")
        sub(tr, "oadr:oadrTransportName", "simpleHttp")
        dur(body, "oadr:oadrRequestedOadrPollFreq", self.poll_freq)
        return root

    def on_query_registration(self, e, _ven):
        return self._created_registration(text(e, "pyld:requestID"))

    def on_create_registration(self, e, ven_id):
        with self.lock:
            reg_id = text(e, "ei:registrationID")
            ven_id = ven_id or self.fixed_ven_id or self._new_id("ven")
            old = self.registrations.get(ven_id)
            reg = {"venID": ven_id,
                   "registrationID": (old or {}).get("registrationID") or reg_id
                   or self._new_id("reg"),
                   "venName": text(e, "oadr:oadrVenName"),
                   "profile": text(e, "oadr:oadrProfileName"),
                   "transport": text(e, "oadr:oadrTransportName"),
                   "reportOnly": text(e, "oadr:oadrReportOnly"),
                   "xmlSignature": text(e, "oadr:oadrXmlSignature"),
                   "httpPullModel": text(e, "oadr:oadrHttpPullModel"),
                   "time": time.time()}
            self.registrations[ven_id] = reg
            self.delivered.pop(ven_id, None)
            self.changed.notify_all()
        return self._created_registration(text(e, "pyld:requestID"), reg)

    def on_cancel_registration(self, e, ven_id):
        reg_id = text(e, "ei:registrationID")
        with self.lock:
            known = self.registrations.get(ven_id)
            ok = known is not None and known["registrationID"] == reg_id
            if ok:
                self.canceled_registrations.append(self.registrations.pop(ven_id))
                self.changed.notify_all()
        root, body = payload("oadrCanceledPartyRegistration")
        ei_response(body, text(e, "pyld:requestID"), 200 if ok else 452,
                    "OK" if ok else "unknown registrationID")
        sub(body, "ei:registrationID", reg_id)
        if ven_id:
            sub(body, "ei:venID", ven_id)
        return root

    def on_canceled_registration(self, e, ven_id):
        with self.lock:
            if ven_id in self.registrations:
                self.canceled_registrations.append(self.registrations.pop(ven_id))
            self.changed.notify_all()
        return self._response(text(e, "ei:eiResponse/pyld:requestID"), ven_id=ven_id)

    # polling and events

    def on_poll(self, e, ven_id):
        if not self._registered(ven_id):
            return self._response("", 463, "not registered", ven_id)
        with self.lock:
            if self.outbox[ven_id]:
                return self.outbox[ven_id].popleft()
            if self.delivered.get(ven_id, 0) < self.event_version and self.events:
                self.delivered[ven_id] = self.event_version
                return self.distribute_event()
            self.delivered[ven_id] = self.event_version
        return self._response("", ven_id=ven_id)

    def distribute_event(self, request_id=None):
        """An oadrDistributeEvent with all current events."""
        now = time.time()
        root, body = payload("oadrDistributeEvent")
        sub(body, "pyld:requestID", request_id or self._new_id("req"))
        sub(body, "ei:vtnID", self.vtn_id)
        with self.lock:
            for ev in self.events.values():
                build_event(body, ev, now)
        return root

    def on_request_event(self, e, ven_id):
        if not self._registered(ven_id):
            return self._response(text(e, ".//pyld:requestID"), 463, "not registered", ven_id)
        with self.lock:
            self.delivered[ven_id] = self.event_version
        return self.distribute_event(text(e, ".//pyld:requestID"))

    def on_created_event(self, e, ven_id):
        with self.lock:
            for r in e.iterfind(".//ei:eventResponses/ei:eventResponse", NS):
                eid = text(r, "ei:qualifiedEventID/ei:eventID")
                mod = int(text(r, "ei:qualifiedEventID/ei:modificationNumber") or -1)
                opt = text(r, "ei:optType")
                self.event_responses.append({
                    "venID": ven_id, "eventID": eid, "modificationNumber": mod,
                    "optType": opt, "responseCode": text(r, "ei:responseCode"),
                    "requestID": text(r, "pyld:requestID"), "time": time.time()})
                self.opt_in[(eid, mod)] = opt
            self.changed.notify_all()
        return self._response(text(e, ".//ei:eiResponse/pyld:requestID"), ven_id=ven_id)

    # reports

    def on_register_report(self, e, ven_id):
        wanted = []
        with self.lock:
            for rep in e.iterfind("oadr:oadrReport", NS):
                spec = text(rep, "ei:reportSpecifierID")
                descs = [{"rID": text(d, "ei:rID"), "reportType": text(d, "ei:reportType"),
                          "readingType": text(d, "ei:readingType"),
                          "item": next((local(c.tag) for c in d
                                        if local(c.tag) in ITEM_NAMES), None),
                          "minPeriod": text(d, "oadr:oadrSamplingRate/oadr:oadrMinPeriod"),
                          "maxPeriod": text(d, "oadr:oadrSamplingRate/oadr:oadrMaxPeriod")}
                         for d in rep.iterfind("oadr:oadrReportDescription", NS)]
                name = text(rep, "ei:reportName")
                self.registered_reports[spec] = {
                    "reportSpecifierID": spec, "reportName": name, "venID": ven_id,
                    "duration": text(rep, "xcal:duration/xcal:duration"),
                    "descriptions": descs}
                if name == "METADATA_TELEMETRY_USAGE":
                    wanted.append((spec, [d["rID"] for d in descs]))
            self.changed.notify_all()
        root, body = payload("oadrRegisteredReport")
        ei_response(body, text(e, "pyld:requestID"))
        policy = self.report_request_policy
        for spec, rids in wanted if policy else ():
            self._report_request(body, self._new_id("rr"), spec, rids,
                                 policy.get("granularity", 10), policy.get("report_back", 10),
                                 "Direct Read", policy.get("duration"), ven_id)
        if ven_id:
            sub(body, "ei:venID", ven_id)
        return root

    def on_created_report(self, e, ven_id):
        pending = [p.text.strip() for p in
                   e.iterfind("oadr:oadrPendingReports/ei:reportRequestID", NS) if p.text]
        with self.lock:
            self.created_reports.append({"venID": ven_id, "pending": pending,
                                         "time": time.time()})
            for rr in pending:
                if rr in self.report_requests:
                    self.report_requests[rr]["created"] = True
            self.changed.notify_all()
        return self._response(text(e, "ei:eiResponse/pyld:requestID"), ven_id=ven_id)

    def on_update_report(self, e, ven_id):
        request_id = text(e, "pyld:requestID")
        with self.lock:
            for rep in e.iterfind("oadr:oadrReport", NS):
                rr = text(rep, "ei:reportRequestID")
                spec = text(rep, "ei:reportSpecifierID")
                for iv in rep.iterfind("strm:intervals/ei:interval", NS):
                    start = text(iv, "xcal:dtstart/xcal:date-time")
                    for p in iv.iterfind("oadr:oadrReportPayload", NS):
                        v = text(p, "ei:payloadFloat/ei:value")
                        rid = text(p, "ei:rID")
                        self.report_values[rid].append({
                            "value": float(v) if v is not None else None,
                            "status": resource_status(p),
                            "dtstart": parse_time(start) if start else None,
                            "duration": text(iv, "xcal:duration/xcal:duration"),
                            "reportRequestID": rr, "reportSpecifierID": spec,
                            "quality": text(p, "oadr:oadrDataQuality"),
                            "venID": ven_id, "requestID": request_id, "time": time.time()})
            self.changed.notify_all()
        root, body = payload("oadrUpdatedReport")
        ei_response(body, request_id)
        if ven_id:
            sub(body, "ei:venID", ven_id)
        return root

    def on_canceled_report(self, e, ven_id):
        pending = [p.text.strip() for p in
                   e.iterfind("oadr:oadrPendingReports/ei:reportRequestID", NS) if p.text]
        with self.lock:
            self.canceled_reports.append({"venID": ven_id, "pending": pending,
                                          "time": time.time()})
            for rr in self.report_requests.values():
                if rr["venID"] == ven_id and rr["reportRequestID"] not in pending:
                    rr["canceled"] = True
            self.changed.notify_all()
        return self._response(text(e, "ei:eiResponse/pyld:requestID"), ven_id=ven_id)

    # opt

    def on_create_opt(self, e, ven_id):
        opt_id = text(e, "ei:optID")
        windows = []
        for a in e.iterfind("xcal:vavailability/xcal:components/xcal:available", NS):
            start = text(a, "xcal:properties/xcal:dtstart/xcal:date-time")
            windows.append({"dtstart": parse_time(start) if start else None,
                            "duration": text(a, "xcal:properties/xcal:duration/xcal:duration")})
        with self.lock:
            self.opts[opt_id] = {
                "optID": opt_id, "optType": text(e, "ei:optType"),
                "optReason": text(e, "ei:optReason"), "venID": ven_id,
                "eventID": text(e, "ei:qualifiedEventID/ei:eventID"),
                "modificationNumber": text(e, "ei:qualifiedEventID/ei:modificationNumber"),
                "windows": windows, "targets": [local(c.tag) + "=" + (c.text or "")
                                                for c in e.iterfind("ei:eiTarget/*", NS)],
                "canceled": False, "time": time.time()}
            self.changed.notify_all()
        root, body = payload("oadrCreatedOpt")
        ei_response(body, text(e, "pyld:requestID"))
        sub(body, "ei:optID", opt_id)
        return root

    def on_cancel_opt(self, e, ven_id):
        opt_id = text(e, "ei:optID")
        with self.lock:
            known = opt_id in self.opts
            if known:
                self.opts[opt_id]["canceled"] = True
            self.changed.notify_all()
        root, body = payload("oadrCanceledOpt")
        ei_response(body, text(e, "pyld:requestID"), 200 if known else 452,
                    "OK" if known else "unknown optID")
        sub(body, "ei:optID", opt_id)
        return root

    # -- serving

    def url(self):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}{self.prefix}{SERVICE_PATH}"

    def ssl_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if not self.tls.get("tls13"):
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        for crt, key in self.tls["certs"]:
            ctx.load_cert_chain(crt, key)
        ctx.set_ciphers(CIPHERS)
        if self.tls.get("ca"):
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.tls["ca"])
        return ctx

    def start(self):
        """Serve on a thread; returns self (port filled in)."""
        ctx = self.ssl_context() if self.tls else None
        self.server = _Server((self.host, self.port), _Handler, self, ctx)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server.close_connections()
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


ITEM_NAMES = ("powerReal", "energyReal", "powerApparent", "powerReactive", "energyApparent",
              "energyReactive", "voltage", "current", "frequency", "customUnit",
              "currencyPerKWh", "currency", "currencyPerKW", "temperature", "pulseCount")

# payload element -> (service it is posted to, handler)
HANDLERS = {
    "oadrQueryRegistration": ("EiRegisterParty", Vtn.on_query_registration),
    "oadrCreatePartyRegistration": ("EiRegisterParty", Vtn.on_create_registration),
    "oadrCancelPartyRegistration": ("EiRegisterParty", Vtn.on_cancel_registration),
    "oadrCanceledPartyRegistration": ("EiRegisterParty", Vtn.on_canceled_registration),
    "oadrPoll": ("OadrPoll", Vtn.on_poll),
    "oadrRequestEvent": ("EiEvent", Vtn.on_request_event),
    "oadrCreatedEvent": ("EiEvent", Vtn.on_created_event),
    "oadrRegisterReport": ("EiReport", Vtn.on_register_report),
    "oadrCreatedReport": ("EiReport", Vtn.on_created_report),
    "oadrUpdateReport": ("EiReport", Vtn.on_update_report),
    "oadrCanceledReport": ("EiReport", Vtn.on_canceled_report),
    "oadrCreateOpt": ("EiOpt", Vtn.on_create_opt),
    "oadrCancelOpt": ("EiOpt", Vtn.on_cancel_opt),
}


class _Server(http.server.ThreadingHTTPServer):
    """The TLS handshake runs on the connection's thread (a client stalling
    in it must not block accept), and is recorded either way. Open
    connections are tracked so that stop() ends kept-alive ones too: a VTN
    that went away must not go on answering."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, vtn, ctx):
        self.vtn, self.ctx = vtn, ctx
        self.open = set()
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        with self.vtn.lock:
            self.open.add(request)
        try:
            self._serve(request, client_address)
        finally:
            with self.vtn.lock:
                self.open.discard(request)

    def handle_error(self, request, client_address):
        """A peer that resets or stalls is the tests' business, not an error
        of the VTN's; anything else is printed as usual."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self):
        with self.vtn.lock:
            socks = list(self.open)
        for sock in socks:
            try:
                # the plain socket's shutdown, also for an SSLSocket: another
                # thread may be inside its read
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, request, client_address):
        peer = {"peer": f"{client_address[0]}:{client_address[1]}", "time": time.time()}
        if self.ctx:
            request.settimeout(10)
            try:
                request = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                peer.update(ok=False, error=str(e))
                with self.vtn.lock:
                    self.vtn.connections.append(peer)
                    self.vtn.changed.notify_all()
                return
            request.settimeout(None)
            with self.vtn.lock:
                self.open.add(request)
        try:
            self._handle(request, client_address, peer)
        finally:
            if self.ctx:
                with self.vtn.lock:
                    self.open.discard(request)
                request.close()

    def _handle(self, request, client_address, peer):
        if self.ctx:
            cert = request.getpeercert(binary_form=True)
            subj = dict(x[0] for x in request.getpeercert()["subject"]) if cert else {}
            name, version, bits = request.cipher()
            peer.update(ok=True, cipher=name, version=version, bits=bits,
                        client_cn=subj.get("commonName"),
                        client_fingerprint=hashlib.sha256(cert).hexdigest() if cert else None)
            with self.vtn.lock:
                self.vtn.connections.append(peer)
        self.RequestHandlerClass(request, client_address, self, peer)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "flexgw-test-vtn"

    def __init__(self, request, client_address, server, peer):
        self.peer = peer
        super().__init__(request, client_address, server)

    def log_message(self, fmt, *args):
        if os.environ.get("OADR_VTN_VERBOSE"):
            sys.stderr.write("vtn: " + fmt % args + "\n")

    def do_POST(self):
        vtn = self.server.vtn
        base = vtn.prefix + SERVICE_PATH
        service = self.path[len(base):] if self.path.startswith(base) else None
        if service not in SERVICES:
            return self._send(404, b"no such service\n", "text/plain")
        try:
            data = self._body()
        except ValueError:
            return self._send(400, b"bad Content-Length or chunk size\n", "text/plain",
                              close=True)
        if data is None:
            return
        mode = vtn._take_misbehaviour(service)
        if mode:
            vtn._record("in", service, data, note=f"answered with {mode}",
                        cipher=self.peer.get("cipher"))
            return self._misbehave(mode, service)
        status, out = vtn.handle(service, data, self.peer)
        self._send(status, out, "application/xml" if status == 200 else "text/plain")

    def _body(self):
        """The request body (Content-Length or chunked), at most MAX_BODY."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts, total = [], 0
            while True:
                size = int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)
                total += size
                if total > MAX_BODY:
                    self._send(413, b"request too large\n", "text/plain", close=True)
                    return None
                if size == 0:
                    self.rfile.readline(64)
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(64)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            # Drain a moderate excess so the client reads the 413 instead
            # of a reset; beyond DRAIN_BODY, just close.
            left = n if n <= DRAIN_BODY else 0
            while left > 0:
                got = self.rfile.read(min(left, 65536))
                if not got:
                    break
                left -= len(got)
            self._send(413, b"request too large\n", "text/plain", close=True)
            return None
        return self.rfile.read(n)

    def _send(self, status, body, ctype, close=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _misbehave(self, mode, service):
        vtn = self.server.vtn
        if mode == "http500":
            return self._send(500, b"internal error (misbehaviour mode)\n", "text/plain")
        if mode == "hang":
            # Never answer; let go when the VEN closes or the VTN stops.
            self.connection.settimeout(0.2)
            while not vtn.stopping.is_set():
                try:
                    if self.connection.recv(1) == b"":
                        break
                except (socket.timeout, ssl.SSLWantReadError):
                    continue
                except OSError:
                    break
            self.close_connection = True
            return
        if mode == "close":
            body = to_bytes(vtn.distribute_event())
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if mode in ("huge", "huge_chunked"):
            return self._stream_huge(vtn.huge_bytes, chunked=mode == "huge_chunked")
        body = bad_body(mode)
        vtn._record("out", service, body, note=f"misbehaviour {mode}", validate=False)
        self._send(200, body, "application/xml")

    def _stream_huge(self, size, chunked=False):
        """`size` bytes of a well-formed start followed by padding, streamed
        in 64 KiB writes, never held in memory. chunked: with
        Transfer-Encoding chunked instead of a Content-Length, so the client
        cannot refuse it from the headers and must stop while reading."""
        head = _wrap(_response_xml("OK"))
        head = head[:head.index(b"<oadrSignedObject>")] + b"<oadrSignedObject><!--"
        chunk = b"x" * 65536
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        self.close_connection = True

        def out(data):
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)

        try:
            out(head)
            left = size - len(head)
            while left > 0 and not self.server.vtn.stopping.is_set():
                n = min(left, len(chunk))
                out(chunk[:n])
                left -= n
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the VEN gave up reading: what it should do



# ----------------------------------------------------------- control endpoint

class Control:
    """A JSON control endpoint on 127.0.0.1 for a test in another process.
    Routes (bodies and answers JSON):
      GET  /state                       Vtn.state()
      GET  /payloads[?dir=in&name=X]    the records with bodies
      POST /events                      {"eventID", "signals", ...}: add_event
      POST /events/<id>/modify          {field: value, "reason"}: modify_event
      POST /events/<id>/cancel          cancel_event
      POST /events/<id>/remove          remove_event
      POST /registration/reregister     {"venID"?}
      POST /registration/cancel         {"venID"?}
      POST /reports/request             {"reportSpecifierID", "rIDs", "granularity",
                                         "report_back", "venID"?} -> {"reportRequestID"}
      POST /reports/cancel              {"reportRequestID", "venID"?}
      POST /misbehave                   {"mode", "service"?, "count"?}
      POST /clear                       forget state and records"""

    def __init__(self, vtn, port=0):
        self.vtn = vtn
        ctl = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                ctl._serve(self, "GET")

            def do_POST(self):
                ctl._serve(self, "POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.routes = [
            ("GET", r"/state", lambda a, m: vtn.state()),
            ("GET", r"/payloads", lambda a, m: vtn.payloads(a.get("dir"), a.get("name"))),
            ("POST", r"/events", lambda a, m: vtn.add_event(a.pop("eventID"),
                                                            a.pop("signals"), **a)),
            ("POST", r"/events/([^/]+)/modify", lambda a, m: vtn.modify_event(m[1], **a)),
            ("POST", r"/events/([^/]+)/cancel", lambda a, m: vtn.cancel_event(m[1])),
            ("POST", r"/events/([^/]+)/remove", lambda a, m: vtn.remove_event(m[1])),
            ("POST", r"/registration/reregister",
             lambda a, m: vtn.request_reregistration(a.get("venID"))),
            ("POST", r"/registration/cancel",
             lambda a, m: vtn.cancel_registration(a.get("venID"))),
            ("POST", r"/reports/request", lambda a, m: {"reportRequestID": vtn.request_report(
                a["reportSpecifierID"], a["rIDs"], a.get("granularity", 10),
                a.get("report_back", 10), a.get("venID"))}),
            ("POST", r"/reports/cancel", lambda a, m: vtn.cancel_report(
                a["reportRequestID"], a.get("venID"), a.get("reportToFollow", False))),
            ("POST", r"/misbehave", lambda a, m: vtn.misbehave(
                a["mode"], a.get("service"), a.get("count", 1))),
            ("POST", r"/clear", lambda a, m: vtn.clear()),
        ]

    def _serve(self, h, method):
        path, _, qs = h.path.partition("?")
        args = dict(p.split("=", 1) for p in qs.split("&") if "=" in p)
        if method == "POST":
            n = int(h.headers.get("Content-Length") or 0)
            try:
                args = json.loads(h.rfile.read(n) or b"{}")
            except ValueError as e:
                return self._reply(h, 400, {"error": f"bad JSON: {e}"})
        for m, pattern, fn in self.routes:
            match = re.fullmatch(pattern, path)
            if m == method and match:
                try:
                    out = fn(args, match)
                except (KeyError, ValueError, TypeError) as e:
                    return self._reply(h, 400, {"error": f"{type(e).__name__}: {e}"})
                return self._reply(h, 200, {"ok": True} if out is None else out)
        self._reply(h, 404, {"error": f"no route {method} {path}"})

    @staticmethod
    def _reply(h, status, obj):
        body = json.dumps(obj, default=str).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def tls_config(certs, tls13=False):
    """The Vtn(tls=...) dict for openadr_certs.generate()'s output: both
    server certificates (RSA and ECDSA), client certificates from its CA."""
    return {"certs": [certs["vtn-rsa"], certs["vtn-ecdsa"]], "ca": certs["ca"][0],
            "tls13": tls13}


def main(argv=None):
    ap = argparse.ArgumentParser(description="OpenADR 2.0b test VTN (tests/sim/README.md)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080, help="0: any free port")
    ap.add_argument("--prefix", default="", help="path before /OpenADR2/Simple/2.0b/")
    ap.add_argument("--tls-dir", help="certificates (made by openadr_certs.py when absent); "
                    "without it the VTN speaks plain HTTP")
    ap.add_argument("--tls13", action="store_true", help="also offer TLS 1.3")
    ap.add_argument("--control-port", type=int, default=0,
                    help="JSON control endpoint on 127.0.0.1 (0: any free port)")
    ap.add_argument("--poll-freq", type=float, default=2, help="seconds")
    ap.add_argument("--vtn-id", default="flexgw-test-vtn")
    ap.add_argument("--ven-id", help="the venID to hand out (default ven-<n>)")
    ap.add_argument("--xsd", default=None, help="oadr_20b.xsd (default: $OADR_XSD, "
                    "protocols/openadr/xsd/, the shared specs)")
    ap.add_argument("--strict", action="store_true", help="refuse schema-invalid requests")
    ap.add_argument("--report-request", metavar="GRANULARITY_S",
                    type=float, help="answer TELEMETRY_USAGE registrations with a request")
    a = ap.parse_args(argv)
    tls = None
    if a.tls_dir:
        sys.path.insert(0, HERE)
        import openadr_certs
        tls = tls_config(openadr_certs.generate(a.tls_dir), a.tls13)
    policy = ({"granularity": a.report_request, "report_back": a.report_request}
              if a.report_request else None)
    vtn = Vtn(port=a.port, host=a.host, prefix=a.prefix, tls=tls, poll_freq=a.poll_freq,
              vtn_id=a.vtn_id, xsd=a.xsd, strict=a.strict, report_request=policy,
              ven_id=a.ven_id).start()
    ctl = Control(vtn, a.control_port).start()
    print(json.dumps({"ready": True, "url": vtn.url(), "port": vtn.port,
                      "control_port": ctl.port}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        ctl.stop()
        vtn.stop()


if __name__ == "__main__":
    main()
