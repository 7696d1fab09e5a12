"""Who is calling, for which tenant, at what time: passed, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.metadata import TenantModel

__all__ = ["CallContext", "Operation", "Principal", "Record", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. The tenant comes only from here."""

    tenant: str
    user_id: str
    email: str
    roles: tuple[str, ...] = ()
    name: str = ""
    locale: str | None = None
    is_system: bool = False

    @classmethod
    def system(cls, tenant: str) -> Principal:
        return cls(
            tenant=tenant, user_id="system", email="system", roles=("admin",), is_system=True
        )


@dataclass(frozen=True, slots=True)
class CallContext:
    """Everything a service call needs; built per request."""

    model: TenantModel
    principal: Principal
    clock: Callable[[], datetime] = utcnow
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        return self.principal.tenant

    @property
    def locale(self) -> str:
        return self.principal.locale or self.model.default_locale


@dataclass(frozen=True, slots=True)
class Record:
    """A record as the service returns it: ``data`` holds Python values.

    Value types by field type: text-like -> ``str``; integer -> ``int``;
    decimal/percent -> ``Decimal``; money -> ``{"amount": Decimal,
    "currency": str}``; boolean -> ``bool``; date -> ``date``; datetime ->
    aware ``datetime``; enum -> ``str``; multi_enum -> ``list[str]``;
    relation/user -> id ``str``; relation_list -> ``list[str]``; address ->
    ``{"street", "city", "region", "postal_code", "country"}``.
    """

    id: str
    entity: str
    version: int
    data: dict[str, Any]
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


@dataclass(slots=True)
class Operation:
    """One write as the stage hooks see it.

    ``action`` is ``create``, ``update``, ``delete`` or ``transition``.
    ``values`` holds the Python values being written (hooks in
    ``pre_validate`` and ``pre_operation`` may change them); ``previous`` is
    the record before the write (``None`` on create).
    """

    entity: str
    action: str
    record_id: str
    values: dict[str, Any]
    previous: Record | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    #: For ``transition``: the workflow transition being completed, and the caller's comment.
    transition: str | None = None
    comment: str = ""
