"""The embedded web page: served with a strict CSP, and in a real browser
(Debian's headless Chromium, --dump-dom after the page's JS ran) it shows the
demo site: every asset with its kind, the site power, the DSO signal, and a
body marked data-state="ok" without a JS error. With web.auth_reads on and
no token it says that credentials are needed instead of "unreachable".

Chromium comes from packaging/install-deps.sh; without it this test FAILS
(it does not skip: a skipped browser test would hide a broken page)."""

import html.parser
import os
import re
import shutil
import subprocess
import tempfile

from fgtest import Gateway, base_config, run

CHROMIUM = os.environ.get("FG_CHROMIUM", "/usr/bin/chromium")
CSP = ("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'none'")


def chromium():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        raise AssertionError(f"chromium not installed ({CHROMIUM} missing): "
                             "run packaging/install-deps.sh")
    return CHROMIUM


def render(url, budget_ms=8000, timeout=60):
    """The DOM of url after budget_ms of virtual time (the page polls, so it
    never goes idle by itself)."""
    profile = tempfile.mkdtemp(prefix="fgtest-chromium-")
    try:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-extensions",
               "--user-data-dir=" + profile, f"--virtual-time-budget={budget_ms}",
               "--dump-dom", url]
        env = dict(os.environ, HOME=profile)
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0 and "<body" in out, (
            f"chromium exited {p.returncode}:\n" + p.stderr.decode("utf-8", "replace")[-3000:])
        return out
    finally:
        shutil.rmtree(profile, ignore_errors=True)


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
        dom = Dom(render(f"http://127.0.0.1:{gw.port}/"))
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
        assert "grid connection" in dom.text.get("import-limit", ""), dom.text.get("import-limit")
        assert "/kWh" in dom.text.get("price", ""), dom.text.get("price")

        sigs = dom.rows.get("signals-body", {})
        assert "config/dso-evening-congestion" in sigs, list(sigs)
        row = sigs["config/dso-evening-congestion"]
        assert row[0] == "dso-evening-congestion" and row[2] == "grid_limit", row
        assert "35.0 kW" in row[6] + row[7], row
        assert row[-1] == "", "a config signal offers no cancel button"


def test_page_says_reads_need_token():
    cfg = base_config()
    cfg["web"]["auth_reads"] = True
    with Gateway(config=cfg) as gw:
        dom = Dom(render(f"http://127.0.0.1:{gw.port}/", budget_ms=3000))
        assert dom.body.get("data-state") == "auth", (dom.body, dom.text.get("conn"))
        assert "data-js-error" not in dom.body, dom.body
        conn = dom.text.get("conn", "")
        assert "enter the token" in conn and "unreachable" not in conn, conn
        assert not dom.rows.get("assets-body"), dom.rows


if __name__ == "__main__":
    run([test_static_files_and_headers, test_page_shows_demo_site,
         test_page_says_reads_need_token])
