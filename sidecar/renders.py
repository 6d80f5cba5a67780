"""What a screenshot render is keyed by: the proof URL, the banner version, the viewport (from
the visitor's user agent) and the language. One render serves every consent with the same
key within the freshness window.

The proof URL (`proof_url`) is the visitor's page URL without what identifies the visitor:
no fragment, no user info, no click or campaign ids (gclid, fbclid, utm_*…), no parameter
named like personal data or a secret (email, token…) and no parameter whose value looks like
an e-mail address. It is what the worker LOADS, what the render and its images RECORD, and
what the render is keyed by. Because the three are one string, every visitor a render
serves has exactly that URL in common, and nothing in the render is one visitor's own (an
erasure of one visitor must not leave their gclid or address behind in a render another
visitor's record still uses). The full URL stays in the consent record only, and is erased
with it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .config import normalise_origin
from .urls import is_page_url

VIEWPORTS = {"desktop": (1280, 800), "mobile": (390, 844)}
MOBILE_UA = re.compile(r"Mobi|Android|iPhone|iPod|Windows Phone|BlackBerry|Opera Mini", re.I)
# A mobile user agent for the mobile render (the page may serve different markup to it).
MOBILE_RENDER_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36")
# Query parameters that identify a click or a campaign, not page content.
TRACKING = re.compile(r"^(utm_[a-z_]+|gclid|gclsrc|gbraid|wbraid|dclid|fbclid|msclkid|"
                      r"twclid|ttclid|li_fat_id|mc_[a-z]+|_ga|_gl|_hsenc|_hsmi|mkt_tok|"
                      r"yclid|igshid|ref_src|oly_[a-z]+|vero_[a-z]+|s_cid)$", re.I)
# Query parameters that say who a visitor is, or carry a secret (loading a page with a
# confirmation token or a one-time code could even act on it): never part of a proof.
PERSONAL_PARAM = re.compile(
    r"^(e-?mail|mail|email_?address|phone|tel|mobile|name|first_?name|last_?name|surname|"
    r"address|zip|postcode|user(_?name|_?id)?|login|customer(_?id)?|uid|token|access_token|"
    r"id_token|auth|key|api_?key|password|passwd|pwd|secret|session(_?id)?|sid|otp|code|"
    r"nonce|_wpnonce|hash|signature|sig)$", re.I)
EMAIL = re.compile(r"[^@\s/?&=#]+@[^@\s/?&=#]+\.[a-z]{2,}", re.I)


@functools.lru_cache(maxsize=1024)  # a site's visitors bring a few hundred user agents
def viewport_for(user_agent: str) -> str:
    return "mobile" if MOBILE_UA.search(user_agent or "") else "desktop"


def _keeps(key: str, value: str) -> bool:
    return not (TRACKING.match(key) or PERSONAL_PARAM.match(key) or EMAIL.search(key)
                or EMAIL.search(value))


@functools.lru_cache(maxsize=4096)  # pure; consents name the same pages over and over
def proof_url(url: str) -> str | None:
    """The page as a render loads and records it: lower-case scheme and host, no user info,
    no default port, no fragment, no tracking or personal parameters (see above), remaining
    query parameters sorted. None when the path itself holds an e-mail address (the page
    cannot be loaded without it, so it is not rendered)."""
    p = urlsplit(url)
    if EMAIL.search(unquote(p.path)):
        return None
    host = (p.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(p.scheme.lower())
    netloc = host if p.port in (None, default) else f"{host}:{p.port}"
    query = sorted((k, v) for k, v in parse_qsl(p.query, keep_blank_values=True)
                   if _keeps(k, v))
    return urlunsplit((p.scheme.lower(), netloc, p.path or "/", urlencode(query), ""))


def render_key(proof: str, banner_version: str, viewport: str, language: str) -> str:
    """The key of a render of `proof` (a `proof_url()`)."""
    raw = "\n".join((proof, banner_version, viewport, language.lower()))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def may_load(url: str, origins: list[str]) -> bool:
    """True when `url` is a page URL by the one rule (sidecar/urls.py) on one of
    SP_SITE_ORIGINS (the only pages a browser loads)."""
    return isinstance(url, str) and _loadable_origin(url) in origins


@functools.lru_cache(maxsize=4096)
def _loadable_origin(url: str) -> str | None:
    """The origin of `url` when it is a page URL a browser may load (http or https)."""
    if not is_page_url(url):
        return None
    try:
        return normalise_origin(url) if urlsplit(url).scheme in ("http", "https") else None
    except ValueError:
        return None
