"""Passwords (Argon2id, memory-hard) and bearer tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.context import Principal
from core.errors import TooManyAttempts, Unauthenticated
from core.store import Database

__all__ = [
    "LOCK_MINUTES",
    "MAX_FAILED_LOGINS",
    "SESSION_HOURS",
    "TOKEN_PREFIX",
    "hash_password",
    "issue_token",
    "login",
    "new_token",
    "principal_for_token",
    "revoke_token",
    "token_hash",
    "verify_password",
]

TOKEN_PREFIX = "tsr_"
_hasher = PasswordHasher()  # Argon2id with the library's RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(
    db: Database, tenant: str, user_id: str, *, expires_at: datetime | None = None, label: str = ""
) -> str:
    """Create a token for a user; only its hash is stored."""
    token = new_token()
    await db.store_token(token_hash(token), tenant, user_id, expires_at=expires_at, label=label)
    return token


async def principal_for_token(db: Database, token: str, now: datetime) -> Principal:
    """The principal a bearer token stands for, or :class:`Unauthenticated`."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise Unauthenticated("the bearer token is not valid")
    row = await db.token_principal(token_hash(token), now)
    if row is None:
        raise Unauthenticated("the bearer token is not valid, expired or revoked")
    return Principal(
        tenant=row["tenant_id"],
        user_id=row["user_id"],
        email=row["email"],
        roles=tuple(row.get("roles") or ()),
        name=row.get("name") or "",
        locale=row.get("locale"),
    )


def same_tenant(principal: Principal, tenant: str) -> bool:
    return hmac.compare_digest(principal.tenant.encode(), tenant.encode())


#: Consecutive failed logins that lock a user, for how long, and a session's life.
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
SESSION_HOURS = 12
#: Verified when the email is unknown, so a wrong email costs what a wrong password does.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def login(
    db: Database, tenant: str, email: str, password: str, now: datetime
) -> tuple[str, datetime, Principal]:
    """Check a password login; a session token (expiring) and its principal.

    A wrong email and a wrong password give the same answer in about the same
    time. After ``MAX_FAILED_LOGINS`` failures in a row the user is locked for
    ``LOCK_MINUTES`` (``TOO_MANY_ATTEMPTS``), even with the right password.
    """
    user = await db.login_state(tenant, email)
    if user is None or not user["active"]:
        verify_password(_DUMMY_HASH, password)
        raise Unauthenticated("wrong email or password")
    locked = user["locked_until"]
    if locked is not None and locked > now:
        raise TooManyAttempts(_locked_message(locked, now))
    if not verify_password(user["password_hash"], password):
        lock = await db.login_failed(
            tenant, user["id"], now, MAX_FAILED_LOGINS, now + timedelta(minutes=LOCK_MINUTES)
        )
        if lock is not None:
            raise TooManyAttempts(_locked_message(lock, now))
        raise Unauthenticated("wrong email or password")
    await db.login_succeeded(tenant, user["id"])
    expires = now + timedelta(hours=SESSION_HOURS)
    token = await issue_token(db, tenant, user["id"], expires_at=expires, label="session")
    return token, expires, await principal_for_token(db, token, now)


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() // 60) + 1)
    return f"too many failed logins; try again in {minutes} minute(s)"


async def revoke_token(db: Database, token: str, now: datetime) -> bool:
    """Revoke a token or session; ``False`` if it was unknown or already revoked."""
    return await db.revoke_token(token_hash(token), now)
