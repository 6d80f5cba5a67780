# The sidecar image: gunicorn + Debian chromium + chromedriver, running as a non-root user.
# It installs through scripts/install.sh, the same script `make test` and CI run.
#   docker build -t secure-privacy-sidecar .
#   docker run -e SP_DATABASE_URL=... -e SP_SECRET_KEYS=... -e SP_ADMIN_TOKENS=... \
#              -e SP_SITE_ORIGINS=https://example.com -e SP_METRICS_TOKENS=... \
#              -e SP_LEDGER_KEYS=... -v sp-anchors:/var/lib/secure-privacy \
#              -p 127.0.0.1:8000:8000 secure-privacy-sidecar
#   (the screenshot worker: the same image with `sidecar worker` as the command)
FROM debian:12-slim

ENV DEBIAN_FRONTEND=noninteractive PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    VENV=/opt/venv PYTHON=/usr/bin/python3 PATH=/opt/venv/bin:$PATH
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    python3-dev gcc ca-certificates && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md gunicorn.conf.py ./
COPY sidecar ./sidecar
COPY scripts/install.sh scripts/syspkgs.py ./scripts/
RUN bash scripts/install.sh sidecar && rm -rf /var/lib/apt/lists/* /root/.cache

RUN useradd --system --create-home --home-dir /home/sidecar --uid 10001 sidecar \
    && install -d -o sidecar -g sidecar -m 0700 /var/lib/secure-privacy
# The ledger's anchor file (docs/ledger.md): outside the database, on a volume the sidecar
# and the worker share, kept when the container is replaced. Export copies elsewhere too.
ENV SP_ANCHOR_FILE=/var/lib/secure-privacy/anchors.jsonl
VOLUME /var/lib/secure-privacy
# Not root: the worker's Chromium runs as this user too, with an environment of its own
# (no SP_* settings) and its sandbox on where the seccomp profile allows user namespaces
# (Docker's default does not: the worker then logs "browser sandbox off"). README.md.
USER sidecar
# gunicorn listens where SP_BIND says (gunicorn.conf.py; 127.0.0.1:8000 outside a container).
# Here it is the container's own interface; publish it on the host's loopback (-p above).
# /metrics wants a bearer token (SP_METRICS_TOKENS) from anywhere but the container itself.
ENV SP_BIND=0.0.0.0:8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python3 -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Workers, gevent and timeouts: gunicorn.conf.py (read from /app).
CMD ["gunicorn", "-c", "/app/gunicorn.conf.py", "sidecar:create_app()"]
