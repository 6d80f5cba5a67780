"""The rule-set version (issue 14, "Proof of enforcement"; sidecar/ruleset.py,
docs/catalogue.md "Rule-set version"): one definition, the same hex in Python and PHP
(shared vectors, tests/php/RulesetVersionTest.php), the plugin's copy of the catalogue digest
in step with the catalogue, and scan reports that carry it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar import ruleset
from sidecar.classify import RuleError, catalogue_with, default_catalogue
from sidecar.scan_report import build_report

ROOT = Path(__file__).resolve().parent.parent
VECTORS = json.loads((ROOT / "tests/vectors/ruleset.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_the_canonical_json_and_version_match_the_shared_vector(vector):
    assert ruleset.canonical_bytes(vector["catalogue"], vector["rules"]).decode() \
        == vector["canonical"]
    assert ruleset.ruleset_version(vector["catalogue"], vector["rules"]) == vector["version"]
    assert vector["version"] == hashlib.sha256(vector["canonical"].encode()).hexdigest()


def test_the_vectors_file_is_what_its_generator_writes():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "make_ruleset_vectors", ROOT / "tests/vectors/make_ruleset_vectors.py")
    made = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(made)
    assert [(v["catalogue"], v["rules"], v["canonical"]) for v in made.VECTORS] == [
        (v["catalogue"], v["rules"], v["canonical"]) for v in VECTORS["vectors"]]


def test_the_order_of_rules_is_part_of_the_version():
    a, b = VECTORS["vectors"][-2:]
    assert sorted(map(json.dumps, a["rules"])) == sorted(map(json.dumps, b["rules"]))
    assert a["version"] != b["version"]


def test_malformed_rules_or_digest_have_no_version():
    with pytest.raises(RuleError, match=r"rules\[0\]\.category"):
        ruleset.ruleset_version("0" * 64, [{"kind": "cookie", "pattern": "x", "category": "x"}])
    for digest in ("ABC", "0" * 64 + "\n"):
        with pytest.raises(ValueError):
            ruleset.ruleset_version(digest, [])


def test_the_plugins_catalogue_digest_agrees_with_the_catalogue():
    """wp-plugin/data/ruleset-version.php is generated from services.json; a catalogue edit
    without regenerating it fails here (the plugin would sign consents with a version that
    no scan reproduces)."""
    php = (ROOT / "wp-plugin/data/ruleset-version.php").read_text()
    assert f"'catalogue_sha256' => '{default_catalogue().sha256}'" in php
    assert default_catalogue().sha256 == hashlib.sha256(
        (ROOT / "sidecar/catalogue/services.json").read_bytes()).hexdigest()
    check = subprocess.run([sys.executable, str(ROOT / "scripts/export_ruleset_version.py"),
                            "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_the_export_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import export_ruleset_version as exp
    finally:
        sys.path.pop(0)
    stale = tmp_path / "ruleset-version.php"
    stale.write_text(exp.render(b'{"format": 1}'))
    monkeypatch.setattr(exp, "TARGET", stale)
    assert exp.main(["--check"]) == 1
    assert exp.main([]) == 0 and exp.main(["--check"]) == 0


def test_a_scan_report_carries_the_version_of_its_catalogue_and_rules():
    rules = [{"kind": "request", "pattern": "*.Example.com", "category": "marketing"},
             {"kind": "cookie", "pattern": "_ga*", "category": "statistics", "service": " GA "}]
    report = build_report({"id": "s"}, [], rules=rules)
    assert report["ruleset_version"] == ruleset.shipped_ruleset_version(rules)
    assert report["ruleset_version"] == ruleset.ruleset_version(
        report["classifier"]["catalogue_sha256"], report["rules"])
    assert build_report({"id": "s"}, [], rules=[])["ruleset_version"] \
        == ruleset.shipped_ruleset_version([]) != report["ruleset_version"]


def test_a_scan_with_another_catalogue_has_another_version():
    from sidecar.classify import Classifier
    extra = catalogue_with([{"id": "acme", "name": "Acme", "vendor": "Acme",
                             "category": "marketing", "breaks_if_blocked": False,
                             "hosts": ["acme.test"], "urls": [], "cookies": [],
                             "host_cookies": [], "storage": []}])
    report = build_report({"id": "s"}, [], classifier=Classifier([], catalogue=extra))
    assert report["ruleset_version"] == ruleset.ruleset_version(extra.sha256, [])
    assert report["ruleset_version"] != ruleset.shipped_ruleset_version([])
