"""The batch path of ``crm import`` (``core.bulk``) writes what the per-row path writes.

Every test imports the same CSV twice, into two tenants set up alike: once a
batch at a time, once one record at a time through ``RecordService.create``
with a savepoint per row (``one_by_one=True``). Both must refuse the same
rows with the same located problems, or write the same records, slot
columns, unique claims, audit rows, outbox messages, timers and numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.context import CallContext, Operation, Principal, Record
from core.errors import Problem, ValidationFailed
from core.hookspecs import hookimpl
from core.importer import ImportProgress, ImportResult, check_csv, import_csv
from core.runtime import Runtime
from core.security import hash_password
from core.store import Database
from core.store.values import as_datetime
from tests.api_helpers import acme_config, make_runtime, plugin_manifest

SET_UP = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
IMPORTED = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
HEADER = [
    "title",
    "quantity",
    "price",
    "active",
    "due_on",
    "grade",
    "tags",
    "main_part",
    "parts",
    "owner",
    "serial",
    "discount",
    "weight",
]


def bulk_config(tenant: str, *, plugins: Sequence[str] = ()) -> dict[str, Any]:
    """``acme``'s widget with every per-record process a batch must keep: a numbering
    series, a workflow's initial state, a rule, a default, automations on create
    (a webhook, a notification), a timer on a date field."""
    doc = acme_config(tenant)
    doc["plugins"] = list(plugins)
    fields = doc["entities"]["widget"]["fields"]
    fields["number"] = {"type": "text", "label": {"en": "Number"}, "read_only": True}
    fields["status"] = {
        "type": "enum",
        "label": {"en": "Status"},
        "options": [
            {"value": "draft", "label": {"en": "Draft"}},
            {"value": "done", "label": {"en": "Done"}},
        ],
    }
    fields["notes"]["default"] = "imported"
    doc["entities"]["widget"]["rules"] = [
        {
            "key": "discount_cap",
            "expression": "!has(record.discount) || record.discount <= 50.0",
            "message": {"en": "A discount cannot exceed 50 %"},
            "field": "discount",
        }
    ]
    doc["numbering"] = {"widget": {"field": "number", "pattern": "W-{YYYY}-{seq:3}"}}
    doc["workflows"] = {
        "widget_flow": {
            "entity": "widget",
            "field": "status",
            "states": {"draft": {"initial": True}, "done": {"final": True}},
            "transitions": {"finish": {"label": {"en": "Finish"}, "from": ["draft"], "to": "done"}},
        }
    }
    doc["timers"] = {
        "due_soon": {
            "entity": "widget",
            "field": "due_on",
            "offset": {"amount": -1, "unit": "days"},
        }
    }
    doc["automations"] = {
        "big_order": {
            "entity": "widget",
            "on": {"event": "created"},
            "when": "has(record.quantity) && record.quantity > 500",
            "do": [
                {"type": "webhook", "url": "https://erp.example.com/hooks/widgets"},
                {
                    "type": "notify",
                    "to": {"emails": ["ops@example.com"]},
                    "subject": {"en": "Big widget order: {record.title}"},
                },
            ],
        }
    }
    return doc


class Shaping:
    """Stage hooks that only look at the operation: titles upper-cased before the
    write, 'NOPE' refused before the transaction, 'BOOM' refused after the record
    is written."""

    TESSERA_MANIFEST = plugin_manifest("shaping")

    @hookimpl
    def tessera_pre_validate(self, ctx: CallContext, operation: Operation) -> None:
        if operation.values.get("title") == "NOPE":
            raise ValidationFailed("no", [Problem("NOPE", "this title is refused", "title")])

    @hookimpl
    def tessera_pre_operation(self, ctx: CallContext, operation: Operation) -> None:
        title = operation.values.get("title")
        if isinstance(title, str):
            operation.values["title"] = title.upper()

    @hookimpl
    def tessera_post_operation(
        self, ctx: CallContext, operation: Operation, record: Record
    ) -> None:
        if record.data.get("title") == "BOOM":
            raise ValidationFailed("boom", [Problem("BOOM", "the ledger refused it", "title")])


class Counting:
    """A stage hook that reads records through the service for every create."""

    TESSERA_MANIFEST = plugin_manifest("counting")

    @hookimpl
    async def tessera_pre_operation(self, ctx: CallContext, operation: Operation) -> None:
        if operation.entity == "widget" and operation.action == "create":
            service = ctx.extra["service"]
            count = await service.count(ctx, "widget", None)
            operation.values["weight"] = f"{count}.5"


class Sometimes:
    """A pre_validate hook that reads records through the service, for some rows only."""

    TESSERA_MANIFEST = plugin_manifest("sometimes")

    @hookimpl
    async def tessera_pre_validate(self, ctx: CallContext, operation: Operation) -> None:
        if operation.values.get("title") == "Lookup":
            found = await ctx.extra["service"].count(ctx, "part", None)
            operation.values["notes"] = f"{found} parts"


class Tenant:
    """One tenant set up for an import: its user, parts to relate to, a widget."""

    def __init__(self, runtime: Runtime, key: str) -> None:
        self.runtime = runtime
        self.key = key
        self.parts: list[str] = []
        self.user = ""
        self.model: Any = None

    @classmethod
    async def create(cls, runtime: Runtime, key: str, **config: Any) -> Tenant:
        t = cls(runtime, key)
        await t.apply(bulk_config(key, **config))
        t.user = await runtime.db.add_user(
            key, "ana@example.com", "Ana", hash_password("s3cret-pass"), ["admin"], "en"
        )
        ctx = t.context(SET_UP)
        for i in range(3):
            t.parts.append((await runtime.service.create(ctx, "part", {"name": f"P{i}"})).id)
        # A serial taken before the import.
        await runtime.service.create(ctx, "widget", {"title": "Old", "serial": "SN-0001"})
        return t

    async def apply(self, doc: dict[str, Any]) -> None:
        await self.runtime.apply_config(doc)
        self.model = await self.runtime.model(self.key)

    def context(self, at: datetime) -> CallContext:
        model = self.model
        principal = Principal(
            tenant=self.key,
            user_id=self.user,
            email="ana@example.com",
            roles=("admin",),
            locale="en",
        )
        return CallContext(model=model, principal=principal, clock=lambda: at)

    def csv_text(self, rows: Sequence[Sequence[str]]) -> str:
        """The rows as CSV, ``part:N`` and ``user`` cells naming this tenant's ids."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([self._cell(c) for c in row])
        return out.getvalue()

    def _cell(self, cell: str) -> str:
        parts = []
        for item in cell.split(";"):
            if item.startswith("part:"):
                item = self.parts[int(item[5:])]
            elif item == "user":
                item = self.user
            parts.append(item)
        return ";".join(parts)

    async def run(
        self, rows: Sequence[Sequence[str]], *, one_by_one: bool, batch_size: int = 500
    ) -> ImportResult | list[Problem]:
        ctx = self.context(IMPORTED)
        try:
            return await import_csv(
                ctx,
                self.runtime.service,
                "widget",
                io.StringIO(self.csv_text(rows)),
                one_by_one=one_by_one,
                batch_size=batch_size,
            )
        except ValidationFailed as exc:
            return exc.problems

    async def written(self) -> dict[str, list[str]]:
        """What the import wrote, with ids made comparable between tenants.

        Ids of this tenant's parts, user and tenant key become labels; a widget's
        id becomes a hash of its (relabelled) data; row ids are dropped.
        """
        db = self.runtime.db
        labels = {p: f"part:{i}" for i, p in enumerate(self.parts)}
        labels[self.user] = "user"
        labels[self.key] = "tenant"
        at = db._time(IMPORTED)
        async with db.transaction(), db.tenant_scope(self.key):
            records = await db.fetch(
                "SELECT * FROM record WHERE tenant_id = {} AND entity = 'widget'", self.key
            )
            tables = {
                "record": [r for r in records if as_datetime(r["created_at"]) == IMPORTED],
                "audit": await db.fetch(
                    "SELECT * FROM audit WHERE tenant_id = {} AND at = {}", self.key, at
                ),
                "outbox": await db.fetch(
                    "SELECT * FROM outbox WHERE tenant_id = {} AND created_at = {}", self.key, at
                ),
                "timer": await db.fetch(
                    "SELECT * FROM timer WHERE tenant_id = {} AND created_at = {}", self.key, at
                ),
                "unique_value": await db.fetch(
                    "SELECT * FROM unique_value WHERE tenant_id = {} AND entity = 'widget'",
                    self.key,
                ),
                "number_series": await db.fetch(
                    "SELECT * FROM number_series WHERE tenant_id = {}", self.key
                ),
            }
        ids = {}
        for r in records:
            data = _relabel(_json(r["data"]), labels)
            ids[r["id"]] = "widget:" + hashlib.sha1(data.encode()).hexdigest()[:12]
        labels.update(ids)
        out: dict[str, list[str]] = {}
        for table, rows in tables.items():
            normal = []
            for row in rows:
                row = {k: v for k, v in row.items() if not (k == "id" and table != "record")}
                normal.append(_relabel(_json(row), labels))
            out[table] = sorted(normal)
        return out


