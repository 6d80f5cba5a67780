"""The rule-set version (issue 14, "Proof of enforcement"; docs/catalogue.md "Rule-set
version"): one hex string naming what decided which services were blocked — the service
catalogue the plugin ships and the site's rules. The plugin puts it in every consent it
signs (`rules_version`, wp-plugin/includes/ruleset-version.php) and every scan report
carries it (`ruleset_version`, sidecar/scan_report.py), so an auditor can tie a consent to
the scan that proved its rules.

    version = sha256_hex(canonical_json({"catalogue": <sha256 hex of services.json's bytes>,
                                          "site_rules": <the site rules, normalised>}))

The rules are normalised as `classify.validate_rules` does (hosts lower case, `*.x` written
`.x`, `service` trimmed and left out when empty) and kept **in their order**: among two
globs of the same specificity that match one name, the first decides, so two orders may
classify differently and must not share a version. The plugin keeps one rule per kind and
pattern and sends them in the order it stores them, which is the order scans get.
`tests/vectors/ruleset.json` holds the shared vectors both implementations are tested on.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .classify import default_catalogue, validate_rules

VERSION_RE = re.compile(r"^[0-9a-f]{64}$")


def canonical_document(catalogue_sha256: str, rules: Any) -> dict:
    """The object the version hashes; raises classify.RuleError for malformed rules and
    ValueError for a catalogue digest that is not 64 lower-case hex digits."""
    if not isinstance(catalogue_sha256, str) or not VERSION_RE.fullmatch(catalogue_sha256):
        raise ValueError("the catalogue's sha256 must be 64 lower-case hex digits")
    return {"catalogue": catalogue_sha256, "site_rules": validate_rules(rules)}


def canonical_bytes(catalogue_sha256: str, rules: Any) -> bytes:
    from .scan_report import canonical_json  # scan_report imports this module
    return canonical_json(canonical_document(catalogue_sha256, rules))


def ruleset_version(catalogue_sha256: str, rules: Any) -> str:
    """The rule-set version of a catalogue (its sha256) and site rules (as stored or sent)."""
    return hashlib.sha256(canonical_bytes(catalogue_sha256, rules)).hexdigest()


def shipped_ruleset_version(rules: Any = None) -> str:
    """The version with the catalogue this package ships."""
    return ruleset_version(default_catalogue().sha256, rules)
