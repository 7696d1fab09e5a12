"""Every GraphQL example in docs/plugins/quoting.md runs against a real tenant."""

from __future__ import annotations

import re
from pathlib import Path

from core.store import Database
from tests.api_helpers import Api, make_runtime
from tests.plugins.quoting.helpers import Tenant

DOC = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "quoting.md"
_BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)
_VARS = re.compile(r"\$(\w+)\s*:")


def examples() -> list[str]:
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


async def test_every_documented_example_runs(db: Database) -> None:
    assert len(examples()) >= 5
    api = Api(await make_runtime(db))
    t = await Tenant.open(api)
    account = await t.account("示例客户")
    product = (
        await t.gql(
            'mutation { createProduct(input: {name: "MCU", price: {amount: "2.00"}}) { id } }'
        )
    )["createProduct"]["id"]
    quote = await t.quote("Doc", accountId=account, validUntil="2030-01-01")
    await t.line(quote["id"], "10", productId=product)
    known = {"id": quote["id"], "account": account, "product": product}
    for example in examples():
        variables = {name: known[name] for name in _VARS.findall(example)}
        body = await t.raw(example, variables)
        assert "errors" not in body, (example, body)
    await api.close()
