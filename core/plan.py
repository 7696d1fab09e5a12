"""``crm tenant plan``: what applying a config would change, and what data it touches (D9).

The plan compares the tenant's current model with the new one: entities,
fields (added, removed, type changed, becoming required or unique),
indexes (slots re-indexed after the apply), workflows, automations, timers, rules and
roles. For changes that existing data might not satisfy it counts the
records concerned, reading them through the store (not the service: a plan
is an operator's view of the whole tenant):

- a field that becomes required: records without a value;
- a new or changed validation rule: records that would fail it on their next
  save;
- a workflow on an existing entity: records whose status is not one of its
  states;
- a field whose type changes: records holding a value (they will be checked
  by the new type).

Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.context import Principal
from core.errors import Problem
from core.expressions import ExpressionError, bindings
from core.metadata import EntityDef, TenantModel
from core.store import Database
from core.store.reindex import changed_slots, slot_targets
from core.values import from_storage, unique_key

__all__ = ["Change", "Plan", "UniqueClaims", "data_problems", "plan_changes"]

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # added | removed | changed
    what: str  # entity | field | index | workflow | automation | timer | rule | role
    path: str  # e.g. quote.discount
    detail: str = ""
    affected: int | None = None  # records concerned, where counted


@dataclass(slots=True)
class Plan:
    tenant: str
    new_tenant: bool
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def lines(self) -> Iterator[str]:
        if self.new_tenant:
            yield f"{self.tenant}: a new tenant"
        if self.empty:
            yield f"{self.tenant}: no changes"
            return
        marks = {"added": "+", "removed": "-", "changed": "~"}
        for c in self.changes:
            count = f" — {c.affected:,} record(s) affected" if c.affected else ""
            detail = f" ({c.detail})" if c.detail else ""
            yield f"  {marks[c.kind]} {c.what} {c.path}{detail}{count}"


def _keys(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[set[str], set[str], set[str]]:
    return set(b) - set(a), set(a) - set(b), set(a) & set(b)


async def _records(db: Database, tenant: str, entity: str) -> list[dict[str, Any]]:
    """Every stored record of an entity, as its data (pages of ``_PAGE``)."""
    from core.store.values import load_json

    out: list[dict[str, Any]] = []
    after = ""
    while True:
        rows = await db._fetch_as(
            tenant,
            "SELECT id, data FROM record WHERE tenant_id = {} AND entity = {} "
            "AND NOT archived AND id > {} ORDER BY id LIMIT {}",
            tenant,
            entity,
            after,
            _PAGE,
        )
        out += [{"id": r["id"], **(load_json(r["data"]) or {})} for r in rows]
        if len(rows) < _PAGE:
            return out
        after = rows[-1]["id"]


def _data(entity: EntityDef, stored: Mapping[str, Any]) -> dict[str, Any]:
    from core.values import from_storage

    return {
        k: from_storage(f, stored[k]) for k, f in entity.fields.items() if stored.get(k) is not None
    }


async def plan_changes(db: Database, old: TenantModel | None, new: TenantModel) -> Plan:
    plan = Plan(tenant=new.tenant, new_tenant=old is None)
    if old is None:
        return plan
    add = plan.changes.append
    cache: dict[str, list[dict[str, Any]]] = {}

    async def records(entity: str) -> list[dict[str, Any]]:
        if entity not in cache:
            cache[entity] = await _records(db, new.tenant, entity)
        return cache[entity]

    added, removed, kept = _keys(old.entities, new.entities)
    for e in sorted(added):
        add(Change("added", "entity", e))
    for e in sorted(removed):
        add(
            Change(
                "removed",
                "entity",
                e,
                "its records stay stored, out of reach",
                len(await records(e)),
            )
        )
    for e in sorted(kept):
        before, after = old.entities[e], new.entities[e]
        f_added, f_removed, f_kept = _keys(before.fields, after.fields)
        for f in sorted(f_added):
            fd = after.fields[f]
            missing = 0
            if fd.required and not fd.read_only:
                missing = sum(1 for r in await records(e) if r.get(f) is None)
            add(Change("added", "field", f"{e}.{f}", fd.type, missing or None))
        for f in sorted(f_removed):
            holding = sum(1 for r in await records(e) if r.get(f) is not None)
            add(
                Change(
                    "removed", "field", f"{e}.{f}", "values are kept in storage", holding or None
                )
            )
        await _index_changes(plan, db, new.tenant, e, before, after)
        for f in sorted(f_kept):
            a, b = before.fields[f], after.fields[f]
            if a.value_type != b.value_type:
                holding = sum(1 for r in await records(e) if r.get(f) is not None)
                add(
                    Change(
                        "changed",
                        "field",
                        f"{e}.{f}",
                        f"type {a.type} -> {b.type}",
                        holding or None,
                    )
                )
            if b.required and not a.required and not b.read_only:
                missing = sum(1 for r in await records(e) if r.get(f) is None)
                add(Change("changed", "field", f"{e}.{f}", "now required", missing or None))
            if b.unique and not a.unique:
                add(Change("changed", "field", f"{e}.{f}", "now unique"))
    await _processes(plan, old, new, records)
    r_added, r_removed, _ = _keys(old.roles, new.roles)
    for r in sorted(r_added):
        add(Change("added", "role", r))
    for r in sorted(r_removed):
        add(Change("removed", "role", r, "users keep the key; it grants nothing"))
    return plan


async def _index_changes(
    plan: Plan, db: Database, tenant: str, key: str, before: EntityDef, after: EntityDef
) -> None:
    """Fields whose index slot the apply re-maps: re-indexed after it, batch by batch.

    The count is the entity's stored records (archived ones included): every
    one is read once; only those whose slot value differs are rewritten.
    """
    changes = changed_slots(before, after)
    if not changes:
        return
    rows = await db.reindex.count_rows(tenant, key)
    old = slot_targets(before)
    was_in = {t.field: slot for slot, t in old.items() if t is not None}
    after_note = "re-indexed after apply; until then filters and sorts on it read the stored values"
    for slot, target in sorted(changes.items()):
        if target is not None:
            field = target.field
            if field not in was_in:
                plan.changes.append(
                    Change("added", "index", f"{key}.{field}", f"slot {slot}, {after_note}", rows)
                )
            else:
                moved = f"slot {was_in[field]} -> {slot}" if was_in[field] != slot else "slot"
                plan.changes.append(
                    Change("changed", "index", f"{key}.{field}", f"{moved}, {after_note}", rows)
                )
            continue
        gone = old[slot]
        if gone is not None and after.slot_of(gone.field) is None:
            plan.changes.append(
                Change(
                    "removed",
                    "index",
                    f"{key}.{gone.field}",
                    f"slot {slot} cleared after apply",
                    rows,
                )
            )


async def _processes(plan: Plan, old: TenantModel, new: TenantModel, records: Any) -> None:
    add = plan.changes.append
    po, pn = old.processes, new.processes
    for k in sorted(set(pn.workflows) - set(po.workflows)):
        wf = pn.workflows[k]
        if wf.entity in old.entities:
            rows = await records(wf.entity)
            outside = sum(1 for r in rows if r.get(wf.field) not in wf.states)
            detail = f"on {wf.entity}.{wf.field}; records outside its states"
            add(Change("added", "workflow", k, detail, outside or None))
        else:
            add(Change("added", "workflow", k))
    sections: tuple[tuple[str, Mapping[str, Any], Mapping[str, Any]], ...] = (
        ("workflow", po.workflows, pn.workflows),
        ("automation", po.automations, pn.automations),
        ("timer", po.timers, pn.timers),
    )
    for kind, a, b in sections:
        k_added, k_removed, k_kept = _keys(a, b)
        if kind != "workflow":
            for k in sorted(k_added):
                add(Change("added", kind, k))
        for k in sorted(k_removed):
            add(Change("removed", kind, k))
        for k in sorted(k_kept):
            if a[k] != b[k]:
                add(Change("changed", kind, k))
    ctx_principal = Principal.system(new.tenant)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for entity_key in sorted(set(po.rules) | set(pn.rules)):
        rules = pn.rules.get(entity_key, ())
        old_sources = {r.key: r.expression.source for r in po.rules.get(entity_key, ())}
        entity = new.entities.get(entity_key)
        for rule in rules:
            if entity is None or old_sources.get(rule.key) == rule.expression.source:
                continue
            kind = "changed" if rule.key in old_sources else "added"
            if "related" in rule.expression.usage:
                add(
                    Change(
                        kind,
                        "rule",
                        f"{entity_key}.{rule.key}",
                        "reads related records: not counted",
                    )
                )
                continue
            failing = 0
            for stored in await records(entity_key):
                data = _data(entity, stored)
                variables = bindings(
                    entity,
                    data,
                    previous=data,
                    principal=ctx_principal,
                    now=now,
                    timezone=new.timezone,
                )
                variables["related"] = {}
                try:
                    if rule.expression.evaluate(variables) is not True:
                        failing += 1
                except ExpressionError:
                    failing += 1
            add(
                Change(
                    kind,
                    "rule",
                    f"{entity_key}.{rule.key}",
                    "records failing it must be fixed at their next save",
                    failing or None,
                )
            )
        for key in sorted(set(old_sources) - {r.key for r in rules}):
            add(Change("removed", "rule", f"{entity_key}.{key}"))


# -- what existing data forbids ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class UniqueClaims:
    """Claims to record when a field becomes unique: (record id, normalised value)."""

    entity: str
    field: str
    claims: tuple[tuple[str, str], ...]


def _field_path(new: TenantModel, entity: str, key: str, leaf: str) -> str:
    """Where a field's problem points: into the tenant's config when it defines the field."""
    spec = (new.config.get("entities") or {}).get(entity) or {}
    if key in (spec.get("fields") or {}):
        return f"/entities/{entity}/fields/{key}/{leaf}"
    return f"/entities/{entity}"


def _sample(ids: list[str]) -> str:
    return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


async def data_problems(
    db: Database, old: TenantModel | None, new: TenantModel, file: str | None = None
) -> tuple[list[Problem], list[UniqueClaims]]:
    """Changes the stored data cannot take, as located problems; else the unique
    claims to record for fields that become unique.

    Refused: a type change of a field that holds values (the values would no
    longer read as the new type: add a new field and move them), removing an
    enum option that records still hold, and making a field unique while records
    share a value.
    """
    problems: list[Problem] = []
    claims: list[UniqueClaims] = []
    if old is None:
        return problems, claims
    for e in sorted(set(old.entities) & set(new.entities)):
        before, after = old.entities[e], new.entities[e]
        rows: list[dict[str, Any]] | None = None
        for key in sorted(after.fields):
            a, b = before.fields.get(key), after.fields[key]
            if b.type == "computed" or (
                a is not None
                and b.unique == a.unique
                and (a.value_type == b.value_type and set(a.option_values) <= set(b.option_values))
            ):
                continue
            if a is None and not b.unique:
                continue
            if rows is None:
                rows = await _records(db, new.tenant, e)
            holding = [r for r in rows if r.get(key) is not None]
            if not holding:
                continue
            if a is not None and a.value_type != b.value_type:
                problems.append(
                    Problem(
                        "TYPE_CHANGE_WITH_DATA",
                        f"{len(holding)} record(s) of '{e}' hold values of '{key}' "
                        f"({_sample([r['id'] for r in holding])}); changing its type from "
                        f"{a.type} to {b.type} would leave them unreadable: add a field of "
                        "the new type and move the values instead",
                        _field_path(new, e, key, "type"),
                        file,
                    )
                )
                continue
            if a is not None and b.option_values and a.option_values:
                gone = set(a.option_values) - set(b.option_values)
                users = [
                    r["id"]
                    for r in holding
                    if set(r[key] if isinstance(r[key], list) else [r[key]]) & gone
                ]
                if users:
                    problems.append(
                        Problem(
                            "OPTION_IN_USE",
                            f"option(s) {sorted(gone)} of '{e}.{key}' are held by "
                            f"{len(users)} record(s) ({_sample(users)}): change those "
                            "records first",
                            _field_path(new, e, key, "options"),
                            file,
                        )
                    )
            if b.unique and (a is None or not a.unique):
                seen: dict[str, list[str]] = {}
                for r in holding:
                    value = from_storage(b, r[key])
                    seen.setdefault(unique_key(b, value), []).append(r["id"])
                shared = {v: ids for v, ids in seen.items() if len(ids) > 1}
                if shared:
                    value, ids = next(iter(sorted(shared.items())))
                    problems.append(
                        Problem(
                            "UNIQUE_DUPLICATES",
                            f"'{e}.{key}' cannot become unique: {len(shared)} value(s) are "
                            f"shared, e.g. '{value}' by {_sample(ids)}",
                            _field_path(new, e, key, "unique"),
                            file,
                        )
                    )
                else:
                    pairs = tuple((ids[0], v) for v, ids in seen.items())
                    claims.append(UniqueClaims(e, key, pairs))
    return problems, claims
