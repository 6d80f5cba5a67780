"""Settings from the environment (docs/api.md §5). A bad value fails at start with its name."""

from __future__ import annotations

import hashlib
import hmac
import os
from urllib.parse import urlsplit

DEFAULTS = {
    "SP_TABLE_PREFIX": "wp_",
    "SP_IP_STORAGE": "full",
    "SP_MAX_TOKEN_AGE": "300",
    "SP_CLOCK_SKEW": "60",
    "SP_SELENIUM_REMOTE_URL": "",
    "SP_GEOIP_DB": "",
    "SP_MAX_BODY_BYTES": "16384",
    "SP_SCREENSHOT_TIMEOUT": "20",
    "SP_SCREENSHOT_ATTEMPTS": "3",
    "SP_SCREENSHOT_BACKOFF": "5",
    "SP_SCREENSHOT_FRESHNESS": "86400",
    "SP_SCREENSHOT_LEASE": "0",
    "SP_DB_POOL_SIZE": "4",
    "SP_RETENTION_DAYS": "0",
    "SP_GROUP_COMMIT": "auto",
    "SP_LEDGER_KEYS": "",
    "SP_ANCHOR_FILE": "",
    "SP_WORKER_NICE": "10",
    "SP_BROWSER_PRIORITY": "idle",
    "SP_RENDER_DEFER": "30",
    "SP_RENDER_DEFER_RATE": "20",
    "SP_SCAN_BUDGET": "900",
    "SP_SCAN_BROWSERS": "auto",
    "SP_SCAN_TEST_ORIGINS": "",
    "SP_EGRESS_BIND": "127.0.0.1",
    "SP_EGRESS_ADVERTISE": "",
}
REQUIRED = ("SP_DATABASE_URL", "SP_SECRET_KEYS", "SP_ADMIN_TOKENS", "SP_SITE_ORIGINS")
IP_STORAGE_MODES = ("full", "truncated", "none")
GROUP_COMMIT_MODES = ("auto", "on", "off")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


try:  # gunicorn prints an AppImportError's message alone (no traceback) and its master stops
    from gunicorn.errors import AppImportError as _AppLoadError
except ImportError:  # pragma: no cover - gunicorn is a dependency; the dev server needs none
    _AppLoadError = Exception


class StartupError(ConfigError, _AppLoadError):
    """The sidecar cannot start; `str()` is the one line to show (CLI: exit 2; gunicorn:
    "App failed to load", the master exits instead of restarting workers)."""


SECRET_SETTINGS = ("SP_SECRET_KEYS", "SP_LEDGER_KEYS", "SP_ADMIN_TOKENS", "SP_METRICS_TOKENS")
MIN_SECRET_BYTES = 32
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "placeholder", "example", "replace",
                     "your-", "your_", "shared secret", "admin token")


def weak_secret(value: str) -> str | None:
    """Why `value` is no secret (a placeholder, short, or not random), or None."""
    low = value.lower()
    if "<" in value or ">" in value or any(w in low for w in PLACEHOLDER_WORDS):
        return "is a placeholder"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"is {len(value.encode())} bytes long, under {MIN_SECRET_BYTES}"
    if len(set(value)) < 8:
        return "is not random (fewer than 8 different characters)"
    return None


