"""Alert delivery against a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import base64
import hmac
import json
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from alerts.dispatcher import Dispatcher, Outbox
from alerts.operator import SourceNotice, render_notice
from alerts.render import AlertItem, payload, render
from alerts.smtp import SmtpConfig, SmtpSender
from alerts.webhook import signature
from bioleak.demo.images import portrait, to_bytes
from bioleak.demo.smtp import LoopbackSmtpServer, free_port
from indexer.sqlite_store import SqliteStore
from pipeline.models import Organisation
from tests.factories import make_hit, make_listing

ACME = Organisation("acme-bank", ("security@acme-bank.example", "soc@acme-bank.example"))
PIX = Organisation("pixelpay", ("soc@pixelpay.example",))


class Clock:
    """The dispatcher's idea of now, moved by the test: backoff and digests without waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def seeded_store(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "store.sqlite3")
    store.upsert_org(ACME)
    store.upsert_org(PIX)
    a, b = make_listing(1), make_listing(2)
    store.upsert_listings([a, b])
    store.upsert_hits(
        [make_hit(a, "acme-bank", "acme-1"), make_hit(b, "acme-bank", "acme-2"), make_hit(b, "pixelpay", "pix-1")]
    )
    return store


def test_one_message_per_org_then_nothing(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    with LoopbackSmtpServer() as smtp:
        dispatcher = Dispatcher(
            store, outbox=Outbox(tmp_path / "outbox"), send=SmtpSender(SmtpConfig.from_url(smtp.url)).send
        )
        first = dispatcher.run_once()
        second = dispatcher.run_once()
        received = list(smtp.received)
    assert first.hits == {"acme-bank": 2, "pixelpay": 1}
    assert second.hits == {}
    assert sorted(str(r.message["X-Bioleak-Org"]) for r in received) == ["acme-bank", "pixelpay"]
    acme = next(r for r in received if r.message["X-Bioleak-Org"] == "acme-bank")
    assert set(acme.rcpt_tos) == set(ACME.emails)
    body = acme.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "acme-1" in body and "acme-2" in body and "pix-1" not in body
    assert not any(part.get_content_maintype() == "image" for part in acme.message.walk())
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
    assert {h.alert_state for h in store.hits_for_org("acme-bank")} == {"sent"}


def test_smtp_down_leaves_hits_pending_then_delivers_once(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    port = free_port()  # nothing listens here yet
    sender = SmtpSender(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}?timeout=5"))
    clock = Clock()
    dispatcher = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=sender.send, clock=clock)
    report = dispatcher.run_once()
    assert report.sent == {} and set(report.deferred) == {"acme-bank", "pixelpay"}
    assert {h.alert_state for h in store.hits_for_org("acme-bank")} == {"pending"}

    with LoopbackSmtpServer() as smtp:
        dispatcher.send = SmtpSender(SmtpConfig.from_url(smtp.url)).send
        clock.advance(minutes=1)  # the first retry is due a minute after the failure
        assert dispatcher.run_once().hits == {"acme-bank": 2, "pixelpay": 1}
        assert dispatcher.run_once().hits == {}
        message_ids = [str(r.message["Message-ID"]) for r in smtp.received]
    assert len(message_ids) == 2 == len(set(message_ids))


def test_message_id_is_stable_for_the_same_hits(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    items = [AlertItem(h, store.get_listing(h.listing_id)) for h in store.hits_for_org("acme-bank")]
    one = render(ACME, items, sender="a@b.example", domain="x.example")
    two = render(ACME, list(reversed(items)), sender="a@b.example", domain="x.example")
    assert one["Message-ID"] == two["Message-ID"]


def test_operator_notices_of_runs_that_finish_in_the_same_second_are_both_kept(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    at = "2026-11-22T17:50:00+00:00"  # timestamps have one-second resolution
    first, second = (SourceNotice("market", run, "failing", failures, "failed", "boom", "x.log", at)
                     for run, failures in ((7, 1), (8, 2)))  # fmt: skip
    paths = {
        outbox.save(render_notice(n, to="ops@x.example", sender="b@x.example", domain="d")) for n in (first, second)
    }
    assert len(paths) == 2
    resent = render_notice(first, to="ops@x.example", sender="b@x.example", domain="d")
    assert outbox.save(resent) in paths  # a retry of the same notice is the same message


def test_scraped_html_is_escaped_in_the_html_part(tmp_path: Path) -> None:
    listing = make_listing(7, title="<script>alert(1)</script>", text='<img src=x onerror="steal()"> <b>bold</b>')
    hit = make_hit(listing, "acme-bank", "<ref&1>")
    message = render(ACME, [AlertItem(hit, listing)], sender="a@b.example", domain="x.example")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html and "<b>bold" not in html and "&lt;ref&amp;1&gt;" in html
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<script>alert(1)</script>" in text  # plain text is shown as text, never rendered


def images(message: EmailMessage | None) -> list[EmailMessage]:
    assert message is not None
    return [p for p in message.walk() if p.get_content_maintype() == "image"]


def test_thumbnails_are_attached_only_on_request(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    thumbnail = to_bytes(portrait(42).resize((120, 160)), "JPEG")
    # the crawl kept one: of acme's image on listing 1 (listing 2's image, also pixelpay's, has none)
    acme_hits = sorted(store.hits_for_org("acme-bank"), key=lambda h: h.listing_id != make_listing(1).id)
    store.put_thumbnails({acme_hits[0].image_sha256: thumbnail})
    with LoopbackSmtpServer() as smtp:
        send = SmtpSender(SmtpConfig.from_url(smtp.url)).send
        plain = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=send)
        assert plain.preview(ACME) is not None
        assert not images(plain.preview(ACME))
        attaching = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=send, attach_thumbnails=True)
        assert attaching.run_once().hits == {"acme-bank": 2, "pixelpay": 1}
        received = {str(r.message["X-Bioleak-Org"]): r.message for r in smtp.received}
    acme = received["acme-bank"]
    attachments = images(acme)
    assert [a.get_content_type() for a in attachments] == ["image/jpeg"]
    assert attachments[0].get_content() == thumbnail  # the bytes the crawl kept, unchanged
    assert attachments[0].get_filename() == f"evidence-{acme_hits[0].image_sha256[:16]}.jpg"
    text = acme.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Thumbnails of 1 matched image(s) are attached." in text
    assert not images(received["pixelpay"])  # nothing kept for its image
    assert "No leaked image is attached." in received["pixelpay"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    webhook = payload(ACME, [AlertItem(h, None, thumbnail) for h in acme_hits[:1]], "d1")
    assert base64.b64decode(webhook["findings"][0]["thumbnail_jpeg_base64"]) == thumbnail


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:587?starttls=1", SmtpConfig("mail.example", 587, starttls=True)),
        ("smtps://u%40x:p%3Ass@mail.example", SmtpConfig("mail.example", 465, "u@x", "p:ss", implicit_tls=True)),
        ("smtp://127.0.0.1", SmtpConfig("127.0.0.1", 25)),
        (
            "smtp://m.example:587?starttls=1&cafile=/etc/ca.pem&timeout=5",
            SmtpConfig("m.example", 587, starttls=True, timeout=5.0, cafile="/etc/ca.pem"),
        ),
    ],
)
def test_smtp_url_parsing(url: str, expected: SmtpConfig) -> None:
    assert SmtpConfig.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:25"])
def test_bad_smtp_urls_are_clear_errors(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL"):
        SmtpConfig.from_url(url)


def test_a_refused_recipient_does_not_stop_other_organisations(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    store.upsert_org(Organisation("acme-bank", ("nobody@invalid.example",)))
    with LoopbackSmtpServer(reject_recipients={"nobody@invalid.example"}) as smtp:
        sender = SmtpSender(SmtpConfig.from_url(smtp.url))
        report = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=sender.send).run_once()
        received = [str(r.message["X-Bioleak-Org"]) for r in smtp.received]
    assert received == ["pixelpay"]
    assert report.sent == {"pixelpay": 1}
    assert report.deferred["acme-bank"].startswith("PermanentSendError")
    # nothing is stranded in `sending`: acme-bank's hits wait for the next run
    assert {h.alert_state for h in store.hits_for_org("acme-bank")} == {"pending"}


def test_false_positives_and_already_alerted_images_are_suppressed(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    a = make_listing(1)
    [fp] = [h for h in store.hits_for_org("acme-bank") if h.registry_ref == "acme-2"]
    store.triage([fp.id], "false_positive", note="stock photo", who="ana")
    with LoopbackSmtpServer() as smtp:
        dispatcher = Dispatcher(
            store, outbox=Outbox(tmp_path / "outbox"), send=SmtpSender(SmtpConfig.from_url(smtp.url)).send
        )
        first = dispatcher.run_once()
        # a re-crawl against a changed registry matches the same image of `a` through another entry
        again = make_hit(a, "acme-bank", "acme-1-new-variant")
        store.upsert_hits([again])
        second = dispatcher.run_once()
        bodies = [r.message.get_body(("plain",)).get_content() for r in smtp.received]  # type: ignore[union-attr]
    assert first.hits == {"acme-bank": 1, "pixelpay": 1} and first.suppressed == {"acme-bank": 1}
    assert not any("acme-2" in b for b in bodies)
    assert second.hits == {} and second.suppressed == {"acme-bank": 1} and len(bodies) == 2
    assert {h.id: h.alert_state for h in store.hits_for_org("acme-bank")}[again.id] == "suppressed"
    assert {h.id: h.alert_state for h in store.hits_for_org("acme-bank")}[fp.id] == "suppressed"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A throw-away certificate for 127.0.0.1, made with the openssl command line."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_starttls_and_auth_against_a_real_server(tmp_path: Path, certificate: tuple[str, str]) -> None:
    cert, key = certificate
    store = seeded_store(tmp_path)
    with LoopbackSmtpServer(tls=(cert, key), login=("bioleak", "s3cret:pw")) as smtp:
        base = f"smtp://bioleak:{quote('s3cret:pw', safe='')}@127.0.0.1:{smtp.port}?starttls=1&timeout=10"

        clock = Clock()

        def dispatch(url: str) -> dict[str, str]:
            clock.advance(hours=2)  # past any backoff from the attempt before
            sender = SmtpSender(SmtpConfig.from_url(url))
            return (
                Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=sender.send, clock=clock).run_once().deferred
            )

        untrusted = dispatch(base)  # the server's certificate is not trusted yet
        wrong_password = dispatch(base.replace("s3cret", "guess") + f"&cafile={cert}")
        plain = dispatch(f"smtp://127.0.0.1:{smtp.port}?timeout=10")  # no STARTTLS: refused
        assert smtp.received == []
        delivered = dispatch(f"{base}&cafile={cert}")
        received = list(smtp.received)
    assert all(v.startswith("TransientSendError") and "CERTIFICATE_VERIFY_FAILED" in v for v in untrusted.values())
    assert all(v.startswith("PermanentSendError") and "535" in v for v in wrong_password.values())
    assert set(plain) == {"acme-bank", "pixelpay"}
    assert delivered == {} and sorted(str(r.message["X-Bioleak-Org"]) for r in received) == ["acme-bank", "pixelpay"]


class Receiver:
    """A webhook endpoint on 127.0.0.1 that verifies what it gets the way a receiver should."""

    def __init__(self, secret: str, statuses: list[int]) -> None:
        self.secret, self.statuses = secret, statuses
        self.deliveries: list[tuple[dict[str, str], bytes, bool]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k: v for k, v in self.headers.items() if k.lower().startswith("x-bioleak")}
                expected = signature(receiver.secret, self.headers["X-Bioleak-Timestamp"], body)
                verified = hmac.compare_digest(expected, self.headers["X-Bioleak-Signature"])
                receiver.deliveries.append((headers, body, verified))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/bioleak"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_signed_webhooks_with_retries_and_the_org_distance_limit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3")
    listing = make_listing(9, title="<b>KYC packs</b>")
    near, far = make_hit(listing, "hookbank", "near-1", distance=2), make_hit(listing, "hookbank", "far-1", distance=7)
    store.upsert_listings([listing])
    store.upsert_hits([near, far])
    with Receiver("shared-s3cret", statuses=[503]) as receiver:
        store.upsert_org(Organisation("hookbank", (), max_distance=4, webhook_url=receiver.url,
                                      webhook_secret="shared-s3cret"))  # fmt: skip
        clock = Clock()
        dispatcher = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=None, clock=clock)
        first = dispatcher.run_once()  # the receiver answers 503: try again later
        clock.advance(minutes=1)
        second = dispatcher.run_once()
        third = dispatcher.run_once()
        deliveries = list(receiver.deliveries)
    assert first.deferred["hookbank"].startswith("TransientSendError") and "503" in first.deferred["hookbank"]
    assert first.suppressed == {"hookbank": 1}  # 7 bits is beyond the org's limit of 4
    assert second.hits == {"hookbank": 1} and third.hits == {}
    assert len(deliveries) == 2 and all(verified for _, _, verified in deliveries)
    (h1, _, _), (h2, body2, _) = deliveries
    assert h1["X-Bioleak-Delivery"] == h2["X-Bioleak-Delivery"]  # the retry is recognisably the same alert
    sent = json.loads(body2)
    assert [f["ref"] for f in sent["findings"]] == ["near-1"]
    assert sent["findings"][0]["listing"]["title"] == "<b>KYC packs</b>" and sent["org"] == "hookbank"
    assert not list((tmp_path / "outbox").glob("*.eml"))  # no email addresses: no email
    assert {h.registry_ref: h.alert_state for h in store.hits_for_org("hookbank")} == {
        "near-1": "sent", "far-1": "suppressed"}  # fmt: skip
    forged = signature("wrong-secret", h2["X-Bioleak-Timestamp"], body2)
    assert forged != h2["X-Bioleak-Signature"]


