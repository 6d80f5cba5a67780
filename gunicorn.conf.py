"""gunicorn settings of the sidecar. `gunicorn 'sidecar:create_app()'` reads this
file from the working directory (the repository root, /app in the image); from anywhere else
give it with `-c /path/to/this/repo/gunicorn.conf.py`. Options given on the command line or in
GUNICORN_CMD_ARGS override it.

Where it listens: SP_BIND (comma-separated addresses, e.g. `127.0.0.1:8000` or
`unix:/run/sp.sock`), default 127.0.0.1:8000: only this host. The image sets 0.0.0.0:8000,
the container's own interface (publish it with `-p 127.0.0.1:8000:8000`).

gevent workers, one per core: each serves many keep-alive connections at once, and the
requests of one worker share their database commits (sidecar.records.GroupCommitter), which is
what lets ingest outrun a plain durable insert loop (bench/ingest.py, bench/README.md). Admin
exports stream without holding a worker, too.
"""

import os

bind = [a.strip() for a in os.environ.get("SP_BIND", "").split(",") if a.strip()] \
    or ["127.0.0.1:8000"]
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
worker_connections = 1000
timeout = 30
graceful_timeout = 10
keepalive = 5
