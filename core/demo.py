"""``crm demo``: apply the demo tenants, load sample data, create users."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from core.config import load_config_file
from core.context import Principal
from core.demo_data import SampleRecord, generate_sample_data
from core.errors import ConfigInvalid
from core.metadata import TenantModel
from core.runtime import Runtime
from core.security import hash_password, issue_token

__all__ = ["DemoLogin", "demo_configs_dir", "load_demo", "load_sample_records"]

DEMO_PASSWORD = "tessera-demo"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    tenant: str
    name: str
    email: str
    password: str
    token: str


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
    rt: Runtime, model: TenantModel, principal: Principal, samples: list[SampleRecord]
) -> int:
    """Create sample records through the service, in one transaction."""
    ctx = rt.context(model, principal)
    ids: dict[str, str] = {}
    async with rt.db.transaction():
        for sample in samples:
            entity = model.entities[sample.entity]
            values: dict[str, Any] = {}
            for key, value in sample.values.items():
                f = entity.fields.get(key)
                if f is None:
                    continue
                if f.value_type == "user" and value is None:
                    values[key] = principal.user_id
                elif f.value_type in ("relation", "relation_list"):
                    values[key] = _resolve(value, ids)
                else:
                    values[key] = value
            for key, f in entity.fields.items():
                if f.value_type == "user" and key not in values and not f.read_only:
                    values[key] = principal.user_id
            record = await rt.service.create(ctx, sample.entity, values)
            ids[sample.ref] = record.id
    return len(ids)


async def load_demo(rt: Runtime, configs: Path | None = None) -> list[DemoLogin]:
    folder = configs or demo_configs_dir()
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise ConfigInvalid(f"no tenant configs in {folder}")
    logins: list[DemoLogin] = []
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
                hash_password(DEMO_PASSWORD),
                ["admin"],
                model.default_locale,
            )
        else:
            user_id = user["id"]
        principal = Principal(tenant=model.tenant, user_id=user_id, email=email, roles=("admin",))
        async with rt.db.tenant_scope(model.tenant):
            existing = await rt.db.fetch(
                "SELECT COUNT(*) AS n FROM record WHERE tenant_id = {}", model.tenant
            )
        if not existing[0]["n"]:
            samples = generate_sample_data(model)
            print(f"{model.tenant}: loading {len(samples)} sample records ...", file=sys.stderr)
            await load_sample_records(rt, model, principal, samples)
        token = await issue_token(rt.db, model.tenant, user_id, label="demo")
        logins.append(DemoLogin(model.tenant, model.label(model.name), email, DEMO_PASSWORD, token))
    return logins
