"""Realistic sample records for any :class:`~core.metadata.TenantModel`.

``crm demo`` loads these through the service. Records come in an order in
which every relation's target is created first; relation values are local
references (``"account:3"``) that the loader maps to real ids. Every value
is checked with the same :func:`core.values.coerce` the service uses, so a
sample never breaks a field rule (required, range, length, pattern, enum,
uniqueness). Names, addresses and phone numbers follow the tenant's default
locale. The output depends only on the model, ``seed``, ``scale`` and ``now``.

Processes shape the samples too (docs/workflows.md): a record of an entity
with a workflow rests in a state it could have reached — it carries the
fields every transition on the way requires and passed their guards — and
every sample satisfies its entity's validation rules, so the service accepts
it. The loader creates such records as the system, the one caller that may
place a record outside the initial state.
"""

from __future__ import annotations

import math
import re
import re._constants as sre_c
import re._parser as sre_p
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from faker import Faker

from core.builtin_entities import PERSONAL_ENTITIES
from core.context import Principal
from core.expressions import Expression, ExpressionError, bindings, record_to_cel
from core.metadata import EntityDef, FieldDef, TenantModel
from core.values import coerce, unique_key
from core.workflow.definitions import Transition, Workflow

__all__ = [
    "DEFAULT_NOW",
    "SAMPLE_COUNTS",
    "SampleRecord",
    "entity_order",
    "faker_locale",
    "generate_sample_data",
    "sample_from_regex",
]

#: The default clock of generated dates, fixed so that samples are reproducible.
DEFAULT_NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)

#: Records per entity at ``scale=1``; ``"*"`` is the count of any other entity.
SAMPLE_COUNTS: Mapping[str, int] = {
    "account": 120,
    "contact": 250,
    "lead": 80,
    "opportunity": 100,
    "activity": 300,
    "product": 60,
    "quote": 80,
    "quote_line": 200,
    "invoice": 80,
    "payment": 60,
    "case": 100,
    "kb_article": 30,
    "*": 50,
}

#: Entities plugins write themselves (never sampled, whatever the counts say): the
#: sales plugin's match keys and assignment cursors, quote versions made by revising.
PLUGIN_WRITTEN = frozenset({"match_key", "assignment_cursor", "quote_version"})

_FAKER_LOCALES = {
    "zh-cn": "zh_CN",
    "zh": "zh_CN",
    "es-es": "es_ES",
    "es": "es_ES",
    "tl-ph": "fil_PH",
    "fil-ph": "fil_PH",
    "tl": "fil_PH",
    "fil": "fil_PH",
    "en-ph": "en_PH",
}
_LOCALE_COUNTRY = {"zh_CN": "CN", "es_ES": "ES", "fil_PH": "PH", "en_PH": "PH", "en_US": "US"}

_ATTEMPTS = 25
#: "Draw this value the usual way" (a special case that does not apply).
_GENERIC = object()
#: Fresh drafts of a record before one that satisfies its entity's rules is given up.
_RULE_ATTEMPTS = 8
_RELATIONS = ("relation", "relation_list")
_TEXTUAL = ("text", "long_text", "email", "phone", "url")

_PERSON_ENTITIES = frozenset({"contact", "lead", "person", "employee", "member", "patient"})
_COMPANY_ENTITIES = frozenset(
    {"account", "company", "organization", "organisation", "supplier", "vendor", "partner"}
)
_CODE_KEYS = frozenset({"number", "code", "model", "sku", "serial", "reference", "ref"})
#: Fields of the built-in ``task`` that only processes set (what it is about, which rule).
_PROCESS_TASK_FIELDS = frozenset({"related_entity", "related_id", "source"})
_PROSE_KEYS = frozenset(
    {"description", "notes", "note", "comment", "comments", "problem", "solution", "body"}
)