def test_a_webhook_refusal_is_permanent_and_reported(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    with Receiver("k", statuses=[404]) as receiver:
        store.upsert_org(Organisation("pixelpay", (), webhook_url=receiver.url, webhook_secret="k"))
        report = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=None).run_once()
    assert report.deferred["pixelpay"].startswith("PermanentSendError") and "404" in report.deferred["pixelpay"]
    assert {h.alert_state for h in store.hits_for_org("pixelpay")} == {"pending"}


def test_a_refused_address_is_recorded_while_the_others_get_the_alert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bioleak.cli import main

    store = SqliteStore(tmp_path / "bioleak.sqlite3")
    store.upsert_org(Organisation("acme-bank", ("soc@acme-bank.example", "gone@acme-bank.example")))
    listing = make_listing(1)
    store.upsert_listings([listing])
    store.upsert_hits([make_hit(listing, "acme-bank", "acme-1")])
    with LoopbackSmtpServer(reject_recipients={"gone@acme-bank.example"}) as smtp:
        sender = SmtpSender(SmtpConfig.from_url(smtp.url))
        report = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=sender.send).run_once()
        received = list(smtp.received)
    assert report.hits == {"acme-bank": 1} and [r.rcpt_tos for r in received] == [("soc@acme-bank.example",)]
    failed, sent = store.deliveries("acme-bank")[1], store.deliveries("acme-bank")[0]
    assert (failed.status, failed.channel) == ("failed", "email") and failed.detail.startswith(
        "gone@acme-bank.example: 550"
    )
    assert sent.status == "sent" and sent.message_id == failed.message_id
    store.close()
    assert main(["--data-dir", str(tmp_path), "alerts", "status"]) == 0
    out = capsys.readouterr().out
    assert "acme-bank: pending 0, sending 0, sent 1, suppressed 0" in out
    assert "failed" in out and "gone@acme-bank.example: 550" in out and "<--" in out


