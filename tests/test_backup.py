"""``crm tenant export`` / ``import``: lossless, across engines, refusing damaged files.

The source is loaded through the real service (demo tenants with their
processes, plus the ``acme`` fixture with a record of every field type and an
archived one); the restored tenant is compared with it table by table, row by
row, with a normalisation written independently of :mod:`core.backup`.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.backup import FORMAT, TABLES, BackupInvalid, export_tenant, import_tenant
from core.cli import main
from core.demo import load_demo
from core.errors import ConfigInvalid, Conflict, NotFound
from core.metadata import NUMBER_SLOTS, TEXT_SLOTS
from core.runtime import Runtime
from core.store import Database
from core.store.migrations import TENANT_TABLES
from core.store.values import as_datetime, load_json
from tests.api_helpers import Api, acme_config, make_runtime
from tests.conftest import POSTGRES_SERVER, _admin, _create_and_migrate, _run, _with_database

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"*": 6, "account": 12, "quote": 20, "quote_line": 40, "maintenance_visit": 12, "task": 4}
DEMO = ("shenzhen-components", "manila-aircon")  # an approval pending; timers
TENANTS = ("acme", *DEMO)
_JSON = {"config", "data", "diff", "payload", "roles"}
_BOOL = {"archived", "active"}


# -- an independent view of a tenant's rows -------------------------------------------


def _normal(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _JSON:
        return load_json(value)
    if column in _BOOL:
        return bool(value)
    if column.endswith("_at") or column in ("at", "lease_until"):
        return as_datetime(value)
    if column in NUMBER_SLOTS:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    return value


async def tenant_rows(db: Database, tenant: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``tenant`` in every tenant table, normalised, in a stable order."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with db.transaction(), db.tenant_scope(tenant):
        for table in TENANT_TABLES:
            rows = await db.fetch(f"SELECT * FROM {table} WHERE tenant_id = {{}}", tenant)
            normal = [{c: _normal(c, v) for c, v in r.items()} for r in rows]
            out[table] = sorted(normal, key=lambda r: orjson.dumps(r, default=str))
    return out


# -- databases ---------------------------------------------------------------------------


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes empty migrated databases of either engine (PostgreSQL as an ordinary role)."""
    made: list[tuple[str, str]] = []

    def make(engine: str) -> str:
        if engine == "sqlite":
            return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
        request.getfixturevalue("postgres_url")  # skips when no server is reachable
        name = f"tessera_backup_{uuid.uuid4().hex[:12]}"
        _run(_admin(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        made.append((name, name))
        url = _with_database(POSTGRES_SERVER, name, name)
        _run(_create_and_migrate(url, name, name))
        return url

    yield make
    for name, role in made:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        _run(_admin(f'DROP ROLE IF EXISTS "{role}"'))


@dataclasses.dataclass
class Source:
    api: Api
    tokens: dict[str, str]  # tenant -> a bearer token of its admin

    @property
    def db(self) -> Database:
        return self.api.runtime.db


WIDGET = {
    "title": "Widget 一号",
    "notes": "long\ntext",
    "quantity": 42,
    "weight": "1.250",
    "price": {"amount": "1234.50", "currency": "EUR"},
    "discount": "12.5",
    "active": True,
    "dueOn": "2026-12-31",
    "seenAt": "2026-11-24T10:30:00.123456+01:00",
    "grade": "a",
    "tags": ["red", "blue"],
    "email": "ana@example.es",
    "phone": "+34 600 123 456",
    "site": "https://example.es/x",
    "address": {
        "street": "Calle Mayor 1",
        "city": "Madrid",
        "postalCode": "28013",
        "country": "ES",
    },
    "serial": "SN-0001",
}
WIDGET_QUERY = (
    "{ widgets(first: 50) { totalCount edges { node { id version title notes quantity weight "
    "price { amount currency } discount active dueOn seenAt grade tags email phone site "
    "mainPart { id name } parts { id name } owner { email } address { street city postalCode "
    "country region } serial totalWeight heavy headline } } } }"
)


async def _acme(api: Api) -> str:
    token = await api.tenant(acme_config())
    ids = []
    for name in ("Bolt", "Nut"):
        body = await api.gql(
            "acme",
            token,
            "mutation($i: PartCreateInput!) { createPart(input: $i) { id } }",
            {"i": {"name": name}},
        )
        ids.append(body["data"]["createPart"]["id"])
    me = await api.gql("acme", token, "{ meta { me { id } } }")
    values = {
        **WIDGET,
        "mainPartId": ids[0],
        "partsIds": ids,
        "ownerId": me["data"]["meta"]["me"]["id"],
    }
    created = await api.gql(
        "acme",
        token,
        "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
        {"i": values},
    )
    assert "errors" not in created, created
    wid = created["data"]["createWidget"]["id"]
    body = await api.gql(
        "acme",
        token,
        "mutation($id: ID!) { updateWidget(id: $id, input: {quantity: 7}) { id } }",
        {"id": wid},
    )
    assert "errors" not in body, body
    gone = await api.gql(
        "acme",
        token,
        "mutation($i: WidgetCreateInput!) { createWidget(input: $i) { id } }",
        {"i": {"title": "Archived", "serial": "SN-0002"}},
    )
    body = await api.gql(
        "acme",
        token,
        "mutation($id: ID!) { deleteWidget(id: $id) { id } }",
        {"id": gone["data"]["createWidget"]["id"]},
    )
    assert "errors" not in body, body
    return token


@pytest.fixture
async def source(db: Database, tmp_path: Path) -> AsyncIterator[Source]:
    configs = tmp_path / "configs"
    configs.mkdir()
    for tenant in DEMO:
        shutil.copy(ROOT / "tenant_configs" / f"{tenant}.json", configs)
    api = Api(await make_runtime(db))
    try:
        logins = await load_demo(api.runtime, configs, counts=SMALL)
        tokens = {login.tenant: login.token for login in logins}
        tokens["acme"] = await _acme(api)
        yield Source(api, tokens)
    finally:
        await api.close()


async def _export(db: Database, tenant: str) -> bytes:
    sink = io.BytesIO()
    await export_tenant(db, tenant, sink)
    return sink.getvalue()


# -- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
async def test_round_trip_is_lossless_and_served(
    source: Source, target: str, fresh_url: Callable[[str], str]
) -> None:
    blobs = {tenant: await _export(source.db, tenant) for tenant in TENANTS}
    runtime = await Runtime.open(fresh_url(target))
    api = Api(runtime)
    try:
        seen: list[tuple[str, int]] = []
        for tenant, blob in blobs.items():
            seen.clear()
            summary = await import_tenant(
                runtime, io.BytesIO(blob), progress=lambda t, n: seen.append((t, n))
            )
            before = await tenant_rows(source.db, tenant)
            after = await tenant_rows(runtime.db, tenant)
            for table in TENANT_TABLES:
                assert after[table] == before[table], (tenant, table)
                assert summary.counts[table] == len(before[table])
            assert {t for t, n in seen} == {t for t, rows in before.items() if rows}
        sz = await tenant_rows(runtime.db, "shenzhen-components")
        assert any(a["status"] == "pending" for a in sz["approval"])
        assert any(r["archived"] for r in (await tenant_rows(runtime.db, "acme"))["record"])
        assert (await tenant_rows(runtime.db, "manila-aircon"))["timer"]
        assert any(u["manager_id"] for u in sz["app_user"])
        # The exported tokens still work, and GraphQL answers as it did.
        old = await source.api.gql("acme", source.tokens["acme"], WIDGET_QUERY)
        new = await api.gql("acme", source.tokens["acme"], WIDGET_QUERY)
        assert "errors" not in new and new == old
        assert new["data"]["widgets"]["totalCount"] == 1
        for tenant in DEMO:
            query = "{ meta { me { email } } tasks(first: 5) { totalCount } }"
            old = await source.api.gql(tenant, source.tokens[tenant], query)
            assert await api.gql(tenant, source.tokens[tenant], query) == old
        # A re-export of the restored tenant holds the same rows (across engines the
        # slot numbers' text may differ, 1234.50 against 1234.5, not their value).
        again = _rows_of(await _export(runtime.db, "acme"))
        first = _rows_of(blobs["acme"])
        for rows in (again, first):
            for row in rows["record"]:
                row.update({s: row[s] and Decimal(row[s]).normalize() for s in NUMBER_SLOTS})
        assert again == first
    finally:
        await api.close()
        await runtime.close()


def _lines(blob: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in gzip.decompress(blob).splitlines()]


def _rows_of(blob: bytes) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for doc in _lines(blob)[1:-1]:
        out.setdefault(doc["table"], []).append(doc["row"])
    return {t: sorted(rows, key=orjson.dumps) for t, rows in out.items()}


async def test_file_layout_header_rows_trailer(source: Source) -> None:
    blob = await _export(source.db, "acme")
    lines = _lines(blob)
    header, trailer = lines[0], lines[-1]
    assert header["format"] == FORMAT and header["version"] == 1 and header["tenant"] == "acme"
    assert header["migrations"] and as_datetime(header["exported_at"]) is not None
    assert set(header["tables"]) == set(TENANT_TABLES)
    raw = gzip.decompress(blob).splitlines(keepends=True)
    assert trailer["end"]["sha256"] == hashlib.sha256(b"".join(raw[:-1])).hexdigest()
    assert trailer["end"]["files"] == 0
    assert sum(trailer["end"]["counts"].values()) == len(lines) - 2
    assert all("tenant_id" not in doc["row"] for doc in lines[1:-1])
    [widget] = [
        d["row"]
        for d in lines[1:-1]
        if d["table"] == "record" and d["row"]["data"].get("serial") == "SN-0001"
    ]
    # Engine-neutral values: UTC times with microseconds, decimals as strings.
    assert widget["created_at"].endswith("+00:00") and "." in widget["created_at"]
    assert widget["data"]["weight"] == "1.250"
    assert widget["data"]["seen_at"].startswith("2026-11-24T09:30:00.123456")
    assert any(widget[s] is not None for s in NUMBER_SLOTS)


async def test_every_column_of_every_tenant_table_is_exported(db: Database) -> None:
    """A migration adding a column must extend the format (this test fails until it does)."""
    for table in TENANT_TABLES:
        if db.dialect == "sqlite":
            rows = await db.fetch(f"PRAGMA table_info({table})")
            columns = {r["name"] for r in rows}
        else:
            rows = await db.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = {}", table
            )
            columns = {r["column_name"] for r in rows}
        assert columns == {"tenant_id", *TABLES[table].columns}, table
    assert {*TEXT_SLOTS, *NUMBER_SLOTS} <= set(TABLES["record"].columns)


# -- refusals: nothing is written -----------------------------------------------------------


def _rewrite(blob: bytes, edit: Callable[[list[dict[str, Any]]], None]) -> bytes:
    """Edit the lines and write a file with a matching checksum (a well-formed export)."""
    docs = _lines(blob)
    body = docs[:-1]
    edit(body)
    raw = b"".join(orjson.dumps(d) + b"\n" for d in body)
    counts: dict[str, int] = dict.fromkeys(TABLES, 0)
    for d in body[1:]:
        counts[d["table"]] = counts.get(d["table"], 0) + 1
    end = {"counts": counts, "files": 0, "sha256": hashlib.sha256(raw).hexdigest()}
    return gzip.compress(raw + orjson.dumps({"end": end}) + b"\n")


async def _nothing_of(db: Database, tenant: str) -> None:
    rows = await tenant_rows(db, tenant)
    assert not any(rows.values()), {t: len(r) for t, r in rows.items() if r}


def _record_row(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d["row"] for d in docs[1:] if d["table"] == "record")


def _bump_version(docs: list[dict[str, Any]]) -> None:
    docs[0]["version"] = 2


def _bad_config(docs: list[dict[str, Any]]) -> None:
    config = next(d["row"]["config"] for d in docs if d.get("table") == "tenant_config")
    config["plugins"] = ["no_such_plugin"]
    config["entities"]["widget"]["fields"]["grade"]["type"] = "grade"


def _bad_row(docs: list[dict[str, Any]]) -> None:
    _record_row(docs)["version"] = "one"


def _null_row(docs: list[dict[str, Any]]) -> None:
    _record_row(docs)["entity"] = None  # NOT NULL in the database


def _extra_column(docs: list[dict[str, Any]]) -> None:
    _record_row(docs)["colour"] = "red"


def _naive_time(docs: list[dict[str, Any]]) -> None:
    row = _record_row(docs)
    row["created_at"] = row["created_at"][:-6]


async def test_damaged_or_foreign_files_are_refused_and_write_nothing(
    db: Database, fresh_url: Callable[[str], str]
) -> None:
    api = Api(await make_runtime(db))
    try:
        await _acme(api)
        blob = await _export(db, "acme")
    finally:
        await api.close()
    # An empty database of the same engine is the target (the audit trail cannot be
    # deleted from the source: it is append-only).
    runtime = await Runtime.open(fresh_url(db.dialect))
    db = runtime.db
    raw = gzip.decompress(blob)
    lines = raw.splitlines(keepends=True)
    tampered = raw.replace(b'"Widget \xe4\xb8\x80\xe5\x8f\xb7"', b'"Widget two"')
    assert tampered != raw
    cases: dict[str, tuple[bytes, type[Exception], str]] = {
        "cut inside the gzip stream": (blob[: len(blob) // 2], BackupInvalid, "damaged"),
        "cut at a line": (gzip.compress(b"".join(lines[:-3])), BackupInvalid, "truncated"),
        "a tampered line": (gzip.compress(tampered), BackupInvalid, "checksum"),
        "a dropped line": (
            gzip.compress(b"".join(lines[:5] + lines[6:])),
            BackupInvalid,
            "checksum",
        ),
        "not gzip": (raw, BackupInvalid, "damaged"),
        "a newer format": (_rewrite(blob, _bump_version), BackupInvalid, "version 2"),
        "a config the plugins refuse": (_rewrite(blob, _bad_config), ConfigInvalid, "validate"),
        "a value of the wrong type": (_rewrite(blob, _bad_row), BackupInvalid, "does not fit"),
        "a row the database refuses": (_rewrite(blob, _null_row), BackupInvalid, "does not fit"),
        "an unknown column": (_rewrite(blob, _extra_column), BackupInvalid, "columns"),
        "a time without offset": (_rewrite(blob, _naive_time), BackupInvalid, "does not fit"),
    }
    for case, (data, error, words) in cases.items():
        with pytest.raises(error) as caught:
            await import_tenant(runtime, io.BytesIO(data))
        assert words in str(caught.value), case
        await _nothing_of(db, "acme")
    with pytest.raises(ConfigInvalid) as refused:
        await import_tenant(runtime, io.BytesIO(_rewrite(blob, _bad_config)))
    paths = [p.path for p in refused.value.problems]
    assert "/entities/widget/fields/grade/type" in paths or any("plugins" in p for p in paths)
    # The untouched file imports; a second import finds the tenant and is refused.
    await import_tenant(runtime, io.BytesIO(blob))
    before = await tenant_rows(db, "acme")
    with pytest.raises(Conflict):
        await import_tenant(runtime, io.BytesIO(blob))
    assert await tenant_rows(db, "acme") == before
    await runtime.close()


async def test_export_of_an_unknown_tenant_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await export_tenant(db, "nobody", io.BytesIO())


# -- property: any record round-trips exactly ------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | _TEXT
    | st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)
_TIMES = st.datetimes(
    min_value=datetime(1900, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]),
)
_RECORDS = st.lists(
    st.fixed_dictionaries(
        {
            "data": st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), _JSON_VALUES),
            "created": _TIMES,
            "updated": _TIMES,
            "archived": st.booleans(),
            "text": st.none() | _TEXT,
            "number": st.none()
            | st.integers(-(10**12), 10**12)
            | st.decimals(min_value=-(10**9), max_value=10**9, places=2),
        }
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=_RECORDS)
async def test_random_records_round_trip_exactly(
    db: Database, records: list[dict[str, Any]]
) -> None:
    tenant = f"p-{uuid.uuid4().hex[:10]}"
    runtime = await make_runtime(db)
    doc = acme_config(tenant)
    await runtime.apply_config(doc)
    for i, r in enumerate(records):
        await db.insert_record(
            tenant,
            "widget",
            f"r{i:03d}",
            r["data"],
            {"s_t1": r["text"], "s_n1": r["number"]},
            "someone",
            r["created"],
        )
        async with db.tenant_scope(tenant):
            await db.execute(
                "UPDATE record SET updated_at = {}, archived = {} WHERE tenant_id = {} AND id = {}",
                db._time(r["updated"]),
                r["archived"],
                tenant,
                f"r{i:03d}",
            )
    before = await tenant_rows(db, tenant)
    blob = await _export(db, tenant)
    async with db.transaction(), db.tenant_scope(tenant):
        for table in TENANT_TABLES:
            await db.execute(f"DELETE FROM {table} WHERE tenant_id = {{}}", tenant)
    await import_tenant(runtime, io.BytesIO(blob))
    after = await tenant_rows(db, tenant)
    assert after == before
    stored = {r["id"]: r for r in after["record"]}
    for i, r in enumerate(records):
        row = stored[f"r{i:03d}"]
        assert row["data"] == orjson.loads(orjson.dumps(r["data"]))
        assert row["created_at"] == r["created"] and row["archived"] == r["archived"]


