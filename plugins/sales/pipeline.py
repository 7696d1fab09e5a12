"""Opportunity pipelines: the stage belongs to the pipeline, probability and close follow it.

On a write of an opportunity (pre_operation): its ``pipeline`` option names
one of ``settings.sales.pipelines`` (an option without settings follows the
first pipeline); the stage must be one of that pipeline's stages; a new stage
brings its default probability unless the write sets one; reaching a won or
lost stage sets ``closed_on`` (the tenant's local date), leaving it clears it;
moving an opportunity to a lost stage needs a ``lost_reason`` (an import may
create lost opportunities without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from core.context import CallContext, Operation
from core.errors import Problem, ValidationFailed
from plugins.sales.settings import Stage, pipelines

__all__ = ["apply_pipeline", "local_date", "stage_of"]


def local_date(ctx: CallContext) -> date:
    return ctx.clock().astimezone(ZoneInfo(ctx.model.timezone)).date()


def stage_of(ctx: CallContext, data: Mapping[str, Any]) -> Stage | None:
    """The pipeline stage an opportunity is in (``None`` if not in its pipeline)."""
    return next((s for s in _stages(ctx, data) if s.stage == data.get("stage")), None)


def _stages(ctx: CallContext, data: Mapping[str, Any]) -> tuple[Stage, ...]:
    all_pipelines = pipelines(ctx.model)
    chosen = all_pipelines.get(str(data.get("pipeline")))
    return chosen if chosen is not None else next(iter(all_pipelines.values()))


def apply_pipeline(ctx: CallContext, operation: Operation) -> None:
    if operation.entity != "opportunity" or operation.action not in ("create", "update"):
        return
    values = operation.values
    before: Mapping[str, Any] = operation.previous.data if operation.previous else {}
    current = {**before, **values}
    stages = _stages(ctx, current)
    stage = next((s for s in stages if s.stage == current.get("stage")), None)
    if stage is None:
        names = ", ".join(s.stage for s in stages)
        raise ValidationFailed(
            "the stage is not in the opportunity's pipeline",
            [
                Problem(
                    "STAGE_NOT_IN_PIPELINE",
                    f"stage '{current.get('stage')}' is not in this pipeline ({names})",
                    "stage",
                )
            ],
        )
    stage_changed = operation.action == "create" or before.get("stage") != stage.stage
    if stage_changed and "probability" not in values:
        values["probability"] = stage.probability
    if stage.outcome == "open":
        if before.get("closed_on") is not None:
            values["closed_on"] = None
    elif stage_changed or current.get("closed_on") is None:
        values["closed_on"] = local_date(ctx)
    moved = operation.action == "update" and before.get("stage") != stage.stage
    if stage.outcome == "lost" and moved and not current.get("lost_reason"):
        raise ValidationFailed(
            "a lost opportunity needs a reason",
            [Problem("REQUIRED", "say why the opportunity was lost", "lostReason")],
        )
