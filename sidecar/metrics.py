"""Prometheus metrics (`GET /metrics`): ingest count and latency, errors by code, HTTP
requests by status, and — read from the database at scrape time — the screenshot queue
depth and the number of records not yet sealed into the ledger.

Under gunicorn each worker is its own process: set PROMETHEUS_MULTIPROC_DIR to an empty
directory shared by the workers (scripts/stack.py does) and `/metrics` adds them all up.

Who may scrape (issue 10, F16): a process on this host (a loopback peer, not relayed by a
proxy) without a token; anyone else with `Authorization: Bearer <token>`, a token of
SP_METRICS_TOKENS (or of SP_ADMIN_TOKENS).
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .errors import ApiError

INGEST = Counter("sp_ingest_total", "Consent events ingested", ["result"])
INGEST_SECONDS = Histogram("sp_ingest_seconds", "Time to verify and durably store a consent",
                           buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
INGEST_BATCH = Histogram("sp_ingest_batch_size", "Consents written per commit (group commit)",
                         buckets=(1, 2, 4, 8, 16, 32, 64))
ERRORS = Counter("sp_errors_total", "Error responses by error code", ["code"])
REQUESTS = Counter("sp_http_requests_total", "HTTP requests by status class", ["status"])

bp = Blueprint("metrics", __name__)
_children: dict = {}


def child(metric, *labels):
    """`metric.labels(*labels)`, looked up once (the hot path counts every request; labels()
    validates and locks each time). A child kept across a fork is fine: multiprocess values
    notice the new pid themselves."""
    key = (id(metric), labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


class DatabaseCollector:
    """Gauges read from the site's database when scraped."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from . import jobs, records
        from .db import get_db, tables
        depth = GaugeMetricFamily("sp_screenshot_queue_depth", "Render jobs queued or running")
        unsealed = GaugeMetricFamily("sp_ledger_unsealed", "Records not yet sealed into the chain")
        with self.app.app_context():
            conn = get_db()
            depth.add_metric([], jobs.queue_depth(conn, tables()))
            unsealed.add_metric([], records.unsealed_count(conn, tables()))
        yield depth
        yield unsealed


# A proxy on this host connects from loopback; any of these says it relays someone else.
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP", "X-Forwarded-Host")


def _from_this_host() -> bool:
    if any(h in request.headers for h in PROXY_HEADERS):
        return False
    try:
        peer = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:  # e.g. a unix socket: cannot tell who is behind it
        return False
    mapped = getattr(peer, "ipv4_mapped", None)
    return (mapped or peer).is_loopback


@bp.before_request
def require_scraper():
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.startswith("Bearer ") else ""
    if given:
        tokens = [t.strip() for t in current_app.config.get("SP_METRICS_TOKENS", "").split(",")
                  if t.strip()] + current_app.config["ADMIN_TOKENS"]
        if any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens):
            return
        raise ApiError(403, "forbidden", "The bearer token is not valid for /metrics")
    if not _from_this_host():
        raise ApiError(401, "unauthorized",
                       "/metrics needs a bearer token (SP_METRICS_TOKENS) from another host")


@bp.get("/metrics")
def metrics():
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every gunicorn worker's counters, summed
    else:
        for metric in (INGEST, INGEST_SECONDS, INGEST_BATCH, ERRORS, REQUESTS):
            registry.register(metric)
    registry.register(DatabaseCollector(current_app._get_current_object()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
