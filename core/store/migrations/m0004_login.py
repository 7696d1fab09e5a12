"""Login throttling: failed attempts and a lock per user (D8, authentication hardening).

``failed_logins`` counts consecutive failed password logins; ``locked_until``
refuses logins (even with the right password) until then. A successful login
resets both.
"""

from __future__ import annotations

from core.store.url import Dialect

ID = "0004_login"


def statements(dialect: Dialect) -> list[str]:
    return [
        "ALTER TABLE app_user ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE app_user ADD COLUMN locked_until TIMESTAMPTZ",
    ]