_INDUSTRIES = {
    "en": (
        "Manufacturing", "Retail", "Logistics", "Healthcare", "Software",
        "Construction", "Hospitality", "Agriculture", "Finance", "Education",
    ),
    "zh": ("制造业", "零售", "物流", "医疗", "软件", "建筑", "酒店餐饮", "农业", "金融", "教育"),
    "es": (
        "Fabricación", "Comercio minorista", "Logística", "Sanidad", "Software",
        "Construcción", "Hostelería", "Agricultura", "Finanzas", "Educación",
    ),
}  # fmt: skip
_UNITS = {
    "en": ("pcs", "box", "kg", "hour", "set"),
    "zh": ("件", "箱", "千克", "小时", "套"),
    "es": ("ud.", "caja", "kg", "hora", "juego"),
}
_PRODUCTS = {
    "en": (
        "Printer", "Router", "Sensor", "Controller", "Pump",
        "Valve", "Laptop", "Monitor", "Scanner", "Cable kit",
    ),
    "zh": (
        "打印机", "路由器", "传感器", "控制器", "水泵",
        "阀门", "笔记本电脑", "显示器", "扫描仪", "线缆套件",
    ),
    "es": (
        "Impresora", "Router", "Sensor", "Controlador", "Bomba",
        "Válvula", "Portátil", "Monitor", "Escáner", "Kit de cables",
    ),
}  # fmt: skip
_SERIES = ("S", "Pro", "Max", "Lite", "X", "Plus")


@dataclass(frozen=True)
class SampleRecord:
    """One record to create.

    ``values`` holds Python-typed values (see :class:`core.context.Record`);
    relation and relation_list values are references to earlier samples
    (``"account:3"``); user fields are ``None`` for the loader to fill in.
    """

    entity: str
    ref: str
    values: dict[str, Any]


def faker_locale(locale: str, country: str | None = None) -> str:
    """The Faker locale for a tenant locale: ``zh-CN`` -> ``zh_CN``, else ``en_US``.

    A bare ``en`` in the Philippines (``country="PH"``) maps to ``en_PH``.
    """
    key = locale.replace("_", "-").lower()
    if key == "en" and country == "PH":
        return "en_PH"
    return _FAKER_LOCALES.get(key) or _FAKER_LOCALES.get(key.split("-")[0], "en_US")


def _relation_fields(entity: EntityDef) -> list[FieldDef]:
    return [
        f
        for f in entity.fields.values()
        if f.value_type in _RELATIONS and f.target and not f.read_only
    ]


def entity_order(model: TenantModel) -> list[str]:
    """Entity keys, each after the targets of its relations.

    A cycle is broken at an entity whose *required* targets are already
    placed; its references to later entities stay empty. Ties keep the
    model's order.
    """
    deps: dict[str, set[str]] = {}
    required: dict[str, set[str]] = {}
    for key, entity in model.entities.items():
        rel = [f for f in _relation_fields(entity) if f.target in model.entities]
        deps[key] = {str(f.target) for f in rel} - {key}
        required[key] = {str(f.target) for f in rel if f.required} - {key}
    placed: list[str] = []
    remaining = list(model.entities)
    while remaining:
        done = set(placed)
        pick = next((e for e in remaining if deps[e] <= done), None)
        if pick is None:
            pick = next((e for e in remaining if required[e] <= done), remaining[0])
        placed.append(pick)
        remaining.remove(pick)
    return placed


def generate_sample_data(
    model: TenantModel,
    *,
    seed: int = 7,
    scale: int = 1,
    now: datetime = DEFAULT_NOW,
    counts: Mapping[str, int] | None = None,
) -> list[SampleRecord]:
    """Sample records for every entity of ``model``, targets before referrers.

    ``counts`` replaces :data:`SAMPLE_COUNTS` (entity key -> records, ``"*"``
    for the rest); each count is multiplied by ``scale``. A record whose required
    field cannot be given a valid value (say, a unique field whose pattern
    allows too few values) is left out.
    """
    if scale < 0:
        raise ValueError("scale must not be negative")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    table = dict(SAMPLE_COUNTS if counts is None else counts)
    table.setdefault("*", SAMPLE_COUNTS["*"])
    gen = _Generator(model, seed, now)
    out: list[SampleRecord] = []
    for key in entity_order(model):
        if key in PERSONAL_ENTITIES or key in PLUGIN_WRITTEN:
            continue  # users' own settings, plugins' bookkeeping: not records to sample
        n = table.get(key, table["*"]) * scale
        out.extend(gen.records(model.entities[key], n))
    return out


