"""The test VTN (tests/sim/openadr_vtn.py) driven by a stand-in VEN written
here (http.client + ssl with a client certificate) until flexgw has one:
registration, polling, an event with two signals, opt-in, a modification and
a cancellation, report registration, requests, updates with values and
cancellation, opt schedules, VTN-initiated re-registration and
deregistration; every payload either side sent validates against
oadr_20b.xsd. TLS: the required 2.0b suites are negotiated and recorded, a
wrong client certificate and an untrusted VTN are refused at the handshake.
Each misbehaviour mode is checked as a client sees it, and the standalone
process with its JSON control endpoint.

The VEN payloads built here are written to the schema and are meant as
examples for the C codec: OADR_SAMPLES_DIR=dir writes every validated
payload of the main flow there. Environment: OADR_XSD (optional, the
schema)."""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sim"))
import openadr_certs  # noqa: E402
import openadr_vtn as oadr  # noqa: E402
from openadr_vtn import NS, dur, dtstart, payload, sub, text  # noqa: E402

VTN_PY = os.path.join(os.path.dirname(os.path.abspath(oadr.__file__)), "openadr_vtn.py")


class Ven:
    """A minimal VEN: builds the payloads, posts them, parses the answers.
    One connection per request."""

    def __init__(self, vtn, certs=None, client="ven", ca="ca", ciphers=None, timeout=5):
        self.host, self.port, self.base = vtn.host, vtn.port, vtn.prefix + oadr.SERVICE_PATH
        self.ctx = None
        self.timeout = timeout
        self.ven_id = self.registration_id = None
        self.n = 0
        if certs:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_verify_locations(certs[ca][0])
            if client:
                ctx.load_cert_chain(*certs[client])
            if ciphers:
                ctx.set_ciphers(ciphers)
            self.ctx = ctx

    def connect(self):
        if self.ctx:
            return http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                               timeout=self.timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def raw(self, service, data):
        """POST bytes; (status, headers, body)."""
        c = self.connect()
        try:
            c.request("POST", self.base + service, body=data,
                      headers={"Content-Type": "application/xml"})
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def call(self, service, root):
        """POST a payload; returns the answer's element inside oadrSignedObject."""
        status, _, body = self.raw(service, oadr.to_bytes(root))
        assert status == 200, (status, body)
        obj = ET.fromstring(body).find("oadr:oadrSignedObject", NS)
        return obj[0]

    def rid(self):
        self.n += 1
        return f"ven-req-{self.n}"

    # -- payloads, in schema order

    def query_registration(self):
        root, b = payload("oadrQueryRegistration")
        sub(b, "pyld:requestID", self.rid())
        return self.call("EiRegisterParty", root)

    def create_registration(self, name="flexgw test site"):
        root, b = payload("oadrCreatePartyRegistration")
        sub(b, "pyld:requestID", self.rid())
        if self.registration_id:
            sub(b, "ei:registrationID", self.registration_id)
        if self.ven_id:
            sub(b, "ei:venID", self.ven_id)
        sub(b, "oadr:oadrProfileName", "2.0b")
        sub(b, "oadr:oadrTransportName", "simpleHttp")
        sub(b, "oadr:oadrReportOnly", "false")
        sub(b, "oadr:oadrXmlSignature", "false")
        sub(b, "oadr:oadrVenName", name)
        sub(b, "oadr:oadrHttpPullModel", "true")
        a = self.call("EiRegisterParty", root)
        self.ven_id = text(a, "ei:venID")
        self.registration_id = text(a, "ei:registrationID")
        return a

    def cancel_registration(self):
        root, b = payload("oadrCancelPartyRegistration")
        sub(b, "pyld:requestID", self.rid())
        sub(b, "ei:registrationID", self.registration_id)
        sub(b, "ei:venID", self.ven_id)
        return self.call("EiRegisterParty", root)

    def canceled_registration(self, request_id, registration_id):
        root, b = payload("oadrCanceledPartyRegistration")
        oadr.ei_response(b, request_id)
        sub(b, "ei:registrationID", registration_id)
        sub(b, "ei:venID", self.ven_id)
        return self.call("EiRegisterParty", root)

    def poll_bytes(self):
        root, b = payload("oadrPoll")
        sub(b, "ei:venID", self.ven_id)
        return oadr.to_bytes(root)

    def poll(self):
        status, _, body = self.raw("OadrPoll", self.poll_bytes())
        assert status == 200, (status, body)
        return ET.fromstring(body).find("oadr:oadrSignedObject", NS)[0]

    def created_event(self, request_id, answers):
        """answers: [(eventID, modificationNumber, "optIn"|"optOut")]."""
        root, b = payload("oadrCreatedEvent")
        ce = sub(b, "pyld:eiCreatedEvent")
        oadr.ei_response(ce, request_id)
        ers = sub(ce, "ei:eventResponses")
        for eid, mod, opt in answers:
            er = sub(ers, "ei:eventResponse")
            sub(er, "ei:responseCode", "200")
            sub(er, "ei:responseDescription", "OK")
            sub(er, "pyld:requestID", request_id)
            qe = sub(er, "ei:qualifiedEventID")
            sub(qe, "ei:eventID", eid)
            sub(qe, "ei:modificationNumber", mod)
            sub(er, "ei:optType", opt)
        sub(ce, "ei:venID", self.ven_id)
        return self.call("EiEvent", root)

    def register_report(self):
        """METADATA_TELEMETRY_USAGE (site power W, energy Wh) and
        METADATA_TELEMETRY_STATUS (resource status)."""
        root, b = payload("oadrRegisterReport")
        sub(b, "pyld:requestID", self.rid())
        self._metadata(b, "TELEMETRY_USAGE_site", "METADATA_TELEMETRY_USAGE",
                       [("site_power", "usage", "powerReal", "Direct Read"),
                        ("site_energy", "usage", "energyReal", "Direct Read")])
        self._metadata(b, "TELEMETRY_STATUS_site", "METADATA_TELEMETRY_STATUS",
                       [("site_status", "x-resourceStatus", None, "x-notApplicable")])
        sub(b, "ei:venID", self.ven_id)
        sub(b, "ei:reportRequestID", "0")
        return self.call("EiReport", root)

    def _metadata(self, parent, spec_id, name, descs):
        rep = sub(parent, "oadr:oadrReport")
        dur(rep, "xcal:duration", 3600)
        sub(rep, "ei:eiReportID", spec_id + "-meta")
        for rid, rtype, item, reading in descs:
            d = sub(rep, "oadr:oadrReportDescription")
            sub(d, "ei:rID", rid)
            sub(sub(d, "ei:reportDataSource"), "ei:resourceID", "site")
            sub(d, "ei:reportType", rtype)
            if item:
                oadr.item_base(d, item)
            sub(d, "ei:readingType", reading)
            sr = sub(d, "oadr:oadrSamplingRate")
            sub(sr, "oadr:oadrMinPeriod", "PT1S")
            sub(sr, "oadr:oadrMaxPeriod", "PT1H")
            sub(sr, "oadr:oadrOnChange", "false")
        sub(rep, "ei:reportRequestID", "0")
        sub(rep, "ei:reportSpecifierID", spec_id)
        sub(rep, "ei:reportName", name)
        sub(rep, "ei:createdDateTime", oadr.iso_time(time.time()))

    def created_report(self, request_id, pending):
        root, b = payload("oadrCreatedReport")
        oadr.ei_response(b, request_id)
        p = sub(b, "oadr:oadrPendingReports")
        for rr in pending:
            sub(p, "ei:reportRequestID", rr)
        sub(b, "ei:venID", self.ven_id)
        return self.call("EiReport", root)

    def update_report(self, rr_id, spec_id, samples, t0, granularity=5):
        """samples: [{rID: value, ...} per interval]; site_status intervals
        carry an oadrPayloadResourceStatus instead."""
        root, b = payload("oadrUpdateReport")
        sub(b, "pyld:requestID", self.rid())
        rep = sub(b, "oadr:oadrReport")
        dtstart(rep, t0)
        dur(rep, "xcal:duration", granularity * len(samples))
        ivs = sub(rep, "strm:intervals")
        for i, values in enumerate(samples):
            iv = sub(ivs, "ei:interval")
            dtstart(iv, t0 + i * granularity)
            dur(iv, "xcal:duration", granularity)
            for rid, v in values.items():
                p = sub(iv, "oadr:oadrReportPayload")
                sub(p, "ei:rID", rid)
                sub(p, "ei:confidence", 100)
                sub(p, "ei:accuracy", 0)
                if rid == "site_status":
                    st = sub(p, "oadr:oadrPayloadResourceStatus")
                    sub(st, "oadr:oadrOnline", "true")
                    sub(st, "oadr:oadrManualOverride", "false")
                    cap = sub(sub(st, "oadr:oadrLoadControlState"), "oadr:oadrCapacity")
                    sub(cap, "oadr:oadrCurrent", oadr._num(v))
                else:
                    sub(sub(p, "ei:payloadFloat"), "ei:value", oadr._num(v))
                sub(p, "oadr:oadrDataQuality", "Quality Good - Non Specific")
        sub(rep, "ei:eiReportID", f"{spec_id}-{self.n}")
        sub(rep, "ei:reportRequestID", rr_id)
        sub(rep, "ei:reportSpecifierID", spec_id)
        sub(rep, "ei:reportName", "TELEMETRY_USAGE")
        sub(rep, "ei:createdDateTime", oadr.iso_time(time.time()))
        sub(b, "ei:venID", self.ven_id)
        return self.call("EiReport", root)

    def canceled_report(self, request_id, pending):
        root, b = payload("oadrCanceledReport")
        oadr.ei_response(b, request_id)
        p = sub(b, "oadr:oadrPendingReports")
        for rr in pending:
            sub(p, "ei:reportRequestID", rr)
        sub(b, "ei:venID", self.ven_id)
        return self.call("EiReport", root)

    def create_opt(self, opt_id, windows):
        """An optOut schedule (maintenance): windows [(start, seconds)]."""
        root, b = payload("oadrCreateOpt")
        sub(b, "ei:optID", opt_id)
        sub(b, "ei:optType", "optOut")
        sub(b, "ei:optReason", "x-schedule")
        sub(b, "emix:marketContext", "http://flexgw.invalid/market/dr")
        sub(b, "ei:venID", self.ven_id)
        comps = sub(sub(b, "xcal:vavailability"), "xcal:components")
        for start, length in windows:
            props = sub(sub(comps, "xcal:available"), "xcal:properties")
            dtstart(props, start)
            dur(props, "xcal:duration", length)
        sub(b, "ei:createdDateTime", oadr.iso_time(time.time()))
        sub(b, "pyld:requestID", self.rid())
        sub(sub(b, "ei:eiTarget"), "ei:resourceID", "site")
        return self.call("EiOpt", root)

    def cancel_opt(self, opt_id):
        root, b = payload("oadrCancelOpt")
        sub(b, "pyld:requestID", self.rid())
        sub(b, "ei:optID", opt_id)
        sub(b, "ei:venID", self.ven_id)
        return self.call("EiOpt", root)


