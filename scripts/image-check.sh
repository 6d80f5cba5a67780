#!/usr/bin/env bash
# Build the sidecar image from the Dockerfile and run it on this machine (issue 10, item 6):
# a check we run by hand, not part of CI. As root, from a worktree with its .venv
# (scripts/install.sh). Prints each step's time and ends with "IMAGE CHECK OK".
#
#   1. debootstrap a Debian 12 (bookworm) base from the apt mirror of /etc/apt and
#      `podman import` it as debian:12-slim (kept in $STATE and reused; IMAGE_CHECK_FRESH=1
#      makes it again);
#   2. `podman build --pull=never --isolation=chroot` the Dockerfile, with this machine's pip
#      configuration (`pip config list`, as /etc/pip.conf), the files it points at (indexes,
#      wheels, constraints) and its CA bundle as read-only build volumes;
#   3. crun cannot start containers here, so export the image's root filesystem and run its
#      CMD under `chroot --userspec=<the image's USER>` with the image's environment and
#      working directory, SP_BIND=127.0.0.1:<free port> (the host's network: never 0.0.0.0),
#      against a private MariaDB (scripts/stack.py) on 127.0.0.1;
#   4. check /readyz answers 200, the worker is gevent, one signed consent is stored (201),
#      and /metrics refuses a request relayed from elsewhere without a token (F16).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
STATE="${IMAGE_CHECK_DIR:-/var/tmp/sp-image-check}"
TAG="${IMAGE_TAG:-localhost/secure-privacy-sidecar:check}"
VENV="${VENV:-.venv}"
PODMAN=(podman --root "$STATE/storage" --runroot "$STATE/run")
[ "$(id -u)" = 0 ] || { echo "image-check: run as root (debootstrap, podman, chroot)" >&2; exit 2; }
[ -x "$VENV/bin/python" ] || { echo "image-check: $VENV missing: run scripts/install.sh" >&2; exit 2; }
bash scripts/install.sh image   # podman, debootstrap (scripts/syspkgs.py)
mkdir -p "$STATE"
T0=$(date +%s); step_start=$T0
step() { local now; now=$(date +%s); echo "image-check: [$((now - step_start)) s] $1"; step_start=$now; }

# ---- 1. the base image ---------------------------------------------------------------------
MIRROR="$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
MIRROR="${MIRROR:-$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
BASE="$STATE/bookworm"
if [ -n "${IMAGE_CHECK_FRESH:-}" ]; then rm -rf "$BASE"; "${PODMAN[@]}" rmi -f debian:12-slim >/dev/null 2>&1 || true; fi
if [ ! -f "$BASE/.done" ]; then
  rm -rf "$BASE"
  echo "image-check: debootstrap bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$BASE" "$MIRROR" >"$STATE/debootstrap.log" 2>&1 \
    || { tail -20 "$STATE/debootstrap.log"; exit 1; }
  # The image's apt: the same Debian mirror and settings as this machine's (no other network).
  rm -f "$BASE/etc/apt/sources.list"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$BASE/etc/apt/sources.list.d/"
  else
    echo "deb $MIRROR bookworm main" >"$BASE/etc/apt/sources.list"
  fi
  printf 'Acquire::Check-Valid-Until "false";\nAcquire::Languages "none";\n' \
    >"$BASE/etc/apt/apt.conf.d/99image-check"
  rm -rf "$BASE/var/cache/apt/archives/"*.deb "$BASE/var/lib/apt/lists/"*
  touch "$BASE/.done"
  "${PODMAN[@]}" rmi -f debian:12-slim >/dev/null 2>&1 || true
fi
if ! "${PODMAN[@]}" image exists docker.io/library/debian:12-slim; then
  tar -C "$BASE" --exclude=./.done -cf - . | "${PODMAN[@]}" import - localhost/debian:12-slim >/dev/null
  "${PODMAN[@]}" tag localhost/debian:12-slim docker.io/library/debian:12-slim