class _Generator:
    """State of one generation run: random sources, refs made so far, unique values."""

    def __init__(self, model: TenantModel, seed: int, now: datetime) -> None:
        self.model = model
        self.rng = Random(seed)
        self.locale = faker_locale(model.default_locale, model.country)
        self.lang = self.locale[:2] if self.locale[:2] in ("zh", "es") else "en"
        self.fake = Faker(self.locale)
        self.fake.seed_instance(seed)
        self.country = model.country or _LOCALE_COUNTRY[self.locale]
        try:
            self.tz: ZoneInfo = ZoneInfo(model.timezone)
        except (KeyError, ValueError):
            self.tz = ZoneInfo("UTC")
        self.now = now
        self.today = now.astimezone(self.tz).date()
        # Who ``user`` is when guards and rules are evaluated on a sample.
        self.principal = Principal(
            tenant=model.tenant, user_id="demo", email="demo@example.invalid", roles=("admin",)
        )
        self.refs: dict[str, list[str]] = {}
        self.by_ref: dict[str, dict[str, Any]] = {}
        self.seen: dict[tuple[str, str], set[str]] = {}
        self.serial = 0
        self.refunds: set[int] = set()  # payments (by index) drawn as refunds

    # -- records ----------------------------------------------------------

    def records(self, entity: EntityDef, n: int) -> list[SampleRecord]:
        refs = self.refs.setdefault(entity.key, [])
        out: list[SampleRecord] = []
        for i in range(1, n + 1):
            values = self.processed_values(entity, i)
            if values is None:
                continue
            ref = f"{entity.key}:{i}"
            refs.append(ref)
            self.by_ref[ref] = values
            out.append(SampleRecord(entity.key, ref, values))
        return out

    def processed_values(self, entity: EntityDef, i: int) -> dict[str, Any] | None:
        """Values in a workflow state the record could be in, satisfying every rule.

        A draft that breaks a rule is drawn again, a few times; then the record
        is left out, as the service would refuse it. (Rules that read computed
        fields see them absent here.)
        """
        processes = getattr(self.model, "processes", None)
        workflow = processes.workflow_of(entity.key) if processes is not None else None
        rules = processes.rules.get(entity.key, ()) if processes is not None else ()
        for _ in range(_RULE_ATTEMPTS):
            values = self.values(entity, i)
            if values is None:
                return None
            if workflow is not None:
                self._place_in_workflow(entity, workflow, i, values)
            if all(self._holds(r.expression, entity, values) for r in rules if "create" in r.on):
                return values
        return None

    def values(self, entity: EntityDef, i: int) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        for f in entity.fields.values():
            if f.read_only or f.type == "computed":
                continue
            if f.value_type == "user":
                values[f.key] = None
                continue
            if not f.required and self.rng.random() >= self._fill_rate(entity, f):
                continue
            value = self.value(entity, f, i, values)
            if value is None:
                if f.required:
                    return None
                continue
            values[f.key] = value
        return values

    def _fill_rate(self, entity: EntityDef, f: FieldDef) -> float:
        if entity.key == "task" and f.key in _PROCESS_TASK_FIELDS:
            return 0.0  # set by the automation that creates a task, not by hand
        if f.target == entity.key:
            return 0.25  # hierarchies are shallow: most records have no parent
        if f.value_type == "long_text":
            return 0.5
        if f.value_type == "money":
            return 1.0  # lines without a price or deals without an amount make poor demos
        if "reason" in f.key:
            return 0.2  # a reason explains an exception (a lost deal), not the rule
        return 0.9

    def value(self, entity: EntityDef, f: FieldDef, i: int, values: Mapping[str, Any]) -> Any:
        """A valid (and, for unique fields, unused) value, or ``None`` if none was found."""
        if entity.key == "payment":
            paid = self._payment(f, i, values)
            if paid is not _GENERIC and (
                paid is None or f.value_type in _RELATIONS or coerce(f, paid, self.model)[1] is None
            ):
                return paid
        if f.value_type in _RELATIONS:
            return self._relation(entity, f, values)
        seen = self.seen.setdefault((entity.key, f.key), set())
        for attempt in range(_ATTEMPTS):
            candidate = self._candidate(entity, f, i, attempt, values)
            if candidate is None:
                continue
            if isinstance(candidate, str):
                candidate = candidate.strip()
            if f.value_type in _TEXTUAL:
                candidate = self._fit_text(f, candidate)
                if candidate is None:
                    continue
            value, problem = coerce(f, candidate, self.model)
            if problem is not None or value is None:
                continue
            # Parties and products are named once each: a demo full of duplicate
            # customers would contradict the duplicate checks it is meant to show.
            if f.unique or (f.key == "name" == entity.title_field):
                key = unique_key(f, value)
                if key in seen:
                    continue
                seen.add(key)
            return value
        return None

    # -- processes --------------------------------------------------------

    def _place_in_workflow(
        self, entity: EntityDef, wf: Workflow, i: int, values: dict[str, Any]
    ) -> None:
        """Set the status to a state drawn among those a record can rest in.

        The record walks the shortest chain of transitions from the initial
        state to the drawn one, gaining the fields each transition requires;
        where a guard does not hold it stops, in the state it reached. An
        approval's pending state is never drawn: it needs an open approval.
        """
        pending = {
            t.approval.pending_state
            for t in wf.transitions.values()
            if t.approval is not None and t.approval.pending_state is not None
        }
        resting = [key for key in wf.states if key not in pending]
        state = wf.initial
        for t in _path(wf, wf.initial, self.rng.choice(resting), pending):
            if not self._fill(entity, i, values, t.required_fields):
                break
            if t.guard is not None and not self._holds(t.guard, entity, values):
                break
            state = t.to
        values[wf.field] = state

    def _fill(self, entity: EntityDef, i: int, values: dict[str, Any], keys: Sequence[str]) -> bool:
        for key in keys:
            f = entity.fields[key]
            if f.value_type == "user" or values.get(key) is not None:
                continue  # the loader gives every user field a demo user
            if f.read_only or f.type == "computed":
                return False  # only the system sets it: the record cannot get further
            value = self.value(entity, f, i, values)
            if value is None:
                return False
            values[key] = value
        return True

    def _holds(self, expr: Expression, entity: EntityDef, values: Mapping[str, Any]) -> bool:
        """``expr`` over a sample as the engine would see it after the write."""
        data: dict[str, Any] = {}
        for key, f in entity.fields.items():
            if key not in values and f.default is not None and not f.read_only:
                default, problem = coerce(f, f.default, self.model)
                if problem is None:
                    data[key] = default
        data.update(values)
        variables = bindings(
            entity,
            data,
            previous=None,
            principal=self.principal,
            now=self.now,
            timezone=str(self.tz),
        )
        related: dict[str, Any] = {}
        for key, f in entity.fields.items():
            ref = data.get(key)
            if f.value_type == "relation" and isinstance(ref, str) and ref in self.by_ref:
                related[key] = record_to_cel(self.model.entities[str(f.target)], self.by_ref[ref])
        variables["related"] = related
        try:
            return expr.evaluate(variables) is True
        except ExpressionError:
            return False

    # -- relations --------------------------------------------------------

    def _relation(self, entity: EntityDef, f: FieldDef, values: Mapping[str, Any]) -> Any:
        pool = list(self.refs.get(str(f.target), ()))
        if not pool:
            return None  # the target comes later (a broken cycle) or has no records
        if f.unique:
            used = self.seen.setdefault((entity.key, f.key), set())
            pool = [r for r in pool if r not in used]
            if not pool:
                return None
        if f.value_type == "relation_list":
            return self.rng.sample(pool, self.rng.randint(1, min(3, len(pool))))
        consistent = self._consistent(str(f.target), pool, entity, values)
        if not consistent and not f.required:
            return None
        choice = self.rng.choice(consistent or pool)
        if f.unique:
            self.seen[(entity.key, f.key)].add(choice)
        return choice

    def _consistent(
        self, target: str, pool: list[str], entity: EntityDef, values: Mapping[str, Any]
    ) -> list[str]:
        """Targets that agree with relations already chosen (a contact of the chosen account)."""
        target_fields = _relation_fields(self.model.entities[target])
        for key, chosen in values.items():
            f = entity.fields[key]
            if f.value_type != "relation" or not isinstance(chosen, str):
                continue
            via = [
                g.key for g in target_fields if g.target == f.target and g.value_type == "relation"
            ]
            if via:
                pool = [r for r in pool if any(self.by_ref[r].get(g) == chosen for g in via)]
        return pool

    # -- candidates by type -----------------------------------------------

    def _candidate(
        self, entity: EntityDef, f: FieldDef, i: int, attempt: int, values: Mapping[str, Any]
    ) -> Any:
        t = f.value_type
        if t in ("text", "long_text"):
            return self._text(entity, f, i, attempt)
        if t == "email":
            email = self.fake.email()
            if attempt:
                local, _, domain = email.partition("@")
                email = f"{local}{self.rng.randint(2, 999)}@{domain}"
            return email
        if t == "phone":
            return self._phone(f.key)
        if t == "url":
            return self.fake.url(schemes=["https"])
        if t == "integer":
            return self._integer(f)
        if t == "decimal":
            return self._decimal(f)
        if t == "percent":
            return self._percent(f)
        if t == "money":
            return self._money(f)
        if t == "boolean":
            return self.rng.random() < _true_rate(f.key)
        if t == "date":
            return self._date(entity, f, values)
        if t == "datetime":
            return self._datetime(entity, f, values)
        if t == "enum":
            return self.rng.choice(f.option_values) if f.options else None
        if t == "multi_enum":
            opts = list(f.option_values)
            return self.rng.sample(opts, self.rng.randint(1, min(3, len(opts)))) if opts else None
        if t == "address":
            return self._address()
        return None

    def _text(self, entity: EntityDef, f: FieldDef, i: int, attempt: int) -> str:
        key, ek, fake = f.key, entity.key, self.fake
        if f.value_type == "long_text" or key in _PROSE_KEYS or "reason" in key:
            return self._prose(3 if f.value_type == "long_text" else 1)
        if key in ("name", "full_name", "display_name"):
            if ek in _PERSON_ENTITIES:
                return str(fake.name())
            if ek in _COMPANY_ENTITIES:
                return str(fake.company())
            if "product" in ek or ek in ("item", "article", "service"):
                return self._product()
            return self._phrase(2 + attempt % 2)
        if key == "first_name":
            return str(fake.first_name())
        if key == "last_name":
            return str(fake.last_name())
        if key in ("company", "company_name", "organization", "employer", "customer"):
            return str(fake.company())
        if key in ("job_title", "position", "job"):
            return str(fake.job())
        if key in ("industry", "sector"):
            return self.rng.choice(_INDUSTRIES[self.lang])
        if key in ("territory", "region", "province", "state"):
            return self._region()
        if key == "city":
            return str(fake.city())
        if key == "street":
            return str(fake.street_address())
        if key in ("postal_code", "postcode", "zip", "zip_code"):
            return str(fake.postcode())
        if key == "country":
            return self.country
        if key == "currency":
            return self.model.currency
        if key in ("unit", "uom"):
            return self.rng.choice(_UNITS[self.lang])
        if key in _CODE_KEYS or key.endswith(("_number", "_code", "_no", "_ref")):
            return self._code(ek, key, i, attempt)
        if key in ("title", "subject", "summary", "headline", "topic"):
            return self._prose(0)
        if key in ("keywords", "tags"):
            sep = "，" if self.lang == "zh" else ", "
            return sep.join(fake.words(3))
        return self._phrase(2 + attempt % 3)

    def _phrase(self, n: int) -> str:
        words = [str(w) for w in self.fake.words(n)]
        if self.lang == "zh":
            return "".join(words)
        text = " ".join(words)
        return text[:1].upper() + text[1:]

    def _prose(self, sentences: int) -> str:
        """One title-like clause (``sentences=0``) or that many sentences."""
        if sentences == 0:
            return str(self.fake.sentence(nb_words=5)).rstrip(".。")
        parts = [str(self.fake.sentence(nb_words=8)) for _ in range(sentences)]
        if self.lang == "zh":
            return "".join(p.rstrip(".") + "。" for p in parts)
        return " ".join(parts)

    def _product(self) -> str:
        noun = self.rng.choice(_PRODUCTS[self.lang])
        model = f"{self.rng.choice(_SERIES)}{self.rng.randint(1, 9)}00"
        return f"{noun} {model}"

    def _code(self, entity: str, key: str, i: int, attempt: int) -> str:
        prefix = re.sub(r"[^A-Z]", "", entity.upper())[:3] or "REF"
        if key == "number" or key.endswith("_number"):
            return f"{prefix}-{self.today.year}-{i + attempt * 10_000:04d}"
        self.serial += 1
        return f"{prefix}-{10_000 + 7 * self.serial + self.rng.randint(0, 6)}"

    def _region(self) -> str:
        for method in ("administrative_unit", "state", "province"):
            fn = getattr(self.fake, method, None)
            if fn is not None:
                return str(fn())
        return str(self.fake.city())

    def _phone(self, key: str) -> str:
        names = ("mobile_number", "phone_number")
        if "mobile" not in key and "cell" not in key:
            names = ("phone_number", "mobile_number")
        for method in names:
            fn: Callable[[], str] | None = getattr(self.fake, method, None)
            if fn is not None:
                # Extensions ("x123") are not part of a dialable number.
                return re.split(r"\s*(?:x|ext)", str(fn()))[0]
        return str(self.fake.msisdn())

    def _address(self) -> dict[str, str]:
        parts = {
            "street": str(self.fake.street_address()),
            "city": str(self.fake.city()),
            "region": self._region(),
            "postal_code": str(self.fake.postcode()),
            "country": self.country,
        }
        return {key: part.strip() for key, part in parts.items()}

    # -- numbers -----------------------------------------------------------

    def _number(
        self, f: FieldDef, lo: Decimal, hi: Decimal, places: int, step: Decimal | None = None
    ) -> Decimal | None:
        a, b = _bounds(f, lo, hi)
        if step is not None:
            k_lo, k_hi = math.ceil(a / step), math.floor(b / step)
            if k_lo <= k_hi:
                return (self.rng.randint(k_lo, k_hi) * step).quantize(Decimal(1).scaleb(-places))
        u_lo, u_hi = math.ceil(a.scaleb(places)), math.floor(b.scaleb(places))
        if u_lo > u_hi:
            return None
        return Decimal(self.rng.randint(u_lo, u_hi)).scaleb(-places)

    def _integer(self, f: FieldDef) -> int | None:
        key = f.key
        if "quantity" in key or "qty" in key or "count" in key:
            lo, hi = 1, 50
        elif "employee" in key or "headcount" in key:
            lo, hi = 5, 5_000
        elif "year" in key:
            lo, hi = self.today.year - 10, self.today.year
        elif key == "age":
            lo, hi = 18, 75
        else:
            lo, hi = 0, 1_000
        d = self._number(f, Decimal(lo), Decimal(hi), 0)
        return int(d) if d is not None else None

    def _decimal(self, f: FieldDef) -> Decimal | None:
        places = f.scale if f.scale is not None else 2
        if "quantity" in f.key or "qty" in f.key:
            return self._number(f, Decimal(1), Decimal(20), 0, step=Decimal(1))
        return self._number(f, Decimal(0), Decimal(1_000), min(places, 2))

    def _percent(self, f: FieldDef) -> Decimal | None:
        key = f.key
        if "probab" in key:
            return self._number(f, Decimal(10), Decimal(90), 0, step=Decimal(10))
        if "discount" in key:
            return self._number(f, Decimal(0), Decimal(20), 0, step=Decimal(5))
        if "tax" in key or "vat" in key:
            rates = [Decimal(r) for r in (0, 4, 5, 10, 13, 21)]
            a, b = _bounds(f, Decimal(0), Decimal(100))
            fitting = [r for r in rates if a <= r <= b]
            if fitting:
                return self.rng.choice(fitting)
        return self._number(f, Decimal(0), Decimal(100), 0)

    def _money(self, f: FieldDef) -> dict[str, Any] | None:
        currency = self.model.currency
        places = get_currency_precision(currency)
        key = f.key
        if "credit" in key or "limit" in key or "budget" in key:
            amount = self._number(f, Decimal(5_000), Decimal(500_000), places, Decimal(1_000))
        elif "price" in key or "cost" in key or "rate" in key or "fee" in key:
            amount = self._number(f, Decimal(5), Decimal(2_000), min(places, 2))
        elif "amount" in key or "total" in key or "revenue" in key or "value" in key:
            amount = self._number(f, Decimal(500), Decimal(150_000), places, Decimal(10))
        else:
            amount = self._number(f, Decimal(10), Decimal(10_000), min(places, 2))
        return None if amount is None else {"amount": amount, "currency": currency}

    # -- dates -------------------------------------------------------------

    def _day(self, entity: EntityDef, f: FieldDef, values: Mapping[str, Any]) -> date:
        key, rng = f.key, self.rng
        if "birth" in key:
            return self.today - timedelta(days=rng.randint(20 * 365, 65 * 365))
        if any(w in key for w in ("due", "valid", "until", "expir", "deadline", "end", "close")):
            start = next(
                (
                    v.date() if isinstance(v, datetime) else v
                    for k, v in values.items()
                    if isinstance(v, date) and any(w in k for w in ("issue", "start", "open"))
                ),
                None,
            )
            if start is not None:
                return start + timedelta(days=rng.randint(14, 45))
            return self.today + timedelta(days=rng.randint(-20, 90))
        if any(w in key for w in ("issue", "paid", "payment", "start", "sign", "open", "date")):
            return self.today - timedelta(days=rng.randint(0, 180))
        return self.today + timedelta(days=rng.randint(-180, 30))

    def _date(self, entity: EntityDef, f: FieldDef, values: Mapping[str, Any]) -> date:
        return self._day(entity, f, values)

    def _datetime(self, entity: EntityDef, f: FieldDef, values: Mapping[str, Any]) -> datetime:
        day = self._day(entity, f, values)
        at = time(self.rng.randint(8, 17), self.rng.choice((0, 15, 30, 45)))
        return datetime.combine(day, at, tzinfo=self.tz)

    # -- invoicing -----------------------------------------------------------

    def _payment(self, f: FieldDef, i: int, values: Mapping[str, Any]) -> Any:
        """A payment value as an invoicing tenant would have it; ``_GENERIC`` for the usual.

        A receipt pays the rest of a paid invoice, or half of what a partially
        paid one still owes; one payment in ten is a refund of part of a paid
        invoice. Each is dated on or after its invoice's issue date.
        """
        if f.key == "invoice":
            refund = self.rng.random() < 0.1
            if refund:
                self.refunds.add(i)
            else:
                self.refunds.discard(i)
            received = self._received()
            pool = [
                ref
                for ref in self.refs.get("invoice", ())
                if self.by_ref[ref].get("status") == "paid"
                or (not refund and self.by_ref[ref].get("status") == "partially_paid")
            ]
            if not refund:
                pool = [ref for ref in pool if self._total(ref) > received.get(ref, 0)]
            return self.rng.choice(pool) if pool else None
        ref = values.get("invoice")
        invoice = self.by_ref.get(ref) if isinstance(ref, str) else None
        if f.key == "direction" and {"in", "out"} <= set(f.option_values):
            return "out" if invoice is not None and i in self.refunds else "in"
        if invoice is None or not isinstance(ref, str):
            return _GENERIC
        if f.key == "amount" and f.value_type == "money" and invoice.get("total"):
            total = self._total(ref)
            if i in self.refunds:
                share = total * self.rng.choice((Decimal("0.1"), Decimal("0.2")))
            else:
                owed = total - self._received().get(ref, Decimal(0))
                share = owed if invoice.get("status") == "paid" else owed / 2
            currency = invoice["total"]["currency"]
            places = Decimal(1).scaleb(-get_currency_precision(currency))
            return {"amount": share.quantize(places, ROUND_DOWN), "currency": currency}
        issued = invoice.get("issue_date")
        if f.key == "paid_on" and f.value_type == "date" and isinstance(issued, date):
            return min(self.today, issued + timedelta(days=self.rng.randint(0, 60)))
        return _GENERIC

    def _total(self, invoice_ref: str) -> Decimal:
        total = self.by_ref[invoice_ref].get("total")
        return Decimal(total["amount"]) if total else Decimal(0)

    def _received(self) -> dict[str, Decimal]:
        """Sample invoice ref -> what the sample payments made so far paid against it."""
        out: dict[str, Decimal] = {}
        for ref in self.refs.get("payment", ()):
            pay = self.by_ref[ref]
            invoice = pay.get("invoice")
            if isinstance(invoice, str) and pay.get("direction") != "out" and pay.get("amount"):
                out[invoice] = out.get(invoice, Decimal(0)) + pay["amount"]["amount"]
        return out

    # -- text rules ----------------------------------------------------------

    def _fit_text(self, f: FieldDef, text: str) -> str | None:
        """``text`` adjusted to the field's pattern and length limits, or ``None``."""
        lo, hi = f.min_length or 0, f.max_length
        if f.pattern is not None and not re.fullmatch(f.pattern, text):
            for _ in range(_ATTEMPTS):
                sample = sample_from_regex(f.pattern, self.rng)
                if sample is None:
                    return None
                if lo <= len(sample) and (hi is None or len(sample) <= hi):
                    return sample
            return None
        if hi is not None and len(text) > hi:
            text = text[:hi].rstrip() or text[:hi]
        sep = "" if self.lang == "zh" else " "
        while len(text) < lo:
            text = f"{text}{sep}{self.fake.word()}" if text else str(self.fake.word())
        return text


