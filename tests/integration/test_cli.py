"""Command line: --check-config, refusing to start on a bad config, usage
errors, --version, generated schema and reference."""

import json
import os
import re
import subprocess
import tempfile

from fgtest import FLEXGW, SRC, Gateway, base_config, free_port, run


def flexgw(*args, timeout=20):
    return subprocess.run([FLEXGW, *args], capture_output=True, text=True, timeout=timeout)


def test_check_config_five_mistakes():
    path = os.path.join(SRC, "tests/unit/data/config/five-mistakes.json")
    r = flexgw("--check-config", path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    errors = [l for l in r.stdout.splitlines() if re.match(re.escape(path) + r": /", l)]
    assert len(errors) == 5, r.stdout
    paths = {l.split(": ", 2)[1] for l in errors}
    assert len(paths) == 5, errors
    assert r.stdout.strip().endswith("5 errors"), r.stdout


def test_check_config_example_in_issue():
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"ocpp": {"listen": "0.0.0.0:99999"}}, f)
    try:
        r = flexgw("--check-config", f.name)
        assert r.returncode == 2
        assert '/ocpp/listen: "0.0.0.0:99999" is not a valid host:port' in r.stdout, r.stdout
    finally:
        os.unlink(f.name)


def test_shipped_configs_are_valid():
    for name in ("flexgw.json", "demo.json"):
        r = flexgw("--check-config", os.path.join(SRC, "conf", name))
        assert r.returncode == 0, (name, r.stdout)
        assert "valid" in r.stdout


def test_missing_and_malformed_files():
    r = flexgw("--check-config", "/nonexistent/flexgw.json")
    assert r.returncode == 2 and "/nonexistent/flexgw.json" in r.stdout, r.stdout
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"site": {"id": "x",}\n')
    try:
        r = flexgw("--check-config", f.name)
        assert r.returncode == 2 and "line" in r.stdout, r.stdout
    finally:
        os.unlink(f.name)


def test_refuses_to_start_on_bad_config():
    cfg = base_config()
    cfg["site"]["import_limit_w"] = "lots"
    cfg["web"]["bogus"] = True
    gw = Gateway(cfg)
    gw.start(wait=False)
    code = gw.proc.wait(timeout=10)
    gw.log.close()
    gw.out.close()
    assert code == 2, code
    err = gw.stderr()
    assert "/site/import_limit_w" in err and "/web/bogus" in err, err
    gw.check_sanitizers()
    gw.tmp.cleanup()


def test_enabled_adapter_not_built_is_refused():
    cfg = base_config()
    cfg["mqtt"] = {"enabled": True}
    gw = Gateway(cfg)
    gw.start(wait=False)
    assert gw.proc.wait(timeout=10) == 2
    gw.log.close()
    gw.out.close()
    assert "/mqtt/enabled" in gw.stderr(), gw.stderr()
    gw.tmp.cleanup()


def test_usage_errors():
    for args in (["--bogus"], ["--speed", "fast", "--demo"], ["--log-level", "loud"],
                 ["--speed", "10"], ["extra"]):
        r = flexgw(*args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert r.stderr, args
    r = flexgw("--version")
    assert r.returncode == 0 and r.stdout.startswith("flexgw "), r.stdout
    r = flexgw("--help")
    assert r.returncode == 0 and "--check-config" in r.stdout


def test_generated_files_are_current():
    r = flexgw("--config-schema")
    assert r.returncode == 0
    with open(os.path.join(SRC, "conf/flexgw.schema.json")) as f:
        assert f.read() == r.stdout, "conf/flexgw.schema.json is stale: make config-docs"
    json.loads(r.stdout)
    r = flexgw("--config-reference")
    with open(os.path.join(SRC, "docs/config.md")) as f:
        assert f.read() == r.stdout, "docs/config.md is stale: make config-docs"


def test_port_in_use_is_a_clear_error():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        gw = Gateway(base_config())
        gw.port = port
        gw.start(wait=False)
        code = gw.proc.wait(timeout=10)
        gw.log.close()
        gw.out.close()
        assert code == 1, (code, gw.stderr())
        assert f"127.0.0.1:{port}" in gw.stderr(), gw.stderr()
        gw.tmp.cleanup()
    finally:
        s.close()


if __name__ == "__main__":
    run([test_check_config_five_mistakes, test_check_config_example_in_issue,
         test_shipped_configs_are_valid, test_missing_and_malformed_files,
         test_refuses_to_start_on_bad_config, test_enabled_adapter_not_built_is_refused,
         test_usage_errors, test_generated_files_are_current, test_port_in_use_is_a_clear_error])
