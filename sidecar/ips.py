"""What is kept of a visitor's IP address: the stored form (SP_IP_STORAGE) and the keyed
fingerprint by which an erasure finds a visitor's records by exact address."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

IP_FP_CONTEXT = b"secure-privacy/ip-fingerprint/v1\n"


def stored_ip(ip: str, mode: str) -> str | None:
    """The IP as SP_IP_STORAGE keeps it: full, truncated (IPv4 /24, IPv6 /48) or none."""
    if mode == "none":
        return None
    if mode == "truncated":
        addr = ipaddress.ip_address(ip)
        bits = 24 if addr.version == 4 else 48
        return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False).network_address)
    return ip


def canonical_ip(ip: str) -> str:
    addr = ipaddress.ip_address(ip)
    if addr.version == 6 and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.compressed


def ip_fingerprints(ip: str, keys: list[bytes]) -> list[str]:
    """The keyed fingerprint of the full address `ip` under each ledger key (newest last):
    HMAC-SHA256 of its canonical form. Only the sidecar holds the keys, so the fingerprint
    cannot be reversed by trying the 2^32 IPv4 addresses with database access alone."""
    raw = IP_FP_CONTEXT + canonical_ip(ip).encode()
    return [hmac.new(k, raw, hashlib.sha256).hexdigest() for k in keys]


def ip_fingerprint(ip: str, mode: str, keys: list[bytes]) -> str | None:
    """What a new record keeps to be found by its exact IP: the newest key's fingerprint,
    or None in `none` mode (nothing derived from the address is kept at all)."""
    return None if mode == "none" else ip_fingerprints(ip, keys[-1:])[0]