def name(e):
    return oadr.local(e.tag)


def code(e):
    return text(e, ".//ei:eiResponse/ei:responseCode")


def events(distribute):
    """[(eventID, modificationNumber, status, [(signalName, type, [values])])]."""
    out = []
    for ev in distribute.iterfind("oadr:oadrEvent/ei:eiEvent", NS):
        sigs = [(text(s, "ei:signalName"), text(s, "ei:signalType"),
                 [float(v.text) for v in s.iterfind(
                     "strm:intervals/ei:interval/ei:signalPayload/ei:payloadFloat/ei:value", NS)])
                for s in ev.iterfind("ei:eiEventSignals/ei:eiEventSignal", NS)]
        d = ev.find("ei:eventDescriptor", NS)
        out.append((text(d, "ei:eventID"), int(text(d, "ei:modificationNumber")),
                    text(d, "ei:eventStatus"), sigs))
    return out


def assert_all_valid(vtn):
    bad = vtn.invalid_payloads()
    assert not bad, "\n".join(f"{r['dir']} {r['name']}: {r['errors']}\n{r['body']}"
                              for r in bad)


def test_flow_mutual_tls():
    d = tempfile.mkdtemp(prefix="oadr-test-")
    try:
        certs = openadr_certs.generate(d)
        vtn = oadr.Vtn(tls=oadr.tls_config(certs), poll_freq=2,
                       report_request={"granularity": 5, "report_back": 5})
        with vtn:
            flow(vtn, Ven(vtn, certs))
            if os.environ.get("OADR_SAMPLES_DIR"):
                n = vtn.dump(os.environ["OADR_SAMPLES_DIR"])
                print(f"  {n} payloads written to {os.environ['OADR_SAMPLES_DIR']}")
            assert all(c["ok"] and c["client_cn"] == "flexgw test VEN"
                       for c in vtn.connections), vtn.connections
    finally:
        shutil.rmtree(d)