def _path(wf: Workflow, start: str, goal: str, avoid: set[str]) -> list[Transition]:
    """The shortest chain of transitions from ``start`` to ``goal`` (breadth first)."""
    came: dict[str, tuple[str, Transition] | None] = {start: None}
    queue = [start]
    while queue and goal not in came:
        here = queue.pop(0)
        for t in wf.transitions.values():
            if t.to not in came and t.to not in avoid and t.leaves(here, wf):
                came[t.to] = (here, t)
                queue.append(t.to)
    path: list[Transition] = []
    node = goal if goal in came else start
    while (step := came[node]) is not None:
        node, t = step
        path.append(t)
    return path[::-1]


def _bounds(f: FieldDef, lo: Decimal, hi: Decimal) -> tuple[Decimal, Decimal]:
    """The preferred range ``[lo, hi]`` narrowed to the field's min/max.

    If the two do not overlap, the field's own range wins.
    """
    a = lo if f.min is None else max(lo, f.min)
    b = hi if f.max is None else min(hi, f.max)
    if a <= b:
        return a, b
    width = hi - lo
    a = f.min if f.min is not None else (f.max or Decimal(0)) - width
    b = f.max if f.max is not None else a + width
    return a, b


def _true_rate(key: str) -> float:
    if key.startswith(("do_not", "no_", "is_blocked")) or "opt_out" in key:
        return 0.1
    if key in ("active", "enabled", "is_active"):
        return 0.9
    return 0.5


