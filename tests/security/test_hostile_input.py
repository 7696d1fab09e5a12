"""Hostile input: every malformed, oversized or injected request gets a clear code.

Each request here is refused (or answered) with a stable ``extensions.code``,
never a 500 or a traceback, and the very next ordinary request still works:
the server keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.store import Database
from tests.api_helpers import Api, acme_config, error_codes, make_runtime
from tests.security.campaign import campaign_settings, drop_leaked_connections, record_figures

TENANT = "hostile"
INJECTIONS = [
    "name; DROP TABLE record",
    "'; DROP TABLE record; --",
    '" OR 1=1 --',
    "' OR '1'='1",
    "%",
    "_",
    "%_%",
    "\\",
    "\\\\'",
    "$1",
    "?",
    ":name",
    "' UNION SELECT tenant_id FROM record --",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "\u202e\ufeff",
]
#: NUL and lone surrogates: valid JSON, but PostgreSQL text cannot hold them.
UNSTORABLE = ["a\x00b", "\x00", "\ud800", "x\udfffy"]


class Hostile:
    """The app, an admin token and a canary record that must survive everything."""

    def __init__(self, api: Api, token: str, canary_id: str) -> None:
        self.api = api
        self.token = token
        self.canary_id = canary_id
        self.requests = 0

    async def raw(
        self, content: bytes, content_type: str = "application/json"
    ) -> tuple[int, dict[str, Any]]:
        self.requests += 1
        response = await self.api.client.post(
            f"/t/{TENANT}/graphql",
            content=content,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
        )
        text = response.text
        assert response.status_code < 500, (response.status_code, text[:500])
        assert "Traceback" not in text and 'File "' not in text, text[:500]
        body = orjson.loads(response.content)
        assert isinstance(body, dict), text[:500]
        return response.status_code, body

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        _, body = await self.raw(orjson.dumps({"query": query, "variables": variables or {}}))
        return body

    async def still_serving(self) -> None:
        """An ordinary request right after the hostile one is answered normally."""
        body = await self.gql(
            "query($id: ID!) { part(id: $id) { id name } parts { totalCount } }",
            {"id": self.canary_id},
        )
        assert "errors" not in body, body
        assert body["data"]["part"] == {"id": self.canary_id, "name": "canary part"}
        assert body["data"]["parts"]["totalCount"] >= 1


@pytest.fixture
async def hostile(db: Database) -> AsyncIterator[Hostile]:
    api = Api(await make_runtime(db))
    token = await api.tenant(acme_config(TENANT))
    created = await api.gql(
        TENANT, token, 'mutation { createPart(input: {name: "canary part"}) { id } }'
    )
    h = Hostile(api, token, created["data"]["createPart"]["id"])
    yield h
    record_figures("hostile_input", db.dialect, requests=h.requests)
    await api.close()
    await asyncio.sleep(0.2)
    drop_leaked_connections(db.engine)


def _single_code(body: dict[str, Any]) -> str:
    codes = error_codes(body)
    assert codes and all(codes), body
    assert "INTERNAL" not in codes, body
    return str(codes[0])


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST"),
        (b"", "application/json", 400, "BAD_REQUEST"),
        (b"[]", "application/json", 400, "BAD_REQUEST"),
        (b'[{"query": "{ meta { me { id } } }"}]', "application/json", 400, "BAD_REQUEST"),
        (b'"just a string"', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": 42}', "application/json", 400, "BAD_REQUEST"),
        (
            b'{"query": "{ parts { totalCount } }", "variables": []}',
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        (
            b'{"query": "{ parts { totalCount } }", "operationName": 7}',
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        (b'{"query": "{ parts { totalCount } }"}', "text/plain", 200, None),
        (b"query=%7B+meta+%7D", "application/x-www-form-urlencoded", 400, "BAD_REQUEST"),
        (b'{"query": "\xff\xfe{ parts }"}', "application/json", 400, "BAD_REQUEST"),
        (b'{"query": "{ parts { totalCount } }\xc3\x28"}', "application/json", 400, "BAD_REQUEST"),
        (b"\xef\xbb\xbf{}", "application/json", 400, "BAD_REQUEST"),
        (
            b'{"query": "{ parts { totalCount } }", "variables": {"x": 1e999}}',
            "application/json",
            400,
            "BAD_REQUEST",
        ),
    ],
)
async def test_malformed_bodies_are_refused_with_a_code(
    hostile: Hostile, content: bytes, content_type: str, status: int, code: str | None
) -> None:
    got_status, body = await hostile.raw(content, content_type)
    if code is None:
        assert got_status == status and "errors" not in body, body
    else:
        assert (got_status, _single_code(body)) == (status, code), body
    await hostile.still_serving()


async def test_oversized_bodies_and_huge_strings(hostile: Hostile) -> None:
    # Just over the 1 MB limit.
    for length in (1_000_001,):
        payload = orjson.dumps(
            {
                "query": "mutation($n: String!) { createPart(input: {name: $n}) { id } }",
                "variables": {"n": "x" * length},
            }
        )
        status, body = await hostile.raw(payload)
        assert status == 413 and _single_code(body) == "LIMIT_EXCEEDED", (status, body)
        await hostile.still_serving()
    # Under the body limit but far longer than a field allows: a located validation error.
    body = await hostile.gql(
        "mutation($t: String!) { createWidget(input: {title: $t}) { id } }", {"t": "w" * 900_000}
    )
    assert _single_code(body) == "VALIDATION_FAILED", body
    await hostile.still_serving()


async def test_ten_megabyte_string_is_refused_with_a_code(hostile: Hostile) -> None:
    payload = orjson.dumps(
        {
            "query": "mutation($n: String!) { createPart(input: {name: $n}) { id } }",
            "variables": {"n": "x" * 10_000_000},
        }
    )
    status, body = await hostile.raw(payload)
    await hostile.still_serving()
    assert status == 413 and _single_code(body) == "LIMIT_EXCEEDED", (status, body)


async def test_deep_aliased_and_long_documents_hit_limits(hostile: Hostile) -> None:
    deep = "{ parts { edges { node { " + "audit { actor { id } } " * 1 + "} } } }"
    body = await hostile.gql(deep)
    assert "errors" not in body, body  # a legitimate nested query still passes
    nested = "{ meta " + "{ entities " * 14 + "{ key }" + " }" * 14 + " }"
    assert _single_code(await hostile.gql(nested)) in (
        "LIMIT_EXCEEDED",
        "GRAPHQL_VALIDATION_FAILED",
    )
    aliases = "{ " + " ".join(f"a{i}: parts {{ totalCount }}" for i in range(1000)) + " }"
    assert _single_code(await hostile.gql(aliases)) == "LIMIT_EXCEEDED"
    tokens = "{ parts { " + "totalCount " * 6000 + "} }"
    assert _single_code(await hostile.gql(tokens)) == "LIMIT_EXCEEDED"
    fragments = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    assert _single_code(await hostile.gql(fragments)) == "GRAPHQL_VALIDATION_FAILED"
    assert _single_code(await hostile.gql("{ parts(first: 100000) { totalCount } }")) == (
        "LIMIT_EXCEEDED"
    )
    assert _single_code(await hostile.gql("{ parts(first: -1) { totalCount } }")) == ("BAD_REQUEST")
    assert _single_code(await hostile.gql("{ parts { ")) == "GRAPHQL_PARSE_FAILED"
    await hostile.still_serving()


async def test_huge_numbers_are_refused_with_a_code(hostile: Hostile) -> None:
    _, body = await hostile.raw(
        b'{"query": "mutation($q: Int) { createWidget(input: {title: \\"t\\", quantity: $q})'
        b' { id } }", "variables": {"q": 10000000000000000000000000000000000000000}}'
    )
    assert _single_code(body) in ("GRAPHQL_VALIDATION_FAILED", "BAD_REQUEST"), body
    await hostile.still_serving()
    for query, variables in (
        (
            'mutation { createWidget(input: {title: "t", quantity: 99999999999999999999}) { id } }',
            None,
        ),
        (
            'mutation($w: Decimal) { createWidget(input: {title: "t", weight: $w}) { id } }',
            {"w": "9" * 5000},
        ),
        (
            'mutation($w: Decimal) { createWidget(input: {title: "t", weight: $w}) { id } }',
            {"w": "1e999999"},
        ),
        (
            'mutation($w: Decimal) { createWidget(input: {title: "t", weight: $w}) { id } }',
            {"w": "NaN"},
        ),
    ):
        body = await hostile.gql(query, variables)
        assert "errors" in body, (query, str(variables)[:60], body)
        assert _single_code(body) in (
            "VALIDATION_FAILED",
            "GRAPHQL_VALIDATION_FAILED",
            "BAD_REQUEST",
        ), (query[:90], variables and str(variables)[:60], body)
        await hostile.still_serving()


async def test_exponent_money_amounts_are_bounded(hostile: Hostile) -> None:
    body = await hostile.gql(
        'mutation($v: Decimal!) { createWidget(input: {title: "t", price: {amount: $v}}) { id } }',
        {"v": "1e400"},
    )
    await hostile.still_serving()
    assert _single_code(body) == "VALIDATION_FAILED", body


@pytest.mark.parametrize(
    "flt",
    [
        "{quantity: {gt: 1e308}}",
        "{quantity: {gt: 99999999999999999999}}",
        '{weight: {gt: "-1e999999999"}}',
        '{weight: {lt: "1e400"}}',
        '{price: {gte: "1e400"}}',
        '{weight: {in: ["NaN", "Infinity"]}}',
    ],
)
async def test_huge_numbers_in_filters(hostile: Hostile, flt: str) -> None:
    body = await hostile.gql(f"{{ widgets(filter: {flt}) {{ totalCount }} }}")
    await hostile.still_serving()
    if "errors" in body:
        assert _single_code(body) in (
            "VALIDATION_FAILED",
            "GRAPHQL_VALIDATION_FAILED",
            "BAD_REQUEST",
        ), body


@pytest.mark.parametrize("value", UNSTORABLE)
async def test_nul_and_lone_surrogates_are_refused_with_a_code(
    hostile: Hostile, value: str
) -> None:
    for query in (
        "mutation($n: String!) { createPart(input: {name: $n}) { id name } }",
        "query($n: String) { parts(filter: {name: {eq: $n}}) { totalCount } }",
        "query($n: String) { parts(filter: {name: {contains: $n}}) { totalCount } }",
    ):
        status, body = await hostile.raw(
            orjson.dumps({"query": query, "variables": {"n": value}})
            if "\\ud" not in ascii(value)
            else _json_with_raw_string(query, value)
        )
        assert status < 500, body
        if "errors" in body:
            assert _single_code(body) in ("VALIDATION_FAILED", "BAD_REQUEST"), body
        await hostile.still_serving()


def _json_with_raw_string(query: str, value: str) -> bytes:
    """JSON whose string escapes a lone surrogate (orjson refuses to encode one)."""
    escaped = value.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    text = "".join(
        f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF or ord(c) < 0x20 else c for c in escaped
    )
    return b'{"query": ' + orjson.dumps(query) + b', "variables": {"n": "' + text.encode() + b'"}}'


@campaign_settings(ci=25, full=2000)
@given(
    value=st.one_of(
        st.sampled_from(INJECTIONS),
        st.text(st.characters(min_codepoint=1, exclude_categories=["Cs"]), max_size=40),
    ),
    op=st.sampled_from(["eq", "ne", "contains", "startsWith", "lt", "gte", "in"]),
    field=st.sampled_from(["name", "code"]),
)
async def test_injection_in_filter_values_is_just_data(
    hostile: Hostile, value: str, op: str, field: str
) -> None:
    """Filter values are bound parameters: they match literally and break nothing."""
    literal = [value] if op == "in" else value
    body = await hostile.gql(
        f"query($v: {'[String!]' if op == 'in' else 'String'}) "
        f"{{ parts(filter: {{{field}: {{{op}: $v}}}}) {{ totalCount edges {{ node {{ name }} }} }} }}",
        {"v": literal},
    )
    if "errors" in body:
        assert _single_code(body) in ("VALIDATION_FAILED", "BAD_REQUEST"), body
    else:
        names = [e["node"]["name"] for e in body["data"]["parts"]["edges"]]
        if op == "eq" and field == "name":
            assert names == (["canary part"] if value == "canary part" else []), (value, names)
        if op in ("contains", "startsWith") and value not in "canary part":
            assert names == [], (value, names)
    await hostile.still_serving()


@pytest.mark.parametrize("key", [*INJECTIONS, "name", "NAME", "", "id DESC", "s_t1"])
async def test_injection_in_order_by_is_refused(hostile: Hostile, key: str) -> None:
    """Sort keys are enum values: anything outside the enum is a validation error."""
    literal = await hostile.gql(f'{{ parts(orderBy: [{{field: "{key}"}}]) {{ totalCount }} }}')
    variable = await hostile.gql(
        "query($o: [PartOrderBy!]) { parts(orderBy: $o) { totalCount } }",
        {"o": [{"field": key}]},
    )
    for body in (literal, variable):
        codes = error_codes(body)
        if key == "name" and body is variable:
            assert "errors" not in body, body
            continue
        assert codes and codes[0] in ("GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"), body
    await hostile.still_serving()


async def test_failed_root_field_does_not_hold_connections(hostile: Hostile) -> None:
    """Twelve requests whose first field fails, then an ordinary one, within seconds."""
    for _ in range(12):
        body = await asyncio.wait_for(
            hostile.gql("{ a: parts(first: -1) { totalCount } b: parts { totalCount } }"), 10
        )
        assert _single_code(body) == "BAD_REQUEST", body
    await asyncio.wait_for(hostile.still_serving(), 10)


async def test_negative_first_on_my_tasks_is_a_bad_request(hostile: Hostile) -> None:
    body = await hostile.gql("{ myTasks(due: TODAY, first: -1) { version } }")
    assert _single_code(body) == "BAD_REQUEST", body
