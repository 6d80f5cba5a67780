"""Who gets the egress proxy's credential when a local browser is primed over DevTools
(`browser.BrowserTarget.prime_proxy_auth`, docs/grid.md), with the browser's DevTools
WebSocket faked: only a challenge that says it comes from a proxy, for the priming URL,
right after the egress itself sent a 407, is answered, and only once. The real browser and
proxy are in tests/e2e/test_egress_auth.py."""

from __future__ import annotations

import json

import pytest

from sidecar import browser
from sidecar.egress import PRIME_URL

SECRET = "s3cret-not-for-sites"


class FakeEgress:
    def __init__(self, challenged: bool):
        self.credentials = ("sp-egress", SECRET)
        self.primed = 0
        self.url = "http://127.0.0.1:3128"
        self.challenged = challenged
        self.asked: list[str] = []

    def take_challenge(self, url: str) -> bool:
        self.asked.append(url)
        return self.challenged


class FakeSocket:
    """Answers each command; on Runtime.evaluate (the page's fetch) it first sends the
    interception events the test gives, then the fetch's outcome."""

    def __init__(self, egress: FakeEgress, challenges: list[dict]):
        self.egress, self.challenges = egress, challenges
        self.sent: list[dict] = []
        self.inbox: list[dict] = []
        self.timeout = 10.0

    def gettimeout(self):
        return self.timeout

    def settimeout(self, value):
        self.timeout = value

    def send(self, text: str) -> None:
        msg = json.loads(text)
        self.sent.append(msg)
        method, mid = msg["method"], msg["id"]
        if method == "Target.attachToTarget":
            self.inbox.append({"id": mid, "result": {"sessionId": "S1"}})
        elif method == "Runtime.evaluate":
            self.inbox.append({"sessionId": "S1", "method": "Fetch.requestPaused",
                               "params": {"requestId": "r1", "request": {"url": PRIME_URL}}})
            for i, challenge in enumerate(self.challenges):
                self.inbox.append({"sessionId": challenge.pop("session", "S1"),
                                   "method": "Fetch.authRequired",
                                   "params": {"requestId": f"a{i}", "request": {
                                       "url": challenge.pop("url", PRIME_URL)},
                                       "authChallenge": challenge}})
            self.inbox.append({"id": mid, "result": {"result": {"type": "string",
                                                                "value": "ok"}}})
        elif method == "Fetch.continueWithAuth":
            answer = msg["params"]["authChallengeResponse"]
            if answer["response"] == "ProvideCredentials":
                self.egress.primed += 1  # the proxy let the retried request in
        elif "id" in msg and method not in ("Fetch.continueRequest",):
            self.inbox.append({"id": mid, "result": {}})

    def recv(self) -> str:
        return json.dumps(self.inbox.pop(0))

    def answers(self) -> list[dict]:
        return [m["params"]["authChallengeResponse"] for m in self.sent
                if m["method"] == "Fetch.continueWithAuth"]


def primed_target(egress, challenges):
    target = object.__new__(browser.BrowserTarget)  # no browser: the socket is faked
    target._json, target.timeout, target.next_id = json, 10.0, 0
    target.ws = FakeSocket(egress, challenges)
    return target


def test_the_proxys_own_challenge_gets_the_credential_once():
    egress = FakeEgress(challenged=True)
    target = primed_target(egress, [{"source": "Proxy", "origin": egress.url}])
    target.prime_proxy_auth("TAB", egress)
    assert target.ws.answers() == [{"response": "ProvideCredentials",
                                    "username": "sp-egress", "password": SECRET}]
    assert egress.asked == [PRIME_URL]
    sent = {m["method"] for m in target.ws.sent}
    # only the priming URL was intercepted, and interception is off again afterwards
    enable = next(m for m in target.ws.sent if m["method"] == "Fetch.enable")
    assert enable["params"] == {"patterns": [{"urlPattern": PRIME_URL}],
                                "handleAuthRequests": True}
    assert {"Fetch.disable", "Target.detachFromTarget", "Fetch.continueRequest"} <= sent


@pytest.mark.parametrize("challenge, challenged", [
    ({"source": "Server", "origin": "http://127.0.0.1:8080"}, True),   # a site's 401
    ({"source": "Proxy", "origin": "http://127.0.0.1:3128"}, False),   # no 407 of ours
    ({"source": "Proxy", "origin": "http://127.0.0.1:3128",
      "url": "http://evil.example/login"}, True),                      # not the priming URL
], ids=["server-401", "no-407-from-the-egress", "another-url"])
def test_any_other_challenge_is_cancelled_and_priming_fails(challenge, challenged):
    egress = FakeEgress(challenged=challenged)
    target = primed_target(egress, [challenge])
    with pytest.raises(browser.BrowserSetupError, match="did not authenticate"):
        target.prime_proxy_auth("TAB", egress)
    assert target.ws.answers() == [{"response": "CancelAuth"}]
    assert SECRET not in json.dumps(target.ws.sent)


def test_a_second_challenge_is_cancelled():
    egress = FakeEgress(challenged=True)
    target = primed_target(egress, [{"source": "Proxy"}, {"source": "Proxy"}])
    target.prime_proxy_auth("TAB", egress)
    assert [a["response"] for a in target.ws.answers()] == ["ProvideCredentials",
                                                             "CancelAuth"]


def test_another_sessions_challenge_is_not_answered():
    egress = FakeEgress(challenged=True)
    target = primed_target(egress, [{"source": "Proxy", "session": "OTHER"}])
    with pytest.raises(browser.BrowserSetupError):
        target.prime_proxy_auth("TAB", egress)
    assert target.ws.answers() == []
