"""The scan's self-test (issue 14, "Nothing breaks"): does blocking break the page? After
Reject all against after Accept all, each page's console errors and its visible elements
are compared, and what shows only after Accept all (an element) or only after Reject all
(an error) is reported with the held item most likely responsible.

Two halves, both cheap (no extra page load):

- **In the scanner** (`read_state`, called for each state's snapshot): the errors of the
  state's last page view, from the browser's console log that ChromeDriver builds from the
  DevTools events `Runtime.exceptionThrown`, `Runtime.consoleAPICalled` (`console.error`)
  and `Log.entryAdded` (the scanner reads that log after every page load anyway:
  `Scanner.off_site`), and one small script run in the page: a signature of its visible
  landmarks (forms, buttons, fields, frames, media and every element with an id, each with a
  short label), counts per kind, and the elements the blocker holds (`[data-sp-category]`
  still in blocked form: script `type="text/plain"`, frame or pixel without its `src`).
- **In the report** (`compare`, called by `scan_report.build_report`): for each page whose
  two states were both captured, the errors only after Reject all, the landmarks present
  after Accept all but missing after Reject all, and for each the likely cause among what
  was held after Reject all: the held script or frame whose host the error came from, or
  whose host, service or file name the error or element names, else the only thing held on
  the page; otherwise the candidates.

The widget itself (`#sp-consent`), the placeholders of held embeds (`.sp-blocked`) and the
held or released elements (`[data-sp-category]`) are left out of the signature: they differ
between the states by design. docs/scan.md ("self_test") describes the report fields.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_LANDMARKS = 300   # per state; a page with more is cut there (and says so)
MAX_HELD = 50
MAX_ERRORS = 50
MAX_TEXT = 300
LABEL = 80
COUNTED = ("form", "button", "input", "select", "textarea", "iframe", "video", "audio")
# Console entries that are not the page's own failures: resources the browser could not
# load (every state has its own, by design) and the scanner's own blocked consent POST.
_NETWORK_SOURCES = {"network"}
_ENTRY = re.compile(r"^(?P<url>\S+) (?P<line>\d+):(?P<col>\d+) (?P<text>.*)$", re.S)
_ID_DIGITS = re.compile(r"\d{3,}")
_ALNUM = re.compile(r"[^a-z0-9]+")

# The signature, in one script: visible landmarks, counts, held elements.
PAGE_JS = """
const MAX = arguments[0], HELD = arguments[1], LABEL = arguments[2];
const skip = (e) => e.closest('#sp-consent, .sp-blocked, [data-sp-category]');
const visible = (e) => e.getClientRects().length > 0 &&
  getComputedStyle(e).visibility !== 'hidden';
const text = (s) => (s || '').replace(/\\s+/g, ' ').trim().slice(0, LABEL);
const label = (e) => {
  const t = e.tagName.toLowerCase();
  const aria = e.getAttribute('aria-label') || e.getAttribute('title');
  if (t === 'form') {
    const h = e.querySelector('legend, h1, h2, h3, h4, h5, h6, label');
    return text(aria || e.getAttribute('name') || (h && h.textContent) ||
                (e.getAttribute('action') || '').split('?')[0]);
  }
  if (t === 'input' || t === 'select' || t === 'textarea')
    return text(aria || e.getAttribute('name') || e.getAttribute('placeholder') ||
                e.getAttribute('type') || t);
  if (t === 'iframe' || t === 'video' || t === 'audio')
    return text(aria || (e.getAttribute('src') || '').split('?')[0]);
  if (t === 'button') return text(e.textContent || aria || e.getAttribute('value'));
  return text(aria || e.textContent);
};
const out = {landmarks: [], counts: {}, held: [], truncated: false};
const sel = 'form, button, input:not([type=hidden]), select, textarea, iframe, video, ' +
  'audio, [role=button], [id]';
