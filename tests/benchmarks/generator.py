"""Benchmark data: the reference tenant config, 1,000 distinct configs, bulk records.

- :func:`reference_config`: 20 entities × 30 fields of mixed types; each entity
  has 5 indexed custom fields (3 text slots, 2 number slots) and relations to
  its neighbours, so the GraphQL schema and the slot mapping are those of a
  realistic, fully used tenant.
- :func:`generated_configs`: ``n`` distinct configs (different entity counts,
  field mixes, locales, currencies), deterministic for a seed: the input of the
  many-tenants measurement.
- :func:`bulk_load`: ``n`` records of one entity written with raw bulk SQL in
  the row shape ``RecordService`` writes (JSON ``data`` in storage form plus
  the slot columns), far faster than the service path. PostgreSQL uses
  ``COPY``; SQLite ``executemany`` in large transactions.

``GENERATOR_VERSION`` names the shape of generated data: a cached benchmark
database made by another version is not reused.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from core.metadata import NUMBER_SLOTS, TEXT_SLOTS, EntityDef
from core.store import Database
from core.store.values import bind_number, bind_time
from core.values import slot_value, to_storage

__all__ = [
    "GENERATOR_VERSION",
    "MAIN_ENTITY",
    "bulk_load",
    "generated_configs",
    "record_values",
    "reference_config",
]

GENERATOR_VERSION = 1
MAIN_ENTITY = "ent00"
ENTITIES = 20
FIELDS_PER_ENTITY = 30
STAGES = ("new", "open", "quoted", "won", "lost", "parked")
TAGS = ("red", "green", "blue", "amber")

# The fixed head of every entity: 5 indexed fields, then one of each other type.
_HEAD: tuple[tuple[str, dict[str, Any]], ...] = (
    ("code", {"type": "text", "indexed": True, "required": True, "max_length": 40}),
    ("stage", {"type": "enum", "indexed": True}),
    ("due", {"type": "date", "indexed": True}),
    ("quantity", {"type": "integer", "indexed": True, "min": 0}),
    ("amount", {"type": "money", "indexed": True}),
    ("title", {"type": "text"}),
    ("description", {"type": "long_text"}),
    ("price", {"type": "decimal", "scale": 2}),
    ("discount", {"type": "percent"}),
    ("active", {"type": "boolean"}),
    ("opened_at", {"type": "datetime"}),
    ("tags", {"type": "multi_enum"}),
    ("email", {"type": "email"}),
    ("phone", {"type": "phone"}),
    ("website", {"type": "url"}),
    ("address", {"type": "address"}),
)
# Repeated to fill the entity up to FIELDS_PER_ENTITY (minus the two relations).
_FILL = ("text", "integer", "decimal", "date", "boolean", "long_text")


def _labels(text: str, locales: Sequence[str] = ("en",)) -> dict[str, str]:
    return {loc: text for loc in locales}


def _options(values: Sequence[str], locales: Sequence[str]) -> list[dict[str, Any]]:
    return [{"value": v, "label": _labels(v.title(), locales)} for v in values]


def _entity_fields(
    index: int, entity_keys: Sequence[str], locales: Sequence[str], size: int
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, spec in _HEAD:
        fields[key] = {**spec, "label": _labels(key.replace("_", " ").title(), locales)}
        if spec["type"] == "enum":
            fields[key]["options"] = _options(STAGES, locales)
        if spec["type"] == "multi_enum":
            fields[key]["options"] = _options(TAGS, locales)
    n = len(entity_keys)
    if n > 1:
        fields["parent"] = {
            "type": "relation",
            "target": entity_keys[(index + 1) % n],
            "label": _labels("Parent", locales),
        }
        fields["main"] = {
            "type": "relation",
            "target": entity_keys[0],
            "label": _labels("Main", locales),
        }
    i = 0
    while len(fields) < size:
        ftype = _FILL[i % len(_FILL)]
        fields[f"x{i:02d}_{ftype}"] = {"type": ftype, "label": _labels(f"Extra {i}", locales)}
        i += 1
    return fields


def reference_config(tenant: str = "bench-ref") -> dict[str, Any]:
    """The reference tenant: 20 entities × 30 fields, 5 indexed each, relations."""
    keys = [f"ent{i:02d}" for i in range(ENTITIES)]
    return {
        "tenant": tenant,
        "name": {"en": f"Benchmark {tenant}"},
        "locales": ["en"],
        "default_locale": "en",
        "currency": "EUR",
        "timezone": "Europe/Madrid",
        "country": "ES",
        "plugins": [],
        "entities": {
            key: {
                "label": _labels(f"Entity {i}"),
                "plural": f"{key}_list",
                "title_field": "code",
                "fields": _entity_fields(i, keys, ["en"], FIELDS_PER_ENTITY),
            }
            for i, key in enumerate(keys)
        },
    }


_LOCALE_SETS = (["en"], ["es-ES", "en"], ["zh-CN", "en"], ["en-PH", "tl-PH"])
_CURRENCIES = ("EUR", "USD", "CNY", "PHP", "JPY")
_ZONES = ("UTC", "Europe/Madrid", "Asia/Shanghai", "Asia/Manila")


def generated_configs(count: int = 1000, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``count`` distinct tenant configs (distinct models, so distinct schemas)."""
    rng = random.Random(seed)
    for n in range(count):
        locales = rng.choice(_LOCALE_SETS)
        entity_count = rng.randint(2, 8)
        keys = [f"e{n % 97:02d}_{j}" for j in range(entity_count)]
        entities = {
            key: {
                "label": _labels(f"Entity {j}", locales),
                "plural": f"{key}_list",
                "title_field": "code",
                # The size differs per entity, so no two configs share a model.
                "fields": _entity_fields(j, keys, locales, rng.randint(18, 30) + (n % 3)),
            }
            for j, key in enumerate(keys)
        }
        yield {
            "tenant": f"gen-{n:04d}",
            "name": _labels(f"Generated {n}", locales),
            "locales": locales,
            "default_locale": locales[0],
            "currency": rng.choice(_CURRENCIES),
            "timezone": rng.choice(_ZONES),
            "plugins": [],
            "entities": entities,
        }


