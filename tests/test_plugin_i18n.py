"""The plugin's translations (issue 6): the template holds every string of the PHP sources,
Swedish translates all of them, and the shipped .mo is compiled from the .po.

After changing strings: `python tests/test_plugin_i18n.py --update` regenerates the template,
merges it into each .po and compiles the .mo files; then translate what `msgattrib
--untranslated` lists and run it again."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parent.parent / "wp-plugin"
LANG = PLUGIN / "languages"
POT = LANG / "secure-privacy.pot"
KEYWORDS = ["__", "_e", "esc_html__", "esc_html_e", "esc_attr__", "esc_attr_e", "_n:1,2",
            "_x:1,2c"]
DESCRIPTION = ("Cookie consent banner with a tamper-evident consent ledger kept by the Secure "
               "Privacy sidecar.")


@pytest.fixture(autouse=True)
def _gettext_tools():
    from helpers import require_packages
    require_packages("gettext")  # xgettext, msgcat, msgfmt


def extract(out: Path) -> None:
    sources = ["secure-privacy.php"] + sorted(
        str(p.relative_to(PLUGIN)) for p in (PLUGIN / "includes").glob("*.php"))
    subprocess.run(["xgettext", "--language=PHP", "--from-code=UTF-8",
                    "--add-comments=translators:", "--sort-by-file",
                    "--package-name=Secure Privacy", "--package-version=0.1.0", "-o", str(out)]
                   + [f"--keyword={k}" for k in KEYWORDS] + sources,
                   cwd=PLUGIN, check=True, capture_output=True)


def msgids(po: Path) -> set[tuple[str, str]]:
    """(context, msgid) of every live entry of a .po/.pot, via msgcat's normalised output."""
    text = subprocess.run(["msgcat", "--no-wrap", "--no-location", str(po)], check=True,
                          capture_output=True, text=True).stdout
    out = set()
    for block in text.split("\n\n"):
        if block.lstrip().startswith("#~"):
            continue
        ctx = re.search(r'^msgctxt "(.*)"$', block, re.M)
        mid = re.search(r'^msgid "(.*)"$', block, re.M)
        if mid and mid.group(1):
            out.add((ctx.group(1) if ctx else "", mid.group(1)))
    return out


def test_the_template_has_every_string_of_the_sources():
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "fresh.pot"
        extract(fresh)
        missing = msgids(fresh) - msgids(POT)
    assert not missing, f"not in {POT.name} (run this file with --update): {sorted(missing)[:10]}"
    assert ("", DESCRIPTION) in msgids(POT)


def test_swedish_translates_every_string_and_the_mo_is_current():
    po = LANG / "secure-privacy-sv_SE.po"
    assert msgids(POT) <= msgids(po), "run this file with --update"
    stats = subprocess.run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
                           capture_output=True, text=True)
    assert stats.returncode == 0, stats.stderr
    assert "untranslated" not in stats.stderr and "fuzzy" not in stats.stderr, stats.stderr
    with tempfile.TemporaryDirectory() as tmp:
        mo = Path(tmp) / "sv.mo"
        subprocess.run(["msgfmt", "-o", str(mo), str(po)], check=True)
        assert mo.read_bytes() == (LANG / "secure-privacy-sv_SE.mo").read_bytes(), \
            "secure-privacy-sv_SE.mo is not compiled from the .po (run with --update)"


def update() -> None:
    """Regenerate the template, merge it into each .po and compile the .mo files."""
    head = POT.read_text().split("#, fuzzy")[0]
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "fresh.pot"
        extract(fresh)
        body = fresh.read_text()
    body = body[body.index("#, fuzzy"):].replace("charset=CHARSET", "charset=UTF-8")
    body = body.replace('"Report-Msgid-Bugs-To: \\n"\n',
                        '"Report-Msgid-Bugs-To: \\n"\n"X-Domain: secure-privacy\\n"\n', 1)
    POT.write_text(head + body.rstrip("\n") + "\n\n#. Description of the plugin\n"
                   f'msgid "{DESCRIPTION}"\nmsgstr ""\n')
    for po in sorted(LANG.glob("*.po")):
        subprocess.run(["msgmerge", "--quiet", "--update", "--backup=none", "--no-fuzzy-matching",
                        str(po), str(POT)], check=True)
        subprocess.run(["msgattrib", "--no-obsolete", "-o", str(po), str(po)], check=True)
        subprocess.run(["msgfmt", "-o", str(po.with_suffix(".mo")), str(po)], check=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(__doc__)
    update()
