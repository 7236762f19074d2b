"""Webhook delivery against a real local HTTP receiver that fails on purpose: 500 twice then 200,
a timeout then 200, a 400 never retried, a 503 until the attempts run out, a redirect, an
oversized answer. The receiver checks every signature itself and counts what it accepted."""

import datetime as dt
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dt_platform.twin import db
from dt_platform.twin.alarms import Condition, sync_alarms
from dt_platform.twin.webhooks import (
    DELIVERED_KEEP_DAYS,
    RetryPolicy,
    WebhookError,
    deliver_due,
    outbox,
    sign,
    verify_webhook,
    webhook_targets,
)

SECRET = "test-secret-Zq8"
T0 = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
POLICY = RetryPolicy(max_attempts=8, base_s=30, cap_s=3600, timeout_s=0.5)


class Receiver:
    """A webhook receiver: each path answers from a script (status codes, ``"sleep"``), then
    200; it verifies signatures and accepts each idempotency key once."""

    def __init__(self, scripts: dict[str, list]):
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.requests: list[dict] = []
        self.accepted: dict[str, int] = {}
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": self.headers, "body": body})
                step = receiver.scripts.get(self.path, [])
                action = step.pop(0) if step else 200
                if action == "sleep":  # answer only after the client gave up
                    receiver.release.wait(30)
                    return self._answer(200, b"too late")
                if action == "big":
                    return self._answer(200, b"x" * 1_000_000)
                if action == 302:
                    self.send_response(302)
                    self.send_header("Location", "http://elsewhere.invalid/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if action == 200:
                    if not verify_webhook(body, self.headers.get("X-DT-Signature"), SECRET):
                        return self._answer(401, b"bad signature")
                    key = (self.path, self.headers["X-DT-Idempotency-Key"])
                    receiver.accepted[key] = receiver.accepted.get(key, 0) + 1
                return self._answer(action, b"ok" if action == 200 else b"failed on purpose")

            def _answer(self, status, payload):
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "600")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def on(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    rx = Receiver(
        {
            "/flaky": [500, 500, 200],
            "/slow": ["sleep", 200],
            "/bad": [400],
            "/down": [503] * 10,
            "/busy": [429, 200],
            "/moved": [302],
            "/big": ["big"],
        }
    )
    yield rx
    rx.close()


def _queue(path, urls):
    con = db.connect(path)
    cond = Condition("CNC-01", "rul_risk", "critical", T0, {"probability": 0.93})
    sync_alarms(con, [cond], [], T0, kinds=["rul_risk"], webhook_urls=urls)
    return con


def _by_url(con):
    return {item.url: item for item in outbox(con)}


def test_retries_back_off_until_delivered_once_and_survive_a_restart(receiver, tmp_path):
    store = tmp_path / "twin.sqlite"
    flaky, slow, bad = receiver.url("/flaky"), receiver.url("/slow"), receiver.url("/bad")
    con = _queue(store, [flaky, slow, bad])
    rng = random.Random(7)
    clock, passes = T0, []
    for _ in range(6):
        report = deliver_due(con, clock, secret=SECRET, policy=POLICY, rng=rng)
        passes.append((clock, {a.outbox_id: a for a in report.attempts}))
        con.close()  # every pass on a freshly opened store: the schedule is on disk
        con = db.connect(store)
        pending = [i for i in outbox(con) if i.status == "pending"]
        if not pending:
            break
        # nothing is sent before it is due
        early = min(i.next_attempt_at for i in pending) - dt.timedelta(seconds=1)
        assert deliver_due(con, early, secret=SECRET, policy=POLICY).attempts == []
        clock = min(i.next_attempt_at for i in pending)
    items = _by_url(con)
    assert (items[flaky].status, items[flaky].attempts) == ("delivered", 3)
    assert (items[slow].status, items[slow].attempts) == ("delivered", 2)
    assert (items[bad].status, items[bad].attempts, items[bad].last_status) == ("dead", 1, 400)
    assert "HTTP 400: failed on purpose" in items[bad].last_error
    assert len(receiver.on("/bad")) == 1  # a 400 is never retried
    # the timed-out attempt was recorded as such
    slow_first = passes[0][1][items[slow].outbox_id]
    assert slow_first.outcome == "retry" and "timed out" in slow_first.error.lower()

    flaky_hits = receiver.on("/flaky")
    assert len(flaky_hits) == 3
    keys = {h["headers"]["X-DT-Idempotency-Key"] for h in flaky_hits}
    assert keys == {items[flaky].event_key}  # the same key on every retry
    assert len({h["body"] for h in flaky_hits}) == 1  # and the same bytes
    for hit in receiver.requests:
        assert verify_webhook(hit["body"], hit["headers"]["X-DT-Signature"], SECRET)
        assert not verify_webhook(hit["body"], hit["headers"]["X-DT-Signature"], "other")
    assert [h["headers"]["X-DT-Delivery-Attempt"] for h in flaky_hits] == ["1", "2", "3"]
    stamps = [int(h["headers"]["X-DT-Timestamp"]) for h in flaky_hits]
    assert stamps == [int(c.timestamp()) for c, p in passes if items[flaky].outbox_id in p]
    # delivered exactly once as each receiver sees it, whatever the retries
    key = items[flaky].event_key
    assert receiver.accepted == {("/flaky", key): 1, ("/slow", key): 1}

    # the backoff grows from one failed attempt of /flaky to the next
    sent = [(c, p[items[flaky].outbox_id]) for c, p in passes if items[flaky].outbox_id in p]
    delays = [(a.next_attempt_at - c).total_seconds() for c, a in sent if a.outcome == "retry"]
    assert len(delays) == 2 and 15 <= delays[0] <= 30 <= delays[1] <= 60

    body = json.loads(flaky_hits[0]["body"])
    assert body["type"] == "alarm.opened" and body["alarm"]["machine_id"] == "CNC-01"
    assert body["event"]["event_key"] == items[flaky].event_key
    assert flaky_hits[0]["headers"]["Content-Type"] == "application/json"
    assert SECRET.encode() not in store.read_bytes()  # the secret is never stored


def test_delivered_rows_are_removed_after_their_retention_and_dead_ones_kept(receiver, tmp_path):
    con = _queue(tmp_path / "twin.sqlite", [receiver.url("/ok"), receiver.url("/bad")])
    first = deliver_due(con, T0, secret=SECRET, policy=POLICY)
    assert sorted(a.outcome for a in first.attempts) == ["dead", "delivered"]
    assert first.pruned == 0
    keep = dt.timedelta(days=DELIVERED_KEEP_DAYS)
    # kept until the retention has passed, to the microsecond
    assert deliver_due(con, T0 + keep, secret=SECRET, policy=POLICY).pruned == 0
    assert {i.status for i in outbox(con)} == {"delivered", "dead"}
    later = deliver_due(con, T0 + keep + dt.timedelta(microseconds=1), secret=SECRET, policy=POLICY)
    assert later.pruned == 1 and later.attempts == []
    (dead,) = outbox(con)
    assert (dead.status, dead.last_status) == ("dead", 400)
    assert len(receiver.on("/ok")) == 1  # removing the row sends nothing again


def test_gives_up_after_the_last_attempt_keeping_the_last_error(receiver, tmp_path):
    con = _queue(tmp_path / "twin.sqlite", [receiver.url("/down")])
    policy = RetryPolicy(max_attempts=3, base_s=10, cap_s=3600, timeout_s=2)
    clock = T0
    outcomes = []
    for _ in range(5):
        report = deliver_due(con, clock, secret=SECRET, policy=policy, rng=random.Random(1))
        outcomes += [a.outcome for a in report.attempts]
        (item,) = outbox(con)
        clock = item.next_attempt_at
    assert outcomes == ["retry", "retry", "dead"]
    assert (item.status, item.attempts, item.last_status) == ("dead", 3, 503)
    assert "HTTP 503" in item.last_error and len(receiver.on("/down")) == 3


def test_retry_after_a_redirect_and_an_oversized_answer(receiver, tmp_path):
    busy, moved, big = receiver.url("/busy"), receiver.url("/moved"), receiver.url("/big")
    con = _queue(tmp_path / "twin.sqlite", [busy, moved, big])
    report = deliver_due(con, T0, secret=SECRET, policy=POLICY, rng=random.Random(3))
    by_id = {a.outbox_id: a for a in report.attempts}
    items = _by_url(con)
    # 429 is retried, no sooner than its Retry-After (600 s > the 30 s backoff)
    assert by_id[items[busy].outbox_id].outcome == "retry"
    assert items[busy].next_attempt_at == T0 + dt.timedelta(seconds=600)
    # a redirect is not followed (signed data goes only where configured) and not retried
    assert items[moved].status == "dead" and "redirect" in items[moved].last_error
    assert receiver.on("/moved") and not [r for r in receiver.requests if "elsewhere" in r["path"]]
    # a 2xx with a megabyte of body is delivered; the body was not read past the bound
    assert items[big].status == "delivered"


def test_nothing_is_sent_unsigned_and_targets_are_checked(tmp_path):
    con = _queue(tmp_path / "twin.sqlite", ["http://127.0.0.1:9/x"])
    with pytest.raises(WebhookError, match="never sent unsigned"):
        deliver_due(con, T0, secret=None)
    assert webhook_targets(" http://a/x, ,https://b/y,http://a/x ") == ["http://a/x", "https://b/y"]
    assert webhook_targets(None) == []
    with pytest.raises(WebhookError, match="not an http"):
        webhook_targets("ftp://a/x")


def test_a_connection_refused_is_retried(tmp_path):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        port = probe.server_port  # closed again when the block ends: nothing listens there
    con = _queue(tmp_path / "twin.sqlite", [f"http://127.0.0.1:{port}/gone"])
    (attempt,) = deliver_due(con, T0, secret=SECRET, policy=POLICY).attempts
    assert attempt.outcome == "retry" and attempt.status is None and "refused" in attempt.error


def test_signature_is_the_hmac_of_the_exact_body():
    body = b'{"a":1}'
    header = sign(body, SECRET)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_webhook(body, header, SECRET)
    assert not verify_webhook(b'{"a": 1}', header, SECRET)  # re-encoded JSON does not verify
    assert not verify_webhook(body, None, SECRET) and not verify_webhook(body, header, "")


def test_the_backoff_schedule_grows_until_it_reaches_the_cap():
    policy = RetryPolicy(base_s=30, cap_s=600)
    for seed in range(50):
        rng = random.Random(seed)
        delays = [policy.delay_s(n, rng) for n in range(1, 9)]
        doubling = [n for n in range(1, 8) if 30 * 2**n <= 600]  # d(n+1) = 2 d(n), uncapped
        assert doubling == [1, 2, 3, 4]
        assert all(delays[n] >= delays[n - 1] for n in doubling)
        assert 15 <= delays[0] <= 30 and all(300 <= d <= 600 for d in delays[5:])
    with pytest.raises(WebhookError):
        RetryPolicy(max_attempts=0)
