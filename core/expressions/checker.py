"""Static checks of a parsed CEL expression: names, types and cost.

The checker follows the standard CEL overloads (no implicit conversion
between ``int``, ``uint`` and ``double`` in arithmetic; cross-numeric
comparison is allowed). Values whose type is not known statically are
``dyn`` and pass. Alongside each type it computes an upper bound of the
evaluation cost and of the size of lists, maps and strings, so that an
expression whose worst case is too expensive is refused when the config is
validated instead of stalling a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.expressions.parser import (
    Binary,
    Call,
    Cond,
    Ident,
    Index,
    ListLit,
    Lit,
    MapLit,
    Node,
    Select,
    Unary,
)

__all__ = ["DYN", "CelType", "CheckIssue", "Checked", "VarType", "check", "declared_type"]

#: A declared variable type: a type name, or a mapping of known keys to types.
VarType = str | Mapping[str, "VarType"]


@dataclass(frozen=True, slots=True)
class CelType:
    """A CEL type; ``object`` is a map whose keys are known (record, money...)."""

    kind: str
    elem: CelType | None = None  # list element, map value
    fields: Mapping[str, tuple[CelType, int]] | None = None  # object: key -> (type, size)
    name: str = ""

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list({self.elem})"
        if self.kind == "object":
            return self.name or "map"
        if self.kind == "map":
            return f"map(string, {self.elem})"
        return self.kind


DYN = CelType("dyn")
INT = CelType("int")
UINT = CelType("uint")
DOUBLE = CelType("double")
BOOL = CelType("bool")
STRING = CelType("string")
BYTES = CelType("bytes")
NULL = CelType("null")
TIMESTAMP = CelType("timestamp")
DURATION = CelType("duration")
_NUMERIC = frozenset({"int", "uint", "double"})

#: Declared type name -> (CEL type, size bound of a value of that type).
_SCALARS: dict[str, tuple[CelType, int]] = {
    "text": (STRING, 10_000),
    "long_text": (STRING, 1_000_000),
    "email": (STRING, 320),
    "phone": (STRING, 64),
    "url": (STRING, 2048),
    "enum": (STRING, 64),
    "relation": (STRING, 64),
    "user": (STRING, 64),
    "string": (STRING, 10_000),
    "integer": (INT, 0),
    "int": (INT, 0),
    "decimal": (DOUBLE, 0),
    "percent": (DOUBLE, 0),
    "double": (DOUBLE, 0),
    "boolean": (BOOL, 0),
    "bool": (BOOL, 0),
    "date": (TIMESTAMP, 0),
    "datetime": (TIMESTAMP, 0),
    "timestamp": (TIMESTAMP, 0),
    "duration": (DURATION, 0),
    "dyn": (DYN, 10_000),
}


def declared_type(spec: VarType, list_bound: int, name: str = "") -> tuple[CelType, int]:
    """The CEL type and size bound of a declared variable or field type."""
    if not isinstance(spec, str):
        fields = {k: declared_type(v, list_bound, k) for k, v in spec.items()}
        return CelType("object", fields=fields, name=name or "map"), len(fields)
    if spec in _SCALARS:
        return _SCALARS[spec]
    if spec == "money":
        return declared_type({"amount": "decimal", "currency": "text"}, list_bound, "money")
    if spec == "address":
        keys = ("street", "city", "region", "postal_code", "country")
        return declared_type(dict.fromkeys(keys, "text"), list_bound, "address")
    if spec in ("multi_enum", "relation_list"):
        return CelType("list", elem=STRING), list_bound
    if spec == "list":
        return CelType("list", elem=DYN), list_bound
    if spec.startswith("list:"):
        return CelType("list", elem=declared_type(spec[5:], list_bound)[0]), list_bound
    if spec == "map":
        return CelType("map", elem=DYN), list_bound
    raise ValueError(f"unknown declared type '{spec}'")


@dataclass(frozen=True, slots=True)
class CheckIssue:
    code: str
    message: str
    pos: int


@dataclass(frozen=True, slots=True)
class Checked:
    """The outcome of checking one expression."""

    type: CelType
    cost: int
    issues: tuple[CheckIssue, ...]
    iterates_inputs: bool  # a comprehension ranges over a non-literal list or map
    #: Variables used -> the keys used of each, or ``None`` when used as a whole.
    usage: Mapping[str, frozenset[str] | None]


@dataclass(slots=True)
class _Info:
    type: CelType
    cost: int
    size: int = 0  # upper bound: elements of a list/map, characters of a string/bytes


_CONVERSIONS: dict[str, tuple[frozenset[str], CelType]] = {
    "int": (frozenset({"int", "uint", "double", "string"}), INT),
    "uint": (frozenset({"int", "uint", "double", "string"}), UINT),
    "double": (frozenset({"int", "uint", "double", "string"}), DOUBLE),
    "string": (
        frozenset({"int", "uint", "double", "string", "bool", "bytes", "timestamp", "duration"}),
        STRING,
    ),
    "bytes": (frozenset({"string", "bytes"}), BYTES),
    "timestamp": (frozenset({"string", "timestamp"}), TIMESTAMP),
    "duration": (frozenset({"string", "duration"}), DURATION),
}
_STRING_PREDICATES = frozenset({"contains", "startsWith", "endsWith", "matches"})
_TIMESTAMP_GETTERS = frozenset(
    {
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
_DURATION_GETTERS = frozenset({"getHours", "getMinutes", "getSeconds", "getMilliseconds"})
_COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_ARITH_HINT = (
    "CEL does not mix int and double in arithmetic; write 2.0 instead of 2, "
    "or convert with double(...) / int(...)"
)


@dataclass(slots=True)
class _Checker:
    variables: Mapping[str, tuple[CelType, int]]
    list_bound: int
    issues: list[CheckIssue] = field(default_factory=list)
    iterates_inputs: bool = False
    usage: dict[str, set[str] | None] = field(default_factory=dict)

    def top_level(self, node: Node, scope: Mapping[str, tuple[CelType, int]]) -> str | None:
        """The variable ``node`` names, when it is a declared (not shadowed) one."""
        if isinstance(node, Ident) and node.name in self.variables:
            if scope.get(node.name) is self.variables[node.name]:
                return node.name
        return None

    def use(self, name: str, key: str | None) -> None:
        if key is None:
            self.usage[name] = None
        elif name not in self.usage:
            self.usage[name] = {key}
        elif (keys := self.usage[name]) is not None:
            keys.add(key)

    def fail(self, code: str, message: str, pos: int) -> _Info:
        self.issues.append(CheckIssue(code, message, pos))
        return _Info(DYN, 1)

    def check(self, node: Node, scope: Mapping[str, tuple[CelType, int]]) -> _Info:
        if isinstance(node, Lit):
            size = len(node.value) if isinstance(node.value, str | bytes) else 0
            return _Info(CelType(node.kind), 1, size)
        if isinstance(node, Ident):
            if node.name in scope:
                t, size = scope[node.name]
                if self.top_level(node, scope):
                    self.use(node.name, None)
                    return _Info(t, 1 + _conversion(t, size), size)
                return _Info(t, 1, size)
            known = ", ".join(sorted(scope)) or "none"
            return self.fail(
                "EXPRESSION_UNKNOWN_FIELD",
                f"unknown name '{node.name}' (known: {known})",
                node.pos,
            )
        if isinstance(node, Select):
            return self.select(node, scope)
        if isinstance(node, Index):
            return self.index(node, scope)
        if isinstance(node, ListLit):
            items = [self.check(i, scope) for i in node.items]
            elem = _common([i.type for i in items])
            return _Info(CelType("list", elem=elem), 1 + sum(i.cost for i in items), len(items))
        if isinstance(node, MapLit):
            cost = 1
            values = []
            for k, v in node.entries:
                ki, vi = self.check(k, scope), self.check(v, scope)
                if ki.type.kind not in ("string", "int", "uint", "bool", "dyn"):
                    self.fail("EXPRESSION_TYPE", f"a map key cannot be {ki.type}", k.pos)
                cost += ki.cost + vi.cost
                values.append(vi.type)
            return _Info(CelType("map", elem=_common(values)), cost, len(node.entries))
        if isinstance(node, Unary):
            operand = self.check(node.operand, scope)
            ok = ("bool",) if node.op == "!" else ("int", "double")
            if operand.type.kind not in (*ok, "dyn"):
                return self.fail(
                    "EXPRESSION_TYPE", f"'{node.op}' does not apply to {operand.type}", node.pos
                )
            return _Info(operand.type, operand.cost + 1)
        if isinstance(node, Binary):
            return self.binary(node, scope)
        if isinstance(node, Cond):
            c = self.check(node.cond, scope)
            a, b = self.check(node.then, scope), self.check(node.other, scope)
            if c.type.kind not in ("bool", "dyn"):
                self.fail("EXPRESSION_TYPE", f"a condition must be bool, not {c.type}", node.pos)
            joined = _unify(a.type, b.type)
            if joined is None:
                self.fail(
                    "EXPRESSION_TYPE",
                    f"both branches of '?:' must have one type, not {a.type} and {b.type}",
                    node.pos,
                )
            return _Info(joined or DYN, c.cost + max(a.cost, b.cost) + 1, max(a.size, b.size))
        return self.call(node, scope)

    def select(self, node: Select, scope: Mapping[str, tuple[CelType, int]]) -> _Info:
        var = self.top_level(node.operand, scope)
        if var is not None and self.variables[var][0].kind == "object":
            return self.member_of(var, node.field, node.pos)
        operand = self.check(node.operand, scope)
        t = operand.type
        if t.kind == "object":
            assert t.fields is not None
            if node.field not in t.fields:
                return self.fail(
                    "EXPRESSION_UNKNOWN_FIELD",
                    f"{t.name} has no field '{node.field}'",
                    node.pos,
                )
            ft, size = t.fields[node.field]
            return _Info(ft, operand.cost + 1, size)
        if t.kind == "map":
            return _Info(t.elem or DYN, operand.cost + 1, self.list_bound)
        if t.kind == "dyn":
            return _Info(DYN, operand.cost + 1, self.list_bound)
        return self.fail("EXPRESSION_TYPE", f"{t} has no field '{node.field}'", node.pos)

    def member_of(self, var: str, key: str, pos: int) -> _Info:
        """``var.key`` on a declared object variable: only that key is passed in."""
        t = self.variables[var][0]
        assert t.fields is not None
        if key not in t.fields:
            return self.fail("EXPRESSION_UNKNOWN_FIELD", f"{t.name} has no field '{key}'", pos)
        self.use(var, key)
        ft, size = t.fields[key]
        return _Info(ft, 2 + _conversion(ft, size), size)

    def index(self, node: Index, scope: Mapping[str, tuple[CelType, int]]) -> _Info:
        var = self.top_level(node.operand, scope)
        key = node.index.value if isinstance(node.index, Lit) else None
        if var is not None and self.variables[var][0].kind == "object" and isinstance(key, str):
            return self.member_of(var, key, node.pos)
        operand, idx = self.check(node.operand, scope), self.check(node.index, scope)
        t, cost = operand.type, operand.cost + idx.cost + 1
        if t.kind == "list":
            if idx.type.kind not in ("int", "uint", "dyn"):
                return self.fail(
                    "EXPRESSION_TYPE", f"a list index must be int, not {idx.type}", node.pos
                )
            return _Info(t.elem or DYN, cost, self.list_bound)
        if t.kind == "object" and isinstance(node.index, Lit) and isinstance(node.index.value, str):
            assert t.fields is not None
            if node.index.value not in t.fields:
                return self.fail(
                    "EXPRESSION_UNKNOWN_FIELD",
                    f"{t.name} has no field '{node.index.value}'",
                    node.pos,
                )
            ft, size = t.fields[node.index.value]
            return _Info(ft, cost, size)
        if t.kind in ("map", "object", "dyn"):
            return _Info(t.elem or DYN if t.kind == "map" else DYN, cost, self.list_bound)
        return self.fail("EXPRESSION_TYPE", f"{t} cannot be indexed", node.pos)

    def binary(self, node: Binary, scope: Mapping[str, tuple[CelType, int]]) -> _Info:
        a, b = self.check(node.left, scope), self.check(node.right, scope)
        op, ta, tb = node.op, a.type.kind, b.type.kind
        cost = a.cost + b.cost + 1
        either_dyn = "dyn" in (ta, tb)
        if op in ("&&", "||"):
            for side in (a, b):
                if side.type.kind not in ("bool", "dyn"):
                    self.fail("EXPRESSION_TYPE", f"'{op}' needs bool, not {side.type}", node.pos)
            return _Info(BOOL, cost)
        if op in ("==", "!="):
            if not either_dyn and "null" not in (ta, tb) and _unify(a.type, b.type) is None:
                if not (ta in _NUMERIC and tb in _NUMERIC):
                    self.fail("EXPRESSION_TYPE", f"cannot compare {a.type} with {b.type}", node.pos)
            return _Info(BOOL, cost + min(a.size, b.size) // 100)
        if op in ("<", "<=", ">", ">="):
            same = ta == tb and ta in ("string", "bytes", "bool", "timestamp", "duration")
            if not (either_dyn or same or (ta in _NUMERIC and tb in _NUMERIC)):
                self.fail("EXPRESSION_TYPE", f"cannot order {a.type} and {b.type}", node.pos)
            return _Info(BOOL, cost)
        if op == "in":
            if tb in ("list", "map", "object"):
                elem = (b.type.elem or DYN) if tb == "list" else STRING if tb == "object" else DYN
                if elem is not None and not either_dyn and ta != "null":
                    if _unify(a.type, elem) is None and not (
                        ta in _NUMERIC and elem.kind in _NUMERIC
                    ):
                        self.fail("EXPRESSION_TYPE", f"{a.type} is never in {b.type}", node.pos)
                return _Info(BOOL, cost + b.size)
            if tb != "dyn":
                self.fail("EXPRESSION_TYPE", f"'in' needs a list or map, not {b.type}", node.pos)
            return _Info(BOOL, cost + self.list_bound)
        return self.arithmetic(node, a, b, cost)

    def arithmetic(self, node: Binary, a: _Info, b: _Info, cost: int) -> _Info:
        op, ta, tb = node.op, a.type.kind, b.type.kind
        if "dyn" in (ta, tb):
            known = b.type if ta == "dyn" else a.type
            return _Info(known if known.kind in _NUMERIC else DYN, cost, a.size + b.size)
        if ta in _NUMERIC and tb in _NUMERIC:
            if ta != tb:
                return self.fail(
                    "EXPRESSION_TYPE", f"'{op}' on {a.type} and {b.type}: {_ARITH_HINT}", node.pos
                )
            if op == "%" and ta == "double":
                return self.fail("EXPRESSION_TYPE", "'%' does not apply to double", node.pos)
            return _Info(a.type, cost)
        if op == "+" and ta == tb and ta in ("string", "bytes", "list"):
            size = a.size + b.size
            # Concatenation copies both operands.
            elem = _unify(a.type, b.type) or CelType("list", elem=DYN)
            return _Info(elem, cost + size // 100, size)
        time_ops = {
            ("+", "timestamp", "duration"): TIMESTAMP,
            ("+", "duration", "timestamp"): TIMESTAMP,
            ("+", "duration", "duration"): DURATION,
            ("-", "timestamp", "timestamp"): DURATION,
            ("-", "timestamp", "duration"): TIMESTAMP,
            ("-", "duration", "duration"): DURATION,
        }
        if (op, ta, tb) in time_ops:
            return _Info(time_ops[(op, ta, tb)], cost)
        return self.fail(
            "EXPRESSION_TYPE", f"'{op}' does not apply to {a.type} and {b.type}", node.pos
        )

    def call(self, node: Call, scope: Mapping[str, tuple[CelType, int]]) -> _Info:
        name, target = node.name, node.target
        if target is not None and name in _COMPREHENSIONS:
            return self.comprehension(node, target, scope)
        if target is None and name == "has":
            arg = node.args[0] if len(node.args) == 1 else None
            if not isinstance(arg, Select):
                return self.fail(
                    "EXPRESSION_INVALID",
                    "has() takes one field selection, as in has(record.x)",
                    node.pos,
                )
            return _Info(BOOL, self.check(arg, scope).cost)
        args = ([target] if target is not None else []) + list(node.args)
        infos = [self.check(a, scope) for a in args]
        cost = 1 + sum(i.cost for i in infos)
        kinds = [i.type.kind for i in infos]

        def wrong(expected: str) -> _Info:
            got = ", ".join(str(i.type) for i in infos)
            return self.fail("EXPRESSION_TYPE", f"{name}() takes {expected}, not ({got})", node.pos)

        if name == "size":
            if len(infos) != 1 or kinds[0] not in (
                "string",
                "bytes",
                "list",
                "map",
                "object",
                "dyn",
            ):
                return wrong("a string, bytes, list or map")
            return _Info(INT, cost)
        if name in _STRING_PREDICATES:
            if target is None or len(infos) != 2 or any(k not in ("string", "dyn") for k in kinds):
                return wrong("a string receiver and a string argument")
            extra = infos[0].size // 100 if name != "matches" else infos[0].size
            return _Info(BOOL, cost + extra)
        if name in _TIMESTAMP_GETTERS:
            allowed = (
                ("timestamp", "dyn")
                if name not in _DURATION_GETTERS
                else ("timestamp", "duration", "dyn")
            )
            if target is None or len(infos) != 1 or kinds[0] not in allowed:
                return wrong(
                    "no arguments and a timestamp receiver (time zone arguments are not supported)"
                )
            return _Info(INT, cost)
        if name in _CONVERSIONS and target is None:
            accepted, result = _CONVERSIONS[name]
            if len(infos) != 1 or kinds[0] not in (*accepted, "dyn"):
                return wrong(" or ".join(sorted(accepted)))
            return _Info(result, cost, infos[0].size if name in ("string", "bytes") else 20)
        if name == "dyn" and target is None and len(infos) == 1:
            return _Info(DYN, cost, infos[0].size)
        known = "size, contains, startsWith, endsWith, matches, int, uint, double, string, "
        return self.fail(
            "EXPRESSION_UNKNOWN_FUNCTION",
            f"unknown function '{name}' (standard CEL only: {known}bytes, timestamp, duration, "
            "dyn, has, all, exists, exists_one, map, filter and the timestamp getters)",
            node.pos,
        )

    def comprehension(
        self, node: Call, target: Node, scope: Mapping[str, tuple[CelType, int]]
    ) -> _Info:
        name = node.name
        arity = (2, 3) if name == "map" else (2,)
        if len(node.args) not in arity or not isinstance(node.args[0], Ident):
            return self.fail(
                "EXPRESSION_INVALID",
                f"{name}() takes a variable name and an expression, as in {name}(x, x > 0)",
                node.pos,
            )
        var = node.args[0].name
        rng = self.check(target, scope)
        if not isinstance(target, ListLit | MapLit):
            self.iterates_inputs = True
        kind = rng.type.kind
        if kind == "list":
            elem = rng.type.elem or DYN
        elif kind in ("map", "object", "dyn"):
            elem = STRING if kind != "dyn" else DYN
        else:
            return self.fail(
                "EXPRESSION_TYPE", f"{name}() needs a list or map, not {rng.type}", node.pos
            )
        n = rng.size if kind != "dyn" else self.list_bound
        # Elements of list inputs are short (option values, ids); nested lists use the bound.
        elem_size = self.list_bound if elem.kind in ("list", "map", "dyn") else 256
        inner = {**scope, var: (elem, elem_size)}
        body = [self.check(a, inner) for a in node.args[1:]]
        for b, is_pred in zip(body, _predicate_flags(name, len(body)), strict=True):
            if is_pred and b.type.kind not in ("bool", "dyn"):
                self.fail(
                    "EXPRESSION_TYPE",
                    f"the condition of {name}() must be bool, not {b.type}",
                    node.pos,
                )
        per_item = 1 + sum(b.cost for b in body)
        cost = rng.cost + n * per_item
        if name in ("map", "filter"):
            # The evaluator copies its accumulator list on each step (measured: quadratic).
            # The evaluator copies its accumulator list on each step (measured:
            # quadratic), so large elements cost more.
            copied = body[-1].size if name == "map" else elem_size
            cost += n * n // 2 * (1 + copied // 1000)
            result_elem = body[-1].type if name == "map" else elem
            return _Info(CelType("list", elem=result_elem), cost, n)
        return _Info(BOOL, cost)


def _conversion(t: CelType, size: int) -> int:
    """Cost of handing a value of type ``t`` to the evaluator (measured ~2-4 µs per value)."""
    if t.kind == "object" and t.fields is not None:
        return sum(_conversion(ft, fs) for ft, fs in t.fields.values())
    if t.kind in ("list", "map"):
        return 20 * size
    if t.kind == "dyn":
        return 20 + size // 10
    if t.kind in ("string", "bytes"):
        return 20 + size // 1000
    return 20


def _predicate_flags(name: str, count: int) -> tuple[bool, ...]:
    if name == "map":
        return (False,) if count == 1 else (True, False)
    return (True,) * count


def _unify(a: CelType, b: CelType) -> CelType | None:
    """The common type of ``a`` and ``b``, ``None`` when they never mix."""
    if a.kind == "dyn" or b.kind == "null":
        return a if b.kind == "null" else b
    if b.kind == "dyn" or a.kind == "null":
        return b if a.kind == "null" else a
    maps = ("map", "object")
    if a.kind in maps and b.kind in maps:
        return a if a == b else CelType("map", elem=DYN)
    if a.kind != b.kind:
        return None
    if a.kind == "list":
        elem = _unify(a.elem or DYN, b.elem or DYN)
        return CelType("list", elem=elem or DYN)
    return a


def _common(types: list[CelType]) -> CelType:
    out: CelType | None = types[0] if types else DYN
    for t in types[1:]:
        out = _unify(out, t) if out is not None else None
    return out or DYN


def check(tree: Node, variables: Mapping[str, VarType], *, list_bound: int) -> Checked:
    """Check ``tree`` against the declared ``variables``."""
    declared = {k: declared_type(v, list_bound, k) for k, v in variables.items()}
    checker = _Checker(declared, list_bound)
    info = checker.check(tree, declared)
    usage = {k: None if v is None else frozenset(v) for k, v in checker.usage.items()}
    return Checked(info.type, info.cost, tuple(checker.issues), checker.iterates_inputs, usage)