def _json(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, sort_keys=True, default=str)


def _data(row: str) -> dict[str, Any]:
    """The ``data`` of a record row as ``Tenant.written`` gives it."""
    data = json.loads(row)["data"]
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[no-any-return]


def _relabel(text: str, labels: dict[str, str]) -> str:
    for old, new in labels.items():
        text = text.replace(old, new)
    return text


async def _pair(db: Database, *plugins: Any) -> tuple[Tenant, Tenant]:
    """Two tenants set up alike, with ``plugins`` installed and enabled."""
    runtime = await make_runtime(db, list(plugins))
    names = [type(p).TESSERA_MANIFEST["name"] for p in plugins]
    tag = uuid.uuid4().hex[:8]
    batched = await Tenant.create(runtime, f"bulk-b-{tag}", plugins=names)
    one_by_one = await Tenant.create(runtime, f"bulk-r-{tag}", plugins=names)
    return batched, one_by_one


async def _compare(
    batched: Tenant, one_by_one: Tenant, rows: Sequence[Sequence[str]], batch_size: int
) -> ImportResult | list[Problem]:
    got = await batched.run(rows, one_by_one=False, batch_size=batch_size)
    want = await one_by_one.run(rows, one_by_one=True)
    if isinstance(want, list):
        assert isinstance(got, list), got
        assert [p.located() for p in got] == [p.located() for p in want]
    else:
        assert isinstance(got, ImportResult), [p.located() for p in got]
        assert got.created == want.created == len([r for r in rows if any(r)])
    assert await batched.written() == await one_by_one.written()
    return got