def flow(vtn, ven):
    # registration
    a = ven.query_registration()
    assert name(a) == "oadrCreatedPartyRegistration" and text(a, "ei:venID") is None
    assert text(a, "oadr:oadrRequestedOadrPollFreq/xcal:duration") == "PT2S"
    a = ven.create_registration()
    assert code(a) == "200" and ven.ven_id and ven.registration_id, ven.ven_id
    assert text(a, "ei:vtnID") == "flexgw-test-vtn"
    assert text(a, ".//oadr:oadrProfileName") == "2.0b"
    assert vtn.registrations[ven.ven_id]["venName"] == "flexgw test site"
    assert name(ven.poll()) == "oadrResponse"

    # reports: registering TELEMETRY_USAGE brings a request for it
    a = ven.register_report()
    assert name(a) == "oadrRegisteredReport" and code(a) == "200"
    rr = a.find("oadr:oadrReportRequest", NS)
    assert text(rr, "ei:reportSpecifier/ei:reportSpecifierID") == "TELEMETRY_USAGE_site"
    assert text(rr, "ei:reportSpecifier/xcal:granularity/xcal:duration") == "PT5S"
    assert [r.text for r in rr.iterfind(".//ei:specifierPayload/ei:rID", NS)] == \
        ["site_power", "site_energy"]
    assert len(vtn.registered_reports["TELEMETRY_STATUS_site"]["descriptions"]) == 1
    assert vtn.registered_reports["TELEMETRY_USAGE_site"]["descriptions"][0]["item"] == \
        "powerReal"
    rr_id = text(rr, "ei:reportRequestID")
    assert code(ven.created_report(text(a, ".//pyld:requestID"), [rr_id])) == "200"
    assert vtn.report_requests[rr_id]["created"]

    # an event with two signals, opted in
    vtn.add_event("ev1", start_in=60, duration=1200, ramp_up=30, recovery=60, start_after=120,
                  notification=3600, targets={"venID": [ven.ven_id]}, signals=[
                      {"name": "SIMPLE", "type": "level",
                       "intervals": [{"duration": 600, "value": 1},
                                     {"duration": 600, "value": 2}]},
                      {"name": "LOAD_DISPATCH", "type": "setpoint", "item": "powerReal",
                       "intervals": [{"duration": 1200, "value": 5000}]}])
    a = ven.poll()
    assert name(a) == "oadrDistributeEvent", name(a)
    assert events(a) == [("ev1", 0, "near", [("SIMPLE", "level", [1, 2]),
                                             ("LOAD_DISPATCH", "setpoint", [5000])])]
    props = a.find(".//ei:eiActivePeriod/xcal:properties", NS)
    assert text(props, "xcal:tolerance/xcal:tolerate/xcal:startafter") == "PT2M"
    assert text(props, "ei:x-eiRampUp/xcal:duration") == "PT30S"
    assert text(a, ".//oadr:oadrResponseRequired") == "always"
    assert name(ven.poll()) == "oadrResponse"  # nothing new
    assert code(ven.created_event(text(a, "pyld:requestID"), [("ev1", 0, "optIn")])) == "200"
    assert vtn.opt_in[("ev1", 0)] == "optIn"

    # a modification, then the cancellation
    vtn.modify_event("ev1", reason="deeper", signals=[
        {"name": "SIMPLE", "type": "level", "intervals": [{"duration": 1200, "value": 3}]},
        {"name": "LOAD_DISPATCH", "type": "setpoint", "item": "powerReal",
         "intervals": [{"duration": 1200, "value": 4000}]}])
    a = ven.poll()
    assert events(a) == [("ev1", 1, "near", [("SIMPLE", "level", [3]),
                                             ("LOAD_DISPATCH", "setpoint", [4000])])]
    assert text(a, ".//ei:eventDescriptor/ei:modificationReason") == "deeper"
    ven.created_event(text(a, "pyld:requestID"), [("ev1", 1, "optIn")])
    vtn.cancel_event("ev1")
    a = ven.poll()
    assert events(a)[0][:3] == ("ev1", 2, "cancelled")
    ven.created_event(text(a, "pyld:requestID"), [("ev1", 2, "optIn")])
    assert [(r["eventID"], r["modificationNumber"]) for r in vtn.event_responses] == \
        [("ev1", 0), ("ev1", 1), ("ev1", 2)]
    vtn.remove_event("ev1")
    a = ven.poll()
    assert name(a) == "oadrResponse" and events(a) == [], name(a)

    # telemetry with measured values
    t0 = time.time() - 10
    a = ven.update_report(rr_id, "TELEMETRY_USAGE_site",
                          [{"site_power": 4200.5, "site_energy": 1000, "site_status": 7000},
                           {"site_power": 3900, "site_energy": 1005.25}], t0)
    assert name(a) == "oadrUpdatedReport" and code(a) == "200"
    assert [v["value"] for v in vtn.report_values["site_power"]] == [4200.5, 3900]
    assert [v["value"] for v in vtn.report_values["site_energy"]] == [1000, 1005.25]
    assert abs(vtn.report_values["site_power"][1]["dtstart"] - (int(t0) + 5)) < 1
    assert vtn.report_values["site_power"][0]["reportRequestID"] == rr_id

    # a report request and a cancellation through polls
    rr2 = vtn.request_report("TELEMETRY_STATUS_site", ["site_status"], granularity=60,
                             report_back=60)
    a = ven.poll()
    assert name(a) == "oadrCreateReport" and text(a, ".//ei:reportRequestID") == rr2
    ven.created_report(text(a, "pyld:requestID"), [rr_id, rr2])
    assert vtn.report_requests[rr2]["created"]
    vtn.cancel_report(rr_id)
    a = ven.poll()
    assert name(a) == "oadrCancelReport" and text(a, "ei:reportRequestID") == rr_id
    assert code(ven.canceled_report(text(a, "pyld:requestID"), [rr2])) == "200"
    assert vtn.report_requests[rr_id]["canceled"] and not vtn.report_requests[rr2]["canceled"]

    # opt schedules
    start = time.time() + 86400
    a = ven.create_opt("opt-maint-1", [(start, 7200), (start + 86400, 3600)])
    assert name(a) == "oadrCreatedOpt" and text(a, "ei:optID") == "opt-maint-1"
    opt = vtn.opts["opt-maint-1"]
    assert opt["optType"] == "optOut" and [w["duration"] for w in opt["windows"]] == \
        ["PT2H", "PT1H"], opt
    a = ven.cancel_opt("opt-maint-1")
    assert name(a) == "oadrCanceledOpt" and code(a) == "200" and opt["canceled"]

    # the VTN asks for re-registration, then ends the registration
    vtn.request_reregistration()
    a = ven.poll()
    assert name(a) == "oadrRequestReregistration" and text(a, "ei:venID") == ven.ven_id
    old = (ven.ven_id, ven.registration_id)
    ven.create_registration()
    assert (ven.ven_id, ven.registration_id) == old
    vtn.cancel_registration()
    a = ven.poll()
    assert name(a) == "oadrCancelPartyRegistration"
    ven.canceled_registration(text(a, "pyld:requestID"), text(a, "ei:registrationID"))
    assert not vtn.registrations
    assert code(ven.poll()) == "463"  # not registered any more

    # the VEN ends a registration itself
    ven.ven_id = ven.registration_id = None
    ven.create_registration()
    a = ven.cancel_registration()
    assert name(a) == "oadrCanceledPartyRegistration" and code(a) == "200"
    assert not vtn.registrations

    assert_all_valid(vtn)
    emitted = {r["name"] for r in vtn.payloads("in")}
    assert emitted >= {"oadrQueryRegistration", "oadrCreatePartyRegistration", "oadrPoll",
                       "oadrCreatedEvent", "oadrRegisterReport", "oadrCreatedReport",
                       "oadrUpdateReport", "oadrCanceledReport", "oadrCreateOpt",
                       "oadrCancelOpt", "oadrCanceledPartyRegistration",
                       "oadrCancelPartyRegistration"}, emitted
    sent = {r["name"] for r in vtn.payloads("out")}
    assert sent >= {"oadrCreatedPartyRegistration", "oadrResponse", "oadrDistributeEvent",
                    "oadrRegisteredReport", "oadrUpdatedReport", "oadrCreateReport",
                    "oadrCancelReport", "oadrCreatedOpt", "oadrCanceledOpt",
                    "oadrRequestReregistration", "oadrCancelPartyRegistration",
                    "oadrCanceledPartyRegistration"}, sent


