"""Compiling tenant expressions once, evaluating them on every write.

Compilation is where every problem is found: syntax (reported by the
evaluating binding), unknown names and fields, type errors, length and
worst-case cost. Each becomes a :class:`~core.errors.Problem` located by the
caller's JSON pointer, so a bad expression fails ``crm tenant validate``
rather than a write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from core.errors import Problem
from core.expressions.checker import DYN, CelType, VarType, check
from core.expressions.parser import ParseError, parse
from core.expressions.values import ExpressionError

__all__ = ["DEFAULT_LIMITS", "Expression", "Limits", "compile_expression"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on tenant expressions (a tenant may be given its own).

    ``max_cost`` bounds the statically estimated worst case (one unit is
    roughly one evaluation step; see docs/performance.md for time per unit);
    ``max_list`` is the length assumed for list values when estimating, and
    enforced on the inputs of expressions that iterate over them.
    """

    max_length: int = 2000
    max_cost: int = 200_000
    max_list: int = 500


DEFAULT_LIMITS = Limits()

#: Field/result type -> CEL result kinds it accepts.
_RESULT_KINDS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"bool"}),
    "integer": frozenset({"int"}),
    "decimal": frozenset({"double", "int"}),
    "percent": frozenset({"double", "int"}),
    "text": frozenset({"string"}),
    "date": frozenset({"timestamp"}),
    "datetime": frozenset({"timestamp"}),
}
_CEL_SYNTAX = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression: immutable, shareable by tenants with identical models."""

    source: str
    result_type: CelType
    cost: int
    limits: Limits = DEFAULT_LIMITS
    iterates_inputs: bool = False
    #: Variables used -> keys used (``None``: the whole value); only these are passed in.
    usage: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    _program: Any = field(default=None, repr=False, compare=False)

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """Evaluate with CEL values (see ``bindings``/``to_cel``).

        Raises :class:`ExpressionError` (``EXPRESSION_FAILED``) on a runtime
        error (missing field, overflow, division by zero...) or when an
        iterated input is longer than ``limits.max_list``.
        """
        # Handing values to the evaluator costs ~2-4 µs each, so only the
        # variables and record fields the expression reads cross over.
        passed: dict[str, Any] = {}
        for name, keys in self.usage.items():
            if name not in variables:
                continue
            value = variables[name]
            if keys is not None and isinstance(value, Mapping):
                value = {k: value[k] for k in keys if k in value}
            passed[name] = value
        if self.iterates_inputs:
            _check_sizes(passed, self.limits.max_list)
        try:
            return self._program.execute(passed)
        except Exception as exc:  # the binding raises builtin types for every CEL error
            raise ExpressionError(_runtime_message(exc)) from None


def _check_sizes(value: Any, limit: int) -> None:
    if isinstance(value, Mapping | list | tuple):
        if len(value) > limit:
            raise ExpressionError(f"a list or map has more than {limit} elements")
        for item in value.values() if isinstance(value, Mapping) else value:
            _check_sizes(item, limit)


def _runtime_message(exc: Exception) -> str:
    text = str(exc).split("\n", 1)[0]
    if isinstance(exc, KeyError):
        # A missing map key: the field is not set on this record.
        return f"no value for {text} (guard optional fields with has(record.x))"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return text or type(exc).__name__


def _column(source: str, pos: int) -> str:
    line = source.count("\n", 0, pos) + 1
    col = pos - (source.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}" if line > 1 else f"column {col}"


def compile_expression(
    source: str,
    *,
    variables: Mapping[str, VarType],
    pointer: str = "",
    result: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[Expression | None, list[Problem]]:
    """Compile and check ``source``; on any problem return ``(None, problems)``.

    ``variables`` maps each name the expression may use to its declared type:
    a field type name (``text``, ``integer``, ``decimal``, ``money``, ``date``,
    ``multi_enum``, ...), ``list``, ``list:<type>``, ``map``, ``dyn``, or a
    mapping of known keys to types (``record``). ``result`` is the field type
    the value must have (``boolean`` for rules and conditions). Problems carry
    ``pointer`` as their path.
    """
    if len(source) > limits.max_length:
        msg = (
            f"the expression has {len(source)} characters; at most {limits.max_length} are allowed"
        )
        return None, [Problem("EXPRESSION_TOO_LONG", msg, pointer)]
    if not source.strip():
        return None, [Problem("EXPRESSION_INVALID", "the expression is empty", pointer)]
    try:
        program = cel.compile(source)
    except Exception as exc:  # the binding reports syntax errors as ValueError
        text = str(exc)
        m = _CEL_SYNTAX.search(text)
        msg = f"line {m[1]}, column {m[2]}: {m[3]}" if m else text.split("\n", 1)[0]
        return None, [Problem("EXPRESSION_INVALID", msg, pointer)]
    try:
        tree = parse(source)
    except ParseError as exc:
        msg = f"{_column(source, exc.pos)}: {exc.message}"
        return None, [Problem("EXPRESSION_INVALID", msg, pointer)]
    checked = check(tree, variables, list_bound=limits.max_list)
    problems = [
        Problem(i.code, f"{_column(source, i.pos)}: {i.message}", pointer) for i in checked.issues
    ]
    if not problems and result is not None:
        kinds = _RESULT_KINDS.get(result)
        if kinds is None:
            problems.append(
                Problem("EXPRESSION_TYPE", f"unsupported result type '{result}'", pointer)
            )
        elif checked.type.kind not in kinds and checked.type != DYN:
            problems.append(
                Problem(
                    "EXPRESSION_TYPE",
                    f"the expression gives {checked.type}; a {result} is expected",
                    pointer,
                )
            )
    if not problems and checked.cost > limits.max_cost:
        problems.append(
            Problem(
                "EXPRESSION_TOO_COSTLY",
                f"worst-case cost {checked.cost:,} exceeds the limit {limits.max_cost:,} "
                f"(lists are assumed to hold up to {limits.max_list} items; "
                "avoid nested all/exists/map/filter)",
                pointer,
            )
        )
    if problems:
        return None, problems
    return (
        Expression(
            source=source,
            result_type=checked.type,
            cost=checked.cost,
            limits=limits,
            iterates_inputs=checked.iterates_inputs,
            usage=checked.usage,
            _program=program,
        ),
        [],
    )