# -- cells, valid and not ---------------------------------------------------------------

#: Per column: cells the service accepts, and cells it refuses (with or without a hook).
_CELLS: dict[str, tuple[list[str], list[str]]] = {
    "title": (["Bolt", "Nut", "washer", "  Spaced  "], ["", "NOPE", "boom", "x" * 90]),
    "quantity": (["", "3", "600", " 42 "], ["1000001", "-1", "many"]),
    "price": (["", "12.50", "0.99 EUR", "3 USD", "10 eur"], ["1.234", "abc"]),
    "active": (["", "yes", "no", "true", "0"], ["maybe"]),
    "due_on": (["", "2026-12-01"], ["2026-02-30", "tomorrow"]),
    "grade": (["", "a", "B"], ["c"]),
    "tags": (["", "red", "red;blue", "Blue; red"], ["green"]),
    "main_part": (["", "part:0", "part:2"], ["no-such-part"]),
    "parts": (["", "part:0;part:1"], ["part:1;ghost"]),
    "owner": (["", "user"], ["nobody"]),
    "serial": (["", "SN-0002", "SN-0003", "SN-0004", "SN-0005"], ["XX-1", "SN-0001"]),
    "discount": (["", "10", "50", "12.5"], ["75", "-5"]),
    "weight": (["", "1.5", "200"], ["1.2345"]),
}
_GOOD_ROW = st.tuples(*(st.sampled_from(_CELLS[c][0]) for c in HEADER))
_ANY_ROW = st.tuples(*(st.sampled_from(_CELLS[c][0] + _CELLS[c][1]) for c in HEADER))
ROWS = st.lists(st.one_of(_GOOD_ROW, _GOOD_ROW, _ANY_ROW), min_size=1, max_size=8)


