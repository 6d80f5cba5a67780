"""Write tests/vectors/ruleset.json: the rule-set version's vectors (docs/catalogue.md,
"Rule-set version"), read by tests/test_ruleset.py (sidecar/ruleset.py) and
tests/php/RulesetVersionTest.php (wp-plugin/includes/ruleset-version.php).

Each vector gives a catalogue digest and site rules as the plugin stores them, and the
canonical JSON the version is taken over, written here by hand, not produced by either
implementation; the version is the sha256 of those bytes.

    python tests/vectors/make_ruleset_vectors.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

A = "0" * 64
B = hashlib.sha256(b"").hexdigest()  # e3b0c442...

VECTORS = [
    {"name": "no site rules",
     "catalogue": A, "rules": [],
     "canonical": '{"catalogue":"' + A + '","site_rules":[]}'},
    {"name": "another catalogue, no site rules",
     "catalogue": B, "rules": [],
     "canonical": '{"catalogue":"' + B + '","site_rules":[]}'},
    {"name": "keys sorted, service kept",
     "catalogue": B,
     "rules": [{"service": "Analytics", "pattern": "_ga*", "kind": "cookie",
                "category": "statistics"}],
     "canonical": '{"catalogue":"' + B + '","site_rules":[{"category":"statistics",'
                  '"kind":"cookie","pattern":"_ga*","service":"Analytics"}]}'},
    {"name": "a request rule's *.host is written .host, lower case",
     "catalogue": B,
     "rules": [{"kind": "request", "pattern": "*.CDN.Example.com:8443",
                "category": "marketing"}],
     "canonical": '{"catalogue":"' + B + '","site_rules":[{"category":"marketing",'
                  '"kind":"request","pattern":".cdn.example.com:8443"}]}'},
    {"name": "an empty service is left out",
     "catalogue": B,
     "rules": [{"kind": "storage", "pattern": "cart", "category": "necessary", "service": ""}],
     "canonical": '{"catalogue":"' + B + '","site_rules":[{"category":"necessary",'
                  '"kind":"storage","pattern":"cart"}]}'},
    {"name": "non-ASCII as \\u escapes (astral as a surrogate pair), quotes and backslashes "
             "escaped, slashes not",
     "catalogue": B,
     "rules": [{"kind": "storage", "pattern": "k\"\\/å*", "category": "preferences",
                "service": "Vår tjänst 🍪"}],
     "canonical": '{"catalogue":"' + B + '","site_rules":[{"category":"preferences",'
                  '"kind":"storage","pattern":"k\\"\\\\/\\u00e5*",'
                  '"service":"V\\u00e5r tj\\u00e4nst \\ud83c\\udf6a"}]}'},
    {"name": "Unicode spaces around patterns and services trimmed (as Python's str.strip)",
     "catalogue": B,
     "rules": [{"kind": "storage", "pattern": "\u00a0key\u3000", "category": "preferences",
                "service": "\u2003Svc\u0085"},
               {"kind": "request", "pattern": "\u2028CDN.example.com\t", "category":
                "statistics", "service": "\u00a0"}],
     "canonical": '{"catalogue":"' + B + '","site_rules":[{"category":"preferences",'
                  '"kind":"storage","pattern":"key","service":"Svc"},'
                  '{"category":"statistics","kind":"request","pattern":"cdn.example.com"}]}'},
    {"name": "order kept (1 of 2)",
     "catalogue": B,
     "rules": [{"kind": "cookie", "pattern": "a*b", "category": "marketing"},
               {"kind": "cookie", "pattern": "*ab", "category": "statistics"}],
     "canonical": '{"catalogue":"' + B + '","site_rules":['
                  '{"category":"marketing","kind":"cookie","pattern":"a*b"},'
                  '{"category":"statistics","kind":"cookie","pattern":"*ab"}]}'},
    {"name": "order kept (2 of 2): the same rules the other way round differ",
     "catalogue": B,
     "rules": [{"kind": "cookie", "pattern": "*ab", "category": "statistics"},
               {"kind": "cookie", "pattern": "a*b", "category": "marketing"}],
     "canonical": '{"catalogue":"' + B + '","site_rules":['
                  '{"category":"statistics","kind":"cookie","pattern":"*ab"},'
                  '{"category":"marketing","kind":"cookie","pattern":"a*b"}]}'},
]


def main() -> None:
    for v in VECTORS:
        v["version"] = hashlib.sha256(v["canonical"].encode("ascii")).hexdigest()
    doc = {"definition": "version = hex sha256 of the canonical JSON (keys sorted, no "
                         "whitespace, non-ASCII as \\uXXXX, '/' not escaped) of "
                         "{\"catalogue\": <sha256 hex of services.json>, \"site_rules\": "
                         "<the rules, normalised, in their order>}; docs/catalogue.md",
           "vectors": VECTORS}
    path = Path(__file__).with_name("ruleset.json")
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
