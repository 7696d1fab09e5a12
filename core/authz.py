"""Authorisation of entity actions, decided from the tenant's roles.

A tenant that declares no roles lets every authenticated user of the tenant
do everything. Once roles are declared, a user may do an action on an entity
only when one of their roles grants it (``permissions.entities`` maps an
entity key or ``"*"`` to a list of actions, ``"*"`` meaning all). The role
``admin`` always may. Field- and record-level rules build on this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.context import CallContext
from core.errors import Forbidden

__all__ = ["ACTIONS", "allowed", "require"]

ACTIONS = ("create", "read", "update", "delete", "transition", "run")


def _grants(permissions: Mapping[str, Any], entity: str) -> Iterable[str]:
    entities = permissions.get("entities") or {}
    yield from entities.get(entity, ())
    yield from entities.get("*", ())


def allowed(ctx: CallContext, entity: str, action: str) -> bool:
    principal = ctx.principal
    if principal.tenant != ctx.model.tenant:
        return False
    if principal.is_system or "admin" in principal.roles or not ctx.model.roles:
        return True
    for role in principal.roles:
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
