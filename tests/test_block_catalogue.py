"""The plugin's copy of the service catalogue (wp-plugin/data/catalogue.php) and its URL matcher
(includes/blocking.php) agree with sidecar/catalogue/services.json and the scan's classifier
(issue 14): what a scan calls a service is what auto-blocking blocks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import export_catalogue  # noqa: E402

from sidecar import classify  # noqa: E402


def _php(cases: dict) -> list:
    out = subprocess.run(["php", str(ROOT / "tests/php/block-cli.php")], input=json.dumps(cases),
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_the_plugin_catalogue_is_generated_from_services_json():
    """Fails when services.json changed and scripts/export_catalogue.py was not run."""
    committed = export_catalogue.TARGET.read_text()
    assert committed == export_catalogue.render(export_catalogue.SOURCE.read_bytes()), (
        "wp-plugin/data/catalogue.php is stale: run scripts/export_catalogue.py")
    out = subprocess.run([sys.executable, str(ROOT / "scripts/export_catalogue.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_a_changed_catalogue_changes_the_export(tmp_path):
    """The check can fail: one host more gives a different PHP file (and a different hash)."""
    doc = json.loads(export_catalogue.SOURCE.read_text())
    doc["services"][0]["hosts"].append("tracker.example")
    changed = export_catalogue.render(json.dumps(doc).encode())
    assert changed != export_catalogue.TARGET.read_text()
    assert "'tracker.example' => 0" in changed


def test_a_malformed_catalogue_is_not_exported():
    doc = json.loads(export_catalogue.SOURCE.read_text())
    doc["services"][0]["signatures"] = ["ab"]
    with pytest.raises(classify.CatalogueError, match="signature 'ab'"):
        export_catalogue.render(json.dumps(doc).encode())


def _urls_for_every_pattern() -> list[str]:
    urls = []
    for s in classify.default_catalogue().services:
        for h in s["hosts"]:
            name = h.lstrip(".")
            urls += [f"https://{name}/x.js", f"//{name.upper()}/p?q=1", f"http://{name}:8443/"]
            if h.startswith("."):
                urls += [f"https://sub.{name}/t.gif", f"https://a.b.{name}/"]
            urls.append(f"https://not{name}/x.js")
        for u in s["urls"]:
            host, path = classify._URL_RE.match(u).groups()
            name = host.lstrip(".")
            urls += [f"https://{name}{path}", f"https://{name}{path}more?x=1",
                     f"https://{name}{path[:-1] or '/'}", f"https://{name}/other"]
    return urls + ["/relative.js", "data:text/javascript,1", "https://example.org/a.js",
                   "https://localhost:9001/pixel.gif", "https://[::1]:9001/x"]


def _python(url: str, classifier: classify.Classifier):
    from urllib.parse import urlsplit
    full = "https:" + url if url.startswith("//") else url
    if not full.lower().startswith(("http://", "https://")):
        return None
    host = urlsplit(full).netloc.rsplit("@", 1)[-1].lower()
    c = classifier.classify("request", host, url=full)
    return None if c.source == "unknown" else c


RULES = [{"kind": "request", "pattern": "*.stripe.com", "category": "marketing"},
         {"kind": "request", "pattern": "www.youtube.com", "category": "necessary"},
         {"kind": "request", "pattern": "localhost:9001", "category": "statistics",
          "service": "Loopback tracker"},
         {"kind": "request", "pattern": "tracker.example", "category": "marketing"},
         {"kind": "cookie", "pattern": "_ga", "category": "necessary"}]


@pytest.mark.parametrize("rules", [[], RULES], ids=["catalogue", "with-site-rules"])
def test_php_blocks_what_the_scan_classifies(rules):
    """Every host and URL pattern of the catalogue, inside and outside it (subdomains, ports,
    case, other paths), classified by PHP and by sidecar/classify.py: same category, service,
    breaks_if_blocked and source."""
    urls = _urls_for_every_pattern() + ["https://tracker.example/p.gif",
                                        "https://x.tracker.example/"]
    classifier = classify.Classifier(rules)
    php = _php({"urls": urls, "rules": rules})
    assert len(php) == len(urls)
    checked = 0
    for url, got in zip(urls, php, strict=True):
        want = _python(url, classifier)
        if want is None:
            assert got is None, url
            continue
        checked += 1
        assert got is not None, url
        assert (got["category"], got["breaks"], got["source"]) == (
            want.category, want.breaks_if_blocked, want.source), url
        if want.service:
            assert got["service"] == want.service, url
    assert checked > 150


def test_the_exported_search_patterns_are_the_plugins_own():
    """data/catalogue.php carries the inline-signature and needle patterns so a page view does
    not build them: they must be what blocking.php's secure_privacy_literals_pattern() builds,
    for the catalogue and for literals full of characters a regular expression reads."""
    tricky = ["a~b", "x.y(z", "#q", "n:m", "-", "(", "a\\b", "$[]{}|*+?^=!<>", "plain", ""]
    code = ("define('ABSPATH', '/'); require 'wp-plugin/includes/vocabulary.php';"
            " require 'wp-plugin/includes/blocking.php';"
            " $c = require 'wp-plugin/data/catalogue.php';"
            " $t = json_decode(stream_get_contents(STDIN), true);"
            " echo json_encode(array(secure_privacy_literals_pattern(array_keys($c['signatures'])),"
            " secure_privacy_literals_pattern($c['needles']), secure_privacy_literals_pattern($t),"
            " $c['signature_pattern'], $c['needle_pattern'],"
            " array_map(fn($s) => preg_match(secure_privacy_literals_pattern(array($s)),"
            " 'x' . $s . 'y'), $t)));")
    out = subprocess.run(["php", "-r", code], input=json.dumps(tricky), capture_output=True,
                         text=True, cwd=ROOT, check=True)
    sig, needle, tricky_php, sig_file, needle_file, found = json.loads(out.stdout)
    assert sig_file == sig and needle_file == needle
    assert export_catalogue.literals_pattern(tricky) == tricky_php
    assert found == [1] * len(tricky)  # each pattern finds its literal in a text


def test_signatures_a_catalogue_filter_adds_are_searched_for():
    """With the secure_privacy_catalogue filter, the exported patterns no longer say which
    signatures there are: the plugin builds them from the filtered catalogue."""
    code = ("define('ABSPATH', '/'); function has_filter($h) { return true; }"
            " function apply_filters($h, $c) { $c['signatures']['zz_track('] = 4;"
            " $c['needles'][] = 'zz_track('; return $c; }"
            " require 'wp-plugin/includes/vocabulary.php';"
            " require 'wp-plugin/includes/blocking.php';"
            " echo json_encode(array(secure_privacy_inline_block('a(); zz_track(1);'),"
            " secure_privacy_inline_block('fbq(1)'), secure_privacy_inline_block('nothing'),"
            " secure_privacy_page_mentions_services('<p>zz_track(2)</p>')));")
    out = subprocess.run(["php", "-r", code], capture_output=True, text=True, cwd=ROOT, check=True)
    added, known, none, mentioned = json.loads(out.stdout)
    assert added == {"category": "marketing", "service": "Meta Pixel"}
    assert known == added and none is None and mentioned is True