for (const e of document.body ? document.body.querySelectorAll(sel) : []) {
  if (skip(e) || !visible(e)) continue;
  const t = e.tagName.toLowerCase();
  out.counts[t] = (out.counts[t] || 0) + 1;
  if (out.landmarks.length >= MAX) { out.truncated = true; continue; }
  out.landmarks.push({tag: t, id: e.id || null, label: label(e)});
}
for (const e of document.querySelectorAll(
    'script[type="text/plain"][data-sp-category], iframe[data-sp-src][data-sp-category],' +
    ' img[data-sp-src][data-sp-category]')) {
  if (e.closest('#sp-consent') || out.held.length >= HELD) continue;
  const t = e.tagName.toLowerCase();
  const src = t === 'script' ? e.getAttribute('src') : e.getAttribute('data-sp-src');
  if (t !== 'script' && e.getAttribute('src') === src) continue;  // released
  let url = null;
  try { url = src ? new URL(src, location.href).href : null; } catch (x) {}
  out.held.push({tag: t, url: url, service: e.getAttribute('data-sp-service') || null,
                 category: e.getAttribute('data-sp-category')});
}
return out;
"""


def console_errors(entries: list[dict]) -> list[dict]:
    """The page's own errors among ChromeDriver console-log entries: uncaught exceptions and
    `console.error` (level SEVERE), not failed resource loads. Each `{"message", "source",
    "line"}`: `source` the script (or page) the error was raised in, when the log says."""
    out = []
    for e in entries or []:
        if not isinstance(e, dict) or e.get("level") != "SEVERE":
            continue
        if e.get("source") in _NETWORK_SOURCES:
            continue
        message = str(e.get("message") or "")
        source, line = None, None
        m = _ENTRY.match(message)
        if m and "://" in m["url"]:
            source, line, message = m["url"], int(m["line"]), m["text"]
        message = " ".join(message.split())
        if message.startswith('"') and message.endswith('"') and len(message) > 1:
            message = message[1:-1]  # console.error("…") is logged quoted
        if "Not allowed to load local resource" in message:
            continue  # the egress guard's refusal, reported as the state's error
        out.append({"message": message[:MAX_TEXT], "source": source, "line": line})
        if len(out) >= MAX_ERRORS:
            break
    return out


def read_state(d, console: list[dict] | None) -> dict | None:
    """The state's self-test observations (`errors`, `landmarks`, `counts`, `held`,
    `truncated`), or None when the page could not be read."""
    try:
        found = d.execute_script(PAGE_JS, MAX_LANDMARKS, MAX_HELD, LABEL)
    except Exception:  # noqa: BLE001 - a page that cannot be read is not checked
        return None
    if not isinstance(found, dict):
        return None
    return {"errors": console_errors(console or []),
            "landmarks": list(found.get("landmarks") or [])[:MAX_LANDMARKS],
            "counts": dict(found.get("counts") or {}),
            "held": list(found.get("held") or [])[:MAX_HELD],
            "truncated": bool(found.get("truncated"))}


# -- checking observations (scan_report validates what it is given) -------------------------

def check(obs, where: str) -> str | None:
    """Why a state's `selftest` observation is malformed, or None."""
    if obs is None:
        return None
    if not isinstance(obs, dict):
        return f"{where}: must be an object or null"
    for key in ("errors", "landmarks", "held"):
        if not isinstance(obs.get(key, []), list):
            return f"{where}.{key}: must be a list"
    if not isinstance(obs.get("counts", {}), dict):
        return f"{where}.counts: must be an object"
    for j, e in enumerate(obs.get("errors", [])):
        if not isinstance(e, dict) or not isinstance(e.get("message"), str):
            return f"{where}.errors[{j}]: must be an object with a message string"
    for j, e in enumerate(obs.get("landmarks", [])):
        if not isinstance(e, dict) or not isinstance(e.get("tag"), str):
            return f"{where}.landmarks[{j}]: must be an object with a tag string"
    for j, e in enumerate(obs.get("held", [])):
        if not isinstance(e, dict) or not isinstance(e.get("tag"), str):
            return f"{where}.held[{j}]: must be an object with a tag string"
    for key, value in obs.get("counts", {}).items():
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{where}.counts.{key}: must be an integer"
    return None


# -- the comparison ---------------------------------------------------------------------------

def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        p = urlsplit(url)
        host = (p.hostname or "").lower()
        port = p.port
    except ValueError:
        return None
    if not host or p.scheme not in ("http", "https"):
        return None
    default = {"http": 80, "https": 443}[p.scheme]
    return host if port in (None, default) else f"{host}:{port}"


def _norm(text: str) -> str:
    return _ALNUM.sub("", (text or "").lower())


def landmark_key(lm: dict) -> str:
    """What identifies a landmark across two page views: its tag and id (runs of 3+ digits
    in an id, often made per page view, count as one), else its tag and label."""
    tag = str(lm.get("tag") or "").lower()
    ident = lm.get("id")
    if ident:
        return f"{tag}#{_ID_DIGITS.sub('#', str(ident))}"
    return f"{tag}:{' '.join(str(lm.get('label') or '').split()).lower()}"


def _held_suspects(held: list[dict]) -> list[dict]:
    """The held items, one per service (its scripts, inline parts and frames together), or
    per host for what no service names; `host` the first of its hosts."""
    out: dict[str, dict] = {}
    for h in held or []:
        url = h.get("url") if isinstance(h.get("url"), str) else None
        host = _host(url)
        service = h.get("service") if isinstance(h.get("service"), str) else None
        key = service or host
        if not key:
            continue
        entry = out.setdefault(key, {"service": service, "hosts": set(),
                                     "category": h.get("category"), "urls": set()})
        if host:
            entry["hosts"].add(host)
        if url:
            entry["urls"].add(url)
    return [{"service": v["service"], "host": min(v["hosts"], default=None),
             "hosts": sorted(v["hosts"]), "category": v["category"], "urls": sorted(v["urls"])}
            for _, v in sorted(out.items())]


