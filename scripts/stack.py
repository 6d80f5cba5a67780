#!/usr/bin/env python3
"""The whole Secure Privacy stack on one machine: private MariaDB, WordPress with the
plugin, the sidecar under gunicorn and the screenshot worker.

`make demo` runs `python scripts/stack.py demo` in the foreground; the test session imports
`Stack` and starts the same parts on free ports in a temporary folder. Standard library only,
so it runs before anything else is installed. Every part listens on 127.0.0.1 only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("VENV", ROOT / ".venv")) / "bin"
WP_SOURCE = Path("/usr/share/wordpress")
THEME = "twentytwentyone"
# The WordPress versions a stack can serve. 6.1 (6.1.9) is Debian 12's `wordpress` package,
# the default; 6.5 (6.5.5) comes from the npm package @wp-playground/wordpress-builds
# (package.json): its PHP in src/wordpress/wp-6.5.zip, its static files in public/wp-6.5/.
DEBIAN_WP = "6.1"
WP_BUILDS = ROOT / "node_modules" / "@wp-playground" / "wordpress-builds"
WP_VERSIONS = {"6.1": "6.1.9", "6.5": "6.5.5"}


class StackError(RuntimeError):
    """A part of the stack could not be started; the message says which and where its log is."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_status(url: str, timeout: float = 5.0) -> int:
    """Status code of a GET (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


def wait_until(check, what: str, timeout: float, log: Path | None = None, proc=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = ""
    if log and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
    raise StackError(f"{what} did not come up (log: {log}){tail}")


@dataclass
class Stack:
    """Configuration and processes of one stack. Secrets not given are made once and kept
    in `<state_dir>/secrets.json`, so a second start reuses the same ones (and the records)."""

    state_dir: Path
    wp_port: int = 8080
    sidecar_port: int = 8000
    db_port: int = 3307
    db_name: str = "wordpress"
    db_user: str = "wordpress"
    db_password: str = "wordpress"
    wp_admin_password: str | None = None
    admin_tokens: str | None = None
    secret_keys: str | None = None
    ledger_keys: str | None = None
    table_prefix: str = "wp_"
    theme: str = THEME
    wp_version: str = DEBIAN_WP  # a key of WP_VERSIONS
    # None: as gunicorn.conf.py says (gevent, one worker per core, group commit).
    gunicorn_workers: int | None = None
    gunicorn_threads: int = 1
    gunicorn_worker_class: str | None = None
    extra_sidecar_env: dict = field(default_factory=dict)
    # MariaDB's folder when it is another stack's server (fresh_site()); else <state_dir>/mariadb.
    db_dir: Path | None = None
    # True: wp-setup.php activates and configures the plugin, and the stack runs Test
    # connection once WordPress and the sidecar both run. False: a fresh site whose owner does
    # all that in wp-admin (fresh_site()).
    setup_plugin: bool = True
    procs: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env=os.environ) -> Stack:
        """The stack `make demo` runs, overridable by the variables of docs/api.md §5."""
        return cls(
            state_dir=Path(env.get("DEMO_DIR", ROOT / ".demo")).resolve(),
            wp_port=int(env.get("WP_PORT", 8080)),
            sidecar_port=int(env.get("SIDECAR_PORT", 8000)),
            db_port=int(env.get("DB_PORT", 3307)),
            db_name=env.get("DB_NAME", "wordpress"),
            db_user=env.get("DB_USER", "wordpress"),
            db_password=env.get("DB_PASSWORD", "wordpress"),
            wp_admin_password=env.get("WP_ADMIN_PASSWORD") or None,
            admin_tokens=env.get("SP_ADMIN_TOKENS") or None,
            secret_keys=env.get("SP_SECRET_KEYS") or None,
            ledger_keys=env.get("SP_LEDGER_KEYS") or None,
            wp_version=env.get("WP_VERSION") or DEBIAN_WP,
        )

    # ---- derived values -------------------------------------------------------------
    @property
    def wp_url(self) -> str:
        return f"http://127.0.0.1:{self.wp_port}"

    @property
    def sidecar_url(self) -> str:
        return f"http://127.0.0.1:{self.sidecar_port}"

    @property
    def admin_url(self) -> str:
        return f"{self.wp_url}/wp-admin/"

    @property
    def admin_token(self) -> str:
        return self.admin_tokens.split(",")[-1].strip()

    @property
    def db_socket(self) -> Path:
        return (self.db_dir or self.state_dir / "mariadb") / "mysqld.sock"

    @property
    def wp_dir(self) -> Path:
        if self.wp_version == DEBIAN_WP:
            return self.state_dir / "wordpress"
        return self.state_dir / f"wordpress-{self.wp_version}"

    def mu_plugin(self, name: str, code: str) -> Path:
        """Write the must-use plugin `name` (WordPress loads it on every request) with
        `code`; return its path, for the caller to remove."""
        mu = self.wp_dir / "wp-content" / "mu-plugins"
        mu.mkdir(parents=True, exist_ok=True)
        path = mu / name
        path.write_text(code)
        return path

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def database_url(self, db_name: str | None = None) -> str:
        return (f"mysql://{self.db_user}:{self.db_password}@127.0.0.1:{self.db_port}/"
                f"{db_name or self.db_name}")

    def sidecar_env(self) -> dict:
        env = dict(os.environ)
        env.update({
            "SP_DATABASE_URL": self.database_url(),
            "SP_TABLE_PREFIX": self.table_prefix,
            "SP_SECRET_KEYS": self.secret_keys,
            "SP_ADMIN_TOKENS": self.admin_tokens,
            "SP_LEDGER_KEYS": self.ledger_keys,
            "SP_SITE_ORIGINS": self.wp_url,
            # The ledger's anchor file: outside the database, shared by sidecar and worker.
            "SP_ANCHOR_FILE": str(self.state_dir / "ledger-anchors.jsonl"),
        })
        env.update(self.extra_sidecar_env)
        return env

    # ---- lifecycle ------------------------------------------------------------------
    def _load_secrets(self) -> None:
        path = self.state_dir / "secrets.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        made = {
            "wp_admin_password": self.wp_admin_password or saved.get("wp_admin_password")
            or secrets.token_urlsafe(12),
            "admin_tokens": self.admin_tokens or saved.get("admin_tokens")
            or "spadm_" + secrets.token_urlsafe(24),
            "secret_keys": self.secret_keys or saved.get("secret_keys")
            or secrets.token_urlsafe(32),
            # Sidecar only: never handed to WordPress (keyed seals, IP fingerprints).
            "ledger_keys": self.ledger_keys or saved.get("ledger_keys")
            or secrets.token_urlsafe(32),
            "wp_salt": saved.get("wp_salt") or secrets.token_urlsafe(48),
        }
        self.wp_admin_password = made["wp_admin_password"]
        self.admin_tokens = made["admin_tokens"]
        self.secret_keys = made["secret_keys"]
        self.ledger_keys = made["ledger_keys"]
        self._wp_salt = made["wp_salt"]
        path.write_text(json.dumps(made, indent=2))
        path.chmod(0o600)

    def start(self, worker: bool = True) -> None:
        """Start every part; raise StackError naming the part that failed (and stop the rest)."""
        try:
            self.start_db()
            self.start_wordpress()
            self.start_sidecar()
            if worker:
                self.start_worker()
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, argv: list, env=None, cwd=None) -> subprocess.Popen:
        log = self.log_dir / f"{name}.log"
        fh = open(log, "ab")
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        fh.close()
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        """Stop the parts in reverse order: SIGTERM, then SIGKILL after 15 s."""
        for name in reversed(list(self.procs)):
            self.stop_part(name)

    def stop_part(self, name: str) -> None:
        """Stop one part ("mariadb", "wordpress", "sidecar", "worker"); start it again with
        its start_* method (tests use this to take the sidecar away and bring it back)."""
        self.kill_part(name, signal.SIGTERM)

    def kill_part(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to one part's whole process group (gunicorn's master and workers, or the
        worker and its browser) and reap it, with SIGKILL after 15 s. The default SIGKILL is
        the fault suite's crash (no shutdown of its own); start it again with
        restart_part()."""
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart_part(self, name: str, **options) -> None:
        """Start a part that stop_part() or kill_part() took away (MariaDB on the same data
        directory and port); wait until it is ready, as start() does. The parts keep the
        order start() gives them, so stop() still stops them in reverse."""
        self.stop_part(name)
        starters = {"mariadb": self.start_db, "wordpress": self.start_wordpress,
                    "sidecar": self.start_sidecar, "worker": self.start_worker}
        starters[name](**options)
        rank = {n: i for i, n in enumerate(starters)}
        self.procs = dict(sorted(self.procs.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    # ---- MariaDB --------------------------------------------------------------------
    def start_db(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self._load_secrets()
        data = self.state_dir / "mariadb" / "data"
        if not (data / "mysql").is_dir():
            data.mkdir(parents=True, exist_ok=True)
            out = subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                 "--auth-root-authentication-method=socket", "--skip-test-db"],
                capture_output=True, text=True)
            if out.returncode:
                raise StackError(f"mariadb-install-db failed:\n{out.stdout}\n{out.stderr}")
        if port_open(self.db_port):
            raise StackError(f"port {self.db_port} (DB_PORT) is already in use")
        log = self.log_dir / "mariadb.log"
        proc = self._spawn("mariadb", [
            "mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={self.db_socket}",
            f"--port={self.db_port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
            "--user=root", f"--pid-file={self.state_dir / 'mariadb' / 'mariadbd.pid'}",
            "--innodb-flush-log-at-trx-commit=1", "--innodb-buffer-pool-size=256M",
            "--max-connections=500", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci", f"--log-error={log}",
        ])
        wait_until(lambda: self.db_socket.exists() and self.sql("SELECT 1", check=False) == 0,
                   "MariaDB", 60, log, proc)
        self.ensure_database(self.db_name)

    def sql(self, statement: str, check: bool = True) -> int:
        """Run SQL as the database's root over the private socket."""
        out = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.db_socket}", "-uroot",
                              "-e", statement], capture_output=True, text=True)
        if check and out.returncode:
            raise StackError(f"SQL failed: {statement}\n{out.stderr}")
        return out.returncode

    def ensure_database(self, name: str) -> None:
        """Create database `name` (if missing) and let the stack's user own it."""
        u, p = self.db_user.replace("'", ""), self.db_password.replace("'", "''")
        self.sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4;"
                 + "".join(f"CREATE USER IF NOT EXISTS '{u}'@'{h}' IDENTIFIED BY '{p}';"
                           f"ALTER USER '{u}'@'{h}' IDENTIFIED BY '{p}';"
                           f"GRANT ALL ON `{name}`.* TO '{u}'@'{h}';"
                           for h in ("127.0.0.1", "localhost")))

    # ---- WordPress ------------------------------------------------------------------
    def other_wordpress(self, version: str, wp_port: int | None = None) -> Stack:
        """Another WordPress (`version`, a key of WP_VERSIONS) beside this stack's: the same
        MariaDB (a database of its own), secrets, sidecar and worker; its own port and folder.
        Start it with start_wordpress(); its stop() stops only that WordPress. The sidecar
        must list its origin in SP_SITE_ORIGINS (extra_sidecar_env) to screenshot it."""
        if version not in WP_VERSIONS:
            raise StackError(f"WordPress {version}: not one of {', '.join(WP_VERSIONS)}")
        other = dataclasses.replace(
            self, wp_version=version, wp_port=wp_port or free_port(), procs={},
            db_name=f"{self.db_name}_{version.replace('.', '_')}")
        other._load_secrets()
        self.ensure_database(other.db_name)
        return other

    def fresh_site(self, name: str | None = None) -> Stack:
        """A WordPress as its owner has it before the first hour, beside this stack: just
        installed (its privacy policy page still a draft), the plugin's folder copied in but
        not activated, no Secure Privacy option. Its own database on this stack's MariaDB,
        its own folder (<state_dir>/<name>, by default the first free of fresh1, fresh2, ...),
        ports and secrets; start it with start_wordpress(). Its sidecar is made as the
        README's install section makes one: init_sidecar() (`sidecar init`), then
        start_sidecar() and start_worker(); stop() stops only this site's parts."""
        if name is None:
            name = next(f"fresh{n}" for n in range(1, 1000)
                        if not (self.state_dir / f"fresh{n}").exists())
        other = Stack(
            state_dir=self.state_dir / name, wp_port=free_port(), sidecar_port=free_port(),
            db_port=self.db_port, db_name=f"{self.db_name}_{name}", db_user=self.db_user,
            db_password=self.db_password, db_dir=self.db_socket.parent, theme=self.theme,
            gunicorn_workers=1, setup_plugin=False)
        other.log_dir.mkdir(parents=True, exist_ok=True)
        other._load_secrets()  # WordPress's admin password and salts (the sidecar's: init)
        self.ensure_database(other.db_name)
        return other

    def init_sidecar(self) -> dict:
        """`sidecar init` for this site, as its owner runs it: the env file
        <state_dir>/sidecar.env (new secrets, this site's database, origin and table prefix),
        which this stack's sidecar and worker then run on. Returns what it printed for
        WordPress: {"Sidecar URL": ..., "Signing secrets": ..., "Admin API token": ...}."""
        env_file = self.state_dir / "sidecar.env"
        out = subprocess.run(
            [str(VENV_BIN / "sidecar"), "init", str(env_file),
             "--database-url", self.database_url(), "--site-origin", self.wp_url,
             "--table-prefix", self.table_prefix, "--bind", f"127.0.0.1:{self.sidecar_port}",
             "--anchor-file", str(self.state_dir / "ledger-anchors.jsonl")],
            capture_output=True, text=True, env=dict(os.environ))
        if out.returncode:
            raise StackError(f"sidecar init failed:\n{out.stdout}\n{out.stderr}")
        printed = {}
        for line in out.stdout.splitlines():
            label, sep, value = line.strip().partition(": ")
            if sep and label in ("Sidecar URL", "Signing secrets", "Admin API token"):
                printed[label] = value.strip()
        if len(printed) != 3:
            raise StackError(f"sidecar init printed no three values for WordPress:\n{out.stdout}")
        settings = {}
        for line in env_file.read_text().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                settings[key] = shlex.split(value)[0] if value else ""
        self.secret_keys = settings["SP_SECRET_KEYS"]
        self.admin_tokens = settings["SP_ADMIN_TOKENS"]
        self.ledger_keys = settings["SP_LEDGER_KEYS"]
        self.extra_sidecar_env = settings  # what the env file says wins (sidecar_env())
        return printed

    def _copy_wordpress(self) -> None:
        """This stack's WordPress files into wp_dir: Debian's for 6.1; for another version,
        the npm build's PHP and static files, with Debian's theme and translations added."""
        if self.wp_version == DEBIAN_WP:
            subprocess.run(["cp", "-rL", str(WP_SOURCE), str(self.wp_dir)], check=True)
            return
        php = WP_BUILDS / "src" / "wordpress" / f"wp-{self.wp_version}.zip"
        static = WP_BUILDS / "public" / f"wp-{self.wp_version}"
        if not php.is_file() or not static.is_dir():
            raise StackError(f"{php} or {static} missing: run scripts/install.sh (npm package "
                             "@wp-playground/wordpress-builds)")
        tmp = self.wp_dir.with_name(self.wp_dir.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(php) as z:
            z.extractall(tmp)
        shutil.copytree(static, tmp, dirs_exist_ok=True)
        (tmp / "wordpress-remote-asset-paths").unlink(missing_ok=True)
        content = WP_SOURCE / "wp-content"
        for sub in (f"themes/{self.theme}", "languages"):
            if (content / sub).is_dir() and not (tmp / "wp-content" / sub).exists():
                shutil.copytree(content / sub, tmp / "wp-content" / sub, symlinks=False)
        tmp.rename(self.wp_dir)

    def start_wordpress(self) -> None:
        if not WP_SOURCE.is_dir():
            raise StackError(f"{WP_SOURCE} missing: run scripts/install.sh")
        if not (self.wp_dir / "wp-load.php").exists():
            self._copy_wordpress()
        self._write_wp_config()
        self.install_plugin()
        self.wp_php(ROOT / "scripts" / "wp-setup.php", {
            "SP_SETUP_ADMIN_PASSWORD": self.wp_admin_password,
            "SP_SETUP_SITE_URL": self.wp_url,
            "SP_SETUP_THEME": self.theme,
            "SP_SETUP_PLUGIN": "activate" if self.setup_plugin else "copy",
            "SP_SETUP_SETTINGS": json.dumps({
                "sidecar_url": self.sidecar_url,
                "secret_keys": self.secret_keys,
                "admin_token": self.admin_token,
            }),
        })
        if port_open(self.wp_port):
            raise StackError(f"port {self.wp_port} (WP_PORT) is already in use")
        env = dict(os.environ, PHP_CLI_SERVER_WORKERS="4")
        log = self.log_dir / "php.log"
        proc = self._spawn("wordpress", [
            "php", "-d", "display_errors=0", "-d", "log_errors=1",
            "-d", f"error_log={self.log_dir / 'php-errors.log'}", "-d", "memory_limit=256M",
            "-S", f"127.0.0.1:{self.wp_port}", "-t", str(self.wp_dir)], env=env, cwd=self.wp_dir)
        wait_until(lambda: http_status(self.wp_url + "/") == 200, "WordPress", 60, log, proc)
        if self.setup_plugin and port_open(self.sidecar_port):
            self.connect_plugin()

    def connect_plugin(self) -> None:
        """What the site owner does once the sidecar runs: Test connection. When it passes,
        the banner goes live for visitors (until then only administrators see it)."""
        out = self.wp_eval("$r = secure_privacy_test_connection();"
                           " echo wp_json_encode(['live' => secure_privacy_is_live(),"
                           " 'checks' => $r['checks']]);")
        result = json.loads(out[out.index("{"):])
        if not result["live"]:
            raise StackError(f"Test connection did not pass: {result['checks']}")

    def install_plugin(self) -> None:
        """Copy wp-plugin/ into the site (a fresh copy each start, so edits show up)."""
        dest = self.wp_dir / "wp-content" / "plugins" / "secure-privacy"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(ROOT / "wp-plugin", dest)

    def wp_php(self, script: Path, env: dict | None = None) -> str:
        """Run a PHP script inside this WordPress (cwd = WordPress root); return its stdout."""
        out = subprocess.run(["php", "-d", "display_errors=stderr", str(script)],
                             cwd=self.wp_dir, capture_output=True, text=True,
                             env=dict(os.environ, **(env or {})))
        if out.returncode:
            raise StackError(f"{script.name} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def wp_eval(self, code: str) -> str:
        """Evaluate PHP code with WordPress loaded (for tests and helpers)."""
        return self.wp_php(ROOT / "scripts" / "wp-eval.php", {"SP_EVAL": code})

    def _write_wp_config(self) -> None:
        salts = "".join(
            f"define('{k}', '{self._wp_salt}{k}');\n"
            for k in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                      "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
        (self.wp_dir / "wp-config.php").write_text(f"""<?php
// Written by scripts/stack.py on every start.
define('DB_NAME', {self.db_name!r});
define('DB_USER', {self.db_user!r});
define('DB_PASSWORD', {self.db_password!r});
define('DB_HOST', '127.0.0.1:{self.db_port}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}$table_prefix = {self.table_prefix!r};
define('WP_HOME', {self.wp_url!r});
define('WP_SITEURL', {self.wp_url!r});
// A single php -S worker must not call itself: cron runs from the stack instead.
define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);
define('WP_DEBUG_LOG', {str(self.log_dir / 'wp-debug.log')!r});
if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
require_once ABSPATH . 'wp-settings.php';
""")

    # ---- sidecar and worker ---------------------------------------------------------
    def start_sidecar(self) -> None:
        metrics_dir = self.state_dir / "metrics"  # gunicorn workers' shared Prometheus files
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env = dict(self.sidecar_env(), PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
        out = subprocess.run([str(VENV_BIN / "sidecar"), "migrate"], env=env,
                             capture_output=True, text=True)
        if out.returncode:
            raise StackError(f"sidecar migrate failed:\n{out.stdout}\n{out.stderr}")
        if port_open(self.sidecar_port):
            raise StackError(f"port {self.sidecar_port} (SIDECAR_PORT) is already in use")
        log = self.log_dir / "sidecar.log"
        options = ["--config", str(ROOT / "gunicorn.conf.py"),
                   "--bind", f"127.0.0.1:{self.sidecar_port}"]
        if self.gunicorn_workers:
            options += ["--workers", str(self.gunicorn_workers)]
        if self.gunicorn_worker_class:
            options += ["--worker-class", self.gunicorn_worker_class,
                        "--threads", str(self.gunicorn_threads)]
        proc = self._spawn("sidecar", [str(VENV_BIN / "gunicorn"), *options,
                                       "sidecar:create_app()"], env=env, cwd=ROOT)
        wait_until(lambda: http_status(self.sidecar_url + "/readyz") == 200, "sidecar", 60,
                   log, proc)
        if self.setup_plugin and (self.wp_dir / "wp-config.php").exists() \
                and port_open(self.wp_port):
            self.connect_plugin()

    def start_worker(self, name: str = "worker", env: dict | None = None,
                     **more: str) -> subprocess.Popen:
        """Start the screenshot worker; `env` and `more` override its settings for this start
        (the fault suite's short page-load timeout; tests start extra workers on tables of
        their own under another `name`). Its browser gets none of this environment:
        `sidecar.browser` starts Chromium with a minimal one, as an unprivileged user when
        the worker is root, and sandboxed where the kernel allows."""
        proc = self._spawn(name, [str(VENV_BIN / "sidecar"), "worker"],
                           env={**self.sidecar_env(), **(env or {}), **more}, cwd=ROOT)
        time.sleep(0.5)
        if proc.poll() is not None:
            raise StackError(f"worker exited (log: {self.log_dir / (name + '.log')})")
        return proc

    def run_wp_cron(self) -> None:
        """What a system cron line would do: run due WP-cron events (outbox delivery)."""
        subprocess.run(["php", "wp-cron.php"], cwd=self.wp_dir, capture_output=True,
                       timeout=120, env=dict(os.environ))

    def ready_line(self) -> str:
        return (f"READY wp={self.wp_url}/ admin={self.admin_url} sidecar={self.sidecar_url} "
                f"token={self.admin_token}")


def demo() -> int:
    stack = Stack.from_env()
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start()
    except StackError as e:
        print(f"stack: {e}", file=sys.stderr)
        return 1
    print(stack.ready_line(), flush=True)
    print(f"WordPress admin: user admin, password {stack.wp_admin_password}", flush=True)
    print(f"state and logs: {stack.state_dir}  (Ctrl-C stops everything)", flush=True)
    next_cron = 0.0
    failed = False
    try:
        while not stopping:
            for name, proc in stack.procs.items():
                if proc.poll() is not None:
                    print(f"stack: {name} exited with {proc.returncode}; see "
                          f"{stack.log_dir / (name + '.log')}", file=sys.stderr)
                    stopping = failed = True
            if time.monotonic() >= next_cron:
                stack.run_wp_cron()
                next_cron = time.monotonic() + 30
            time.sleep(0.5)
    finally:
        print("stack: stopping", flush=True)
        stack.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] != ["demo"]:
        print("usage: stack.py demo", file=sys.stderr)
        sys.exit(2)
    sys.exit(demo())
