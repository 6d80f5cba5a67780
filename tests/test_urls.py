"""The one page URL rule (sidecar/urls.py), against the vectors the plugin's PHP rule is
checked against too (tests/vectors/urls.json, tests/php/UrlRuleTest.php)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sidecar import renders
from sidecar.config import normalise_origin
from sidecar.renders import may_load
from sidecar.urls import page_url_error

VECTORS = json.loads((Path(__file__).parent / "vectors/urls.json").read_text())


@pytest.mark.parametrize("url", VECTORS["valid"], ids=lambda u: u[:60])
def test_valid_page_urls_pass_and_parse_everywhere_the_sidecar_parses_them(url):
    assert page_url_error(url) is None
    parts = urlsplit(url)  # what renders, records and screenshots do with a stored page_url
    assert parts.hostname and parts.port in (None, *range(1, 65536))
    normalise_origin(url)
    renders.render_key(url, "b", "desktop", "en")
    may_load(url, ["http://site.test"])


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["why"])
def test_hostile_page_urls_are_refused_with_a_reason(vector):
    """Among them the audit's F1 inputs (http://[x]/, http://[::1/, http://a℀b/), which
    passed the old rule and made urlsplit raise (500)."""
    why = page_url_error(vector["url"])
    assert isinstance(why, str) and why
    assert not may_load(vector["url"], ["http://site.test"])


@pytest.mark.parametrize("value", VECTORS["not_strings"], ids=repr)
def test_a_page_url_that_is_not_a_string_is_refused(value):
    assert page_url_error(value) == "must be a string"


PIECES = ["http://", "https://", "HTTP://", "[", "]", "::", ":", "1", "ff", "a", "-", ".", "/",
          "?", "#", "@", "%", "80", "65536", "0", "xn--", "1.2.3.4", "site", "\u2100", "\\",
          " ", "\n", "[::1]", "255", "256", "a.b", "0x1", "01", "ffff:", "1.2.3", "_", "\x7f"]


def _random_urls(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    urls = []
    for _ in range(n):
        url = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 10)))
        urls.append(rng.choice(("http://", "https://")) + url if rng.random() < 0.7 else url)
    return urls


@pytest.mark.skipif(not shutil.which("php"), reason="php-cli is not installed")
def test_the_plugins_rule_and_the_sidecars_agree_on_random_urls():
    """One rule, two implementations: on the vectors and on 20 000 random URL-like strings,
    the PHP rule (wp-plugin/includes/url.php) and the Python rule give the same verdict and
    the same reason."""
    urls = [*VECTORS["valid"], *(v["url"] for v in VECTORS["invalid"]), *_random_urls(7, 20000)]
    out = subprocess.run(["php", str(Path(__file__).parent / "php/url-cli.php")],
                         input=json.dumps(urls), capture_output=True, text=True, check=True)
    php = json.loads(out.stdout)
    python = [page_url_error(u) or "" for u in urls]
    differ = [(u, p, q) for u, p, q in zip(urls, php, python, strict=True)
              if p != q and u.isascii()]
    assert differ == []
    # Non-ASCII input: PHP counts bytes, Python characters, so a long one may be refused
    # for its length on one side and for its characters on the other; never admitted.
    assert [u for u, p, q in zip(urls, php, python, strict=True)
            if (p == "") != (q == "")] == []
    assert sum(p == "" for p in php) > 500


def test_whatever_the_rule_admits_parses_without_raising():
    """Random strings built from URL pieces: the rule admits some, and every admitted one
    goes through urlsplit, .port, normalise_origin and render_key without raising."""
    admitted = 0
    for url in _random_urls(1, 30000):
        if page_url_error(url) is None:
            admitted += 1
            parts = urlsplit(url)
            assert parts.hostname, url
            _ = parts.port
            normalise_origin(url)
            renders.render_key(url, "b", "desktop", "en")
    assert admitted > 500
