"""``crm demo``: apply the demo tenants, load sample data, create users.

Each tenant gets an admin (``demo@<tenant>.example``) and the small team its
processes need (a sales rep and the manager who approves their discounts, a
dispatcher and a technician...), all with the password ``tessera-demo``.
On the first load the processes are staged so they show at once: every
demo user has a task overdue, one due today and one due tomorrow, and each
transition that needs approval has one request waiting in an approver's inbox.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core import authz
from core.config import load_config_file
from core.context import Principal
from core.demo_data import SampleRecord, generate_sample_data
from core.errors import ConfigInvalid, TesseraError
from core.metadata import TenantModel
from core.query import Condition
from core.runtime import Runtime
from core.security import hash_password, issue_token
from core.store.values import utcnow
from core.workflow.definitions import Transition, Workflow

__all__ = [
    "DEMO_RECORDS",
    "DEMO_TEAMS",
    "DemoLogin",
    "DemoMember",
    "demo_configs_dir",
    "load_demo",
    "load_sample_records",
]

DEMO_PASSWORD = "tessera-demo"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    tenant: str
    name: str
    email: str
    password: str
    token: str
    roles: tuple[str, ...] = ("admin",)
    #: The tenant's other demo users (the admin's login carries them).
    team: tuple[DemoLogin, ...] = ()


@dataclass(frozen=True, slots=True)
class DemoMember:
    """A demo user besides the admin: ``<local>@<tenant>.example``.

    ``assigned`` names the user fields the member takes turns on with the
    admin when sample records are loaded: ``"owner"`` (that field of every
    entity) or ``"quote.owner"`` (one entity's).
    """

    local: str
    name: str
    roles: tuple[str, ...]
    manager: str | None = None  # the local part of the member who approves for this one
    assigned: tuple[str, ...] = ()


#: The people each demo tenant's processes need; a tenant not listed has only its admin.
DEMO_TEAMS: Mapping[str, tuple[DemoMember, ...]] = {
    "shenzhen-components": (
        DemoMember("manager", "李伟 (Li Wei)", ("sales_manager",)),
        DemoMember(
            "sales", "王芳 (Wang Fang)", ("sales_rep",), manager="manager", assigned=("owner",)
        ),
    ),
    "madrid-componentes": (
        DemoMember("jefe", "Javier Ortega", ("jefe_ventas",), assigned=("rma.gestor",)),
        DemoMember(
            "comercial", "Lucía Martín", ("comercial",), manager="jefe", assigned=("owner",)
        ),
    ),
    "manila-aircon": (
        DemoMember(
            "dispatcher", "Maricel Santos", ("dispatcher",), assigned=("dispatcher", "task.owner")
        ),
        DemoMember(
            "technician",
            "Jun Dela Cruz",
            ("technician",),
            manager="dispatcher",
            assigned=("technician", "task.owner"),
        ),
    ),
}

#: Records a demo tenant shows off, created after its sample data, in order, owned by
#: the member who takes turns on ``owner`` (else the admin).
DEMO_RECORDS: Mapping[str, tuple[tuple[str, Mapping[str, Any]], ...]] = {
    "shenzhen-components": (
        # The lead names, in traditional characters, an account kept in simplified ones:
        # the duplicate check (mode warn) links them; converting the lead reuses the account.
        ("account", {"name": "深圳市华强电子有限公司", "phone": "0755 8888 0000"}),
        ("lead", {"name": "陈静", "company": "華強電子有限公司", "phone": "+86 755 8888 0000"}),
    ),
}

#: Subjects of the staged tasks (overdue, today, tomorrow) by language.
_TASK_SUBJECTS: Mapping[str, tuple[str, str, str]] = {
    "zh": ("跟进：{}", "电话回访：{}", "准备资料：{}"),
    "es": ("Seguimiento: {}", "Llamar al cliente: {}", "Preparar documentación: {}"),
    "en": ("Follow up: {}", "Call the customer: {}", "Prepare: {}"),
}


def demo_configs_dir() -> Path:
    """``tenant_configs/`` of the working directory, the source checkout, or the wheel."""
    for folder in (
        Path.cwd() / "tenant_configs",
        Path(__file__).resolve().parent.parent / "tenant_configs",
    ):
        if folder.is_dir():
            return folder
    return Path(str(resources.files("core") / "_demo_tenants"))


def _resolve(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value in ids:
        return ids[value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [ids.get(v, v) for v in value]
    return value


async def load_sample_records(
    rt: Runtime,
    model: TenantModel,
    principal: Principal,
    samples: list[SampleRecord],
    assignees: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Create sample records through the service, in one transaction.

    Records are written as the system acting for ``principal``: samples may
    rest in any workflow state (see :mod:`core.demo_data`), which only the
    system may create directly; rules, field checks and automations apply as
    to anyone. A user field gets ``principal``, or takes turns among the ids
    ``assignees`` lists for ``"entity.field"`` or ``"field"``.
    """
    ctx = rt.context(model, dataclasses.replace(principal, is_system=True))
    ids: dict[str, str] = {}
    turns: dict[str, int] = {}

    def user_for(entity: str, key: str) -> str:
        for name in (f"{entity}.{key}", key):
            people = (assignees or {}).get(name)
            if people:
                turn = turns[name] = turns.get(name, -1) + 1
                return people[turn % len(people)]
        return principal.user_id

    async with rt.db.transaction():
        for sample in samples:
            entity = model.entities[sample.entity]
            values: dict[str, Any] = {}
            for key, value in sample.values.items():
                f = entity.fields.get(key)
                if f is None:
                    continue
                if f.value_type == "user" and value is None:
                    values[key] = user_for(entity.key, key)
                elif f.value_type in ("relation", "relation_list"):
                    values[key] = _resolve(value, ids)
                else:
                    values[key] = value
            for key, f in entity.fields.items():
                if f.value_type == "user" and key not in values and not f.read_only:
                    values[key] = user_for(entity.key, key)
            record = await rt.service.create(ctx, sample.entity, values)
            ids[sample.ref] = record.id
    return len(ids)


def _owner_of_samples(admin_id: str, team: list[tuple[DemoMember, str]]) -> str:
    return next((uid for m, uid in team if "owner" in m.assigned), admin_id)


async def _feature(rt: Runtime, model: TenantModel, principal: Principal, owner: str) -> None:
    """Create the tenant's :data:`DEMO_RECORDS` through the service, as the system."""
    ctx = rt.context(model, dataclasses.replace(principal, is_system=True))
    for entity, values in DEMO_RECORDS.get(model.tenant, ()):
        edef = model.entities.get(entity)
        if edef is None:
            continue  # the plugin defining it is not enabled
        owned = {"owner": owner} if "owner" in edef.fields else {}
        await rt.service.create(ctx, entity, {**values, **owned})


async def _team(
    rt: Runtime, model: TenantModel, password_hash: str
) -> list[tuple[DemoMember, str]]:
    """The tenant's demo members (created when missing, managers set), with their ids."""
    found: list[tuple[DemoMember, str]] = []
    for member in DEMO_TEAMS.get(model.tenant, ()):
        if any(role not in model.roles for role in member.roles):
            continue  # the config no longer has the role: leave the member out
        email = f"{member.local}@{model.tenant}.example"
        user = await rt.db.get_user(model.tenant, email)
        user_id = (
            user["id"]
            if user is not None
            else await rt.db.add_user(
                model.tenant,
                email,
                member.name,
                password_hash,
                list(member.roles),
                model.default_locale,
            )
        )
        found.append((member, user_id))
    by_local = {m.local: uid for m, uid in found}
    for member, user_id in found:
        if member.manager in by_local:
            await rt.db.set_manager(model.tenant, user_id, by_local[member.manager])
    return found


def _assignees(admin_id: str, team: list[tuple[DemoMember, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for member, user_id in team:
        for name in member.assigned:
            out.setdefault(name, [admin_id]).append(user_id)
    return out


def _principal(model: TenantModel, user_id: str, email: str, roles: Sequence[str]) -> Principal:
    return Principal(
        tenant=model.tenant,
        user_id=user_id,
        email=email,
        roles=tuple(roles),
        locale=model.default_locale,
    )


async def _stage_tasks(rt: Runtime, model: TenantModel, people: list[Principal]) -> None:
    """Three open tasks per person: one overdue, one due today, one due tomorrow."""
    if "task" not in model.entities:
        return
    zone = ZoneInfo(model.timezone)
    today = utcnow().astimezone(zone).date()
    lang = model.default_locale[:2]
    subjects = _TASK_SUBJECTS.get(lang, _TASK_SUBJECTS["en"])
    due = (
        datetime.combine(today - timedelta(days=1), time(17), tzinfo=zone),
        datetime.combine(today, time(16), tzinfo=zone),
        datetime.combine(today + timedelta(days=1), time(10), tzinfo=zone),
    )
    workflows = [wf.entity for wf in model.processes.workflows.values()]
    for person in people:
        ctx = rt.context(model, person)
        about = None
        for entity_key in workflows:  # a record of theirs that a process runs on
            if authz.allowed(ctx, entity_key, "read"):
                records, _ = await rt.service.list(ctx, entity_key, None, [], 1, None)
                if records:
                    about = (model.entities[entity_key], records[0])
                    break
        title = "—"
        related: dict[str, Any] = {}
        if about is not None:
            entity, record = about
            title = str(record.data.get(entity.title_field or "", "") or record.id)
            related = {"related_entity": entity.key, "related_id": record.id}
        system = rt.context(model, dataclasses.replace(person, is_system=True))
        for subject, when in zip(subjects, due, strict=True):
            values = {"subject": subject.format(title), "due_at": when, "owner": person.user_id}
            await rt.service.create(system, "task", {**values, **related, "done": False})


async def _stage_approvals(rt: Runtime, model: TenantModel, people: list[Principal]) -> None:
    """For each transition that needs approval, one request by a non-admin demo user."""
    for wf in model.processes.workflows.values():
        for t in wf.transitions.values():
            if t.approval is not None and t.sources is not None:
                await _request_one(rt, model, people, wf, t)


async def _request_one(
    rt: Runtime, model: TenantModel, people: list[Principal], wf: Workflow, t: Transition
) -> None:
    """Run ``t`` as the first demo user and record for which it opens an approval."""
    assert t.approval is not None and t.sources is not None
    engine = rt.service.processes
    entity = model.entities[wf.entity]
    sources = sorted(t.sources)
    for person in people:
        ctx = rt.context(model, person)
        if "admin" in person.roles or not authz.allowed(ctx, entity.key, "transition"):
            continue
        records, _ = await rt.service.list(
            ctx, entity.key, Condition(wf.field, "in", sources), [], 50, None
        )
        for record in records:
            try:
                if t.approval.when is not None and not await engine.evaluate(
                    ctx, t.approval.when, entity, record.data, None
                ):
                    continue
                await engine.transition(ctx, entity.key, record.id, t.key)
            except TesseraError:
                continue  # a guard or a required field stops this one: try the next
            return


async def load_demo(
    rt: Runtime, configs: Path | None = None, *, counts: Mapping[str, int] | None = None
) -> list[DemoLogin]:
    """Apply every config in ``configs``, add the demo users, load and stage sample data.

    Sample data is loaded into a tenant that has no records yet (``counts``
    as in :func:`~core.demo_data.generate_sample_data`); a second run only
    issues new tokens. One login per tenant, its admin, carrying the team.
    """
    folder = configs or demo_configs_dir()
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise ConfigInvalid(f"no tenant configs in {folder}")
    logins: list[DemoLogin] = []
    password_hash = hash_password(DEMO_PASSWORD)  # one hash: every demo user has this password
    for path in paths:
        doc, problems = load_config_file(path)
        if doc is None or problems:
            raise ConfigInvalid(f"{path} is not valid", problems)
        result = await rt.apply_config(doc, actor="demo", file=str(path))
        model = result.model
        email = f"demo@{model.tenant}.example"
        user = await rt.db.get_user(model.tenant, email)
        if user is None:
            user_id = await rt.db.add_user(
                model.tenant,
                email,
                model.label(model.name) + " demo",
                password_hash,
                ["admin"],
                model.default_locale,
            )
        else:
            user_id = user["id"]
        principal = _principal(model, user_id, email, ("admin",))
        team = await _team(rt, model, password_hash)
        people = [principal] + [
            _principal(model, uid, f"{m.local}@{model.tenant}.example", m.roles) for m, uid in team
        ]
        async with rt.db.tenant_scope(model.tenant):
            existing = await rt.db.fetch(
                "SELECT COUNT(*) AS n FROM record WHERE tenant_id = {}", model.tenant
            )
        if not existing[0]["n"]:
            samples = generate_sample_data(model, now=utcnow(), counts=counts)
            print(f"{model.tenant}: loading {len(samples)} sample records ...", file=sys.stderr)
            await load_sample_records(rt, model, principal, samples, _assignees(user_id, team))
            await _stage_tasks(rt, model, people)
            await _stage_approvals(rt, model, people)
            await _feature(rt, model, principal, _owner_of_samples(user_id, team))
        members = [
            DemoLogin(
                model.tenant,
                m.name,
                f"{m.local}@{model.tenant}.example",
                DEMO_PASSWORD,
                await issue_token(rt.db, model.tenant, uid, label="demo"),
                m.roles,
            )
            for m, uid in team
        ]
        token = await issue_token(rt.db, model.tenant, user_id, label="demo")
        logins.append(
            DemoLogin(
                model.tenant,
                model.label(model.name),
                email,
                DEMO_PASSWORD,
                token,
                team=tuple(members),
            )
        )
    return logins
