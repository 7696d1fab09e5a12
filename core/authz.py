"""Authorisation from the tenant's roles: entity actions, field access, record scope.

A tenant that declares no roles lets every authenticated user of the tenant
do everything. Once roles are declared, a user may do an action on an entity
only when one of their roles grants it (``permissions.entities`` maps an
entity key or ``"*"`` to a list of actions, ``"*"`` meaning all). The role
``admin`` always may.

Field access per role is ``hidden``, ``read`` or ``write``; a field a role
does not mention is writable unless the role turns ``field_security`` on,
which makes unmentioned fields hidden (default deny). Record scope is ``own``
(records whose owner — the entity's ``owner`` user field, else its creator —
is the user), ``team`` (owned by the user or by anyone who reports to them,
directly or not, through users' managers: the tenant's org tree) or ``all``. With several roles the most generous grant wins. Filters and
sorts on fields the caller cannot read are refused, so hidden values cannot be
probed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.context import CallContext
from core.errors import Forbidden, Problem
from core.metadata import EntityDef

__all__ = ["ACTIONS", "Access", "access", "allowed", "hidden_fields", "owner_field", "require"]

ACTIONS = ("create", "read", "update", "delete", "transition", "run")
_LEVELS = {"hidden": 0, "read": 1, "write": 2}
_SCOPES = {"own": 0, "team": 1, "all": 2}


def _grants(permissions: Mapping[str, Any], entity: str) -> Iterable[str]:
    entities = permissions.get("entities") or {}
    yield from entities.get(entity, ())
    yield from entities.get("*", ())


def _unrestricted(ctx: CallContext) -> bool:
    principal = ctx.principal
    return principal.is_system or "admin" in principal.roles or not ctx.model.roles


def allowed(ctx: CallContext, entity: str, action: str) -> bool:
    if ctx.principal.tenant != ctx.model.tenant:
        return False
    if _unrestricted(ctx):
        return True
    for role in ctx.principal.roles:
        spec = ctx.model.roles.get(role)
        if spec is None:
            continue
        granted = set(_grants(spec.permissions, entity))
        if action in granted or "*" in granted:
            return True
    return False


def require(ctx: CallContext, entity: str, action: str) -> None:
    if not allowed(ctx, entity, action):
        raise Forbidden(f"your roles do not allow '{action}' on '{entity}'")


def owner_field(entity: EntityDef) -> str:
    """The field that says whose a record is: ``owner`` if it is a user field."""
    owner = entity.fields.get("owner")
    return "owner" if owner is not None and owner.value_type == "user" else "created_by"


@dataclass(frozen=True, slots=True)
class Access:
    """What the caller may see and change of one entity."""

    readable: frozenset[str] | None  # None: every field
    writable: frozenset[str] | None
    own_only: bool  # limited to some owners: the user's own records, or their team's
    owner_field: str
    team: bool = False
    #: With ``team``: the user and everyone below them (filled in by the service).
    members: frozenset[str] | None = None

    def owners(self, user_id: str) -> frozenset[str]:
        """Whose records are in scope (only meaningful when ``own_only``)."""
        return self.members if self.team and self.members else frozenset({user_id})

    def can_read(self, field: str) -> bool:
        return self.readable is None or field in self.readable

    def can_write(self, field: str) -> bool:
        return self.writable is None or field in self.writable

    def visible(self, data: Mapping[str, Any]) -> dict[str, Any]:
        if self.readable is None:
            return dict(data)
        return {k: v for k, v in data.items() if k in self.readable}

    def check_writes(self, entity: EntityDef, keys: Iterable[str]) -> None:
        denied = [k for k in keys if k in entity.fields and not self.can_write(k)]
        if denied:
            raise Forbidden(
                "your roles do not allow changing these fields",
                [
                    Problem(
                        "FIELD_READ_ONLY",
                        "your roles do not allow changing this field",
                        entity.fields[k].graphql_name,
                    )
                    for k in denied
                ],
            )


def access(ctx: CallContext, entity: EntityDef) -> Access:
    """Combine the caller's roles into field access and record scope for ``entity``."""
    if _unrestricted(ctx):
        return Access(None, None, False, owner_field(entity))
    levels = dict.fromkeys(entity.fields, -1)
    scope = -1
    for role in ctx.principal.roles:
        spec = ctx.model.roles.get(role)
        if spec is None:
            continue
        perms = spec.permissions
        scope = max(scope, _SCOPES.get(str(perms.get("record_scope", "all")), 2))
        granted = (perms.get("fields") or {}).get(entity.key) or {}
        default = _LEVELS["hidden"] if perms.get("field_security") else _LEVELS["write"]
        for key in levels:
            level = _LEVELS.get(str(granted.get(key)), default)
            levels[key] = max(levels[key], level)
    for key, fdef in entity.fields.items():
        # A link to records the caller may not read is not theirs to follow or to set.
        if fdef.target is not None and not allowed(ctx, fdef.target, "read"):
            levels[key] = -1
    readable = frozenset(k for k, lv in levels.items() if lv >= _LEVELS["read"])
    writable = frozenset(k for k, lv in levels.items() if lv >= _LEVELS["write"])
    return Access(
        None if len(readable) == len(levels) else readable,
        None if len(writable) == len(levels) else writable,
        scope < _SCOPES["all"],
        owner_field(entity),
        team=scope == _SCOPES["team"],
    )


def hidden_fields(ctx: CallContext) -> dict[str, frozenset[str]]:
    """Entity -> the fields the caller's roles cannot read (only entities with some).

    Depends on the model and the caller's roles only, so one GraphQL schema
    serves every user with the same role set.
    """
    if _unrestricted(ctx):
        return {}
    out: dict[str, frozenset[str]] = {}
    for entity in ctx.model.entities.values():
        readable = access(ctx, entity).readable
        if readable is not None:
            out[entity.key] = frozenset(entity.fields) - readable
    return {k: v for k, v in out.items() if v}
