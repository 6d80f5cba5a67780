"""The one page URL rule (sidecar/urls.py), against the vectors the plugin's PHP rule is
checked against too (tests/vectors/urls.json, tests/php/UrlRuleTest.php)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sidecar import renders
from sidecar.config import normalise_origin
from sidecar.records import may_load
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


def test_whatever_the_rule_admits_parses_without_raising():
    """Random strings built from URL pieces: the rule admits some, and every admitted one
    goes through urlsplit, .port, normalise_origin and render_key without raising."""
    rng = random.Random(1)
    pieces = ["http://", "https://", "HTTP://", "[", "]", "::", ":", "1", "ff", "a", "-",
              ".", "/", "?", "#", "@", "%", "80", "65536", "0", "xn--", "1.2.3.4", "site",
              "\u2100", "\\", " ", "\n", "[::1]", "255", "256", "a.b", "0x1"]
    admitted = 0
    for _ in range(30000):
        url = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        if rng.random() < 0.7:
            url = rng.choice(("http://", "https://")) + url
        if page_url_error(url) is None:
            admitted += 1
            parts = urlsplit(url)
            assert parts.hostname, url
            _ = parts.port
            normalise_origin(url)
            renders.render_key(url, "b", "desktop", "en")
    assert admitted > 200
