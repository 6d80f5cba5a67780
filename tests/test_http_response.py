"""The sidecar's gunicorn response (sidecar/http_response.py): the same bytes as gunicorn's
own Response in every case, in one send for an ordinary response with a body."""

from __future__ import annotations

import pytest
from gunicorn.config import Config
from gunicorn.http import wsgi

from sidecar import gunicorn_conf, http_response
from sidecar.http_response import OneWriteResponse


class Sock:
    def __init__(self):
        self.sends: list[bytes] = []

    def sendall(self, data):
        self.sends.append(bytes(data))

    @property
    def wire(self) -> bytes:
        return b"".join(self.sends)


class Req:
    def __init__(self, method="POST", version=(1, 1), close=False):
        self.method, self.version, self._close = method, version, close

    def should_close(self):
        return self._close


def run(cls, req, status, headers, chunks, close_only=False):
    """Serve one response as gunicorn's workers do: start_response, write each chunk, close."""
    sock = Sock()
    resp = cls(req, sock, Config())
    resp.start_response(status, headers)
    error = None
    try:
        for chunk in chunks:
            resp.write(chunk)
    except Exception as e:  # noqa: BLE001 - compared between the two classes
        error = type(e)
    resp.close()
    return sock, error


CASES = {
    "small JSON answer": (Req(), "201 Created",
                          [("Content-Type", "application/json"), ("Content-Length", "12")],
                          [b'{"id":"x"}\n\n']),
    "streamed, chunked": (Req(method="GET"), "200 OK", [("Content-Type", "text/csv")],
                          [b"a,b\n", b"1,2\n", b""]),
    "HTTP/1.0, no length": (Req(version=(1, 0)), "200 OK", [("Content-Type", "text/plain")],
                            [b"hello", b" world"]),
    "HEAD": (Req(method="HEAD"), "200 OK", [("Content-Length", "5")], [b"hello"]),
    "204, no body": (Req(method="DELETE"), "204 No Content", [], []),
    "body longer than its length": (Req(), "200 OK", [("Content-Length", "3")], [b"abcdef", b"x"]),
    "not bytes": (Req(), "200 OK", [("Content-Length", "3")], ["abc"]),
    "client asked to close": (Req(close=True), "422 Unprocessable Entity",
                              [("Content-Length", "2")], [b"{}"]),
}


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setattr(wsgi.util, "http_date", lambda *a: "Mon, 30 Nov 2026 02:00:00 GMT")


@pytest.mark.parametrize("case", CASES)
def test_the_bytes_on_the_wire_are_gunicorns_own(case):
    theirs, their_error = run(wsgi.Response, *CASES[case])
    ours, our_error = run(OneWriteResponse, *CASES[case])
    assert ours.wire == theirs.wire and ours.wire.startswith(b"HTTP/1.")
    assert our_error is their_error


def test_an_answer_with_a_body_goes_out_in_one_send_headers_first():
    theirs, _ = run(wsgi.Response, *CASES["small JSON answer"])
    ours, _ = run(OneWriteResponse, *CASES["small JSON answer"])
    assert len(theirs.sends) == 2  # what this saves
    assert len(ours.sends) == 1
    assert ours.sends[0].startswith(b"HTTP/1.1 201 Created\r\n")
    assert ours.sends[0].endswith(b'\r\n\r\n{"id":"x"}\n\n')


def test_a_stream_sends_its_later_chunks_as_they_come():
    ours, _ = run(OneWriteResponse, *CASES["streamed, chunked"])
    # head with its chunk framing, then each chunk, then the terminator: never held back.
    assert len(ours.sends) >= 4 and ours.sends[-1] == b"0\r\n\r\n"


def test_gunicorn_workers_use_it(monkeypatch):
    monkeypatch.setattr(wsgi, "Response", wsgi.Response)  # restored after the test
    assert wsgi.Response is not OneWriteResponse
    gunicorn_conf.post_worker_init(None)
    # wsgi.create() builds the module's Response for every HTTP/1 request.
    assert wsgi.create.__globals__["Response"] is OneWriteResponse
    assert http_response.wsgi is wsgi
