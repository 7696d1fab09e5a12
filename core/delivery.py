"""Deliveries to the outside world: email over SMTP, JSON webhooks.

The worker sends each outbox message at least once: a worker may die after
the receiver got a message and before the message was marked delivered, and
the next worker sends it again. Every delivery therefore carries the
message's idempotency key -- the email's ``Message-ID`` is derived from it,
a webhook gets it as ``Idempotency-Key`` -- so receivers drop duplicates by
key. (Database effects, such as a fired timer's writes, are exactly once:
they commit in the same transaction that marks the work done.)

A delivery either returns (delivered), raises :class:`PermanentFailure`
(retrying cannot help: the message becomes a dead letter at once), or raises
anything else (retried later with back-off; :class:`RetryLater` may say when).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from core.errors import BadRequest, Problem
from core.store.values import dump_json

__all__ = [
    "SIGNATURE_HEADER",
    "LogMailer",
    "Mailer",
    "PermanentFailure",
    "RetryLater",
    "SmtpMailer",
    "SmtpSettings",
    "allowed_networks_from_env",
    "build_email",
    "mailer_from_env",
    "message_id",
    "parse_smtp_url",
    "post_webhook",
    "sign_body",
]

log = logging.getLogger("tessera.delivery")

SMTP_URL_VAR = "TESSERA_SMTP_URL"
MAIL_FROM_VAR = "TESSERA_MAIL_FROM"
WEBHOOK_SECRET_VAR = "TESSERA_WEBHOOK_SECRET"
WEBHOOK_NETWORKS_VAR = "TESSERA_WEBHOOK_ALLOWED_NETWORKS"
SIGNATURE_HEADER = "X-Tessera-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""Bounds one webhook call; keep it well under the worker's lease."""

# Headers the worker sets itself; a payload may not override them.
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (IDEMPOTENCY_HEADER, SIGNATURE_HEADER, "Content-Type", "Content-Length", "Host")
)
_RETRYABLE_4XX = frozenset({408, 429})


class PermanentFailure(Exception):
    """A delivery that can never succeed as it is (bad payload, refused by the receiver)."""


