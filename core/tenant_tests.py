"""``crm tenant test``: the test cases a tenant config carries, run in a scratch database (D9).

Each case of the config's ``tests`` gets an empty SQLite database with the
config applied and the case's users (their roles and managers). Its steps run
as those users through the service, so every rule applies exactly as for a
real user: roles, record scope, field access, validation, workflows,
approvals, automations and plugin hooks. A step may expect an error code
(and the field it is located at) or values the record holds afterwards. A
failure is a located problem: ``/tests/<case>/steps/<step>/...``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from core.context import CallContext, Principal, Record
from core.errors import Problem, TesseraError
from core.plugins import PluginHost

__all__ = ["CaseResult", "run_tenant_tests"]

_ACTIONS = ("create", "update", "delete", "transition", "approve", "reject", "check")
_ADMIN = "_admin"


@dataclass(slots=True)
class CaseResult:
    name: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


class _StepFailed(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _plain(value: Any) -> Any:
    """A stored or expected value in comparable JSON terms."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
        return number if number.is_finite() else value
    return value


def _differences(expected: Any, actual: Any, path: str) -> list[tuple[str, Any, Any]]:
    """Where ``actual`` differs from ``expected`` (objects: only the expected keys)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key, value in expected.items():
            out += _differences(value, actual.get(key), f"{path}/{key}")
        return out
    return [] if expected == actual else [(path, expected, actual)]


class _Case:
    def __init__(
        self, runtime: Any, model: Any, case: Mapping[str, Any], where: str, file: str | None
    ) -> None:
        self.runtime = runtime
        self.model = model
        self.case = case
        self.where = where
        self.file = file
        self.users: dict[str, Principal] = {}
        self.refs: dict[str, tuple[str, str]] = {}

    def fail(self, code: str, message: str, path: str) -> _StepFailed:
        return _StepFailed(Problem(code, message, path, self.file))

    async def add_users(self) -> None:
        db, tenant = self.runtime.db, self.model.tenant
        specs: dict[str, Any] = {_ADMIN: {"roles": ["admin"]}, **(self.case.get("users") or {})}
        ids: dict[str, str] = {}
        for key, spec in specs.items():
            ids[key] = await db.add_user(
                tenant, f"{key.strip('_')}@tests.invalid", key, "!", list(spec["roles"]), None
            )
            self.users[key] = Principal(
                tenant=tenant,
                user_id=ids[key],
                email=f"{key.strip('_')}@tests.invalid",
                roles=tuple(spec["roles"]),
                name=key,
            )
        for key, spec in specs.items():
            manager = spec.get("manager")
            if manager is not None:
                if manager not in ids:
                    raise self.fail(
                        "TEST_USER_UNKNOWN",
                        f"manager '{manager}' is not a user of this case",
                        f"{self.where}/users/{key}/manager",
                    )
                await db.set_manager(tenant, ids[key], ids[manager])

    def resolve(self, value: Any, at: str) -> Any:
        """``"@name"`` is the id of the record a step named, or of the case's user;
        ``"@@..."`` is a literal text starting with ``@``."""
        if isinstance(value, Mapping):
            return {k: self.resolve(v, f"{at}/{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, f"{at}/{i}") for i, v in enumerate(value)]
        if isinstance(value, str) and value.startswith("@"):
            name = value[1:]
            if name.startswith("@"):
                return name
            if name in self.refs:
                return self.refs[name][1]
            if name in self.users:
                return self.users[name].user_id
            raise self.fail(
                "TEST_REF_UNKNOWN", f"'{value}' names no earlier record and no user", at
            )
        return value

    def _ref(self, step: Mapping[str, Any], action: str, at: str) -> tuple[str, str]:
        ref = str(step[action])
        if ref not in self.refs:
            known = ", ".join(sorted(self.refs)) or "none yet"
            raise self.fail(
                "TEST_REF_UNKNOWN",
                f"no earlier step created a record named '{ref}' (known: {known})",
                f"{at}/{action}",
            )
        return self.refs[ref]

    async def run_step(self, step: Mapping[str, Any], at: str) -> None:
        who = str(step.get("as") or _ADMIN)
        if who not in self.users:
            raise self.fail("TEST_USER_UNKNOWN", f"'{who}' is not a user of this case", f"{at}/as")
        ctx = self.runtime.context(self.model, self.users[who])
        action = next(a for a in _ACTIONS if a in step)
        expect = step.get("expect") or {}
        try:
            record = await self._act(ctx, step, action, at)
        except TesseraError as err:
            wanted = expect.get("error")
            if wanted is None:
                located = "; ".join(p.located() for p in err.problems)
                raise self.fail(
                    "TEST_UNEXPECTED_ERROR",
                    f"{err.code}: {err.message}" + (f" ({located})" if located else ""),
                    at,
                ) from None
            if err.code != wanted:
                raise self.fail(
                    "TEST_WRONG_ERROR",
                    f"expected {wanted}, got {err.code}: {err.message}",
                    f"{at}/expect/error",
                ) from None
            fld = expect.get("field")
            if fld is not None and not any(p.path in (fld, _camel(fld)) for p in err.problems):
                paths = [p.path for p in err.problems] or ["nowhere"]
                raise self.fail(
                    "TEST_WRONG_FIELD",
                    f"{err.code} was located at {', '.join(paths)}, not at '{fld}'",
                    f"{at}/expect/field",
                ) from None
            return
        if "error" in expect:
            raise self.fail(
                "TEST_NO_ERROR",
                f"expected {expect['error']}, but the step succeeded",
                f"{at}/expect/error",
            )
        if "ref" in step and record is not None:
            self.refs[str(step["ref"])] = (record.entity, record.id)
        if "values" in expect and record is not None:
            entity, rid = (record.entity, record.id)
            current = await self.runtime.service.get(ctx, entity, rid)
            wrong = _differences(
                _plain(self.resolve(dict(expect["values"]), f"{at}/expect/values")),
                _plain({**current.data}),
                f"{at}/expect/values",
            )
            if wrong:
                path, want, got = wrong[0]
                raise self.fail("TEST_VALUE", f"expected {want!r}, found {got!r}", path)

    async def _act(
        self, ctx: CallContext, step: Mapping[str, Any], action: str, at: str
    ) -> Record | None:
        service = self.runtime.service
        values = self.resolve(dict(step.get("values") or {}), f"{at}/values")
        if action == "create":
            return await service.create(ctx, str(step["create"]), values)
        entity, rid = self._ref(step, action, at)
        if action == "update":
            return await service.update(ctx, entity, rid, values, None)
        if action == "delete":
            await service.delete(ctx, entity, rid)
            return None
        if action == "transition":
            if "name" not in step:
                raise self.fail("TEST_STEP_INVALID", "a transition step needs 'name'", at)
            return await service.transition(
                ctx, entity, rid, str(step["name"]), step.get("comment"), values or None
            )
        if action in ("approve", "reject"):
            approvals = await service.processes.record_approvals(ctx, entity, rid)
            pending = [a for a in approvals if str(a.get("status", "")).lower() == "pending"]
            if not pending:
                raise self.fail(
                    "TEST_NO_APPROVAL", "the record has no pending approval", f"{at}/{action}"
                )
            await service.processes.decide(
                ctx, pending[0]["id"], action == "approve", step.get("comment")
            )
            return await service.get(ctx, entity, rid)
        return await service.get(ctx, entity, rid)  # check


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p.capitalize() for p in rest)


async def run_tenant_tests(
    doc: Mapping[str, Any], plugins: PluginHost, file: str | None = None
) -> list[CaseResult]:
    """Run every case of ``doc["tests"]``; the config must be valid."""
    from core.runtime import Runtime
    from core.store import open_database

    results: list[CaseResult] = []
    for i, case in enumerate(doc.get("tests") or ()):
        result = CaseResult(str(case["name"]))
        results.append(result)
        with tempfile.TemporaryDirectory(prefix="tessera-test-") as scratch:
            db = await open_database(f"sqlite:///{Path(scratch) / 'case.db'}")
            try:
                await db.migrate()
                runtime = Runtime(db, plugins, config_check_seconds=0)
                applied = await runtime.apply_config(doc, file=file)
                runner = _Case(runtime, applied.model, case, f"/tests/{i}", file)
                await runner.add_users()
                for j, step in enumerate(case["steps"]):
                    await runner.run_step(step, f"/tests/{i}/steps/{j}")
            except _StepFailed as failed:
                result.problems.append(failed.problem)
            finally:
                await db.close()
    return results
