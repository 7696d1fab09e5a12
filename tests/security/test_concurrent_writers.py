"""Concurrent writers through HTTP: no lost update, no duplicate of a unique value.

Many clients at once, over the real HTTP app:

- each increments the same record's counter with ``expectedVersion``, retrying
  on ``CONFLICT``; afterwards the counter equals the number of writers, the
  version counts every write and the history holds one entry per write;
- groups of clients create records that claim the same unique value, and
  clients move existing records onto one unique value; exactly one of each
  group wins, the others get a located ``UNIQUE`` error, and the table holds
  each value once.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.store import Database
from tests.api_helpers import Api, acme_config, error_codes, make_runtime
from tests.security.campaign import FULL, drop_leaked_connections, record_figures, size

WRITERS = size(24, 200)
UNIQUE_GROUPS, GROUP_SIZE = size(6, 50), 8


@pytest.fixture
async def api(db: Database) -> AsyncIterator[tuple[Api, str]]:
    api = Api(await make_runtime(db))
    token = await api.tenant(acme_config("race"))
    yield api, token
    await api.close()
    await asyncio.sleep(0.2)
    drop_leaked_connections(db.engine)


async def _increment(api: Api, token: str, wid: str, rng: random.Random) -> int:
    """Add one to the counter; returns how many conflicts it met on the way."""
    conflicts = 0
    while True:
        body = await api.gql(
            "race", token, "query($id: ID!) { widget(id: $id) { version quantity } }", {"id": wid}
        )
        node = body["data"]["widget"]
        answer = await api.gql(
            "race",
            token,
            "mutation($id: ID!, $q: Int, $v: Int) "
            "{ updateWidget(id: $id, input: {quantity: $q}, expectedVersion: $v) { version } }",
            {"id": wid, "q": node["quantity"] + 1, "v": node["version"]},
        )
        if "errors" not in answer:
            return conflicts
        assert error_codes(answer) == ["CONFLICT"], answer
        conflicts += 1
        await asyncio.sleep(rng.random() * 0.005)


async def test_concurrent_increments_lose_nothing(api: tuple[Api, str]) -> None:
    client, token = api
    body = await client.gql(
        "race", token, 'mutation { createWidget(input: {title: "counter", quantity: 0}) { id } }'
    )
    wid = body["data"]["createWidget"]["id"]
    rng = random.Random(7)
    conflicts = await asyncio.gather(*(_increment(client, token, wid, rng) for _ in range(WRITERS)))
    body = await client.gql(
        "race",
        token,
        "query($id: ID!) { widget(id: $id) { version quantity audit { action } } }",
        {"id": wid},
    )
    node = body["data"]["widget"]
    assert node["quantity"] == WRITERS
    assert node["version"] == WRITERS + 1
    assert Counter(e["action"] for e in node["audit"]) == {"create": 1, "update": WRITERS}
    record_figures(
        "concurrent_increments",
        client.runtime.db.dialect,
        writers=WRITERS,
        conflicts=sum(conflicts),
        lost=WRITERS - node["quantity"] + 0,
    )


async def _create(client: Api, token: str, code: str, n: int) -> dict[str, Any]:
    return await client.gql(
        "race",
        token,
        "mutation($i: PartCreateInput!) { createPart(input: $i) { id code } }",
        {"i": {"name": f"racer {n}", "code": code}},
    )


async def _move(client: Api, token: str, pid: str, code: str) -> dict[str, Any]:
    return await client.gql(
        "race",
        token,
        "mutation($id: ID!, $c: String) { updatePart(id: $id, input: {code: $c}) { id code } }",
        {"id": pid, "c": code},
    )


def _refused_as_duplicate(body: dict[str, Any]) -> bool:
    if error_codes(body) != ["VALIDATION_FAILED"]:
        return False
    located = body["errors"][0]["extensions"]["errors"]
    return [(e["field"], e["code"]) for e in located] == [("code", "UNIQUE")]


async def test_concurrent_claims_of_a_unique_value_have_one_winner(api: tuple[Api, str]) -> None:
    client, token = api
    codes = [f"U-{g:03d}" for g in range(UNIQUE_GROUPS)]
    # Creates of the same code, interleaved across groups.
    attempts = [(code, n) for code in codes for n in range(GROUP_SIZE)]
    random.Random(11).shuffle(attempts)
    answers = await asyncio.gather(*(_create(client, token, c, n) for c, n in attempts))
    winners = Counter(b["data"]["createPart"]["code"] for b in answers if "errors" not in b)
    assert winners == dict.fromkeys(codes, 1)
    refused = [b for b in answers if "errors" in b]
    assert len(refused) == len(attempts) - len(codes)
    assert all(_refused_as_duplicate(b) for b in refused), refused[:3]

    # Existing records moved onto one new value at once.
    movers = []
    for n in range(GROUP_SIZE):
        body = await _create(client, token, f"M-{n:03d}", n)
        movers.append(body["data"]["createPart"]["id"])
    answers = await asyncio.gather(*(_move(client, token, pid, "MOVED") for pid in movers))
    assert sum("errors" not in b for b in answers) == 1
    assert all(_refused_as_duplicate(b) for b in answers if "errors" in b)

    body = await client.gql("race", token, "{ parts(first: 200) { edges { node { code } } } }")
    stored = Counter(e["node"]["code"] for e in body["data"]["parts"]["edges"])
    assert all(count == 1 for count in stored.values()), stored
    assert stored["MOVED"] == 1 and all(stored[c] == 1 for c in codes)
    record_figures(
        "concurrent_unique_claims",
        client.runtime.db.dialect,
        claims=len(attempts) + GROUP_SIZE,
        duplicates=sum(count - 1 for count in stored.values()),
        full=FULL,
    )
