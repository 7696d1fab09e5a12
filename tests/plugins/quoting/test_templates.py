"""Tenant-designed templates: validated when the config is, sandboxed when rendered."""

from __future__ import annotations

from core.store import Database
from tests.api_helpers import Api, make_runtime
from tests.plugins.quoting.helpers import Tenant, config

OWN = (
    "<h1>{{ tenant.name }} · {{ quote.number }}</h1>"
    "{% for l in lines %}<p>{{ l.description }} {{ l.amount | money }}</p>{% endfor %}"
    "<p>{{ totals.total | money }}</p>"
)


async def test_syntax_errors_and_unknown_filters_are_located(db: Database) -> None:
    runtime = await make_runtime(db)
    _, problems = runtime.validate(
        config(templates={"quote": {"en": "<p>{{ quote.number }</p>", "es-ES": "{{ x | nope }}"}})
    )
    found = {(p.code, p.path) for p in problems}
    assert found == {
        ("TEMPLATE_SYNTAX", "/templates/quote/en"),
        ("TEMPLATE_SYNTAX", "/templates/quote/es-ES"),
    }
    assert any("line 1" in p.message for p in problems)
    _, problems = runtime.validate(config(templates={"quote": {"fr-FR": "<p></p>"}}))
    assert [(p.code, p.path) for p in problems] == [("TEMPLATE_LOCALE", "/templates/quote/fr-FR")]


async def test_the_tenant_template_wins_and_escapes_and_cannot_reach_internals(
    db: Database,
) -> None:
    api = Api(await make_runtime(db))
    t = await Tenant.open(api, config(templates={"quote": {"en": OWN}}))
    q = await t.quote("T")
    await t.line(q["id"], "2", "10.00", description="<b>bold</b>", taxRate="0")
    doc = await t.gql(
        'query($q: ID!) { quoteDocument(id: $q, locale: "en") { html } }', {"q": q["id"]}
    )
    html = doc["quoteDocument"]["html"]
    assert html.startswith("<h1>Quotes Ltd · Q-") and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "€20.00" in html
    # zh-CN has no tenant template: the plugin's Chinese default is used.
    zh = await t.gql(
        'query($q: ID!) { quoteDocument(id: $q, locale: "zh-CN") { html } }', {"q": q["id"]}
    )
    assert "报价单" in zh["quoteDocument"]["html"]
    evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    await api.runtime.apply_config(config(templates={"quote": {"en": evil}}))
    body = await t.raw(
        'query($q: ID!) { quoteDocument(id: $q, locale: "en") { html } }', {"q": q["id"]}
    )
    assert body["errors"][0]["extensions"]["errors"][0] == {
        "field": "/templates/quote/en",
        "code": "TEMPLATE_FAILED",
        "message": body["errors"][0]["extensions"]["errors"][0]["message"],
    }
    assert "unsafe" in body["errors"][0]["message"] or "__class__" in body["errors"][0]["message"]
    await api.close()
