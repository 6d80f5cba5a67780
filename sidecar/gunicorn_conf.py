"""gunicorn settings of the sidecar, shipped in the package so that any directory finds them:
`gunicorn -c python:sidecar.gunicorn_conf 'sidecar:create_app()'` (the repository's
`gunicorn.conf.py` is the same settings, for `-c gunicorn.conf.py` and the image). Options
given on the command line or in GUNICORN_CMD_ARGS override these.

Where it listens: SP_BIND (comma-separated addresses, e.g. `127.0.0.1:8000` or
`unix:/run/sp.sock`), default 127.0.0.1:8000: only this host. The image sets 0.0.0.0:8000,
the container's own interface (publish it with `-p 127.0.0.1:8000:8000`).

gevent workers, one per core: each serves many keep-alive connections at once, and the
requests of one worker share their database commits (sidecar.records.GroupCommitter), which is
what lets ingest outrun a plain durable insert loop (bench/ingest.py, bench/README.md). Admin
exports stream without holding a worker, too.

Before any worker starts, the master checks the settings and that the database takes a
connection (`on_starting`): a placeholder secret or a wrong database URL stops it with one
line and exit code 2, instead of workers failing one after another. Each sidecar gets its
own control socket (gunicorn >= 25.1 makes one, by default one path per user): named after
where it listens, unless `--control-socket` says otherwise, so two sidecars on one host do
not take each other's.
"""

import hashlib
import os
import re
import sys

bind = [a.strip() for a in os.environ.get("SP_BIND", "").split(",") if a.strip()] \
    or ["127.0.0.1:8000"]
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
worker_connections = 1000
timeout = 30
graceful_timeout = 10
keepalive = 5


def control_socket_for(binds: list[str], directory: str) -> str:
    """`<directory>/secure-privacy-<first address>.ctl`: one control socket per listener
    (a hash of the address where that path would be too long for a socket)."""
    address = binds[0] if binds else "sidecar"
    path = os.path.join(directory, "secure-privacy-{}.ctl".format(
        re.sub(r"[^A-Za-z0-9.]+", "-", address).strip("-")))
    if len(os.fsencode(path)) < 100:
        return path
    return os.path.join(directory, f"sp-{hashlib.sha256(address.encode()).hexdigest()[:12]}.ctl")


def preflight() -> str | None:
    """The one line that says why the sidecar cannot start (settings, database), or None.
    Imports only the settings and database modules: the app itself loads in the workers,
    after gevent has patched them."""
    from sidecar import config, db
    try:
        cfg = config.load()
        db.reach(cfg["SP_DATABASE_URL"]).close()
    except config.StartupError as e:
        return str(e)
    except config.ConfigError as e:
        return f"sidecar: configuration error: {e}"
    return None


def on_starting(server):
    setting = server.cfg.settings.get("control_socket")
    if setting is not None and server.cfg.control_socket == setting.default:
        server.cfg.set("control_socket", control_socket_for(
            list(server.cfg.bind), os.path.dirname(setting.default)))
    problem = preflight()
    if problem:
        server.log.error(problem)
        if server.pidfile is not None:
            server.pidfile.unlink()
        sys.exit(2)


def post_worker_init(worker):
    # One send per response: headers go out with the first body bytes (sidecar/http_response.py).
    from sidecar import http_response
    http_response.install()