fi
step "base image debian:12-slim ready"

# ---- 2. build ------------------------------------------------------------------------------
# This machine's pip configuration as one /etc/pip.conf, its cert pointed at the mounted CA
# bundle; every local path it names (indexes, find-links, constraints) goes in read-only.
HOST_CA="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
VOLS=(-v "$HOST_CA:/opt/host-ca/ca-certificates.crt:ro")
"$VENV/bin/python" - "$STATE/pip.conf" >"$STATE/pip-paths" <<'PY'
import re, subprocess, sys
out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                     text=True).stdout
conf, paths = {}, set()
for line in out.splitlines():  # e.g. global.find-links='/opt/wheels'  or :env:.cert='...'
    m = re.match(r"^(?:global|install|:env:)\.([a-z-]+)='(.*)'$", line)
    if not m:
        continue
    key, value = m.groups()
    if key == "cert":
        value = "/opt/host-ca/ca-certificates.crt"
    else:
        for part in value.split():
            path = part[len("file://"):] if part.startswith("file://") else part
            if path.startswith("/"):
                paths.add(path.rstrip("/").removesuffix("/simple") if "simple" in path else path)
    conf[key] = value
conf.setdefault("cert", "/opt/host-ca/ca-certificates.crt")
with open(sys.argv[1], "w") as f:
    f.write("[global]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(conf.items())))
print("\n".join(sorted(paths)))
PY
VOLS+=(-v "$STATE/pip.conf:/etc/pip.conf:ro")
while read -r p; do [ -e "$p" ] && VOLS+=(-v "$p:$p:ro"); done <"$STATE/pip-paths"
echo "image-check: pip configuration for the build:"; sed 's/^/    /' "$STATE/pip.conf"
"${PODMAN[@]}" build --pull=never --isolation=chroot "${VOLS[@]}" -t "$TAG" -f Dockerfile . \
  >"$STATE/build.log" 2>&1 || { tail -40 "$STATE/build.log"; echo "image-check: build FAILED (log: $STATE/build.log)"; exit 1; }
step "podman build $TAG (log: $STATE/build.log)"

# ---- 3. the image's root filesystem, run under chroot --------------------------------------
RUNFS="$STATE/rootfs"
cleanup() {
  for m in "$RUNFS/proc" "$RUNFS/dev"; do mountpoint -q "$m" && umount -l "$m"; done
  [ -n "${CID:-}" ] && "${PODMAN[@]}" rm -f "$CID" >/dev/null 2>&1 || true
}
trap cleanup EXIT
rm -rf "$RUNFS"; mkdir -p "$RUNFS"
CID=$("${PODMAN[@]}" create "$TAG")
"${PODMAN[@]}" export "$CID" | tar -C "$RUNFS" -xf -
mount -t proc proc "$RUNFS/proc"; mount --bind /dev "$RUNFS/dev"
"${PODMAN[@]}" image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$TAG" \
  | sed '/^$/d' >"$STATE/image.env"
"${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$TAG" >"$STATE/image.user"
"${PODMAN[@]}" image inspect --format '{{.Config.WorkingDir}}' "$TAG" >"$STATE/image.workdir"
"${PODMAN[@]}" image inspect --format '{{json .Config.Cmd}}' "$TAG" >"$STATE/image.cmd"
step "root filesystem exported to $RUNFS (user $(cat "$STATE/image.user"), cmd $(cat "$STATE/image.cmd"))"

# ---- 4. run and check ----------------------------------------------------------------------
"$VENV/bin/python" - "$STATE" "$RUNFS" <<'PY'
import json, os, secrets, signal, subprocess, sys, tempfile, time, urllib.error, urllib.request
from pathlib import Path

sys.path[:0] = ["scripts", "tests"]
from helpers import consent_payload, make_token  # noqa: E402 (the tests' signer)
from stack import Stack, free_port  # noqa: E402

# The sidecar refuses placeholder and short secrets: fresh ones for this run.
KEY, ADMIN = secrets.token_urlsafe(48), secrets.token_urlsafe(48)

state, rootfs = Path(sys.argv[1]), Path(sys.argv[2])
user = (state / "image.user").read_text().strip()
uid = gid = None
for line in (rootfs / "etc/passwd").read_text().splitlines():
    f = line.split(":")
    if f[0] == user or f[2] == user:
        uid, gid = f[2], f[3]
assert uid not in (None, "0"), f"the image's USER {user!r} must be a non-root user"
env = dict(l.split("=", 1) for l in (state / "image.env").read_text().splitlines())
workdir = (state / "image.workdir").read_text().strip() or "/"
cmd = json.loads((state / "image.cmd").read_text())

def get(url, headers=None, data=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""

with tempfile.TemporaryDirectory(prefix="sp-image-db-") as tmp:
    db = Stack(state_dir=Path(tmp), db_port=free_port(), wp_port=free_port(),
               sidecar_port=free_port())
    os.chmod(tmp, 0o755)
    db.start_db()
    try:
        db.ensure_database("sp_image")
        port = free_port()
        env.update(SP_DATABASE_URL=db.database_url("sp_image"), SP_SECRET_KEYS=KEY,
                   SP_ADMIN_TOKENS=ADMIN, SP_SITE_ORIGINS="http://site.test",
                   SP_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1", HOME="/home/" + user)
        # The chroot shares this host's network: an address given on the command line (an
        # older image's `--bind 0.0.0.0:8000`) is moved to SP_BIND's loopback port too.
        cmd = [f"127.0.0.1:{port}" if a.startswith("0.0.0.0:") else a for a in cmd]
        argv = ["chroot", f"--userspec={uid}:{gid}", str(rootfs), "/usr/bin/env", "-i",
                f"--chdir={workdir}", *[f"{k}={v}" for k, v in env.items()], *cmd]
        print("image-check: run:", " ".join(a for a in argv if "SP_SECRET" not in a
                                            and "SP_ADMIN" not in a and "SP_DATABASE" not in a))
        log = open(state / "sidecar.log", "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while get(base + "/readyz")[0] != 200:
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("image-check: FAILED, no /readyz:\n"
                             + (state / "sidecar.log").read_text()[-3000:])
                time.sleep(0.5)
            print("image-check: /readyz", get(base + "/readyz"))
            text = (state / "sidecar.log").read_text()
            assert "Using worker: gevent" in text, text[-2000:]
            uids = subprocess.run(["ps", "-o", "uid=", "--ppid", str(proc.pid)],
                                  capture_output=True, text=True).stdout.split()
            print(f"image-check: gunicorn workers run as uid {uids} (USER {user} = {uid})")
            assert uids and set(uids) == {uid}, uids
            payload = consent_payload(page_url="http://site.test/")
            status, body = get(base + "/v1/consents",
                               {"Content-Type": "application/json"},
                               json.dumps({"token": make_token(payload, [KEY])})
                               .encode())
            print("image-check: POST /v1/consents", status, body[:120])
            assert status == 201, body
            status, body = get(base + f"/v1/consents?subject_id={payload['subject_id']}",
                               {"Authorization": f"Bearer {ADMIN}"})
            assert status == 200 and len(json.loads(body)["items"]) == 1, body
            relayed = get(base + "/metrics", {"X-Forwarded-For": "203.0.113.9"})[0]
            local = get(base + "/metrics")[0]
            print(f"image-check: /metrics relayed without token {relayed}, local {local}")
            assert relayed == 401 and local == 200
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
    finally:
        db.stop()
print("image-check: the image serves /readyz and stored one consent")
PY
step "image run under chroot --userspec and checked"
echo "IMAGE CHECK OK in $(( $(date +%s) - T0 )) s (image $TAG, state $STATE)"