# -- regular expressions ------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_CATEGORIES = {
    sre_c.CATEGORY_DIGIT: "0123456789",
    sre_c.CATEGORY_NOT_DIGIT: "abcdefghijklmnopqrstuvwxyz-",
    sre_c.CATEGORY_SPACE: " ",
    sre_c.CATEGORY_NOT_SPACE: _ALNUM,
    sre_c.CATEGORY_WORD: _ALNUM + "_",
    sre_c.CATEGORY_NOT_WORD: " -.",
}
_MAX_EXTRA_REPEAT = 5


class _Unsupported(Exception):
    pass


def sample_from_regex(pattern: str, rng: Random) -> str | None:
    """A string that fully matches ``pattern``, drawn with ``rng``; ``None`` if unsupported.

    Handles literals, classes, alternation, groups, back-references and
    repetition (unbounded repeats are capped); look-arounds are unsupported.
    """
    try:
        tree = sre_p.parse(pattern)
    except re.error:
        return None
    for _ in range(10):
        out: list[str] = []
        try:
            _emit(list(tree), rng, out, {})
        except _Unsupported:
            return None
        text = "".join(out)
        if re.fullmatch(pattern, text):
            return text
    return None


def _emit(items: Sequence[Any], rng: Random, out: list[str], groups: dict[int, str]) -> None:
    for op, av in items:
        if op is sre_c.LITERAL:
            out.append(chr(av))
        elif op is sre_c.NOT_LITERAL:
            out.append(rng.choice([c for c in _ALNUM if ord(c) != av]))
        elif op is sre_c.ANY:
            out.append(rng.choice(_ALNUM))
        elif op is sre_c.IN:
            out.append(_char_in(av, rng))
        elif op is sre_c.BRANCH:
            _emit(rng.choice(av[1]), rng, out, groups)
        elif op is sre_c.SUBPATTERN:
            gid, sub = av[0], av[3]
            start = len(out)
            _emit(sub, rng, out, groups)
            if gid is not None:
                groups[gid] = "".join(out[start:])
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            hi = min(hi, lo + _MAX_EXTRA_REPEAT)
            for _ in range(rng.randint(lo, hi)):
                _emit(sub, rng, out, groups)
        elif op is sre_c.ATOMIC_GROUP:
            _emit(av, rng, out, groups)
        elif op is sre_c.GROUPREF:
            out.append(groups.get(av, ""))
        elif op is sre_c.CATEGORY:
            out.append(rng.choice(_CATEGORIES.get(av, _ALNUM)))
        elif op is sre_c.AT:
            continue
        else:
            raise _Unsupported(str(op))


def _char_in(items: Sequence[Any], rng: Random) -> str:
    negate = bool(items) and items[0][0] is sre_c.NEGATE
    ranges: list[tuple[int, int]] = []
    for op, av in items:
        if op is sre_c.LITERAL:
            ranges.append((av, av))
        elif op is sre_c.RANGE:
            ranges.append(av)
        elif op is sre_c.CATEGORY:
            ranges.extend((ord(c), ord(c)) for c in _CATEGORIES.get(av, _ALNUM))
        elif op is not sre_c.NEGATE:
            raise _Unsupported(str(op))
    if negate:
        allowed = [c for c in _ALNUM + " -_." if not any(a <= ord(c) <= b for a, b in ranges)]
        if not allowed:
            raise _Unsupported("empty negated class")
        return rng.choice(allowed)
    if not ranges:
        raise _Unsupported("empty class")
    a, b = rng.choice(ranges)
    return chr(rng.randint(a, b))
