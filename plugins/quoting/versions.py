"""Quote versions: revising freezes the quote as it was and opens the next revision.

``revise`` (one transaction, as the caller):

1. writes a ``quote_version`` record: the quote's header and every line,
   exactly as they are, under the current revision number;
2. runs the tenant's revise transition when the quote's state allows it
   (a sent quote goes back to draft), so the workflow stays the one source
   of states;
3. raises the quote's ``revision`` by one. The quote stays the editable,
   current version; every earlier one stays readable as a quote version.

Quote versions are written only by this code path (a marker in the call
context, which no API caller can set) and are never updated or deleted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.context import CallContext, Operation, Record
from core.errors import Problem, ValidationFailed
from plugins.quoting.access import lines_of, service_of, system
from plugins.quoting.settings import settings_of

__all__ = ["frozen_versions", "revise", "snapshot_lines", "stamp_revision"]

_SNAPSHOT = "quoting.snapshot"  # CallContext.extra: the version being written by revise()
_REVISION = "quoting.revision"  # CallContext.extra: (quote id, the revision it moves to)

_HEADER = ("number", "title", "account", "status", "valid_until", "discount", "total")
_LINE = ("product", "description", "quantity", "unit_price", "discount", "tax_rate", "amount")


def _plain(value: Any) -> Any:
    """A value as JSON: Decimals as strings (exact), dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def snapshot_lines(lines: list[Record]) -> str:
    return json.dumps(
        [{"id": ln.id, **{k: _plain(ln.data.get(k)) for k in _LINE}} for ln in lines],
        ensure_ascii=False,
    )


async def revise(ctx: CallContext, quote_id: str, comment: str | None = None) -> Record:
    """Freeze the current revision of a quote and open the next one."""
    service = service_of(ctx)
    async with service.atomic():
        quote = await service.get(ctx, "quote", quote_id)
        revision = int(quote.data.get("revision") or 1)
        wf = ctx.model.processes.workflow_of("quote") if ctx.model.processes else None
        state = quote.data.get(wf.field) if wf else None
        transition = None
        if wf is not None:
            t = wf.transitions.get(settings_of(ctx.model).transitions["revise"])
            initial = next((k for k, s in wf.states.items() if s.initial), None)
            if t is not None and t.leaves(state, wf):
                transition = t.key
            elif state not in (None, initial):
                raise ValidationFailed(
                    f"a quote in state '{state}' cannot be revised",
                    [Problem("REVISE_NOT_ALLOWED", f"not from state '{state}'", "status")],
                )
        lines = await lines_of(system(ctx), quote_id)
        snapshot = {
            "quote": quote_id,
            "revision": revision,
            **{k: quote.data.get(k) for k in _HEADER},
            "lines": snapshot_lines(lines),
        }
        if snapshot["status"] is not None:
            snapshot["status"] = str(snapshot["status"])
        marked = dataclasses.replace(ctx, extra={**ctx.extra, _SNAPSHOT: snapshot})
        await service.create(marked, "quote_version", {})
        if transition is not None:
            await service.transition(ctx, "quote", quote_id, transition, comment)
        bump = dataclasses.replace(ctx, extra={**ctx.extra, _REVISION: (quote_id, revision + 1)})
        result: Record = await service.update(bump, "quote", quote_id, {}, None)
        return result


def frozen_versions(ctx: CallContext, operation: Operation) -> None:
    """pre_validate: quote versions come only from ``revise`` and never change."""
    if operation.entity != "quote_version":
        return
    if operation.action == "create" and _SNAPSHOT in ctx.extra:
        return
    raise ValidationFailed(
        "quote versions are written by the revise action and never change",
        [Problem("VERSION_FROZEN", "a quote version cannot be written", "")],
    )


def stamp_revision(ctx: CallContext, operation: Operation) -> None:
    """pre_operation: fill a version from its snapshot; number a quote's revisions."""
    if operation.entity == "quote_version" and operation.action == "create":
        operation.values.update({k: v for k, v in ctx.extra[_SNAPSHOT].items() if v is not None})
    elif operation.entity == "quote" and operation.action == "create":
        operation.values.setdefault("revision", 1)
    elif operation.entity == "quote" and operation.action == "update":
        marked = ctx.extra.get(_REVISION)
        if marked is not None and marked[0] == operation.record_id:
            operation.values["revision"] = marked[1]
