"""Passwords (Argon2id, memory-hard) and bearer tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.context import Principal
from core.errors import Unauthenticated
from core.store import Database

__all__ = [
    "TOKEN_PREFIX",
    "hash_password",
    "issue_token",
    "new_token",
    "principal_for_token",
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