def test_tls_suites_and_refusals():
    d = tempfile.mkdtemp(prefix="oadr-test-")
    try:
        certs = openadr_certs.generate(d)
        with oadr.Vtn(tls=oadr.tls_config(certs)) as vtn:
            # the two suites the 2.0b profile requires, each with its key type
            for suite, client in (("ECDHE-ECDSA-AES128-SHA256", "ven"),
                                  ("AES128-SHA256", "ven-rsa")):
                ven = Ven(vtn, certs, client=client, ciphers=suite)
                ven.create_registration()
                assert vtn.connections[-1]["cipher"] == suite, vtn.connections[-1]
                assert vtn.payloads("in")[-1]["cipher"] == suite
            # unconstrained: an ECDHE suite with TLS 1.2
            Ven(vtn, certs).query_registration()
            assert vtn.connections[-1]["version"] == "TLSv1.2"
            assert vtn.connections[-1]["cipher"].startswith("ECDHE-")
            n = len(vtn.payloads())
            for client in ("other-ven", None):  # wrong client cert, none at all
                try:
                    Ven(vtn, certs, client=client).query_registration()
                    raise AssertionError(f"client {client} was accepted")
                except (ssl.SSLError, ConnectionError) as e:
                    print(f"  {client}: refused: {e}")
                assert vtn.wait_for(lambda: not vtn.connections[-1]["ok"], 5)
            assert len(vtn.payloads()) == n  # nothing got through
        # an untrusted VTN: self-signed, the VEN trusts only the test CA
        rogue = {"certs": [certs["rogue-vtn"]], "ca": certs["ca"][0]}
        with oadr.Vtn(tls=rogue) as vtn:
            try:
                Ven(vtn, certs).query_registration()
                raise AssertionError("the untrusted VTN was accepted")
            except ssl.SSLCertVerificationError as e:
                print(f"  rogue VTN: refused: {e.verify_message}")
            assert not vtn.payloads()
        fp = openadr_certs.fingerprint(certs["vtn-ecdsa"][0])
        assert len(fp) == 95 and fp.count(":") == 31
    finally:
        shutil.rmtree(d)


