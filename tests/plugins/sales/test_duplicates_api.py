"""Duplicate prevention end to end: warn, block, findDuplicates, over HTTP on both engines."""

from __future__ import annotations

from tests.api_helpers import error_codes
from tests.plugins.sales.conftest import SalesApi, sales_config

FIND = """query($e: DuplicateEntity!, $v: DuplicateValues!) {
  findDuplicates(entity: $e, values: $v) { id entity title score reasons }
}"""


async def test_warn_mode_saves_and_lists_the_traditional_spelling_match(api: SalesApi) -> None:
    token = await api.tenant(sales_config(duplicates={"mode": "warn"}))
    first = await api.create(
        "ventas", token, "Account", {"name": "深圳市华强电子有限公司", "phone": "0755 8888 0000"}
    )
    lead = await api.create(
        "ventas",
        token,
        "Lead",
        {"name": "王小明", "company": "華強電子有限公司"},
        "id matchedAccountId matchedAccount { name }",
    )
    assert lead["matchedAccountId"] == first["id"]
    assert lead["matchedAccount"]["name"] == "深圳市华强电子有限公司"
    again = await api.create(
        "ventas", token, "Account", {"name": "Huaqiang Dianzi"}, "id possibleDuplicatesIds"
    )
    assert again["possibleDuplicatesIds"] == [first["id"]]


async def test_block_mode_refuses_with_a_located_duplicate_error(api: SalesApi) -> None:
    token = await api.tenant(sales_config(duplicates={"mode": "block"}))
    await api.create("ventas", token, "Account", {"name": "Industrias Pérez S.A."})
    body = await api.gql(
        "ventas",
        token,
        "mutation($i: AccountCreateInput!) { createAccount(input: $i) { id } }",
        {"i": {"name": "Industiras Perez, S.L."}},
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]
    [problem] = body["errors"][0]["extensions"]["errors"]
    assert (problem["field"], problem["code"]) == ("name", "DUPLICATE")
    assert "Industrias Pérez" in problem["message"]
    count = await api.ok("ventas", token, "{ accounts { totalCount } }")
    assert count["accounts"]["totalCount"] == 1
    # A look-alike that is another company is accepted.
    await api.create("ventas", token, "Account", {"name": "Industrias López S.A."})


async def test_find_duplicates_by_phone_email_domain_and_name(api: SalesApi) -> None:
    token = await api.tenant(sales_config())
    acme = await api.create(
        "ventas",
        token,
        "Account",
        {
            "name": "Acme Industries Ltd",
            "phone": "+34 912 345 678",
            "website": "https://www.acme.es",
        },
    )
    await api.create("ventas", token, "Account", {"name": "Apex Industries"})
    by_phone = await api.ok("ventas", token, FIND, {"e": "ACCOUNT", "v": {"phone": "912 34 56 78"}})
    assert [(c["id"], c["reasons"]) for c in by_phone["findDuplicates"]] == [
        (acme["id"], ["PHONE"])
    ]
    by_mail = await api.ok(
        "ventas", token, FIND, {"e": "ACCOUNT", "v": {"name": "ACME", "email": "ana@acme.es"}}
    )
    assert [c["id"] for c in by_mail["findDuplicates"]] == [acme["id"]]
    assert "EMAIL_DOMAIN" in by_mail["findDuplicates"][0]["reasons"]
    by_site = await api.ok(
        "ventas",
        token,
        FIND,
        {"e": "ACCOUNT", "v": {"name": "Zeta", "website": "acme.es/contacto"}},
    )
    assert [c["reasons"] for c in by_site["findDuplicates"]] == [["EMAIL_DOMAIN"]]
    free = await api.ok(
        "ventas", token, FIND, {"e": "ACCOUNT", "v": {"name": "Zeta", "email": "ana@gmail.com"}}
    )
    assert free["findDuplicates"] == []
    typo = await api.ok(
        "ventas", token, FIND, {"e": "ACCOUNT", "v": {"name": "Acme Industires Limited"}}
    )
    assert [c["title"] for c in typo["findDuplicates"]] == ["Acme Industries Ltd"]


async def test_match_keys_are_kept_by_the_plugin_not_by_hand(api: SalesApi) -> None:
    token = await api.tenant(sales_config())
    made = await api.create("ventas", token, "Account", {"name": "Óptica Moderna S.L."})
    keys = await api.ok(
        "ventas",
        token,
        "query($id: String!) { matchKeys(filter: {record: {eq: $id}}) { edges { node { key } } } }",
        {"id": made["id"]},
    )
    assert "s:opticamoderna" in {e["node"]["key"] for e in keys["matchKeys"]["edges"]}
    body = await api.gql(
        "ventas",
        token,
        'mutation { createMatchKey(input: {target: "account", record: "x", key: "s:x"}) { id } }',
    )
    assert error_codes(body) == ["VALIDATION_FAILED"]
    assert body["errors"][0]["extensions"]["errors"][0]["code"] == "MAINTAINED_BY_PLUGIN"
