"""Errors the store raises as values the service can map to problems."""

from __future__ import annotations

from core.errors import Conflict

__all__ = ["UniqueViolation"]


class UniqueViolation(Conflict):
    """A value that must be unique per tenant is already claimed by another row."""

    def __init__(self, entity: str, field: str, value: str) -> None:
        super().__init__(f"{entity}.{field} '{value}' is already taken")
        self.entity = entity
        self.field = field
        self.value = value
