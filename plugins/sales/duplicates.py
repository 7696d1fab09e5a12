"""Duplicate prevention for accounts, contacts and leads.

Each record's normalised keys (see :mod:`plugins.sales.matching`) are kept in
``match_key`` rows, written through the service as the system whenever a
record's name, phones, emails or website change. A check looks each key of
the new values up (an indexed equality per key), ranks the few records found
by how many keys they share, and scores only the best of them: its cost does
not grow with the number of accounts.

On create, ``settings.sales.duplicates.mode`` decides: ``warn`` saves the
record and lists what it may duplicate in ``possible_duplicates`` (a lead's
matching account also in ``matched_account``); ``block`` refuses the write
with ``VALIDATION_FAILED`` and a ``DUPLICATE`` problem on the name field.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.context import CallContext, Operation, Principal, Record
from core.errors import Problem, TesseraError, ValidationFailed
from core.query import And, Condition
from plugins.sales.matching import (
    email_domain,
    match_keys,
    name_score,
    normalise_email,
    normalise_phone,
    website_domain,
)
from plugins.sales.settings import duplicate_settings

__all__ = [
    "CHECKED",
    "DUPLICATE_ENTITIES",
    "Candidate",
    "check_create",
    "find_candidates",
    "refresh_keys",
    "system_context",
]

#: Entities the check covers, and the fields whose change re-keys a record.
DUPLICATE_ENTITIES: Mapping[str, frozenset[str]] = {
    "account": frozenset({"name", "phone", "email", "website"}),
    "contact": frozenset({"name", "phone", "mobile", "email"}),
    "lead": frozenset({"name", "company", "phone", "email"}),
}
#: ``ctx.extra`` flag: the caller already checked (a conversion reusing its match).
CHECKED = "sales.duplicates_checked"

_PER_KEY = 50  # rows read per key; a key shared by more records says little anyway
_SCORED = 25  # candidates scored, best-sharing first


@dataclass(frozen=True, slots=True)
class Candidate:
    record: Record
    score: float
    reasons: tuple[str, ...]


def system_context(ctx: CallContext) -> CallContext:
    """``ctx`` acting as the tenant's system: for the plugin's own bookkeeping rows."""
    return dataclasses.replace(ctx, principal=Principal.system(ctx.tenant))


def _name(entity: str, data: Mapping[str, Any], *, as_company: bool = False) -> str | None:
    if entity == "lead" and (as_company or data.get("company")):
        return data.get("company") or data.get("name")
    return data.get("name")


def _parts(
    ctx: CallContext, entity: str, data: Mapping[str, Any]
) -> tuple[list[str | None], list[str | None], list[str | None], list[str | None]]:
    _mode, _threshold, free = duplicate_settings(ctx.model)
    email = data.get("email")
    names = [_name(entity, data)]
    phones = [data.get("phone"), data.get("mobile")]
    if entity == "contact":
        # A colleague shares the company's domain, not the person: no domain key.
        return names, phones, [email], []
    domains = [email_domain(email, free)]
    if entity == "account":
        domains.append(website_domain(data.get("website")))
    return names, phones, [email], domains


def keys_of(ctx: CallContext, entity: str, data: Mapping[str, Any]) -> set[str]:
    names, phones, emails, domains = _parts(ctx, entity, data)
    return match_keys(names, phones, emails, domains, ctx.model.country)


async def refresh_keys(ctx: CallContext, operation: Operation, record: Record) -> None:
    """Keep ``record``'s ``match_key`` rows equal to its current keys (post_operation)."""
    relevant = DUPLICATE_ENTITIES.get(record.entity)
    if relevant is None or "match_key" not in ctx.model.entities:
        return
    if operation.action == "update" and not relevant & set(operation.changes):
        return
    service = ctx.extra["service"]
    system = system_context(ctx)
    wanted = set() if operation.action == "delete" else keys_of(ctx, record.entity, record.data)
    mine = And((Condition("target", "eq", record.entity), Condition("record", "eq", record.id)))
    held = {r.data["key"]: r.id async for r in service.iterate(system, "match_key", mine)}
    for key, row_id in held.items():
        if key not in wanted:
            await service.delete(system, "match_key", row_id)
    for key in sorted(wanted - set(held)):
        await service.create(
            system, "match_key", {"target": record.entity, "record": record.id, "key": key}
        )