class RetryLater(Exception):
    """A delivery that failed for now; ``after`` is the receiver's wish in seconds, if any."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


# -- email ---------------------------------------------------------------------


class Mailer(Protocol):
    """Sends one email; raises to have it retried (:class:`PermanentFailure`: never)."""

    sender: str

    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False  # smtps://
    starttls: bool = False  # smtp://...?starttls=1


def _smtp_problem(message: str) -> BadRequest:
    return BadRequest(f"{SMTP_URL_VAR}: {message}", [Problem("SMTP_URL", message, SMTP_URL_VAR)])


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp://[user:pass@]host[:port][?starttls=1]`` or ``smtps://...`` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise _smtp_problem("expected smtp://[user:pass@]host:port or smtps://...")
    try:
        port = parts.port
    except ValueError:
        raise _smtp_problem("the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise _smtp_problem("no host, e.g. smtp://mail.example.com:587?starttls=1")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"starttls"})
    if unknown:
        raise _smtp_problem(f"unknown option(s) {', '.join(unknown)}; known: starttls")
    starttls_value = options.get("starttls", ["0"])[-1].lower()
    if starttls_value not in ("0", "1", "true", "false", "yes", "no"):
        raise _smtp_problem("starttls is 1 or 0")
    starttls = starttls_value in ("1", "true", "yes")
    implicit = parts.scheme == "smtps"
    if implicit and starttls:
        raise _smtp_problem("smtps:// is already TLS; starttls=1 is for smtp://")
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if implicit else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
        starttls=starttls,
    )


class SmtpMailer:
    """Sends through an SMTP server (aiosmtplib), one connection per message."""

    def __init__(self, settings: SmtpSettings, sender: str, timeout: float = 30.0) -> None:
        self.settings = settings
        self.sender = sender
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        import aiosmtplib

        s = self.settings
        try:
            errors, _ = await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.implicit_tls,
                start_tls=s.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentFailure(f"every recipient refused: {text}") from exc
            raise RetryLater(f"recipients refused for now: {text}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                raise PermanentFailure(f"SMTP {exc.code}: {exc.message}") from exc
            raise RetryLater(f"SMTP {exc.code}: {exc.message}") from exc
        # Some recipients refused, others accepted: retrying would duplicate the
        # accepted ones, so the refusals are only logged.
        for recipient, response in errors.items():
            log.warning("SMTP refused %s for %s: %s", recipient, message["Message-ID"], response)


class LogMailer:
    """Writes each email to the log instead of sending it (development: no ``TESSERA_SMTP_URL``)."""

    def __init__(self, sender: str = "tessera@localhost") -> None:
        self.sender = sender

    async def send(self, message: EmailMessage) -> None:
        log.info(
            "email (not sent: %s is not set) %s to %s: %s\n%s",
            SMTP_URL_VAR,
            message["Message-ID"],
            message["To"],
            message["Subject"],
            message.get_content() if not message.is_multipart() else message.as_string(),
        )


def mailer_from_env(env: Mapping[str, str] | None = None) -> Mailer:
    """The SMTP mailer ``TESSERA_SMTP_URL``/``TESSERA_MAIL_FROM`` describe.

    Without ``TESSERA_SMTP_URL`` this is a :class:`LogMailer`: emails are only
    written to the log, which suits development and demos. With it,
    ``TESSERA_MAIL_FROM`` is required (a made-up sender is rejected or
    junked by real receivers, late and silently).
    """
    env = os.environ if env is None else env
    url = env.get(SMTP_URL_VAR, "").strip()
    sender = env.get(MAIL_FROM_VAR, "").strip()
    if not url:
        return LogMailer(sender or "tessera@localhost")
    settings = parse_smtp_url(url)
    if not sender:
        raise BadRequest(
            f"{MAIL_FROM_VAR} is required with {SMTP_URL_VAR}",
            [Problem("MAIL_FROM", "set the sender address, e.g. crm@example.com", MAIL_FROM_VAR)],
        )
    _check_address(sender, MAIL_FROM_VAR, BadRequest)
    return SmtpMailer(settings, sender)


def message_id(tenant: str, idempotency_key: str, sender: str) -> str:
    """A stable ``Message-ID`` for a message: a resend carries the same one."""
    digest = hashlib.sha256(f"{tenant}\0{idempotency_key}".encode()).hexdigest()[:40]
    domain = sender.rpartition("@")[2] or "tessera.invalid"
    return f"<{digest}.tessera@{domain}>"


def _check_address(value: Any, where: str, error: type[Exception] = PermanentFailure) -> str:
    if (
        not isinstance(value, str)
        or "@" not in value
        or any(c in value for c in "\r\n<>,")
        or value != value.strip()
    ):
        raise error(f"{where}: not an email address: {value!r}")
    return value


def _addresses(payload: Mapping[str, Any], key: str, required: bool) -> list[str]:
    value = payload.get(key)
    if value is None and not required:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or (required and not value):
        raise PermanentFailure(f"{key}: a list of email addresses is required")
    return [_check_address(v, key) for v in value]


def _text(payload: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise PermanentFailure(f"{key}: text is required")
    return value


def build_email(
    tenant: str, payload: Mapping[str, Any], idempotency_key: str, sender: str
) -> EmailMessage:
    """The email a ``notify.email`` payload describes.

    ``{"to": [...], "subject": str, "body": str, "locale": str}``, optionally
    ``cc``, ``bcc``, ``reply_to`` and an ``html`` alternative. A payload that
    cannot make an email is a :class:`PermanentFailure`.
    """
    to = _addresses(payload, "to", required=True)
    cc = _addresses(payload, "cc", required=False)
    bcc = _addresses(payload, "bcc", required=False)
    subject = _text(payload, "subject") or ""
    if "\n" in subject or "\r" in subject:
        raise PermanentFailure("subject: one line of text is required")
    body = _text(payload, "body") or ""
    html = _text(payload, "html", required=False)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    reply_to = payload.get("reply_to")
    if reply_to is not None:
        message["Reply-To"] = _check_address(reply_to, "reply_to")
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(tenant, idempotency_key, sender)
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    # After the content: set_content/add_alternative move Content-* headers.
    locale = payload.get("locale")
    if isinstance(locale, str) and locale and all(c.isalnum() or c in "-_" for c in locale):
        message["Content-Language"] = locale.replace("_", "-")
    if bcc:
        # Bcc goes to the envelope only; the header is removed by the SMTP
        # client before sending (aiosmtplib does, like smtplib).
        message["Bcc"] = ", ".join(bcc)
    return message


# -- webhooks --------------------------------------------------------------------


def sign_body(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256 of the exact body bytes>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _where(url: httpx.URL) -> str:
    """The URL without its query (which may carry a token) for error messages."""
    return f"{url.scheme}://{url.host}{':' + str(url.port) if url.port else ''}{url.path}"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def allowed_networks_from_env(env: Mapping[str, str] | None = None) -> tuple[Network, ...]:
    """Non-public networks webhooks may reach: ``TESSERA_WEBHOOK_ALLOWED_NETWORKS``
    (comma-separated CIDRs, e.g. ``10.1.0.0/16,fd00::/8``); none by default."""
    env = os.environ if env is None else env
    out = []
    for part in env.get(WEBHOOK_NETWORKS_VAR, "").split(","):
        if part.strip():
            try:
                out.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"{WEBHOOK_NETWORKS_VAR}: {exc}") from None
    return tuple(out)


def _reachable(address: Address, allowed: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in net for net in allowed if net.version == address.version):
        return True
    return address.is_global and not address.is_multicast


async def _vetted_address(host: str, port: int, allowed: Sequence[Network]) -> str:
    """The address to connect to for ``host``: every address it resolves to must be
    public or allowed, so a tenant's webhook cannot reach the operator's network
    (loopback, private ranges, cloud metadata at 169.254.169.254...)."""
    try:
        addresses: list[Address] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise RetryLater(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(i[4][0]) for i in infos))
    for address in addresses:
        if not _reachable(address, allowed):
            raise PermanentFailure(
                f"url: {host} is {address}, a private, local or reserved address; webhooks "
                f"reach public addresses only (operators may allow networks with "
                f"{WEBHOOK_NETWORKS_VAR})"
            )
    return str(addresses[0])


async def post_webhook(
    client: httpx.AsyncClient,
    payload: Mapping[str, Any],
    idempotency_key: str,
    secret: str | None,
    timeout: httpx.Timeout | float = WEBHOOK_TIMEOUT,
    allowed_networks: Sequence[Network] | None = None,
) -> int:
    """POST a ``webhook`` payload (``{"url", "body", "headers"}``) as JSON; the status.

    2xx is delivered; 4xx other than 408 and 429 is a :class:`PermanentFailure`;
    anything else (other statuses, timeouts, connection errors) is retried. The
    host must resolve to public addresses or to ``allowed_networks`` (default:
    :func:`allowed_networks_from_env`); the request goes to the address that was
    checked, so a second lookup cannot swap in another one.
    """
    url = payload.get("url")
    if not isinstance(url, str):
        raise PermanentFailure("url: text is required")
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise PermanentFailure(f"url: {exc}") from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise PermanentFailure("url: an http:// or https:// address is required")
    extra = payload.get("headers") or {}
    if not isinstance(extra, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
    ):
        raise PermanentFailure("headers: an object of text values is required")
    headers = {k: v for k, v in extra.items() if k.lower() not in _RESERVED_HEADERS}
    if allowed_networks is None:
        allowed_networks = allowed_networks_from_env()
    port = target.port or (443 if target.scheme == "https" else 80)
    address = await _vetted_address(target.host, port, allowed_networks)
    content = dump_json(payload.get("body", {})).encode()
    headers["Content-Type"] = "application/json"
    headers[IDEMPOTENCY_HEADER] = idempotency_key
    if secret:
        headers[SIGNATURE_HEADER] = sign_body(secret, content)
    try:
        response = await client.post(
            target.copy_with(host=address),
            content=content,
            headers={**headers, "Host": target.netloc.decode("ascii")},
            timeout=timeout,
            extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
        )
    except httpx.TimeoutException as exc:
        raise RetryLater(f"timed out posting to {_where(target)}: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise RetryLater(f"cannot post to {_where(target)}: {exc or type(exc).__name__}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return status
    reason = f"HTTP {status} from {_where(target)}: {response.text[:300]}"
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        raise PermanentFailure(reason)
    raise RetryLater(reason, _retry_after(response))