def _valid_row(n: int) -> list[str]:
    return [f"W{n}", str(n * 97 % 1000), "1.50", "yes", "2026-12-01", "a", "red", "part:1", "", "user",
            f"SN-{n + 10:04d}", "5", "2.5"]  # fmt: skip


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS, batch_size=st.sampled_from([1, 2, 3, 500]), hooked=st.booleans())
async def test_batches_write_what_one_by_one_writes(
    db: Database, rows: list[tuple[str, ...]], batch_size: int, hooked: bool
) -> None:
    """For any rows, valid or not, both paths refuse or write exactly the same."""
    batched, one_by_one = await _pair(db, *([Shaping()] if hooked else []))
    outcome = await _compare(batched, one_by_one, rows, batch_size)
    event("imported" if isinstance(outcome, ImportResult) else "refused")


async def test_valid_rows_across_batches_match(db: Database) -> None:
    """Many valid rows over several batches: same records, audit, outbox, timers, numbers."""
    batched, one_by_one = await _pair(db)
    rows = [_valid_row(n) for n in range(25)]
    result = await _compare(batched, one_by_one, rows, batch_size=7)
    assert isinstance(result, ImportResult) and result.one_by_one is None
    written = await batched.written()
    assert len(written["record"]) == len(written["audit"]) == 25
    # One record.created message each, plus a webhook and an email for quantities over 500.
    big = sum(1 for n in range(25) if n * 97 % 1000 > 500)
    assert big > 0
    assert len(written["outbox"]) == 25 + 2 * big
    assert len(written["timer"]) == 25  # due_soon, one per record with a due date
    # The set-up's widget took number 1.
    assert [json.loads(r)["last_value"] for r in written["number_series"]] == [26]
    numbers = sorted(_data(r)["number"] for r in written["record"])
    assert numbers == [f"W-2026-{n:03d}" for n in range(2, 27)]


async def test_duplicates_in_the_file_and_in_the_database_are_located(db: Database) -> None:
    batched, one_by_one = await _pair(db)
    rows = [_valid_row(n) for n in range(6)]
    rows[2][10] = "SN-0001"  # held by a record stored before the import
    rows[4][10] = rows[1][10]  # the same serial as row 3 of the file
    rows[5][10] = rows[1][10]
    problems = await _compare(batched, one_by_one, rows, batch_size=2)
    assert isinstance(problems, list)
    assert [p.located() for p in problems] == [
        "row 4, serial: UNIQUE: another record already has this value",
        "row 6, serial: UNIQUE: another record already has this value",
        "row 7, serial: UNIQUE: another record already has this value",
    ]
    assert (await batched.written())["record"] == []  # all or nothing


async def test_a_refused_row_gives_its_unique_values_back(db: Database) -> None:
    """A row refused for another reason claims nothing: a later row may take its serial."""
    batched, one_by_one = await _pair(db)
    rows = [_valid_row(n) for n in range(4)]
    rows[1][0] = ""  # no title: refused
    rows[3][10] = rows[1][10]  # takes the serial row 3 could not keep
    problems = await _compare(batched, one_by_one, rows, batch_size=2)
    assert isinstance(problems, list)
    assert [p.located() for p in problems] == ["row 3, title: REQUIRED: this field is required"]


async def test_hooks_that_use_the_service_send_the_import_one_by_one(db: Database) -> None:
    batched, one_by_one = await _pair(db, Counting())
    rows = [_valid_row(n) for n in range(5)]
    result = await _compare(batched, one_by_one, rows, batch_size=2)
    assert isinstance(result, ImportResult)
    assert result.one_by_one and "plugin hook uses the service (count)" in result.one_by_one


async def test_a_hook_using_the_service_midway_sends_the_rest_one_by_one(db: Database) -> None:
    """Batches before the row whose hook reads records stay batched; the rest goes row by row."""
    batched, one_by_one = await _pair(db, Sometimes())
    rows = [_valid_row(n) for n in range(7)]
    rows[4][0] = "Lookup"
    result = await _compare(batched, one_by_one, rows, batch_size=2)
    assert isinstance(result, ImportResult)
    assert result.one_by_one == "a plugin hook uses the service (count) for each record"
    written = await batched.written()
    notes = [_data(r).get("notes") for r in written["record"]]
    assert notes.count("3 parts") == 1 and notes.count("imported") == 6


