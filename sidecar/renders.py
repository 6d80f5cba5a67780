"""What a screenshot render is keyed by: the normalised page URL, the banner version, the
viewport (from the visitor's user agent) and the language. One render serves every consent
with the same key within the freshness window."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

VIEWPORTS = {"desktop": (1280, 800), "mobile": (390, 844)}
MOBILE_UA = re.compile(r"Mobi|Android|iPhone|iPod|Windows Phone|BlackBerry|Opera Mini", re.I)
# A mobile user agent for the mobile render (the page may serve different markup to it).
MOBILE_RENDER_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36")
# Query parameters that identify a click or a campaign, not page content.
TRACKING = re.compile(r"^(utm_[a-z]+|gclid|dclid|fbclid|msclkid|mc_[a-z]+|_ga|_gl|yclid|"
                      r"igshid|ref_src)$", re.I)


def viewport_for(user_agent: str) -> str:
    return "mobile" if MOBILE_UA.search(user_agent or "") else "desktop"


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    remaining query parameters sorted: the page as a render sees it."""
    p = urlsplit(url)
    host = (p.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(p.scheme.lower())
    netloc = host if p.port in (None, default) else f"{host}:{p.port}"
    query = sorted((k, v) for k, v in parse_qsl(p.query, keep_blank_values=True)
                   if not TRACKING.match(k))
    return urlunsplit((p.scheme.lower(), netloc, p.path or "/", urlencode(query), ""))


def render_key(page_url: str, banner_version: str, viewport: str, language: str) -> str:
    raw = "\n".join((normalise_url(page_url), banner_version, viewport, language.lower()))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
