"""Write tests/vectors/urls.json: the page URL rule's vectors, read by tests/test_urls.py
(sidecar/urls.py) and tests/php/UrlRuleTest.php (wp-plugin/includes/url.php). The
expectations are written here by hand, not computed by either implementation.

    python tests/vectors/make_url_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path

RULE = (
    "A page_url is what a browser's location.href gives: at most 2048 characters of printable "
    "ASCII (0x21-0x7E) except backslash; 'http://' or 'https://' (any case); an authority up "
    "to the first '/', '?' or '#' with no userinfo, made of a host and an optional ':port' "
    "(1-65535, no leading zeros); the host a DNS name (LDH labels of 1-63 characters, no "
    "leading or trailing hyphen, at most 253 characters, one optional trailing dot, last "
    "label not all digits; punycode labels allowed), a dotted IPv4 address (four numbers "
    "0-255, no leading zeros) or a bracketed IPv6 address (hex groups of 1-4 digits, one "
    "optional '::', optionally ending in a dotted IPv4 address, no zone id). Path, query and "
    "fragment may hold any of the allowed characters. See sidecar/urls.py and "
    "wp-plugin/includes/url.php.")

LONG_OK = "http://site.test/" + "a" * (2048 - len("http://site.test/"))

VALID = [
    "http://site.test/",
    "https://site.test/about/?utm_source=x&gclid=abc#top",
    "http://site.test",
    "HTTP://SITE.TEST/",
    "HtTpS://Example.COM/Path",
    "http://site.test?x=1",
    "http://site.test#frag",
    "http://localhost/",
    "http://localhost:8080/wp/?p=1",
    "http://127.0.0.1:8080/",
    "http://0.0.0.0/",
    "http://255.255.255.255/",
    "http://[::1]/",
    "http://[::1]:8080/x",
    "http://[2001:db8::1]/",
    "http://[2001:DB8:0:0:0:0:0:1]/",
    "http://[::]/",
    "http://[1::]/",
    "http://[1:2:3:4:5:6:7::]/",
    "http://[::ffff:192.0.2.1]/",
    "http://[64:ff9b::192.0.2.33]/",
    "http://[1:2:3:4:5:6:1.2.3.4]/",
    "http://xn--bcher-kva.example/",
    "http://xn--nxasmq6b.xn--jxalpdlp/",
    "http://a-b.c-d.example/",
    "http://example.com./",
    "http://1a.example/",
    "http://example.123a/",
    "http://site.test:1/",
    "http://site.test:65535/",
    "http://site.test/%E2%82%AC/%20?q=%C3%A5#%F0%9F%98%80",
    "http://site.test/a|b^c{d}e`f'g\"h<i>j",
    "http://site.test/%zz%",
    "http://site.test/@user",
    "http://site.test/?next=http://other.test/",
    "http://site.test/a:b/c",
    "http://" + "a" * 63 + ".test/",
    "http://" + ".".join(["a" * 63] * 3) + "." + "b" * 61 + "/",
    LONG_OK,
]

INVALID = [
    ("http://[x]/", "bracketed host that is not IPv6 (audit F1)"),
    ("http://[::1/", "unclosed bracket (audit F1)"),
    ("http://a\u2100b/", "non-ASCII host (audit F1)"),
    ("http://[::1]]/", "stray bracket"),
    ("http://[]/", "empty brackets"),
    ("http://[::1%eth0]/", "IPv6 zone id"),
    ("http://[::1%25eth0]/", "IPv6 zone id, encoded"),
    ("http://[1:2:3:4:5:6:7:8:9]/", "nine groups"),
    ("http://[1:2:3:4:5:6:7:8::]/", "eight groups and ::"),
    ("http://[1::2::3]/", "two ::"),
    ("http://[12345::]/", "group of five digits"),
    ("http://[g::]/", "not hex"),
    ("http://[:1]/", "single leading colon"),
    ("http://[1:]/", "single trailing colon"),
    ("http://[:::]/", "three colons"),
    ("http://[::1.2.3.256]/", "embedded IPv4 out of range"),
    ("http://[::01.2.3.4]/", "embedded IPv4 with a leading zero"),
    ("http://[1.2.3.4]/", "bracketed IPv4"),
    ("http://[1:2:3:4:5:6:7:1.2.3.4]/", "too many groups before an embedded IPv4"),
    ("http://[::1]x/", "junk after the brackets"),
    ("http://[::1]:/", "empty port after IPv6"),
    ("http://::1/", "unbracketed IPv6"),
    ("http://site.test:0/", "port 0"),
    ("http://site.test:65536/", "port above 65535"),
    ("http://site.test:99999999999999999999/", "huge port"),
    ("http://site.test:080/", "port with a leading zero"),
    ("http://site.test:/", "empty port"),
    ("http://site.test:8a/", "port not a number"),
    ("http://site.test:1:2/", "two ports"),
    ("http://user@site.test/", "userinfo"),
    ("http://user:pass@site.test/", "userinfo with password"),
    ("http://@site.test/", "empty userinfo"),
    ("http://site.test@evil.test/", "userinfo hiding the real host"),
    ("http:///path", "no host"),
    ("http://", "nothing after the scheme"),
    ("http://:80/", "port without host"),
    ("http:/site.test/", "one slash"),
    ("http:site.test", "no slashes"),
    ("//site.test/", "scheme-relative"),
    ("/about/", "relative"),
    ("site.test/about", "no scheme"),
    ("ftp://site.test/", "not http(s)"),
    ("javascript://site.test/%0Aalert(1)", "not http(s)"),
    ("file:///etc/passwd", "not http(s)"),
    ("data:text/html,hi", "not http(s)"),
    ("httpx://site.test/", "not http(s)"),
    (" http://site.test/", "leading space"),
    ("http://site.test/ ", "trailing space"),
    ("http://site.test/a b", "space in the path"),
    ("http://site.test/\t", "tab"),
    ("http://site.test/\n", "newline"),
    ("http://site.test/\r\nX-Injected: 1", "CRLF"),
    ("http://site.test/\x00", "NUL"),
    ("http://site.test/\x7f", "DEL"),
    ("http://site.test/\x1b[31m", "escape"),
    ("http://site.test\\@evil.test/", "backslash"),
    ("http:\\\\site.test\\", "backslashes as slashes"),
    ("http://site.test/\u00e5", "non-ASCII path (browsers percent-encode it)"),
    ("http://b\u00fccher.example/", "non-ASCII host (browsers punycode it)"),
    ("http://site.test/\u2028", "Unicode line separator"),
    ("http://site.test/\ufeff", "byte-order mark"),
    ("http://site.test/\u00a0", "no-break space"),
    ("http://\uff53ite.test/", "full-width letter"),
    ("http://site.test/\U0001F600", "emoji"),
    ("http://-site.test/", "label starting with a hyphen"),
    ("http://site-.test/", "label ending with a hyphen"),
    ("http://si_te.test/", "underscore in the host"),
    ("http://site..test/", "empty label"),
    ("http://.site.test/", "leading dot"),
    ("http://site.test../", "two trailing dots"),
    ("http://./", "only a dot"),
    ("http://" + "a" * 64 + ".test/", "label of 64 characters"),
    ("http://" + ".".join(["a" * 63] * 4) + "/", "host of 255 characters"),
    ("http://999.1.1.1/", "IPv4 octet above 255"),
    ("http://1.2.3/", "three-part numeric host"),
    ("http://1.2.3.4.5/", "five-part numeric host"),
    ("http://01.2.3.4/", "IPv4 with a leading zero"),
    ("http://0x7f.0.0.1/", "hex IPv4 part"),
    ("http://2130706433/", "IPv4 as one number"),
    ("http://example.123/", "all-digit top label"),
    ("http://site.test%2F/", "percent sign in the host"),
    ("http://site.test%00.evil/", "encoded NUL in the host"),
    ("http://si%74e.test/", "percent-encoded host"),
    ("http://site.test;x/", "semicolon in the host"),
    ("http://site.test,x/", "comma in the host"),
    ("http://<script>/", "angle brackets in the host"),
    ("http://site.test\"/", "quote in the host"),
    ("", "empty"),
    (LONG_OK + "a", "2049 characters"),
    ("http://site.test/" + "[" * 15000, "15 KB of ["),
]


def main() -> None:
    out = {
        "rule": RULE,
        "max_length": 2048,
        "valid": VALID,
        "invalid": [{"url": u, "why": why} for u, why in INVALID],
        "not_strings": [None, 1, 1.5, True, [], {}, ["http://site.test/"]],
    }
    path = Path(__file__).with_name("urls.json")
    path.write_text(json.dumps(out, indent=1, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