def _pair_score(
    ctx: CallContext,
    probe_entity: str,
    probe: Mapping[str, Any],
    entity: str,
    other: Mapping[str, Any],
) -> tuple[float, tuple[str, ...]]:
    """Score one candidate against the probe values, with the reasons that matched."""
    found: dict[str, float] = {}
    as_company = entity != "lead" and probe_entity == "lead"
    name, code = name_score(
        _name(probe_entity, probe, as_company=as_company) or "", _name(entity, other) or ""
    )
    if code:
        if entity == "contact" and probe.get("account") != other.get("account"):
            name = min(name, 70.0)  # two people of one name at different companies
        found[code] = name
    country = ctx.model.country
    phones = {normalise_phone(probe.get(k), country) for k in ("phone", "mobile")} - {None}
    theirs = {normalise_phone(other.get(k), country) for k in ("phone", "mobile")} - {None}
    if phones & theirs:
        found["PHONE"] = 95.0
    email, their_email = normalise_email(probe.get("email")), normalise_email(other.get("email"))
    if email and email == their_email:
        found["EMAIL"] = 100.0
    if entity != "contact":
        _mode, _threshold, free = duplicate_settings(ctx.model)
        ours = {email_domain(probe.get("email"), free), website_domain(probe.get("website"))}
        theirs_d = {email_domain(other.get("email"), free), website_domain(other.get("website"))}
        if (ours & theirs_d) - {None}:
            found["EMAIL_DOMAIN"] = 90.0
    if not found:
        return 0.0, ()
    reasons = tuple(sorted(found, key=lambda r: -found[r]))
    return max(found.values()), tuple(r for r in reasons if found[r] >= 50)


async def find_candidates(
    ctx: CallContext,
    entity: str,
    values: Mapping[str, Any],
    *,
    probe_entity: str | None = None,
    exclude: Iterable[str] = (),
    minimum: float = 0.0,
    as_system: bool = False,
) -> list[Candidate]:
    """Records of ``entity`` that may duplicate ``values`` (of ``probe_entity``), best first.

    Records are read with the caller's rights unless ``as_system``: a report
    shows only what the caller may see, while a check on create also counts
    records the caller cannot see.
    """
    probe_entity = probe_entity or entity
    service = ctx.extra["service"]
    system = system_context(ctx)
    shared: Counter[str] = Counter()
    for key in sorted(keys_of(ctx, probe_entity, values)):
        rows, _page = await service.list(
            system,
            "match_key",
            And((Condition("target", "eq", entity), Condition("key", "eq", key))),
            [],
            _PER_KEY,
            None,
        )
        shared.update({r.data["record"] for r in rows})
    skip = set(exclude)
    ids = [i for i, _n in shared.most_common() if i not in skip][:_SCORED]
    if not ids:
        return []
    records = await service.get_many(system if as_system else ctx, entity, ids)
    out: list[Candidate] = []
    for record in records.values():
        score, reasons = _pair_score(ctx, probe_entity, values, entity, record.data)
        if score >= minimum and reasons:
            out.append(Candidate(record, score, reasons))
    out.sort(key=lambda c: (-c.score, c.record.id))
    return out


async def check_create(ctx: CallContext, operation: Operation) -> None:
    """The check on create, per the tenant's mode (pre_validate)."""
    if operation.action != "create" or operation.entity not in DUPLICATE_ENTITIES:
        return
    mode, threshold, _free = duplicate_settings(ctx.model)
    if mode == "off" or ctx.extra.get(CHECKED) or "match_key" not in ctx.model.entities:
        return
    values = operation.values
    same = await find_candidates(ctx, operation.entity, values, minimum=threshold, as_system=True)
    accounts: list[Candidate] = []
    if operation.entity == "lead":
        accounts = await find_candidates(
            ctx, "account", values, probe_entity="lead", minimum=threshold, as_system=True
        )
    found = same + accounts
    if not found:
        return
    if mode == "block":
        field = "company" if operation.entity == "lead" and values.get("company") else "name"
        raise ValidationFailed(
            "this looks like a duplicate of an existing record",
            [
                Problem(
                    "DUPLICATE",
                    f"matches {c.record.entity} {await _shown(ctx, c.record)} "
                    f"({', '.join(c.reasons)}; score {c.score:.0f})",
                    field,
                )
                for c in found[:5]
            ],
        )
    if same:
        values["possible_duplicates"] = [c.record.id for c in same[:10]]
    if accounts:
        values["matched_account"] = accounts[0].record.id


async def _shown(ctx: CallContext, record: Record) -> str:
    """The record's name and id if the caller may read it; else only that it exists."""
    try:
        visible = await ctx.extra["service"].get_many(ctx, record.entity, [record.id])
    except TesseraError:
        visible = {}
    if record.id not in visible:
        return "(a record you cannot see)"
    name = record.data.get("name") or record.data.get("company") or ""
    return f"'{name}' (id {record.id})"