def test_misbehaviour():
    with oadr.Vtn() as vtn:
        ven = Ven(vtn, timeout=2)
        ven.create_registration()
        poll = ven.poll_bytes()

        def answer(mode):
            vtn.misbehave(mode, "OadrPoll")
            return ven.raw("OadrPoll", poll)

        s, _, body = answer("malformed")
        try:
            ET.fromstring(body)
            raise AssertionError("malformed parsed")
        except ET.ParseError:
            pass
        s, _, body = answer("invalid")
        ET.fromstring(body)  # well-formed ...
        ok, errors = vtn.validator.check(body)
        assert s == 200 and not ok and "validity error" in errors, errors  # ... but invalid
        s, _, body = answer("bomb")
        assert b"<!ENTITY lol9" in body and len(body) < 4096
        s, _, body = answer("xxe")
        assert b'SYSTEM "file:///etc/passwd"' in body and b"&xxe;" in body
        s, _, body = answer("doctype")
        assert b"<!DOCTYPE oadrPayload>" in body
        s, _, body = answer("http500")
        assert s == 500
        # 100 MB, streamed: read it all in pieces
        vtn.misbehave("huge", "OadrPoll")
        c = ven.connect()
        c.request("POST", ven.base + "OadrPoll", body=poll)
        r = c.getresponse()
        assert int(r.headers["Content-Length"]) == 100 * 1024 * 1024
        total, t = 0, time.time()
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
        c.close()
        assert total == 100 * 1024 * 1024, total
        print(f"  huge: {total} bytes in {time.time() - t:.2f} s")
        # closed mid-answer
        vtn.misbehave("close", "OadrPoll")
        try:
            ven.raw("OadrPoll", poll)
            raise AssertionError("a cut answer was read whole")
        except http.client.IncompleteRead:
            pass
        # never answers: the client's timeout fires
        t = time.time()
        try:
            answer("hang")
            raise AssertionError("the hanging VTN answered")
        except socket.timeout:
            assert 1.5 < time.time() - t < 5
        # the VTN works on afterwards; modes apply to their service only
        vtn.misbehave("http500", "EiEvent", count=2)
        assert name(ven.poll()) == "oadrResponse"
        assert vtn.misbehaviours == [{"mode": "http500", "service": "EiEvent", "count": 2}]
        vtn.misbehaviours.clear()

        # what the VTN does with bad requests
        s, _, _ = ven.raw("OadrPoll", oadr.bad_body("xxe"))
        assert s == 400
        assert vtn.payloads("in")[-1]["valid"] is False  # a DTD counts as invalid
        s, _, _ = ven.raw("OadrPoll", b"<oadrPayload><unclosed>")
        assert s == 400
        a = ven.call("EiEvent", payload("oadrPoll")[0])  # wrong service
        assert code(a) == "451"
        s, _, _ = ven.raw("OadrPoll", b"<" + b"x" * (2 << 20))
        assert s == 413
        # a number that is none: answered with 454, the VTN keeps going
        root, b = payload("oadrCreatedEvent")
        ce = sub(b, "pyld:eiCreatedEvent")
        oadr.ei_response(ce, "r")
        er = sub(sub(ce, "ei:eventResponses"), "ei:eventResponse")
        sub(er, "ei:responseCode", "200")
        sub(er, "pyld:requestID", "r")
        qe = sub(er, "ei:qualifiedEventID")
        sub(qe, "ei:eventID", "e")
        sub(qe, "ei:modificationNumber", "many")
        sub(er, "ei:optType", "optIn")
        sub(ce, "ei:venID", ven.ven_id)
        assert code(ven.call("EiEvent", root)) == "454"
        assert "many" in vtn.payloads("in")[-1]["errors"]
        vtn.strict = True
        root, b = payload("oadrPoll")  # no venID: schema-invalid
        assert code(ven.call("OadrPoll", root)) == "454"
        assert vtn.invalid_payloads("in")
        assert not vtn.invalid_payloads("out")


