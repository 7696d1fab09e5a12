"""docs/plugins/sales.md: every field and setting is documented, every example runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.plugins import read_manifest
from plugins import sales
from plugins.sales.entities import ENTITIES
from tests.plugins.sales.conftest import SalesApi, sales_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "sales.md"
TEXT = DOC.read_text("utf-8")
RUN = re.compile(r"<!-- run: (\S+) -->\n```graphql\n(.*?)\n```", re.DOTALL)
VARIABLES = re.compile(r"<!-- variables: (\S+) -->\n```json\n(.*?)\n```", re.DOTALL)
SETTINGS = re.compile(r"<!-- settings -->\n```json\n(.*?)\n```", re.DOTALL)


def _section(entity: str) -> str:
    start = TEXT.index(f"### {entity} (")
    end = TEXT.find("\n### ", start + 1)
    return TEXT[start : end if end != -1 else len(TEXT)]


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_every_field_is_documented(entity: str) -> None:
    section = _section(entity)
    missing = [k for k in ENTITIES[entity]["fields"] if f"| `{k}` |" not in section]
    assert missing == []


def test_every_setting_is_documented() -> None:
    schema = read_manifest(sales)["settings"]["properties"]
    keys = [k for k, spec in schema.items() if "properties" not in spec] + [
        f"{k}.{sub}" for k, spec in schema.items() for sub in spec.get("properties", {})
    ]
    # A row names the key (`duplicates.mode`) or the whole object (`quotas`, `assignment.<entity>`).
    rows = {k for k in keys if f"| `{k}`" in TEXT or f"| `{k.split('.')[0]}" in TEXT}
    assert sorted(set(keys) - rows) == []


async def test_the_examples_run_as_shown(api: SalesApi) -> None:
    settings = json.loads(SETTINGS.search(TEXT).group(1))  # type: ignore[union-attr]
    doc = sales_config("docs", **settings)
    doc.update(locales=["en", "zh-CN"], currency="CNY", timezone="Asia/Shanghai", country="CN")
    token = await api.tenant(doc)
    rep, _ = await api.user("docs", "rep@docs.example")
    await api.user("docs", "boss@docs.example")
    api.runtime.clock = lambda: datetime(2026, 1, 5, 2, tzinfo=UTC)
    account = await api.create(
        "docs",
        token,
        "Account",
        {"name": "深圳市华强电子有限公司", "phone": "0755 8888 0000", "ownerId": rep},
    )
    won = await api.create(
        "docs", token, "Opportunity", {"name": "Q1", "ownerId": rep, "amount": {"amount": "600000"}}
    )
    api.runtime.clock = lambda: datetime(2026, 3, 10, 2, tzinfo=UTC)
    await api.ok(
        "docs",
        token,
        'mutation($id: ID!) { updateOpportunity(id: $id, input: {stage: closed_won, closeDate: "2026-03-10"}) { id } }',
        {"id": won["id"]},
    )
    variables = {k: json.loads(v) for k, v in VARIABLES.findall(TEXT)}
    results: dict[str, Any] = {}
    examples = RUN.findall(TEXT)
    assert [k for k, _ in examples] == [
        "find",
        "warn",
        "convert",
        "forecast",
        "performance",
        "commission",
    ]
    for key, query in examples:
        given = variables.get(key, {})
        if key == "convert":
            given = {"id": results["warn"]["createLead"]["id"]}
        results[key] = await api.ok("docs", token, query, given)
    assert [c["id"] for c in results["find"]["findDuplicates"]] == [account["id"]]
    assert results["warn"]["createLead"]["matchedAccount"] == {"name": "深圳市华强电子有限公司"}
    converted = results["convert"]["convertLead"]
    assert (converted["accountId"], converted["accountReused"]) == (account["id"], True)
    assert converted["matchedBy"] == ["MATCHED_ON_CREATE"]
    forecast = results["forecast"]["salesForecast"]
    # The won 600,000 at 100 % and the converted lead's 250,000 at 10 %.
    assert [(r["period"], r["count"], r["weightedAmount"]) for r in forecast] == [
        ("2026-Q1", 2, "625000.00")
    ]
    [rep_row] = [r for r in results["performance"]["salesPerformance"] if r["wonCount"]]
    assert (rep_row["wonAmount"], rep_row["winRate"], rep_row["averageDaysToClose"]) == (
        "600000.00",
        "100.0",
        "64.0",
    )
    by_email = {r["owner"]["email"]: r for r in results["commission"]["salesCommission"]}
    # 3 % of the 500,000 quota plus 5 % of the 100,000 above it.
    assert by_email["rep@docs.example"]["commission"] == "20000.00"
    assert by_email["boss@docs.example"]["quota"] == "800000"
