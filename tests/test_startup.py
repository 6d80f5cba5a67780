"""A sidecar that sets itself up (issue 12): `sidecar init` writes an env file with new
secrets and prints what WordPress needs; every way of starting the sidecar refuses
placeholder or short secrets and an unreachable database with one line and exit code 2,
never a traceback; two sidecars on one host keep their own gunicorn control sockets; the
systemd units verify."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import SITE, TEST_KEYS, TEST_TOKENS, require_packages, secret
from stack import free_port, http_status

from sidecar import config

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PLACEHOLDERS = ["<shared secret>", "<admin token>", "changeme", "secret", "x" * 48,
                "changeme" * 5, "your-secret-key-goes-in-here-0123456789",
                "short-but-random-Qm7vR2"]


def run(args, env, timeout=60, cwd=None):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


def clean_env(**settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SP_", "GUNICORN"))}
    env.update(settings)
    return env


@pytest.fixture
def good(test_db, tmp_path):
    """Settings a sidecar starts with (the test database, tables t_*)."""
    return {"SP_DATABASE_URL": test_db, "SP_TABLE_PREFIX": "t_", "SP_SITE_ORIGINS": SITE,
            "SP_SECRET_KEYS": ",".join(TEST_KEYS), "SP_ADMIN_TOKENS": ",".join(TEST_TOKENS),
            "SP_ANCHOR_FILE": str(tmp_path / "anchors.jsonl")}


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# ---- secrets --------------------------------------------------------------------------

@pytest.mark.parametrize("value", PLACEHOLDERS)
@pytest.mark.parametrize("name", ["SP_SECRET_KEYS", "SP_LEDGER_KEYS", "SP_ADMIN_TOKENS",
                                  "SP_METRICS_TOKENS"])
def test_placeholder_or_short_secrets_are_refused_naming_the_variable(name, value):
    settings = {"SP_DATABASE_URL": "mysql://u:p@127.0.0.1/db", "SP_SITE_ORIGINS": SITE,
                "SP_SECRET_KEYS": TEST_KEYS[0], "SP_ADMIN_TOKENS": TEST_TOKENS[0]}
    # The weak value beside a good one (rotation) is refused too: it still verifies.
    for weak in (value, f"{secret('good-one')},{value}"):
        with pytest.raises(config.ConfigError, match=f"^{name}: .*sidecar init") as e:
            config.load(env={}, overrides={**settings, name: weak})
        if len(value) > 8:  # a secret is never echoed, not even a weak one
            assert value not in str(e.value)


def test_generated_and_long_random_secrets_pass():
    from sidecar import envfile
    for value in [envfile.new_secret() for _ in range(50)] + TEST_KEYS + TEST_TOKENS:
        assert config.weak_secret(value) is None, value


@pytest.mark.parametrize("command", [["migrate"], ["worker"], ["serve", "--port", "1"],
                                     ["purge", "--days", "30"], ["verify"], ["check"]])
def test_every_command_stops_on_a_placeholder_secret_with_one_line(command, good):
    env = clean_env(**{**good, "SP_SECRET_KEYS": "<shared secret>"})
    r = run([str(BIN / "sidecar"), *command], env)
    assert r.returncode == 2, r
    line = one_line(r.stderr)
    assert line.startswith("sidecar: configuration error: SP_SECRET_KEYS: the value is a "
                           "placeholder;") and "sidecar init" in line, line


# ---- the database ----------------------------------------------------------------------

def bad_urls(test_db: str) -> dict:
    u = urlsplit(test_db)
    port = free_port()
    return {
        "port": (test_db.replace(f":{u.port}/", f":{port}/"), f"127.0.0.1:{port}",
                 "Can't connect to MySQL server"),
        "password": (test_db.replace(f":{u.password}@", ":Wrong-Pa55word@"),
                     f"127.0.0.1:{u.port}", "Access denied"),
        "database": (test_db.rsplit("/", 1)[0] + "/no_such_db", f"127.0.0.1:{u.port}",
                     "no_such_db"),
    }


@pytest.mark.parametrize("command, wrong", [
    (["migrate"], "port"), (["migrate"], "password"), (["migrate"], "database"),
    (["worker"], "port"), (["serve", "--port", "1"], "password")])
def test_an_unreachable_database_stops_the_sidecar_with_one_line(command, wrong, good,
                                                                 test_db):
    url, where, reason = bad_urls(test_db)[wrong]
    r = run([str(BIN / "sidecar"), *command], clean_env(**{**good, "SP_DATABASE_URL": url}))
    assert r.returncode == 2, r
    line = one_line(r.stderr)
    user = urlsplit(test_db).username
    assert line.startswith(f"sidecar: cannot reach the database at {where} as {user}: "), line
    assert reason in line, line
    assert "Wrong-Pa55word" not in line  # never the password


def test_check_advises_a_larger_redo_log_exactly_when_the_servers_is_small(good, test_db):
    """`sidecar check` passes either way and says what to set when the redo log is small
    (bench/README.md, "The database's redo log")."""
    from sidecar import db
    conn = db.connect(test_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@innodb_log_file_size AS size")
            size = int(cur.fetchone()["size"])
    finally:
        conn.close()
    r = run([str(BIN / "sidecar"), "check"], clean_env(**good))
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "sidecar: settings OK, database reachable", r.stdout
    if size < db.REDO_LOG_WARN_BELOW:
        assert lines[1:] == [
            f"sidecar: advice: the database's InnoDB redo log (innodb_log_file_size) is"
            f" {size >> 20} MiB; under a burst of consents durable COMMITs then stall while"
            " InnoDB flushes. Set it to 1 GiB (README, \"The database\")."], r.stdout
    else:
        assert lines[1:] == [], r.stdout


@pytest.mark.parametrize("answer, advised", [
    ({"size": 96 << 20}, True), ({"size": 512 << 20}, False), ({"size": 2 << 30}, False),
    ({"size": None}, False), (None, False)])
def test_the_redo_log_advice_is_given_below_512_mib_only(answer, advised):
    from sidecar import db

    class Cursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql):
            assert sql == "SELECT @@innodb_log_file_size AS size"

        def fetchone(self):
            return answer

    class Conn:
        def cursor(self):
            return Cursor()

        def commit(self):
            pass

    advice = db.durability_advice(Conn())
    assert bool(advice) is advised
    if advised:
        assert "is 96 MiB" in advice[0] and "1 GiB" in advice[0]


def test_a_malformed_database_url_is_one_line_too(good):
    r = run([str(BIN / "sidecar"), "migrate"],
            clean_env(**{**good, "SP_DATABASE_URL": "postgres://u:hunter2@h/db"}))
    assert r.returncode == 2
    assert one_line(r.stderr) == ("sidecar: configuration error: SP_DATABASE_URL must start "
                                  "with mysql://")


# ---- under gunicorn --------------------------------------------------------------------

def gunicorn(args, env, tmp_path, timeout=60):
    """Run gunicorn to its end (it must end by itself); its exit code and output."""
    log = tmp_path / f"gunicorn-{time.monotonic_ns()}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([str(BIN / "gunicorn"), *args], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, cwd=tmp_path,
                                start_new_session=True)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"gunicorn did not stop by itself:\n{log.read_text()[-3000:]}")
    return code, log.read_text()


@pytest.mark.parametrize("config_file", ["python:sidecar.gunicorn_conf", None])
@pytest.mark.parametrize("bad", ["secret", "database"])
def test_gunicorn_stops_with_one_clear_line_and_no_traceback(bad, config_file, good, test_db,
                                                             tmp_path):
    """With the shipped settings the master checks before any worker starts (exit 2); a bare
    `gunicorn 'sidecar:create_app()'` gets the same line from create_app, and the master
    stops ("App failed to load") instead of starting workers again and again."""
    settings = dict(good, SP_BIND=f"127.0.0.1:{free_port()}", WEB_CONCURRENCY="2")
    if bad == "secret":
        settings["SP_ADMIN_TOKENS"] = "<admin token>"
        expected = "sidecar: configuration error: SP_ADMIN_TOKENS: the value is a placeholder"
    else:
        settings["SP_DATABASE_URL"], where, _ = bad_urls(test_db)["port"]
        expected = f"sidecar: cannot reach the database at {where} as "
    args = ["-c", config_file] if config_file else ["-b", settings["SP_BIND"], "-w", "1"]
    code, out = gunicorn([*args, "sidecar:create_app()"],
                         clean_env(**settings, HOME=str(tmp_path)), tmp_path)
    assert "Traceback" not in out, out
    ours = [line for line in out.splitlines() if expected in line]
    assert len(ours) == 1, out
    if config_file:
        assert code == 2, out
        assert "Booting worker" not in out, out  # stopped before any worker
    else:
        assert code == 4 and "App failed to load" in out, out


def test_two_sidecars_on_one_host_keep_their_own_control_sockets(good, tmp_path):
    """gunicorn >= 25.1 opens a control socket, by default one path per user
    (~/.gunicorn/gunicorn.ctl): the second sidecar took the first's. The shipped settings
    name it after the address each listens on."""
    procs, ports = [], [free_port(), free_port()]
    home = Path(tempfile.mkdtemp(prefix="sp-home-"))  # a socket's path has ~100 bytes at most
    env = clean_env(**good, HOME=str(home), WEB_CONCURRENCY="1")
    env.pop("XDG_RUNTIME_DIR", None)
    try:
        for port in ports:
            with open(tmp_path / f"g{port}.log", "wb") as log:
                procs.append(subprocess.Popen(
                    [str(BIN / "gunicorn"), "-c", "python:sidecar.gunicorn_conf", "-b",
                     f"127.0.0.1:{port}", "sidecar:create_app()"], env=env, cwd=tmp_path,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        sockets = [home / ".gunicorn" / f"secure-privacy-127.0.0.1-{p}.ctl" for p in ports]
        deadline = time.monotonic() + 60
        while not all(s.exists() for s in sockets) or not all(
                http_status(f"http://127.0.0.1:{p}/readyz") == 200 for p in ports):
            logs = [(tmp_path / f"g{p}.log").read_text()[-2000:] for p in ports]
            assert all(p.poll() is None for p in procs), logs
            assert time.monotonic() < deadline, logs
            time.sleep(0.3)
        assert not (home / ".gunicorn" / "gunicorn.ctl").exists()
        # Each socket answers for its own master.
        for sock, proc in zip(sockets, procs, strict=True):
            r = run([str(BIN / "gunicornc"), "-s", str(sock), "-j", "-c", "show stats"], env)
            assert r.returncode == 0, r
            assert str(proc.pid) in r.stdout, r.stdout
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(30)
        shutil.rmtree(home)


def test_a_control_socket_path_stays_short_enough_for_a_socket():
    from sidecar.gunicorn_conf import control_socket_for
    assert control_socket_for(["127.0.0.1:8001"], "/run/user/0") == \
        "/run/user/0/secure-privacy-127.0.0.1-8001.ctl"
    deep = "/home/" + "x" * 90 + "/.gunicorn"
    one, two = (control_socket_for([f"127.0.0.1:{p}"], deep) for p in (8001, 8002))
    assert one != two and one.startswith(deep + "/sp-")


# ---- sidecar init ----------------------------------------------------------------------

def init(tmp_path, *more, env=None):
    return run([str(BIN / "sidecar"), "init", *more], env or clean_env(), cwd=tmp_path)


def read_env_file(path: Path) -> dict:
    """The file as a POSIX shell reads it (`set -a; . file`)."""
    out = subprocess.run(["sh", "-c", 'set -a; . "$1"; env -0', "sh", str(path)],
                         env={"PATH": os.environ["PATH"]}, capture_output=True, check=True)
    pairs = (item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("SP_")}


def test_init_writes_a_private_env_file_the_sidecar_starts_with(tmp_path, test_db):
    r = init(tmp_path, "--database-url", test_db, "--site-origin", "HTTPS://WWW.Site.TEST:443/",
             "--table-prefix", "t_")
    assert r.returncode == 0, r.stderr
    path = tmp_path / "sidecar.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = read_env_file(path)
    assert values["SP_DATABASE_URL"] == test_db and values["SP_TABLE_PREFIX"] == "t_"
    assert values["SP_SITE_ORIGINS"] == "https://www.site.test"
    assert values["SP_BIND"] == "127.0.0.1:8000" and os.path.isabs(values["SP_ANCHOR_FILE"])
    made = [values[n] for n in ("SP_SECRET_KEYS", "SP_LEDGER_KEYS", "SP_ADMIN_TOKENS",
                                "SP_METRICS_TOKENS")]
    assert len(set(made)) == 4 and all(len(v) >= 32 and not config.weak_secret(v) for v in made)
    # The three values for WordPress, under the labels of its settings page.
    labels = re.findall(r"__\( '([^']+)'", (ROOT / "wp-plugin/includes/admin-settings.php")
                        .read_text())
    shown = dict(re.findall(r"^  ([A-Za-z ]+): +(\S+)$", r.stdout, re.M))
    assert shown == {"Sidecar URL": "http://127.0.0.1:8000",
                     "Signing secrets": values["SP_SECRET_KEYS"],
                     "Admin API token": values["SP_ADMIN_TOKENS"]}, r.stdout
    assert set(shown) <= set(labels)
    assert values["SP_LEDGER_KEYS"] not in r.stdout  # never handed to WordPress
    # The sidecar starts with it.
    c = run([str(BIN / "sidecar"), "check"], clean_env(**values))
    assert c.returncode == 0 and "database reachable" in c.stdout, c


def test_init_never_overwrites_without_force(tmp_path):
    args = ["mine.env", "--database-url", "mysql://u:p@127.0.0.1/db", "--site-origin", SITE]
    assert init(tmp_path, *args).returncode == 0
    before = (tmp_path / "mine.env").read_text()
    again = init(tmp_path, *args)
    assert again.returncode == 2 and "--force" in one_line(again.stderr)
    assert (tmp_path / "mine.env").read_text() == before
    forced = init(tmp_path, *args, "--force")
    assert forced.returncode == 0, forced.stderr
    after = (tmp_path / "mine.env").read_text()
    assert after != before and stat.S_IMODE((tmp_path / "mine.env").stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [tmp_path / "mine.env"]  # no temporary file left


def test_init_sets_a_retention_only_when_asked(tmp_path):
    base = ["--database-url", "mysql://u:p@127.0.0.1/db", "--site-origin", SITE]
    assert init(tmp_path, "a.env", *base).returncode == 0
    assert "SP_RETENTION_DAYS" not in read_env_file(tmp_path / "a.env")
    assert init(tmp_path, "b.env", *base, "--retention-days", "1825").returncode == 0
    assert read_env_file(tmp_path / "b.env")["SP_RETENTION_DAYS"] == "1825"
    r = init(tmp_path, "c.env", *base, "--retention-days", "-1")
    assert r.returncode == 2 and "--retention-days" in one_line(r.stderr)
    assert not (tmp_path / "c.env").exists()


def test_init_keeps_a_password_with_shell_characters_intact(tmp_path):
    url = "mysql://wp:pa$s'w\"o`rd\\x@127.0.0.1:3306/wordpress"
    r = init(tmp_path, "--database-url", url, "--site-origin", SITE)
    assert r.returncode == 0, r.stderr
    assert read_env_file(tmp_path / "sidecar.env")["SP_DATABASE_URL"] == url


@pytest.mark.parametrize("args, message", [
    (["--database-url", "postgres://u:p@h/db", "--site-origin", SITE],
     "--database-url: SP_DATABASE_URL must start with mysql://"),
    (["--database-url", "mysql://u:p@h/db", "--site-origin", "www.site.test"],
     "--site-origin: not an http(s) origin"),
    (["--database-url", "mysql://u:p@h/db", "--site-origin", SITE, "--table-prefix", "wp-"],
     "--table-prefix may hold only letters, digits and _"),
])
def test_init_refuses_bad_options_and_writes_nothing(tmp_path, args, message):
    r = init(tmp_path, *args)
    assert r.returncode == 2 and message in one_line(r.stderr)
    assert not list(tmp_path.iterdir())


# ---- systemd units ---------------------------------------------------------------------

UNITS = ["secure-privacy-sidecar@.service", "secure-privacy-worker@.service",
         "secure-privacy-purge@.service", "secure-privacy-purge@.timer"]


def test_the_systemd_units_verify(tmp_path):
    require_packages("systemd")
    # The units run /opt/secure-privacy/bin/…: here, the test venv's programs stand in.
    opt = tmp_path / "opt"
    (opt / "bin").mkdir(parents=True)
    for name in ("gunicorn", "sidecar"):
        (opt / "bin" / name).symlink_to(BIN / name)
    for unit in UNITS:
        text = (ROOT / "deploy/systemd" / unit).read_text()
        (tmp_path / unit).write_text(text.replace("/opt/secure-privacy", str(opt)))
    r = run(["systemd-analyze", "verify", *(u.replace("@.", "@site-a.") for u in UNITS)],
            clean_env(), cwd=tmp_path)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    sidecar_unit = (ROOT / "deploy/systemd" / UNITS[0]).read_text()
    # One control socket, state directory and settings file per instance (site).
    assert "--control-socket /run/secure-privacy/%i/gunicorn.ctl" in sidecar_unit
    assert "-c python:sidecar.gunicorn_conf" in sidecar_unit
    for unit in UNITS[:3]:
        assert "EnvironmentFile=/etc/secure-privacy/%i.env" in \
            (ROOT / "deploy/systemd" / unit).read_text()


# ---- the worker's egress proxy (docs/grid.md) ------------------------------------------

def test_the_worker_stops_with_one_line_when_its_egress_cannot_listen(good):
    """A bad SP_EGRESS_BIND (a wildcard without SP_EGRESS_ADVERTISE), or an address the
    proxy cannot listen on (a port in use), stops `sidecar worker` at start, not at its
    first render."""
    r = run([str(BIN / "sidecar"), "worker"], clean_env(**{**good, "SP_EGRESS_BIND": "0.0.0.0"}))
    assert r.returncode == 2, r
    assert one_line(r.stderr).startswith("sidecar: configuration error: SP_EGRESS_BIND: 0.0.0.0"
                                         " listens on every address; set SP_EGRESS_ADVERTISE")
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.2", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = run([str(BIN / "sidecar"), "worker"],
                clean_env(**{**good, "SP_EGRESS_BIND": f"127.0.0.2:{port}"}))
    assert r.returncode == 2, r
    assert one_line(r.stderr) == ("sidecar: configuration error: SP_EGRESS_BIND: cannot listen"
                                  f" on 127.0.0.2:{port}: Address already in use")