def test_keep_alive_and_stop():
    """Requests share a kept-alive connection; stop() ends it too."""
    vtn = oadr.Vtn().start()
    ven = Ven(vtn)
    c = ven.connect()
    root, b = payload("oadrQueryRegistration")
    sub(b, "pyld:requestID", "r")
    socks = []
    for _ in range(2):
        c.request("POST", ven.base + "EiRegisterParty", body=oadr.to_bytes(root))
        r = c.getresponse()
        assert r.status == 200 and r.read()
        socks.append(c.sock)
    assert socks[0] is socks[1] and socks[0] is not None  # one connection
    vtn.stop()
    try:
        c.request("POST", ven.base + "EiRegisterParty", body=oadr.to_bytes(root))
        c.getresponse().read()
        raise AssertionError("a stopped VTN answered")
    except (ConnectionError, http.client.HTTPException, OSError):
        pass
    c.close()


def test_standalone_control_api():
    p = subprocess.Popen([sys.executable, VTN_PY, "--port", "0", "--control-port", "0",
                          "--poll-freq", "1", "--ven-id", "ven-standalone"],
                         stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(p.stdout.readline())
        assert ready["url"].startswith("http://127.0.0.1:")

        def control(method, path, obj=None):
            c = http.client.HTTPConnection("127.0.0.1", ready["control_port"], timeout=5)
            c.request(method, path, body=json.dumps(obj) if obj is not None else None)
            r = c.getresponse()
            out = json.loads(r.read())
            c.close()
            assert r.status == 200, (path, out)
            return out

        class Where:
            host, port, prefix = "127.0.0.1", ready["port"], ""
        ven = Ven(Where)
        a = ven.create_registration()
        assert ven.ven_id == "ven-standalone"
        assert text(a, "oadr:oadrRequestedOadrPollFreq/xcal:duration") == "PT1S"
        control("POST", "/events", {"eventID": "e9", "start_in": 0, "duration": 600,
                                    "signals": [{"name": "ELECTRICITY_PRICE",
                                                 "type": "price", "item": "currencyPerKWh",
                                                 "intervals": [{"duration": 600,
                                                                "value": 0.31}]}]})
        a = ven.poll()
        assert events(a) == [("e9", 0, "active", [("ELECTRICITY_PRICE", "price", [0.31])])]
        ven.created_event(text(a, "pyld:requestID"), [("e9", 0, "optOut")])
        control("POST", "/events/e9/cancel")
        assert events(ven.poll())[0][:3] == ("e9", 1, "cancelled")
        control("POST", "/misbehave", {"mode": "http500", "service": "OadrPoll"})
        assert ven.raw("OadrPoll", ven.poll_bytes())[0] == 500
        rr = control("POST", "/reports/request", {"reportSpecifierID": "X", "rIDs": ["a"]})
        a = ven.poll()
        assert text(a, ".//ei:reportRequestID") == rr["reportRequestID"]
        st = control("GET", "/state")
        assert st["opt_in"] == {"e9/0": "optOut"}
        assert st["event_responses"][0]["venID"] == "ven-standalone"
        ins = control("GET", "/payloads?dir=in&name=oadrCreatedEvent")
        assert len(ins) == 1 and ins[0]["valid"] and "optOut" in ins[0]["body"]
        bad = [r for r in st["payloads"] if r["valid"] is False]
        assert not bad, bad
        c = http.client.HTTPConnection("127.0.0.1", ready["control_port"], timeout=5)
        c.request("POST", "/misbehave", body=json.dumps({"mode": "nonsense"}))
        assert c.getresponse().status == 400
    finally:
        p.terminate()
        p.wait(10)


if __name__ == "__main__":
    if not shutil.which("xmllint") or not shutil.which("openssl"):
        print("SKIP: xmllint or openssl missing (packaging/install-deps.sh)")
        sys.exit(0)
    for fname, fn in list(globals().items()):
        if fname.startswith("test_"):
            print(fname, flush=True)
            fn()
    print("ok")