_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def record_values(entity: EntityDef, n: int, rng: random.Random) -> dict[str, Any]:
    """The Python-form values of the ``n``-th generated record of ``entity``.

    Indexed values are spread so a filter on ``stage`` keeps a sixth of the
    rows and ``code`` is distinct per record (sorts are not ties).
    """
    out: dict[str, Any] = {}
    for key, f in entity.fields.items():
        t = f.value_type
        if key == "code":
            out[key] = f"C{rng.randrange(10**9):09d}-{n}"
        elif t in ("text", "long_text"):
            out[key] = f"{key} {n} " + "lorem ipsum " * rng.randint(0, 3)
        elif t == "enum":
            out[key] = STAGES[n % len(STAGES)]
        elif t == "multi_enum":
            out[key] = [TAGS[n % len(TAGS)]]
        elif t == "integer":
            out[key] = rng.randrange(0, 100_000)
        elif t in ("decimal", "percent"):
            out[key] = Decimal(rng.randrange(0, 10_000_00)) / 100
        elif t == "money":
            out[key] = {"amount": Decimal(rng.randrange(0, 10**7)) / 100, "currency": "EUR"}
        elif t == "boolean":
            out[key] = n % 2 == 0
        elif t == "date":
            out[key] = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 1500))
        elif t == "datetime":
            out[key] = _EPOCH + timedelta(seconds=rng.randrange(0, 10**8))
        elif t == "email":
            out[key] = f"user{n}@example.com"
        elif t == "phone":
            out[key] = f"+34 600 {n % 1000:03d} {rng.randrange(1000):03d}"
        elif t == "url":
            out[key] = f"https://example.com/{n}"
        elif t == "address":
            out[key] = {"street": f"Calle {n}", "city": "Madrid", "country": "ES"}
    return out


