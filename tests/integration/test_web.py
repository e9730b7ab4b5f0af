"""The embedded web page: served with a strict CSP, and in a real browser
(Debian's headless Chromium, --dump-dom after the page's JS ran) it shows the
demo site: every asset with its kind, the site power, the DSO signal, and a
body marked data-state="ok" without a JS error. With web.auth_reads on and
no token it says that credentials are needed instead of "unreachable".

Chromium comes from packaging/install-deps.sh; without it this test FAILS
(it does not skip: a skipped browser test would hide a broken page)."""

import fcntl
import html.parser
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time

from fgtest import TOKEN, Gateway, base_config, run

CHROMIUM = os.environ.get("FG_CHROMIUM", "/usr/bin/chromium")
CSP = ("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'none'")


def chromium():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        raise AssertionError(f"chromium not installed ({CHROMIUM} missing): "
                             "run packaging/install-deps.sh")
    return CHROMIUM


BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-extensions"]


def console_lines(stderr):
    """What the page wrote to its console (chromium --enable-logging)."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]


def render(url, budget_ms=8000, timeout=60):
    """(DOM, console lines) of url after budget_ms of virtual time (the page
    polls, so it never goes idle by itself)."""
    profile = tempfile.mkdtemp(prefix="fgtest-chromium-")
    try:
        cmd = [chromium(), *BROWSER_FLAGS, "--user-data-dir=" + profile,
               "--enable-logging=stderr", "--v=0",
               f"--virtual-time-budget={budget_ms}", "--dump-dom", url]
        env = dict(os.environ, HOME=profile)
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == 0 and "<body" in out, (
            f"chromium exited {p.returncode}:\n" + err[-3000:])
        return out, console_lines(err)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Browser:
    """Chromium driven over --remote-debugging-pipe (CDP as NUL-terminated
    JSON on fds 3 and 4): no websocket, standard library only."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="fgtest-chromium-")
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        # the child's ends, moved out of the way of 3 and 4 first
        hi_r = fcntl.fcntl(to_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(from_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_r)
        os.close(from_w)

        def child_fds():  # dup2 leaves 3 and 4 inheritable, the rest close on exec
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.err = open(os.path.join(self.profile, "stderr.log"), "wb")
        self.proc = subprocess.Popen(
            [chromium(), *BROWSER_FLAGS, "--user-data-dir=" + self.profile,
             "--enable-logging=stderr", "--v=0", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err,
            preexec_fn=child_fds, close_fds=False, env=dict(os.environ, HOME=self.profile))
        os.close(hi_r)
        os.close(hi_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def send(self, method, params=None, session=True, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                m = json.loads(raw)
                if m.get("id") == self.next_id:
                    assert "error" not in m, (method, m["error"])
                    return m["result"]
            left = deadline - time.monotonic()
            assert left > 0, f"no CDP answer to {method}"
            if select.select([self.from_r], [], [], left)[0]:
                chunk = os.read(self.from_r, 1 << 16)
                assert chunk, "chromium closed the pipe:\n" + self.stderr()
                self.buf += chunk

    def open(self, url):
        tid = self.send("Target.createTarget", {"url": url})["targetId"]
        self.session = self.send("Target.attachToTarget",
                                 {"targetId": tid, "flatten": True})["sessionId"]

    def js(self, expr):
        """Evaluate expr in the page (promises awaited); its JSON value."""
        r = self.send("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                           "returnByValue": True})
        assert "exceptionDetails" not in r, (expr, r["exceptionDetails"])
        return r["result"].get("value")

    def wait(self, expr, timeout=10, what=None):
        deadline = time.monotonic() + timeout
        while True:
            v = self.js(expr)
            if v:
                return v
            assert time.monotonic() < deadline, f"timed out waiting for {what or expr}"
            time.sleep(0.1)

    def stderr(self):
        with open(os.path.join(self.profile, "stderr.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_w)
        os.close(self.from_r)
        self.err.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Dom(html.parser.HTMLParser):
    """Just enough of the rendered DOM: <body> attributes, the text of every
    element with an id, and the rows (data-key -> cell texts) of each tbody."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "col", "wbr", "source"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.body = {}
        self.text = {}   # id -> text
        self.rows = {}   # tbody id -> {data-key: [cell text, ...]}
        self.cells = {}  # tbody id -> {data-key: {cell class: text}}
        self.stack = []  # open ids
        self.tbody = None
        self.tr = None
        self.cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag in self.VOID:
            return
        if tag == "tbody":
            self.tbody = a.get("id")
            self.rows.setdefault(self.tbody, {})
            self.cells.setdefault(self.tbody, {})
        elif tag == "tr" and self.tbody:
            self.tr = a.get("data-key")
            self.rows[self.tbody][self.tr] = []
            self.cells[self.tbody][self.tr] = {}
        elif tag in ("td", "th") and self.tr is not None:
            self.cell = (a.get("class") or "").split(" ")[0]
            self.rows[self.tbody][self.tr].append("")
        self.stack.append((tag, a.get("id")))
        if a.get("id"):
            self.text[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag == "tbody":
            self.tbody = None
        elif tag == "tr":
            self.tr = None
        elif tag in ("td", "th"):
            self.cell = None

    def handle_data(self, data):
        for _, i in self.stack:
            if i:
                self.text[i] += data
        if self.tbody and self.tr is not None and self.cell is not None:
            self.rows[self.tbody][self.tr][-1] += data
            c = self.cells[self.tbody][self.tr]
            c[self.cell] = c.get(self.cell, "") + data


def test_static_files_and_headers():
    with Gateway(config=base_config()) as gw:
        st, h, page = gw.get("/")
        assert st == 200, (st, page)
        assert h.get("content-type", "").startswith("text/html"), h
        assert h.get("content-security-policy") == CSP, h
        assert h.get("x-content-type-options") == "nosniff", h
        st2, _, page2 = gw.get("/index.html")
        assert st2 == 200 and page2 == page
        # the CSP forbids inline code and styles: the page must not need them
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline <script> in index.html"
        assert not re.search(r"\sstyle\s*=|<style", page, re.I), "inline style in index.html"
        assert not re.search(r"\son[a-z]+\s*=", page, re.I), "inline event handler"
        assert not re.search(r"(src|href)\s*=\s*\"(https?:)?//", page), "external resource"
        st, h, js = gw.get("/app.js")
        assert st == 200 and "javascript" in h.get("content-type", ""), h
        assert h.get("content-security-policy") == CSP, h
        # data reaches the DOM through textContent only; the token never
        # lands in persistent storage
        assert "innerHTML" not in js and "outerHTML" not in js, "app.js uses innerHTML"
        assert "localStorage" not in js and "document.write" not in js
        assert "sessionStorage" in js
        st, h, css = gw.get("/style.css")
        assert st == 200 and h.get("content-type", "").startswith("text/css"), h


def test_page_shows_demo_site():
    with Gateway(demo=True) as gw:
        _, _, site = gw.get("/api/v1/site")
        text, console = render(f"http://127.0.0.1:{gw.port}/")
        dom = Dom(text)
        # nothing blocked by the CSP, no uncaught exception, no failed load
        assert not console, "browser console:\n" + "\n".join(console)
        assert dom.body.get("data-state") == "ok", (dom.body, dom.text.get("conn"))
        assert "data-js-error" not in dom.body, dom.body
        conn = dom.text.get("conn", "")
        assert "unreachable" not in conn and "error" not in conn, conn
        assert dom.text.get("last-update", "never") != "never"
        assert site["site"]["name"] in dom.text.get("site-name", ""), dom.text.get("site-name")

        rows = dom.cells.get("assets-body", {})
        for a in site["assets"]:
            assert a["id"] in rows, (a["id"], list(rows))
            r = rows[a["id"]]
            assert r.get("c-id") == a["id"], r
            assert r.get("c-kind") == a["kind"], (a["id"], r)
            assert r.get("c-online") == "online", (a["id"], r)
            if a["kind"] == "evse" and a.get("adapter") == "ocpp":
                # the demo's chargers are OCPP stations: an EVSE's power is
                # unknown (API null, shown "–") until its station meters it
                assert re.fullmatch(r"−?\d+\.\d|–", r.get("c-power", "")), r
            else:
                assert re.fullmatch(r"−?\d+\.\d", r.get("c-power", "")), r
            assert re.fullmatch(r"\[−?\d+\.\d, −?\d+\.\d\]", r.get("c-envelope", "")), r
        assert len(rows) == len(site["assets"]), list(rows)
        bat = rows["bat1"]["c-details"]
        assert re.search(r"SoC \d+\.\d %", bat), bat

        power = dom.text.get("site-power", "")
        assert re.fullmatch(r"−?\d+\.\d kW", power), power
        # the demo site draws a few kW; the page shows the API's figure
        shown = float(power.split()[0].replace("−", "-"))
        assert abs(shown - site["site"]["power_w"] / 1000) < 20, (power, site["site"]["power_w"])
        # the connection's limit, or from 17:00 to 20:00 local time the demo's
        # config signal (whichever the API said when the page was read)
        by = site["site"]["limits"]["import_by"]
        want = f"{by['source']} signal {by['id']}" if by else "grid connection"
        assert want in dom.text.get("import-limit", ""), (want, dom.text.get("import-limit"))
        assert "/kWh" in dom.text.get("price", ""), dom.text.get("price")

        sigs = dom.rows.get("signals-body", {})
        assert "config/dso-evening-congestion" in sigs, list(sigs)
        row = sigs["config/dso-evening-congestion"]
        assert row[0] == "dso-evening-congestion" and row[2] == "grid_limit", row
        assert "35.0 kW" in row[6] + row[7], row
        assert row[-1] == "", "a config signal offers no cancel button"

        # the planner's plan: a summary and the next settlement periods, with
        # the figures of GET /api/v1/plan
        summary = dom.text.get("plan-summary", "")
        assert summary.startswith("By planner at "), summary
        assert "expected cost" in summary, summary
        prows = dom.rows.get("plan-body", {})
        assert 8 <= len(prows) <= 16, list(prows)
        _, _, plan = gw.get("/api/v1/plan")
        isps = {str(x["start"]): x for x in plan["isps"]}
        for key, cells in prows.items():
            assert re.fullmatch(r"\d\d:\d\d", cells[0]), cells
            assert all(re.fullmatch(r"−?\d+\.\d", c) for c in cells[2:7]), cells
            if key in isps:  # the plan shown may be older than this one
                assert cells[3] == f"{isps[key]['import_max_w'] / 1000:.1f}", (cells, isps[key])


def test_page_says_reads_need_token():
    cfg = base_config()
    cfg["web"]["auth_reads"] = True
    with Gateway(config=cfg) as gw:
        text, console = render(f"http://127.0.0.1:{gw.port}/", budget_ms=3000)
        dom = Dom(text)
        bad = [ln for ln in console if "status of 401" not in ln]
        assert not bad, "browser console:\n" + "\n".join(bad)
        assert dom.body.get("data-state") == "auth", (dom.body, dom.text.get("conn"))
        assert "data-js-error" not in dom.body, dom.body
        conn = dom.text.get("conn", "")
        assert "enter the token" in conn and "unreachable" not in conn, conn
        assert not dom.rows.get("assets-body"), dom.rows


def test_page_controls():
    """Drive the forms like a user: token, set-point, release, grid-limit
    signal and its cancel, configuration load / 422 / save. Markup in data
    (an asset name) stays text."""
    cfg = base_config()
    evil = '<img src=x id=pwned onerror="document.title=1">pv'
    cfg["site"]["assets"][1]["name"] = evil
    with Gateway(config=cfg) as gw, Browser() as b:
        b.open(f"http://127.0.0.1:{gw.port}/")
        b.wait("document.body && document.body.dataset.state === 'ok'", what="first refresh")
        assert b.js("document.querySelector('#assets-body tr[data-key=pv1] .c-name')"
                    ".textContent") == evil
        assert b.js("document.getElementById('pwned') === null")

        def msg_of(sel):
            # parenthesised: callers append .includes(...) / === ...
            return f"((document.querySelector({json.dumps(sel)}) || {{}}).textContent || '')"

        # without a token a write is refused, and the page says why
        b.js("""(() => { const f = document.querySelector('#assets-body tr[data-key=bat1] form');
                 f.querySelector('input.kw').value = '-5'; f.requestSubmit(); })()""")
        m = b.wait(msg_of("#assets-body tr[data-key=bat1] .msg") + ".includes('token')",
                   what="401 explained")
        assert m
        # the token goes to sessionStorage only
        b.js(f"""(() => {{ document.getElementById('token').value = {json.dumps(TOKEN)};
                 document.getElementById('cred-form').requestSubmit(); }})()""")
        assert b.js("sessionStorage.getItem('flexgw.token')") == TOKEN
        assert b.js("localStorage.length") == 0
        assert TOKEN not in b.js("location.href")
        assert b.js("document.getElementById('token').value") == ""

        b.js("""document.querySelector('#assets-body tr[data-key=bat1] form').requestSubmit()""")
        b.wait(msg_of("#assets-body tr[data-key=bat1] .msg") + ".startsWith('applied')",
               what="set-point applied")
        _, _, bat = gw.get("/api/v1/assets/bat1")
        assert bat["setpoint"] and bat["setpoint"]["w"] == -5000, bat["setpoint"]
        assert bat["setpoint"]["source"] == "api", bat["setpoint"]
        b.wait(msg_of("#assets-body tr[data-key=bat1] .c-setpoint") + ".includes('−5.0 kW')",
               what="set-point shown")
        b.js("document.querySelector('#assets-body tr[data-key=bat1] form button[type=button]')"
             ".click()")
        b.wait(msg_of("#assets-body tr[data-key=bat1] .msg") + " === 'released'", what="release")
        _, _, bat = gw.get("/api/v1/assets/bat1")
        assert bat["setpoint"] is None, bat["setpoint"]

        # a grid-limit signal from the form, then cancelled from its row
        b.js("""(() => { document.getElementById('lim-kw').value = '25';
                 document.getElementById('limit-form').requestSubmit(); })()""")
        b.wait(msg_of("#limit-msg") + ".includes('accepted')", what="signal accepted")
        _, _, sigs = gw.get("/api/v1/signals")
        sig = next(s for s in sigs if s["id"] == "web-grid-limit")
        assert sig["intervals"][0]["value"] == 25000 and sig["type"] == "grid_limit", sig
        cancel = "document.querySelector('#signals-body tr[data-key=\"api/web-grid-limit\"] button')"
        b.wait("!!" + cancel,
               what="signal row with a cancel button")
        b.wait(msg_of("#import-limit") + ".includes('api signal web-grid-limit')",
               what="limit set by the signal")
        b.js(cancel + ".click()")
        b.wait(msg_of("#signals-msg") + ".includes('cancelled')", what="signal cancelled")
        b.wait(msg_of("#import-limit") + ".includes('grid connection')", what="limit back")
        assert b.js(msg_of("#soc-target")) == "none"
        now = int(time.time())
        st, _, j = gw.request("POST", "/api/v1/signals", auth="token", body={
            "id": "web-soc", "type": "charge_state",
            "intervals": [{"start": now - 5, "duration_s": 600, "value": 80}]})
        assert st == 201, (st, j)
        b.wait(msg_of("#soc-target") + " === '80 % · api signal web-soc'",
               what="battery charge target from the signal")

        # configuration: load, a 422 listing every error, then a good save
        b.js("document.getElementById('cfg-load').click()")
        b.wait("document.getElementById('cfg-text').value.includes('\"site\"')", what="config")
        b.js("""(() => { const t = document.getElementById('cfg-text');
                 const c = JSON.parse(t.value); c.site.bogus = 1; c.site.import_limit_w = 'x';
                 t.value = JSON.stringify(c); document.getElementById('cfg-save').click(); })()""")
        b.wait("document.querySelectorAll('#cfg-errors li').length >= 2", what="422 errors")
        errs = b.js("Array.from(document.querySelectorAll('#cfg-errors li'), li => li.textContent)")
        assert any("/site/bogus" in e for e in errs) and any("/site/import_limit_w" in e
                                                             for e in errs), errs
        b.js("""(() => { const t = document.getElementById('cfg-text');
                 const c = JSON.parse(t.value); delete c.site.bogus; c.site.import_limit_w = 41000;
                 c.site.name = 'Renamed <b>site</b>';
                 t.value = JSON.stringify(c, null, 2);
                 document.getElementById('cfg-save').click(); })()""")
        b.wait(msg_of("#cfg-msg") + " === 'saved and applied'", what="config saved")
        b.wait(msg_of("#site-name") + " === 'Renamed <b>site</b>'", what="new name shown")
        assert b.js("document.querySelector('#site-name b') === null")
        _, _, cfg2 = gw.get("/api/v1/config", auth="token")
        assert cfg2["site"]["import_limit_w"] == 41000, cfg2["site"]
        assert cfg2["web"]["token"] == "********", cfg2["web"]  # secret kept, still redacted
        assert gw.get("/api/v1/config", auth="token")[0] == 200  # the token still works
        assert b.js("document.body.dataset.jsError === undefined"), b.js(
            "document.body.dataset.jsError")
        bad = [ln for ln in console_lines(b.stderr())
               if "status of 401" not in ln and "status of 422" not in ln]
        assert not bad, "browser console:\n" + "\n".join(bad)


def test_page_marks_unreachable():
    """The gateway goes away under an open page: it says so, keeps the last
    figures, and does not call that a page error."""
    gw = Gateway(config=base_config()).start()
    try:
        with Browser() as b:
            b.open(f"http://127.0.0.1:{gw.port}/")
            b.wait("document.body && document.body.dataset.state === 'ok'", what="first refresh")
            gw.stop()
            b.wait("document.body.dataset.state === 'unreachable'", timeout=8, what="unreachable")
            conn = b.js("document.getElementById('conn').textContent")
            assert conn.startswith("API unreachable: "), conn
            assert b.js("document.querySelectorAll('#assets-body tr').length") == 4
            assert b.js("document.body.dataset.jsError === undefined")
    finally:
        if gw.proc.poll() is None:
            gw.stop()
        gw.tmp.cleanup()


if __name__ == "__main__":
    run([test_static_files_and_headers, test_page_shows_demo_site,
         test_page_says_reads_need_token, test_page_controls, test_page_marks_unreachable])