def test_a_connection_dropped_during_data_is_retried_with_the_same_message_id(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    with LoopbackSmtpServer(drop_data=1) as smtp:
        sender = SmtpSender(SmtpConfig.from_url(smtp.url + "?timeout=10"))
        clock = Clock()
        dispatcher = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=sender.send, clock=clock)
        first = dispatcher.run_once()  # the first DATA is hung up on: that organisation waits
        clock.advance(minutes=1)
        second = dispatcher.run_once()
        third = dispatcher.run_once()
        received = list(smtp.received)
    [dropped] = first.deferred
    assert first.deferred[dropped].startswith("TransientSendError")
    assert second.hits == {dropped: 2 if dropped == "acme-bank" else 1} and third.hits == {}
    assert sorted(str(r.message["X-Bioleak-Org"]) for r in received) == ["acme-bank", "pixelpay"]
    attempts = [d for d in store.deliveries(dropped) if d.channel == "email"]
    assert [d.status for d in attempts] == ["sent", "deferred"]
    assert attempts[0].message_id == attempts[1].message_id  # a receiver that got both can drop one


CRASHING_DISPATCHER = """
import os, signal, sys
from alerts.dispatcher import Dispatcher, Outbox
from alerts.smtp import SmtpConfig, SmtpSender
from indexer.sqlite_store import SqliteStore

store_path, outbox, url = sys.argv[1:]
real = SmtpSender(SmtpConfig.from_url(url)).send

def send_then_die(message):
    real(message)
    os.kill(os.getpid(), signal.SIGKILL)  # between the send and marking the hits sent

Dispatcher(SqliteStore(store_path), outbox=Outbox(outbox), send=send_then_die).run_once()
"""


