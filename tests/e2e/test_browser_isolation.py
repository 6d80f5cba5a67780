"""The screenshot browser's isolation (issue 10: F9 WebRTC egress, F11 environment, user and
sandbox), with the real Chromium the worker starts (`browser.new_driver` through
`Worker.browser()`, and the worker process `make demo` starts)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
from helpers import (
    TcpCounter,
    UdpCounter,
    consent_payload,
    make_token,
    run_sql,
    secret,
    wait_for,
    wipe_tables,
)
from pages import stop_worker

from sidecar import browser, config, create_app
from sidecar.screenshots import Worker

WEBRTC_PAGE = """<!doctype html><title>webrtc probe</title><script>
window.sp = {started: false, done: false, error: null, candidates: []};
(async function () {
  try {
    const q = new URLSearchParams(location.search);
    const servers = [{urls: 'stun:127.0.0.1:' + q.get('udp')}];
    if (q.get('tcp')) servers.push({urls: 'turn:127.0.0.1:' + q.get('tcp') + '?transport=tcp',
                                    username: 'u', credential: 'p'});
    const pc = new RTCPeerConnection({iceServers: servers});
    pc.onicecandidate = function (e) {
      if (e.candidate) sp.candidates.push(e.candidate.candidate); else sp.done = true;
    };
    pc.createDataChannel('probe');
    await pc.setLocalDescription(await pc.createOffer());
    sp.started = true;
  } catch (e) { sp.error = String(e); }
})();
</script>"""

# What the worker's process has and its browser must not get.
SECRETS = {
    "SP_SECRET_KEYS": secret("iso-secret-key"), "SP_ADMIN_TOKENS": secret("iso-admin-token"),
    "SP_LEDGER_KEYS": secret("iso-ledger-key"), "AWS_SECRET_ACCESS_KEY": "iso-aws-secret",
}


def worker_settings(stack, prefix: str) -> dict:
    return {"SP_DATABASE_URL": stack.database_url(), "SP_TABLE_PREFIX": prefix,
            "SP_SECRET_KEYS": SECRETS["SP_SECRET_KEYS"],
            "SP_ADMIN_TOKENS": SECRETS["SP_ADMIN_TOKENS"], "SP_SITE_ORIGINS": stack.wp_url,
            "SP_SCREENSHOT_TIMEOUT": "10"}


@pytest.fixture
def worker(full_stack):
    w = Worker(config.load(overrides=worker_settings(full_stack, "bx_")))
    yield w
    stop_worker(w)


def test_webrtc_sends_no_udp_past_the_egress_proxy(full_stack, worker):
    """A page on the site's own origin asks for STUN (UDP) and TURN (TCP) servers on
    127.0.0.1: nothing reaches them; the TURN attempt meets the egress guard."""
    (full_stack.wp_dir / "sp-test-webrtc.html").write_text(WEBRTC_PAGE)
    udp, tcp = UdpCounter(), TcpCounter()
    try:
        d = worker.browser()
        worker.egress.reset()
        d.get(f"{full_stack.wp_url}/sp-test-webrtc.html?udp={udp.port}&tcp={tcp.port}")
        deadline = time.monotonic() + 20
        state = {}
        while time.monotonic() < deadline and not udp.hits:
            state = d.execute_script("return window.sp")
            if state["error"] or state["done"]:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # anything still in flight
        assert state.get("error") is None, state
        assert udp.hits == 0, f"{udp.hits} STUN datagrams reached 127.0.0.1"
        assert tcp.hits == 0
        assert state["started"] and state["done"], state  # gathering really ran to its end
        assert not any(" host " in c or " srflx " in c for c in state["candidates"]), state
        # TURN over TCP went to the proxy, which judged it like any other request.
        assert f"CONNECT https://127.0.0.1:{tcp.port}" in worker.egress.blocked
    finally:
        udp.close()
        tcp.close()


def _proc(pid: int) -> dict | None:
    """environ, uids, seccomp mode, name and command line of `pid` (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
        environ = dict(e.split(b"=", 1) for e in raw.split(b"\0") if b"=" in e)
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
        userns = os.readlink(f"/proc/{pid}/ns/user")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return {"pid": pid, "raw_env": raw,
            "env": {k.decode(): v.decode(errors="replace") for k, v in environ.items()},
            "uids": [int(u) for u in status["Uid"].split()],
            "gids": [int(g) for g in status["Gid"].split()],
            "seccomp": int(status["Seccomp"]), "name": status["Name"].strip(), "userns": userns,
            # children rewrite their title: argv may come back as one string
            "cmdline": " ".join(a.decode(errors="replace") for a in cmdline if a)}


def _browser_procs(root_pid: int, exclude: int | None = None) -> list[dict]:
    procs = [_proc(p) for p in browser.process_tree(root_pid) if p != exclude]
    return [p for p in procs if p]


def _userns_works_for(uid: int | None) -> bool:
    """Whether an unprivileged user (the browser's) can make the namespaces Chromium's
    sandbox needs, checked here with util-linux, independently of browser.py."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is needed to check the kernel independently")
    argv = ["unshare", "--user", "--pid", "--net", "--fork", "true"]
    if uid is not None:
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True).returncode == 0


def assert_isolated(procs: list[dict]) -> None:
    names = {p["name"] for p in procs}
    assert "chromedriver" in names and any(n.startswith("chrom") and n != "chromedriver"
                                          for n in names), names
    for p in procs:
        # Chromium's child processes write their title over argv and environ, so their
        # /proc environ is partly command-line text: search the raw bytes.
        leaked = re.findall(rb"SP_[A-Z0-9_]*=", p["raw_env"]) + [
            k.encode() for k in SECRETS if k.encode() + b"=" in p["raw_env"]]
        assert not leaked, (p["name"], p["pid"], leaked)
        assert not [v for v in SECRETS.values() if v.encode() in p["raw_env"]], p["pid"]
        if "--type=" not in p["cmdline"]:  # chromedriver and the browser process
            assert p["env"]["PATH"] == browser.SAFE_PATH, p["env"]
            home = p["env"]["HOME"]
            assert home.startswith(tempfile.gettempdir() + "/sp-chromium-"), home
            if os.geteuid() == 0:
                assert os.stat(home).st_uid == p["uids"][0] != 0
        if os.geteuid() == 0:
            assert 0 not in p["uids"] and 0 not in p["gids"], (p["name"], p["uids"])
    (main,) = [p for p in procs if p["name"] != "chromedriver" and "--type=" not in p["cmdline"]
               and "crashpad" not in p["name"]]
    assert "--disable-quic" in main["cmdline"]
    sandbox_possible = _userns_works_for(procs[0]["uids"][0] if os.geteuid() == 0 else None)
    renderers = [p for p in procs if "--type=renderer" in p["cmdline"]]
    assert renderers, names
    if sandbox_possible:
        assert not any("--no-sandbox" in p["cmdline"] for p in procs)
        # seccomp-bpf on, and a user namespace of their own (Chromium's namespace sandbox)
        assert all(p["seccomp"] == 2 for p in renderers), [p["seccomp"] for p in renderers]
        assert all(p["userns"] != main["userns"] for p in renderers)
    else:
        assert all("--no-sandbox" in p["cmdline"] for p in renderers)


def test_worker_browser_gets_no_secrets_no_root_and_its_sandbox(full_stack, worker,
                                                                monkeypatch):
    """`Worker.browser()` in a process that holds the secrets (as `sidecar worker` does)."""
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    d = worker.browser()
    d.get(full_stack.wp_url + "/wp-includes/images/blank.gif")
    assert_isolated(_browser_procs(d.service.process.pid))


def test_demo_worker_browser_is_isolated_and_screenshots_work(full_stack):
    """The worker as `make demo` starts it (Stack.start_worker, with every secret in its
    environment), on tables of its own: its browser has none of the secrets, is not root,
    is sandboxed where the kernel allows, and still takes the screenshot."""
    settings = worker_settings(full_stack, "bd_")
    app = create_app(settings)  # makes the bd_ tables
    try:
        wipe_tables(full_stack.database_url(), "bd_")
        p = consent_payload(page_url=full_stack.wp_url + "/?page_id=2")
        r = app.test_client().post("/v1/consents", json={
            "token": make_token(p, keys=[settings["SP_SECRET_KEYS"]])})
        assert r.status_code == 201, r.get_json()
    finally:
        app.extensions["sp_pool"].close()
    proc = full_stack.start_worker("worker-isolation", **settings)
    try:
        def job():
            rows = run_sql(full_stack.database_url(),  # queued once the record is sealed
                           "SELECT status, last_error, consents FROM bd_sp_render_jobs")
            return rows[0] if rows else {"status": None}

        wait_for(lambda: job()["status"] in ("done", "failed"), 60,
                 what="the demo worker to render the consent's page")
        assert job() == {"status": "done", "last_error": None, "consents": 1}
        browsers = _browser_procs(proc.pid, exclude=proc.pid)
        assert_isolated(browsers)
        # background work: the worker and its browsers yield the CPU to ingest
        assert browsers
        for pid in [proc.pid, *(p["pid"] for p in browsers)]:
            try:
                assert os.getpriority(os.PRIO_PROCESS, pid) == 10, pid
                # ... and the browsers get the CPU only when ingest does not want it
                # (SP_BROWSER_PRIORITY=idle, the default); the worker itself seals on time.
                policy = os.SCHED_OTHER if pid == proc.pid else os.SCHED_IDLE
                assert os.sched_getscheduler(pid) == policy, pid
            except ProcessLookupError:  # a renderer that closed meanwhile
                continue
        log = (full_stack.log_dir / "worker-isolation.log").read_text()
        assert "browser started" in log and "sandbox" in log, log[-2000:]
    finally:
        full_stack.stop_part("worker-isolation")
