"""Email over a real SMTP server, webhooks to a real HTTP server, their settings."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.delivery import (
    LogMailer,
    PermanentFailure,
    RetryLater,
    SmtpMailer,
    SmtpSettings,
    allowed_networks_from_env,
    build_email,
    mailer_from_env,
    message_id,
    parse_smtp_url,
    post_webhook,
    sign_body,
)
from core.errors import BadRequest
from tests.worker.receivers import HttpReceiver, Reply, SmtpReceiver, free_port

SENDER = "crm@example.com"
EMAIL: dict[str, Any] = {
    "to": ["ana@example.com", "bo@example.org"],
    "cc": ["boss@example.com"],
    "bcc": ["audit@example.com"],
    "subject": "Angebot Q-17 läuft ab",
    "body": "Hallo Ana,\ndas Angebot läuft morgen ab.\n",
    "locale": "de_DE",
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


# -- SMTP settings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpSettings("mail.example.com", 25)),
        (
            "smtp://u%40x:p%3Ass@mail.example.com:587?starttls=1",
            SmtpSettings("mail.example.com", 587, "u@x", "p:ss", starttls=True),
        ),
        ("smtps://mail.example.com", SmtpSettings("mail.example.com", 465, implicit_tls=True)),
        ("smtp://127.0.0.1:2525?starttls=0", SmtpSettings("127.0.0.1", 2525)),
    ],
)
def test_smtp_urls(url: str, expected: SmtpSettings) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.com", "expected smtp://"),
        ("smtp://", "no host"),
        ("smtp://mail.example.com:99999", "port"),
        ("smtp://mail.example.com?tls=1", "unknown option(s) tls"),
        ("smtp://mail.example.com?starttls=maybe", "starttls is 1 or 0"),
        ("smtps://mail.example.com?starttls=1", "already TLS"),
    ],
)
def test_bad_smtp_urls_are_located_errors(url: str, message: str) -> None:
    with pytest.raises(BadRequest, match="TESSERA_SMTP_URL") as caught:
        parse_smtp_url(url)
    [problem] = caught.value.problems
    assert problem.path == "TESSERA_SMTP_URL" and message in problem.message


def test_bad_url_errors_do_not_echo_the_password() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_smtp_url("smtp://user:hunter2@mail.example.com:notaport")
    assert "hunter2" not in str(caught.value) + repr(caught.value.problems)


def test_mailer_from_env() -> None:
    assert isinstance(mailer_from_env({}), LogMailer)
    assert mailer_from_env({"TESSERA_MAIL_FROM": SENDER}).sender == SENDER
    mailer = mailer_from_env(
        {"TESSERA_SMTP_URL": "smtp://127.0.0.1:2525", "TESSERA_MAIL_FROM": SENDER}
    )
    assert isinstance(mailer, SmtpMailer) and mailer.settings.port == 2525
    with pytest.raises(BadRequest, match="TESSERA_MAIL_FROM is required"):
        mailer_from_env({"TESSERA_SMTP_URL": "smtp://127.0.0.1:2525"})
    with pytest.raises(BadRequest, match="not an email address"):
        mailer_from_env({"TESSERA_SMTP_URL": "smtp://h", "TESSERA_MAIL_FROM": "crm"})


# -- email -------------------------------------------------------------------------


async def test_an_email_arrives_with_subject_body_and_a_message_id_from_its_key() -> None:
    with SmtpReceiver(credentials=("crm", "s3cret:pw")) as server:
        mailer = mailer_from_env(
            {
                "TESSERA_SMTP_URL": f"smtp://crm:s3cret%3Apw@127.0.0.1:{server.port}",
                "TESSERA_MAIL_FROM": SENDER,
            }
        )
        await mailer.send(build_email("acme", EMAIL, "quote-17:expiry", mailer.sender))
    [(envelope, message)] = server.messages
    assert envelope.mail_from == SENDER
    assert sorted(envelope.rcpt_tos) == sorted([*EMAIL["to"], *EMAIL["cc"], *EMAIL["bcc"]])
    assert message["Subject"] == EMAIL["subject"]
    assert message["To"] == "ana@example.com, bo@example.org"
    assert message["Cc"] == "boss@example.com" and message["Bcc"] is None
    assert message["Content-Language"] == "de-DE"
    assert message["Message-ID"] == message_id("acme", "quote-17:expiry", SENDER)
    assert message.get_content().replace("\r\n", "\n") == EMAIL["body"]  # CRLF on the wire


async def test_a_wrong_smtp_password_is_retried_not_buried() -> None:
    with SmtpReceiver(credentials=("crm", "right")) as server:
        mailer = SmtpMailer(parse_smtp_url(f"smtp://crm:wrong@127.0.0.1:{server.port}"), SENDER)
        with pytest.raises(RetryLater, match="535"):
            await mailer.send(build_email("acme", EMAIL, "k", SENDER))
    assert server.messages == []


async def test_smtp_refusals_are_permanent_or_retried_by_their_code() -> None:
    with SmtpReceiver() as server:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port), SENDER)
        gone = {"subject": "s", "body": "b", "to": ["nobody@x.org"], "cc": ["nobody@y.org"]}
        with pytest.raises(PermanentFailure, match="550"):
            await mailer.send(build_email("acme", gone, "k1", SENDER))
        busy = {"subject": "s", "body": "b", "to": ["busy@x.org", "nobody@x.org"]}
        with pytest.raises(RetryLater, match="451"):  # one may work later: retried
            await mailer.send(build_email("acme", busy, "k2", SENDER))
        # One accepted recipient: delivered (a retry would duplicate it); the refusal is logged.
        mixed = {"subject": "s", "body": "b", "to": ["ana@example.com", "nobody@x.org"]}
        await mailer.send(build_email("acme", mixed, "k3", SENDER))
    assert [e.rcpt_tos for e, _ in server.messages] == [["ana@example.com"]]


async def test_an_unreachable_smtp_server_is_retried() -> None:
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", free_port()), SENDER, timeout=2)
    with pytest.raises(Exception) as caught:
        await mailer.send(build_email("acme", EMAIL, "k", SENDER))
    assert not isinstance(caught.value, PermanentFailure)


async def test_the_log_mailer_writes_the_email_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="tessera.delivery"):
        await LogMailer(SENDER).send(build_email("acme", EMAIL, "k", SENDER))
    assert "not sent" in caplog.text and EMAIL["subject"] in caplog.text
    assert "das Angebot läuft morgen ab" in caplog.text


def test_message_ids_are_stable_per_tenant_and_key() -> None:
    one = message_id("acme", "k", SENDER)
    assert one == message_id("acme", "k", "other@example.com")  # the sender's domain only
    assert one.startswith("<") and one.endswith("@example.com>")
    assert one != message_id("globex", "k", SENDER) != message_id("acme", "k2", SENDER)


def test_html_alternative() -> None:
    message = build_email("acme", {**EMAIL, "html": "<p>Hallo</p>"}, "k", SENDER)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"to": [], "subject": "s", "body": "b"},
        {"to": ["not-an-address"], "subject": "s", "body": "b"},
        {"to": ["a@x.org\r\nBcc: evil@x.org"], "subject": "s", "body": "b"},
        {"to": ["a@x.org"], "subject": "line\r\nBcc: evil@x.org", "body": "b"},
        {"to": ["a@x.org"], "subject": "s"},
        {"to": ["a@x.org"], "subject": "s", "body": 3},
    ],
)
def test_payloads_that_cannot_make_an_email_are_permanent_failures(
    payload: dict[str, Any],
) -> None:
    with pytest.raises(PermanentFailure):
        build_email("acme", payload, "k", SENDER)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "to": _json | st.lists(st.emails(), max_size=3),
            "cc": _json,
            "subject": _json,
            "body": _json,
            "html": _json,
            "locale": _json,
            "reply_to": _json | st.emails(),
        },
    )
)
def test_any_payload_makes_an_email_or_a_permanent_failure(payload: dict[str, Any]) -> None:
    try:
        message = build_email("acme", payload, "k", SENDER)
    except PermanentFailure:
        return
    assert message["Message-ID"] == message_id("acme", "k", SENDER)
    assert message.as_bytes()  # it serialises


# -- webhooks ------------------------------------------------------------------------


async def test_a_webhook_is_signed_and_carries_its_idempotency_key(
    http: httpx.AsyncClient,
) -> None:
    with HttpReceiver() as receiver:
        payload = {
            "url": f"{receiver.url}/hooks/erp?token=abc",
            "body": {"quote": "Q-17", "total": "1200.50", "名前": "张伟"},
            "headers": {"X-Partner": "erp", "Idempotency-Key": "forged"},
        }
        assert await post_webhook(http, payload, "quote-17:expiry", "s3cret") == 200
    [request] = receiver.requests
    assert request.path == "/hooks/erp?token=abc"
    assert request.json() == payload["body"]
    assert request.headers["Idempotency-Key"] == "quote-17:expiry"
    assert request.headers["X-Partner"] == "erp"
    assert request.headers["Content-Type"] == "application/json"
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Tessera-Signature"] == f"sha256={expected}"
    assert sign_body("s3cret", request.body) == f"sha256={expected}"


async def test_without_a_secret_there_is_no_signature(http: httpx.AsyncClient) -> None:
    with HttpReceiver() as receiver:
        await post_webhook(http, {"url": receiver.url, "body": {}}, "k", None)
    assert "X-Tessera-Signature" not in receiver.requests[0].headers


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (204, None),
        (400, PermanentFailure),
        (404, PermanentFailure),
        (410, PermanentFailure),
        (408, RetryLater),
        (429, RetryLater),
        (302, RetryLater),
        (500, RetryLater),
        (503, RetryLater),
    ],
)
async def test_webhook_statuses(
    http: httpx.AsyncClient, status: int, outcome: type[Exception] | None
) -> None:
    with HttpReceiver(lambda request, n: Reply(status)) as receiver:
        payload = {"url": receiver.url, "body": {"n": 1}}
        if outcome is None:
            assert await post_webhook(http, payload, "k", None) == status
        else:
            with pytest.raises(outcome, match=f"HTTP {status}"):
                await post_webhook(http, payload, "k", None)


async def test_retry_after_is_passed_on(http: httpx.AsyncClient) -> None:
    with HttpReceiver(lambda r, n: Reply(429, headers={"Retry-After": "120"})) as receiver:
        with pytest.raises(RetryLater) as caught:
            await post_webhook(http, {"url": receiver.url, "body": {}}, "k", None)
    assert caught.value.after == 120


async def test_a_slow_receiver_times_out_and_is_retried(http: httpx.AsyncClient) -> None:
    with HttpReceiver(lambda request, n: Reply(delay=1.0)) as receiver:
        with pytest.raises(RetryLater, match="timed out"):
            await post_webhook(http, {"url": receiver.url, "body": {}}, "k", None, timeout=0.2)


async def test_an_unreachable_receiver_is_retried(http: httpx.AsyncClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook?token=secret"
    with pytest.raises(RetryLater, match="cannot post") as caught:
        await post_webhook(http, {"url": url, "body": {}}, "k", None)
    assert "secret" not in str(caught.value)  # the query may carry a credential


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"url": 42},
        {"url": "ftp://example.com/x"},
        {"url": "http://"},
        {"url": "http://example.com", "headers": ["X-A"]},
        {"url": "http://example.com", "headers": {"X-A": 1}},
    ],
)
async def test_webhook_payloads_that_cannot_be_sent_are_permanent_failures(
    http: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    with pytest.raises(PermanentFailure):
        await post_webhook(http, payload, "k", None)


# -- webhooks reach public addresses only ---------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "0.0.0.0",
        "10.0.0.7",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "[fd00::1]",
        "[fe80::1]",
        "224.0.0.1",
    ],
)
async def test_a_webhook_to_a_private_or_local_address_is_refused(
    http: httpx.AsyncClient, host: str
) -> None:
    with HttpReceiver() as receiver:
        payload = {"url": f"http://{host}:{receiver.port}/hook", "body": {}}
        with pytest.raises(PermanentFailure, match="private, local or reserved"):
            await post_webhook(http, payload, "k", None, allowed_networks=())
    assert receiver.requests == []


async def test_an_allowed_network_is_reached_at_the_checked_address_with_its_host_name(
    http: httpx.AsyncClient,
) -> None:
    allowed = allowed_networks_from_env({"TESSERA_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"})
    with HttpReceiver() as receiver:
        payload = {"url": f"http://localhost:{receiver.port}/hook", "body": {}}
        assert await post_webhook(http, payload, "k", None, allowed_networks=allowed) == 200
    assert receiver.requests[0].headers["Host"] == f"localhost:{receiver.port}"


def test_a_bad_allowed_network_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="TESSERA_WEBHOOK_ALLOWED_NETWORKS"):
        allowed_networks_from_env({"TESSERA_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/33"})
