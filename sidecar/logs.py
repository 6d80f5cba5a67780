"""Structured JSON logs: one line per request (no secrets, no tokens, no bodies)."""

from __future__ import annotations

import json
import logging
import sys
import time

from flask import Flask, g, request

from . import metrics

log = logging.getLogger("sidecar.access")


_LINE = json.JSONEncoder(separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    _second, _stamp = -1, ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # one strftime per second, not per line
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
            self._second = second
        entry = {"ts": self._stamp, "level": record.levelname.lower(), "logger": record.name,
                 "msg": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _LINE.encode(entry)


def setup_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_sp", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._sp = True
    root.addHandler(handler)
    root.setLevel(level)


def init_app(app: Flask) -> None:
    setup_logging()

    @app.before_request
    def _start():
        g.t0 = time.perf_counter()

    @app.after_request
    def _line(resp):
        ms = (time.perf_counter() - g.get("t0", time.perf_counter())) * 1000
        request_line(request.method, request.path, resp.status_code, ms, g.get("error_code"))
        return resp


def request_line(method: str, path: str, status: int, ms: float, error: str | None) -> None:
    """The request's log line and its metrics (Flask's views and the ingest fast path)."""
    fields = {"method": method, "path": path, "status": status, "ms": round(ms, 2)}
    if error:
        fields["error"] = error
        metrics.ERRORS.labels(error).inc()
    metrics.child(metrics.REQUESTS, f"{status // 100}xx").inc()
    if log.isEnabledFor(logging.INFO):
        # makeRecord + handle: Logger.info would also walk the stack for the caller's file and
        # line, which the JSON line does not show.
        log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, "request", None, None,
                                  extra={"fields": fields}))
