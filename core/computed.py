"""Computed fields: CEL expressions evaluated on every write (D5).

Expressions are compiled once per model version and entity, and evaluated in
dependency order, so a computed field may read another. A value that cannot
be computed — an input is missing, a division by zero — is stored as empty
rather than failing the write: the record stays editable until its inputs
are complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.context import CallContext
from core.errors import ConfigInvalid
from core.expressions import (
    Expression,
    ExpressionError,
    bindings,
    compile_expression,
    from_cel,
    record_variables,
)
from core.metadata import EntityDef, FieldDef

__all__ = ["ComputedFields"]

_Compiled = tuple[tuple[FieldDef, Expression], ...]


def _dependency_order(compiled: dict[str, tuple[FieldDef, Expression]]) -> _Compiled:
    ordered: list[tuple[FieldDef, Expression]] = []
    pending = dict(compiled)
    while pending:
        ready = [
            key
            for key, (_, expr) in pending.items()
            if not ((expr.usage.get("record") or frozenset()) & (pending.keys() - {key}))
        ]
        # A cycle (a config mistake) is evaluated in declaration order rather than hanging.
        for key in ready or [next(iter(pending))]:
            ordered.append(pending.pop(key))
    return tuple(ordered)


class ComputedFields:
    """The compiled computed fields of each (model version, entity)."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def for_entity(self, version_key: str, entity: EntityDef) -> _Compiled:
        key = (version_key, entity.key)
        found = self._compiled.get(key)
        if found is None:
            variables = record_variables(entity)
            compiled: dict[str, tuple[FieldDef, Expression]] = {}
            for f in entity.fields.values():
                if f.type != "computed" or not f.expression:
                    continue
                expr, problems = compile_expression(
                    f.expression,
                    variables=variables,
                    pointer=f"/entities/{entity.key}/fields/{f.key}/expression",
                    result=f.result_type,
                )
                if expr is None:  # validated at apply time; only a changed plugin gets here
                    raise ConfigInvalid(f"computed field '{f.key}' does not compile", problems)
                compiled[f.key] = (f, expr)
            found = self._compiled[key] = _dependency_order(compiled)
        return found

    def apply(
        self,
        ctx: CallContext,
        entity: EntityDef,
        data: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """``data`` with every computed field (re)computed."""
        compiled = self.for_entity(ctx.model.version_key, entity)
        out = dict(data)
        if not compiled:
            return out
        now = ctx.clock()
        for f, expr in compiled:
            variables = bindings(
                entity,
                out,
                previous=previous,
                principal=ctx.principal,
                now=now,
                timezone=ctx.model.timezone,
            )
            try:
                value = from_cel(f.value_type, expr.evaluate(variables), scale=f.scale)
            except ExpressionError:
                value = None
            if value is None:
                out.pop(f.key, None)
            else:
                out[f.key] = value
        return out