def check_secrets(raw: dict) -> None:
    """Refuse placeholder, short or repetitive signing secrets, ledger keys and tokens: every
    entry, the retired ones too (they still verify, so they still let a forger in)."""
    for name in SECRET_SETTINGS:
        entries = _split(str(raw.get(name, "")))
        for i, entry in enumerate(entries, 1):
            why = weak_secret(entry)
            if why:
                which = f"entry {i} of {len(entries)}" if len(entries) > 1 else "the value"
                raise ConfigError(
                    f"{name}: {which} {why}; secrets must be random and at least "
                    f"{MIN_SECRET_BYTES} bytes: `sidecar init` writes an env file with new ones"
                    " (or: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def normalise_origin(url: str) -> str:
    """`scheme://host[:port]` in lower case with default ports dropped; raise ValueError if
    `url` has no http(s) scheme or host."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) origin: {url!r}")
    port = parts.port
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port and port != {"http": 80, "https": 443}[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


# A scan lane's browser (its processes, its profile's tab) peaks at about 350 MiB PSS
# (bench/README.md "Site scan"); `auto` leaves 1 GiB of what is free to the rest.
SCAN_BROWSER_MIB = 400
SCAN_RESERVE_MIB = 1024


def auto_scan_browsers(cpus: int | None = None, available_mib: int | None = None) -> int:
    """SP_SCAN_BROWSERS=auto: two browsers per CPU core (a scan's browsers wait on the
    network about half the time), at most 4, and no more than the memory free now affords
    (MemAvailable less 1 GiB, 400 MiB each); at least 1."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    if available_mib is None:
        available_mib = _mem_available_mib()
    by_memory = (available_mib - SCAN_RESERVE_MIB) // SCAN_BROWSER_MIB \
        if available_mib is not None else 4
    return max(1, min(4, 2 * cpus, by_memory))


def _mem_available_mib() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def load(env=None, overrides: dict | None = None) -> dict:
    """Return the app settings: raw SP_* strings plus parsed forms (lists, ints)."""
    env = dict(os.environ if env is None else env)
    raw = {k: v for k, v in DEFAULTS.items()}
    raw.update({k: v for k, v in env.items() if k.startswith("SP_")})
    raw.update(overrides or {})
    for name in REQUIRED:
        if not str(raw.get(name, "")).strip():
            raise ConfigError(f"{name} is required")
    check_secrets(raw)
    cfg = dict(raw)
    cfg["SECRET_KEYS"] = _split(raw["SP_SECRET_KEYS"])
    cfg["ADMIN_TOKENS"] = _split(raw["SP_ADMIN_TOKENS"])
    cfg["LEDGER_KEYS"], cfg["LEDGER_KEYS_DERIVED"] = ledger_keys(raw["SP_LEDGER_KEYS"],
                                                                 cfg["SECRET_KEYS"])
    cfg["ANCHOR_FILE"] = anchor_file(raw["SP_ANCHOR_FILE"], raw["SP_DATABASE_URL"],
                                     raw["SP_TABLE_PREFIX"], env)
    try:
        cfg["SITE_ORIGINS"] = [normalise_origin(o) for o in _split(raw["SP_SITE_ORIGINS"])]
    except ValueError as e:
        raise ConfigError(f"SP_SITE_ORIGINS: {e}") from None
    cfg["SCAN_TEST_ORIGINS"] = scan_test_origins(raw["SP_SCAN_TEST_ORIGINS"])
    browsers = str(raw["SP_SCAN_BROWSERS"]).strip()
    if browsers == "auto":
        cfg["SP_SCAN_BROWSERS"] = auto_scan_browsers()
    elif browsers in [str(n) for n in range(1, 9)]:
        cfg["SP_SCAN_BROWSERS"] = int(browsers)
    else:
        raise ConfigError("SP_SCAN_BROWSERS must be auto or a number of browsers from 1 to 8"
                          " (a site scan's pages are visited that many at a time)")
    if raw["SP_IP_STORAGE"] not in IP_STORAGE_MODES:
        raise ConfigError(f"SP_IP_STORAGE must be one of {', '.join(IP_STORAGE_MODES)}")
    if raw["SP_GROUP_COMMIT"] not in GROUP_COMMIT_MODES:
        raise ConfigError(f"SP_GROUP_COMMIT must be one of {', '.join(GROUP_COMMIT_MODES)}")
    prefix = raw["SP_TABLE_PREFIX"]
    if not prefix.replace("_", "").isalnum() and prefix != "":
        raise ConfigError("SP_TABLE_PREFIX may hold only letters, digits and _")
    for name in ("SP_MAX_TOKEN_AGE", "SP_MAX_BODY_BYTES", "SP_SCREENSHOT_TIMEOUT",
                 "SP_SCREENSHOT_ATTEMPTS", "SP_SCREENSHOT_BACKOFF", "SP_SCREENSHOT_FRESHNESS",
                 "SP_DB_POOL_SIZE", "SP_SCAN_BUDGET"):
        try:
            cfg[name] = int(raw[name])
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be an integer") from None
        if cfg[name] <= 0:
            raise ConfigError(f"{name} must be positive")
    try:
        # 0 = derived: three page-load timeouts and 30 s (a worker silent that long died)
        cfg["SP_SCREENSHOT_LEASE"] = int(raw["SP_SCREENSHOT_LEASE"]) or \
            cfg["SP_SCREENSHOT_TIMEOUT"] * 3 + 30
    except (TypeError, ValueError):
        raise ConfigError("SP_SCREENSHOT_LEASE must be an integer (seconds)") from None
    if str(raw.get("SP_BROWSER_USER", "")).strip():
        from .browser import BrowserSetupError, resolve_user
        try:
            resolve_user(raw["SP_BROWSER_USER"])
        except BrowserSetupError as e:
            raise ConfigError(str(e)) from None
    try:
        cfg["SP_CLOCK_SKEW"] = int(raw["SP_CLOCK_SKEW"])
    except (TypeError, ValueError):
        raise ConfigError("SP_CLOCK_SKEW must be an integer (seconds)") from None
    if not 0 <= cfg["SP_CLOCK_SKEW"] <= 3600:
        raise ConfigError("SP_CLOCK_SKEW must be 0 to 3600 seconds")
    try:
        cfg["SP_WORKER_NICE"] = int(raw["SP_WORKER_NICE"])
    except (TypeError, ValueError):
        raise ConfigError("SP_WORKER_NICE must be an integer (0 to 19)") from None
    if not 0 <= cfg["SP_WORKER_NICE"] <= 19:
        raise ConfigError("SP_WORKER_NICE must be 0 to 19")
    cfg["SP_BROWSER_PRIORITY"] = (raw["SP_BROWSER_PRIORITY"] or "idle").strip().lower()
    if cfg["SP_BROWSER_PRIORITY"] not in ("idle", "worker"):
        raise ConfigError("SP_BROWSER_PRIORITY must be idle or worker")
    for name, low, high, what in (
            ("SP_RENDER_DEFER", 0, 3600, "seconds, 0 to 3600 (0: renders never wait for a burst"
             " of consents to pass)"),
            ("SP_RENDER_DEFER_RATE", 1, 1_000_000, "consents per second, at least 1")):
        try:
            cfg[name] = int(str(raw[name]).strip())
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a whole number of {what}") from None
        if not low <= cfg[name] <= high:
            raise ConfigError(f"{name} must be a whole number of {what}")
    cfg["EGRESS_BIND"], cfg["EGRESS_ADVERTISE"] = egress_addresses(
        raw["SP_EGRESS_BIND"], raw["SP_EGRESS_ADVERTISE"])
    try:
        cfg["SP_RETENTION_DAYS"] = int(raw["SP_RETENTION_DAYS"])
    except (TypeError, ValueError):
        raise ConfigError("SP_RETENTION_DAYS must be an integer (0 = keep forever)") from None
    return cfg


def scan_test_origins(value: str) -> list[str]:
    """SP_SCAN_TEST_ORIGINS: loopback origins (`http://127.0.0.1:9001`, `http://localhost:9002`)
    that stand in for third-party services in tests, so a test can serve a "tracker" without
    a network. Off (empty) by default, and only loopback: the egress guard lets exactly these
    through besides SP_SITE_ORIGINS; every other private or loopback address stays refused."""
    import ipaddress
    origins = []
    for entry in _split(value):
        try:
            origin = normalise_origin(entry)
        except ValueError as e:
            raise ConfigError(f"SP_SCAN_TEST_ORIGINS: {e}") from None
        host = urlsplit(origin).hostname or ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback or not urlsplit(origin).port:
            raise ConfigError(f"SP_SCAN_TEST_ORIGINS: {entry!r} is not a loopback origin with a"
                              " port (this setting is for tests only)")
        origins.append(origin)
    return origins


def egress_addresses(bind: str, advertise: str) -> tuple[tuple[str, int], str | None]:
    """((host, port), advertise) of the egress proxy (docs/grid.md): SP_EGRESS_BIND is an
    IP address with an optional port (0 or none: any free one); SP_EGRESS_ADVERTISE, the
    host[:port] the browser is told, is required when the bind address is a wildcard."""
    from .egress import parse_hostport
    try:
        host, port = parse_hostport(bind or "127.0.0.1", "SP_EGRESS_BIND")
        if advertise.strip():
            parse_hostport(advertise, "SP_EGRESS_ADVERTISE", default_port=None, literal=False)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if host in ("0.0.0.0", "::") and not advertise.strip():
        raise ConfigError(f"SP_EGRESS_BIND: {host} listens on every address; set"
                          " SP_EGRESS_ADVERTISE to the host[:port] the browsers connect to")
    return (host, port or 0), advertise.strip() or None


def ledger_keys(value: str, secret_keys: list[str]) -> tuple[list[bytes], bool]:
    """The sidecar-only keys (oldest first, newest in use) for keyed seals and keyed IP
    fingerprints, and whether they were derived.

    `SP_LEDGER_KEYS` is never given to WordPress: someone with write access to the site's
    database (where the plugin keeps its signing secret) must not be able to recompute a
    seal. Unset, one key is derived from each signing secret so that existing installs keep
    working; `/v1/integrity` then says the ledger key is shared with WordPress."""
    keys = _split(value)
    if keys:
        return [k.encode() for k in keys], False
    return [hmac.new(k.encode(), b"secure-privacy/ledger/v1", hashlib.sha256).digest()
            for k in secret_keys], True


def anchor_file(value: str, database_url: str, prefix: str, env: dict) -> str | None:
    """Where seals append their heads, outside the database (docs/ledger.md); None when
    `SP_ANCHOR_FILE` is `off`. The default is one file per database and table prefix in the
    sidecar host's state directory."""
    value = value.strip()
    if value.lower() in ("off", "none"):
        return None
    if value:
        return os.path.abspath(os.path.expanduser(value))
    state = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    database = urlsplit(database_url).path.strip("/") or "db"
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in f"{database}-{prefix}")
    return os.path.join(state, "secure-privacy", f"anchors-{name}.jsonl")