def test_a_dispatcher_killed_between_send_and_mark_costs_at_most_one_duplicate(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3")
    store.upsert_org(ACME)
    listing = make_listing(1)
    store.upsert_listings([listing])
    store.upsert_hits([make_hit(listing, "acme-bank", "acme-1")])
    with LoopbackSmtpServer() as smtp:
        crashed = subprocess.run(
            [sys.executable, "-c", CRASHING_DISPATCHER, str(tmp_path / "store.sqlite3"), str(tmp_path / "o"), smtp.url],
            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        assert [h.alert_state for h in store.hits_for_org("acme-bank")] == ["sending"]
        sender = SmtpSender(SmtpConfig.from_url(smtp.url))
        patient = Dispatcher(store, outbox=Outbox(tmp_path / "o"), send=sender.send)  # default 10-minute lease
        assert patient.run_once().hits == {}  # the claim is still the dead dispatcher's
        takeover = Dispatcher(store, outbox=Outbox(tmp_path / "o"), send=sender.send, lease=timedelta(0))
        assert takeover.run_once().hits == {"acme-bank": 1}
        assert takeover.run_once().hits == {}
        ids = [str(r.message["Message-ID"]) for r in smtp.received]
    assert len(ids) == 2 and ids[0] == ids[1]  # one duplicate, recognisably the same alert
    assert [h.alert_state for h in store.hits_for_org("acme-bank")] == ["sent"]


def test_two_dispatchers_on_elasticsearch_never_send_a_hit_twice(es_url: str, es_prefix: str, tmp_path: Path) -> None:
    from indexer.es_store import ElasticsearchStore

    setup = ElasticsearchStore(es_url, prefix=es_prefix)
    try:
        setup.upsert_org(ACME)
        listings = [make_listing(300 + i) for i in range(24)]
        hits = [make_hit(x, "acme-bank", f"r{i}") for i, x in enumerate(listings)]
        setup.upsert_listings(listings)
        setup.upsert_hits(hits)
        setup.refresh()
        start = threading.Barrier(2)
        with LoopbackSmtpServer() as smtp:

            def dispatch(slot: int) -> None:
                store = ElasticsearchStore(es_url, prefix=es_prefix)  # its own client, as another host would
                sender = SmtpSender(SmtpConfig.from_url(smtp.url))
                dispatcher = Dispatcher(store, outbox=Outbox(tmp_path / f"o{slot}"), send=sender.send, batch=3)
                start.wait()
                for _ in range(30):  # bounded: stops once nothing is left to claim
                    dispatcher.run_once()
                    if all(h.alert_state != "pending" for h in store.hits_for_org("acme-bank")):
                        break
                store.close()

            threads = [threading.Thread(target=dispatch, args=(slot,)) for slot in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=300)
            bodies = [r.message.get_body(("plain",)).get_content() for r in smtp.received]  # type: ignore[union-attr]
        alerted = [h.id for h in hits for body in bodies if f"Evidence id: {h.id}" in body]
        assert sorted(alerted) == sorted(h.id for h in hits)  # every hit exactly once
        assert {h.alert_state for h in setup.hits_for_org("acme-bank")} == {"sent"}
    finally:
        setup.drop()
        setup.close()


def test_backoff_doubles_to_a_cap_and_digests_batch_alerts(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    store.upsert_org(Organisation("pixelpay", ("soc@pixelpay.example",), digest="hourly"))
    clock = Clock()
    down = SmtpSender(SmtpConfig.from_url(f"smtp://127.0.0.1:{free_port()}?timeout=5"))
    dispatcher = Dispatcher(store, outbox=Outbox(tmp_path / "outbox"), send=down.send, clock=clock)
    assert set(dispatcher.run_once().deferred) == {"acme-bank", "pixelpay"}
    waits = []
    for _ in range(9):  # the server stays down: minutes until the next attempt is due
        minutes = 0
        while "acme-bank" in (report := dispatcher.run_once()).waiting:
            clock.advance(minutes=1)
            minutes += 1
        assert "acme-bank" in report.deferred  # it was due, tried, and failed again
        waits.append(minutes)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    with LoopbackSmtpServer() as smtp:
        dispatcher.send = SmtpSender(SmtpConfig.from_url(smtp.url)).send
        clock.advance(minutes=60)
        assert dispatcher.run_once().hits == {"acme-bank": 2, "pixelpay": 1}
        later = make_listing(40)
        store.upsert_listings([later])
        store.upsert_hits([make_hit(later, "pixelpay", "pix-40"), make_hit(later, "acme-bank", "acme-40")])
        clock.advance(minutes=30)
        half_hour = dispatcher.run_once()  # acme-bank is instant; pixelpay waits for its hourly digest
        clock.advance(minutes=30)
        hour = dispatcher.run_once()
        received = [str(r.message["X-Bioleak-Org"]) for r in smtp.received]
    assert half_hour.hits == {"acme-bank": 1} and "hourly digest" in half_hour.waiting["pixelpay"]
    assert hour.hits == {"pixelpay": 1} and received == ["acme-bank", "pixelpay", "acme-bank", "pixelpay"]