async def test_a_record_refused_after_its_batch_was_written_is_redone_one_by_one(
    db: Database,
) -> None:
    batched, one_by_one = await _pair(db, Shaping())
    rows = [_valid_row(n) for n in range(6)]
    rows[3][0] = "boom"
    problems = await _compare(batched, one_by_one, rows, batch_size=4)
    assert [p.located() for p in problems] == [  # type: ignore[union-attr]
        "row 5, title: BOOM: the ledger refused it"
    ]
    rows[3][0] = "fine"
    result = await _compare(batched, one_by_one, rows, batch_size=4)
    assert isinstance(result, ImportResult) and result.one_by_one is None


async def test_automations_that_write_records_import_one_by_one(db: Database) -> None:
    runtime = await make_runtime(db)
    tenant = Tenant(runtime, "bulk-tasks")
    doc = bulk_config("bulk-tasks")
    doc["automations"]["big_order"]["do"].append(
        {"type": "create_task", "subject": {"en": "Call about {record.title}"}}
    )
    await tenant.apply(doc)
    tenant.user = await runtime.db.add_user(
        "bulk-tasks", "ana@example.com", "Ana", hash_password("s3cret-pass"), ["admin"], "en"
    )
    tenant.parts = [
        (await runtime.service.create(tenant.context(SET_UP), "part", {"name": "P"})).id
    ] * 3
    result = await tenant.run([_valid_row(600)], one_by_one=False)
    assert isinstance(result, ImportResult) and result.created == 1
    assert result.one_by_one == (
        "automation 'big_order' runs 'create_task' for each new widget, which writes records"
    )


async def test_dry_run_and_progress(db: Database) -> None:
    batched, _ = await _pair(db)
    seen: list[ImportProgress] = []
    text = batched.csv_text([_valid_row(n) for n in range(9)])
    ctx = batched.context(IMPORTED)
    result = await check_csv(
        ctx, batched.runtime.service, "widget", io.StringIO(text), progress=seen.append
    )
    assert result.created == 9 and (await batched.written())["record"] == []
    assert [(p.checked, p.written) for p in seen] == [(9, 9)]
    seen.clear()
    result = await import_csv(
        ctx,
        batched.runtime.service,
        "widget",
        io.StringIO(text),
        progress=seen.append,
        batch_size=4,
    )
    assert [(p.checked, p.written) for p in seen] == [(4, 4), (8, 8), (9, 9)]
    assert len((await batched.written())["record"]) == 9


class _Counted(io.StringIO):
    """A text stream that remembers how much of it was read."""

    consumed = 0

    def read(self, size: int | None = -1) -> str:
        text = super().read(size)
        self.consumed += len(text)
        return text

    def readline(self, size: int | None = -1) -> str:
        text = super().readline(size)
        self.consumed += len(text)
        return text

    def __next__(self) -> str:
        text = super().__next__()
        self.consumed += len(text)
        return text


def test_the_file_is_read_as_it_is_imported() -> None:
    from core.importer import _rows

    line = "Bolt,3,12.50,yes,2026-12-01,a,red,,,,SN-0001,5,2.5\n"
    stream = _Counted(",".join(HEADER) + "\n" + line * 50_000)
    rows = _rows(stream)
    assert next(rows) == HEADER
    for _ in range(10):
        next(rows)
    assert stream.consumed < 64 * 1024 + 2 * len(line)  # the sniffer's sample, not the file
    assert sum(1 for _ in rows) == 50_000 - 10


def test_a_sample_that_ends_inside_a_quoted_cell_still_parses() -> None:
    from core.importer import _rows

    head = "title,notes\n"
    filler = "x," + "y" * 100 + "\n"
    long_cell = '"' + "line\n" * 20_000 + '"'
    text = head + filler * 600 + "quoted," + long_cell + "\n" + "last,z\n"
    rows = list(_rows(io.StringIO(text)))
    assert rows[-2] == ["quoted", "line\n" * 20_000] and rows[-1] == ["last", "z"]
    assert len(rows) == 1 + 600 + 2


@pytest.mark.parametrize(
    ("cell", "value"),
    [("a", "a"), ("B", "b"), (" A ", "a"), ("c", "c")],
)
def test_enum_cells_by_key_or_label(cell: str, value: str) -> None:
    from core.config import validate_config
    from core.importer import _converter
    from core.plugins import PluginHost

    model, problems = validate_config(acme_config(), PluginHost().contributions())
    assert model is not None, problems
    ctx = CallContext(model=model, principal=Principal("acme", "u", "u@example.com"))
    assert _converter(model.entities["widget"].fields["grade"], ctx)(cell) == value