# -- the command line ---------------------------------------------------------------------------


def test_cli_export_import_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.db"
    monkeypatch.setenv("TESSERA_DATABASE_URL", f"sqlite:///{source}")
    monkeypatch.chdir(tmp_path)
    assert main(["tenant", "apply", str(ROOT / "tests" / "fixtures" / "acme.json")]) == 0
    assert main(["tenant", "export", "acme"]) == 0
    [written] = list(tmp_path.glob("acme-*.tessera.jsonl.gz"))
    err = capsys.readouterr().err
    assert "tenant_config: 1 row(s)" in err and "exported" in err
    assert main(["tenant", "export", "nobody", "-o", str(tmp_path / "x.gz")]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err and not (tmp_path / "x.gz").exists()
    assert not list(tmp_path.glob("*.part"))
    monkeypatch.setenv("TESSERA_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    assert main(["tenant", "import", str(written)]) == 0
    assert "acme: imported" in capsys.readouterr().out
    assert main(["tenant", "import", str(written)]) == 1
    err = capsys.readouterr().err
    assert "CONFLICT" in err and "Traceback" not in err
    (tmp_path / "junk.gz").write_bytes(b"not a backup")
    assert main(["tenant", "import", str(tmp_path / "junk.gz")]) == 1
    err = capsys.readouterr().err
    assert "BACKUP_INVALID" in err and "Traceback" not in err
    assert main(["tenant", "import", str(tmp_path / "missing.gz")]) == 1