def _named(suspect: dict, *texts: str) -> bool:
    """Whether `texts` name the suspect: its host, its service, or a script file's name."""
    hay = " ".join(t for t in texts if t).lower()
    flat = _norm(hay)
    if any(host in hay for host in suspect["hosts"]):
        return True
    if suspect["service"] and len(_norm(suspect["service"])) >= 3 \
            and _norm(suspect["service"]) in flat:
        return True
    for url in suspect["urls"]:
        stem = urlsplit(url).path.rsplit("/", 1)[-1].split(".", 1)[0]
        if len(_norm(stem)) >= 4 and _norm(stem) in flat:
            return True
    return False


def _cause(suspects: list[dict], source: str | None, texts: tuple[str, ...],
           page_host: str | None = None) -> dict:
    """`{"cause": {...} | None, "candidates": [...]}`: the held item most likely responsible
    and why (`basis`: `source` when the error was raised in its script, `named` when
    `texts` name it, `only_held` when it is the only thing held on the page; for a missing
    element also `page_error` when the page's errors after Reject all all blame one held
    item), else every held item of the page as `candidates`."""
    public = [{k: s[k] for k in ("service", "host", "category")} for s in suspects]
    src = _host(source)
    bare = (source or "").split("#", 1)[0].split("?", 1)[0]
    for s, p in zip(suspects, public, strict=True):
        # Raised in a held script: its very URL, or its host when that is not the page's own
        # (an inline script's error names the page).
        if src and (src in s["hosts"] and src != page_host
                    or any(u.split("?", 1)[0] == bare for u in s["urls"])):
            return {"cause": {**p, "basis": "source"}, "candidates": []}
    for s, p in zip(suspects, public, strict=True):
        if _named(s, *texts):
            return {"cause": {**p, "basis": "named"}, "candidates": []}
    if len(public) == 1:
        return {"cause": {**public[0], "basis": "only_held"}, "candidates": []}
    return {"cause": None, "candidates": public[:10]}


def compare(reject: dict | None, accept: dict | None, page_url: str | None = None) -> dict:
    """A page's self-test result from its after_reject and after_accept observations:
    `{"checked": bool, "reason", "errors", "missing", "fewer", "truncated"}` (docs/scan.md)."""
    result = {"checked": False, "reason": None, "errors": [], "missing": [], "fewer": {},
              "truncated": False}
    if reject is None or accept is None:
        result["reason"] = "a state was not captured, or its page could not be read"
        return result
    result["checked"] = True
    result["truncated"] = bool(reject.get("truncated") or accept.get("truncated"))
    suspects = _held_suspects(reject.get("held") or [])
    page_host = _host(page_url)

    seen_ok = {e["message"] for e in accept.get("errors") or []}
    reported = set()
    for e in reject.get("errors") or []:
        msg = e["message"]
        if msg in seen_ok or msg in reported:
            continue
        reported.add(msg)
        source = e.get("source") if isinstance(e.get("source"), str) else None
        result["errors"].append({"message": msg, "source": source, "line": e.get("line"),
                                 **_cause(suspects, source, (msg,), page_host)})

    blamed = {(e["cause"]["service"], e["cause"]["host"]):
              {k: e["cause"][k] for k in ("service", "host", "category")}
              for e in result["errors"] if e["cause"]}

    def tally(obs):
        counts: dict[str, int] = {}
        first: dict[str, dict] = {}
        for lm in obs.get("landmarks") or []:
            key = landmark_key(lm)
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(key, lm)
        return counts, first

    rej, _ = tally(reject)
    acc, examples = tally(accept)
    for key in sorted(acc):
        gone = acc[key] - rej.get(key, 0)
        if gone <= 0:
            continue
        lm = examples[key]
        tag, ident = str(lm.get("tag") or ""), lm.get("id")
        label = str(lm.get("label") or "")
        found = _cause(suspects, None, (ident or "", label))
        if found["cause"] is None and len(blamed) == 1:
            # Not named by the element, but the page's errors after Reject all all point at
            # one held item: that one.
            found = {"cause": {**next(iter(blamed.values())), "basis": "page_error"},
                     "candidates": []}
        result["missing"].append({"tag": tag, "id": ident, "label": label, "count": gone,
                                  **found})
    ra, rr = accept.get("counts") or {}, reject.get("counts") or {}
    for tag in sorted(set(ra) & set(COUNTED) | set(rr) & set(COUNTED)):
        if ra.get(tag, 0) > rr.get(tag, 0):
            result["fewer"][tag] = {"after_accept": ra.get(tag, 0),
                                    "after_reject": rr.get(tag, 0)}
    return result