@asynccontextmanager
async def copy_connection(url: str) -> AsyncIterator[Any]:
    """An asyncpg connection (a superuser's: ``COPY`` is refused under row-level
    security) that sends ``jsonb`` in binary form, as ``copy_records_to_table`` needs."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        # jsonb's binary form is a version byte, then the text.
        await conn.set_type_codec(
            "jsonb",
            encoder=lambda v: b"\x01" + v.encode(),
            decoder=lambda v: v[1:].decode(),
            schema="pg_catalog",
            format="binary",
        )
        yield conn
    finally:
        await conn.close()


def _rows(
    db: Database, tenant: str, entity: EntityDef, start: int, count: int, actor: str, seed: int
) -> Iterator[tuple[Any, ...]]:
    """Row tuples in the column order of ``_COLUMNS`` (the service's storage forms)."""
    rng = random.Random(seed * 1_000_003 + start)
    slots = {f.slot: f for f in entity.fields.values() if f.slot}
    base = _EPOCH.timestamp()
    for n in range(start, start + count):
        values = record_values(entity, n, rng)
        data = {k: to_storage(entity.fields[k], v) for k, v in values.items()}
        at = datetime.fromtimestamp(base + n, UTC)
        slot_cells: list[Any] = []
        for slot in (*TEXT_SLOTS, *NUMBER_SLOTS):
            f = slots.get(slot)
            value = slot_value(f, values.get(f.key)) if f is not None else None
            if value is not None and slot in NUMBER_SLOTS:
                value = bind_number(db.dialect, value)
            slot_cells.append(value)
        stamp = bind_time(db.dialect, at)
        yield (
            tenant,
            f"{int(base + n) * 10**9:020d}{n:08x}",
            entity.key,
            1,
            orjson.dumps(data).decode(),
            stamp,
            actor,
            stamp,
            actor,
            False,
            *slot_cells,
        )


_COLUMNS = (
    "tenant_id",
    "id",
    "entity",
    "version",
    "data",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "archived",
    *TEXT_SLOTS,
    *NUMBER_SLOTS,
)


async def bulk_load(
    db: Database,
    tenant: str,
    entity: EntityDef,
    count: int,
    *,
    actor: str = "bench",
    seed: int = 1,
    start: int = 0,
    batch: int = 20_000,
    admin_url: str | None = None,
) -> float:
    """Insert generated records ``start`` .. ``start + count - 1`` with raw bulk SQL;
    the seconds it took.

    On PostgreSQL ``admin_url`` (a superuser connection to the same database)
    runs a ``COPY``, which row-level security refuses to an ordinary role;
    without it, batched ``INSERT``s run on the engine's pool with the tenant
    set, as the service's own writes do.
    """
    began = time.perf_counter()
    if db.dialect == "postgresql":

        async def copy(conn: Any) -> None:
            for offset in range(start, start + count, batch):
                size = min(batch, start + count - offset)
                rows = list(_rows(db, tenant, entity, offset, size, actor, seed))
                await conn.copy_records_to_table("record", records=rows, columns=_COLUMNS)

        if admin_url is not None:
            async with copy_connection(admin_url) as conn:
                await copy(conn)
                await conn.execute("ANALYZE record")
        else:
            # As the app's role: COPY is refused under row-level security, so
            # multi-row INSERTs with the tenant set in the same transaction.
            sql = (
                f"INSERT INTO record ({', '.join(_COLUMNS)}) VALUES "
                f"({', '.join(f'${i + 1}' for i in range(len(_COLUMNS)))})"
            )
            pool: Any = getattr(db.engine, "pool", None)
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT set_config('tessera.tenant', $1, true)", tenant)
                for offset in range(start, start + count, batch):
                    size = min(batch, start + count - offset)
                    rows = list(_rows(db, tenant, entity, offset, size, actor, seed))
                    await conn.executemany(sql, rows)
    else:
        import aiosqlite

        path = db.url.removeprefix("sqlite:///")
        async with aiosqlite.connect(path) as conn:
            await conn.execute("PRAGMA synchronous=OFF")
            sql = f"INSERT INTO record ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
            for offset in range(start, start + count, batch):
                size = min(batch, start + count - offset)
                rows = list(_rows(db, tenant, entity, offset, size, actor, seed))
                await conn.executemany(sql, rows)
                await conn.commit()
            await conn.execute("ANALYZE")
            await conn.commit()
    return time.perf_counter() - began
