"""gunicorn's HTTP/1 response, sending the status line and headers together with the first
body bytes: one `send` per ordinary response instead of two.

Every consent is one small request and one small answer (docs/api.md §4.1). gunicorn writes
the header block and the body with two `sendall` calls; on loopback, and for any proxy in
front of the sidecar, each send is a system call that also wakes the receiver. Sampled with
py-spy under the ingest bench, the header send was about a seventh of a gunicorn worker's
samples; joining the two saves that system call (its effect on the whole bench was within the
run-to-run noise, bench/README.md).

What goes on the wire is byte for byte what gunicorn's own Response sends, in the same order
(tests/test_http_response.py compares the two): only the number of sends changes. Headers are
held back only while `write()` runs, so every other way gunicorn finishes a response (an
empty body at `close()`, `sendfile`, 103 Early Hints, HEAD and 204) sends them as before.
Installed in each gunicorn worker by sidecar/gunicorn_conf.py (`post_worker_init`).
"""

from __future__ import annotations

from gunicorn.http import wsgi


class _Collect:
    """Stands in for the socket while the header block is built: keeps what would be sent."""

    __slots__ = ("data",)

    def __init__(self):
        self.data: list[bytes] = []

    def sendall(self, data) -> None:
        self.data.append(bytes(data))


class OneWriteResponse(wsgi.Response):
    # The header block held back during write(), sent with the first body bytes; None
    # outside write() (headers then go out at once, as gunicorn sends them).
    _held: list[bytes] | None = None

    def send_headers(self):
        if self._held is None or self.headers_sent:
            return super().send_headers()
        sock, self.sock = self.sock, _Collect()
        try:
            super().send_headers()
        finally:
            collected, self.sock = self.sock, sock
            self._held.extend(collected.data)

    def write(self, arg):
        if self.headers_sent:
            return super().write(arg)
        self._held = []
        try:
            return super().write(arg)
        finally:
            held, self._held = self._held, None
            if held:  # no body bytes took them along (nothing to send, or an error)
                self.sock.sendall(b"".join(held))

    def _emit_body(self, data):
        if self._held:
            head = b"".join(self._held)
            self._held.clear()
            if not self.chunked:
                self.sock.sendall(head + data)
                return
            self.sock.sendall(head)
        super()._emit_body(data)


def install() -> None:
    """Make gunicorn build OneWriteResponse for HTTP/1 requests in this process."""
    wsgi.Response = OneWriteResponse
