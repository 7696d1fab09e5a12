"""Compare the two Python CEL bindings and calibrate our cost limit.

Run: ``python tests/benchmarks/bench_cel.py`` (needs both
``common-expression-language`` and ``cel-python`` installed; the second is
optional and only measured when present). Prints a Markdown report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cel

from core.expressions import compile_expression

RULE = "record.stage == 'won' && record.amount > 1000.0"
ARITH = "record.quantity * record.unit_price * (1.0 - record.discount / 100.0) + record.shipping"
RECORD: dict[str, Any] = {
    "stage": "won",
    "amount": 12500.5,
    "quantity": 12.0,
    "unit_price": 99.9,
    "discount": 5.0,
    "shipping": 25.0,
    **{f"text_{i}": f"value {i}" for i in range(10)},
    **{f"int_{i}": i for i in range(4)},
}
VARIABLES: dict[str, Any] = {
    "record": {
        "stage": "enum",
        "amount": "decimal",
        "quantity": "decimal",
        "unit_price": "decimal",
        "discount": "decimal",
        "shipping": "decimal",
        **{f"text_{i}": "text" for i in range(10)},
        **{f"int_{i}": "integer" for i in range(4)},
    }
}


def per_call(fn: Callable[[], Any], seconds: float = 0.3) -> float:
    """Median-of-3 time of one call, in microseconds."""
    runs = []
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            fn()
            n += 1
        runs.append((time.perf_counter() - start) / n * 1e6)
    return sorted(runs)[1]


def once(fn: Callable[[], Any]) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        fn()
        outcome = "ran"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    return (time.perf_counter() - start) * 1000, outcome


def error_text(fn: Callable[[], Any]) -> str:
    try:
        fn()
    except Exception as exc:
        return " ".join(str(exc).split())[:160]
    return "(no error)"


def bench_rust() -> dict[str, Any]:
    rule, arith = cel.compile(RULE), cel.compile(ARITH)
    ctx = {"record": RECORD}
    return {
        "compile rule": per_call(lambda: cel.compile(RULE)),
        "compile arithmetic": per_call(lambda: cel.compile(ARITH)),
        "evaluate rule": per_call(lambda: rule.execute(ctx)),
        "evaluate arithmetic": per_call(lambda: arith.execute(ctx)),
        "syntax error": error_text(lambda: cel.compile("record.amount > 10 &&")),
        "unknown variable": error_text(lambda: cel.compile("amout > 10").execute(ctx)),
    }


def bench_celpy() -> dict[str, Any] | None:
    try:
        import celpy
    except ImportError:
        return None
    env = celpy.Environment()
    rule = env.program(env.compile(RULE))
    arith = env.program(env.compile(ARITH))
    act = {"record": celpy.json_to_cel(RECORD)}
    return {
        "compile rule": per_call(lambda: env.program(env.compile(RULE))),
        "compile arithmetic": per_call(lambda: env.program(env.compile(ARITH))),
        "evaluate rule": per_call(lambda: rule.evaluate(act)),
        "evaluate arithmetic": per_call(lambda: arith.evaluate(act)),
        "syntax error": error_text(lambda: env.compile("record.amount > 10 &&")),
        "unknown variable": error_text(
            lambda: env.program(env.compile("amout > 10")).evaluate(act)
        ),
    }


def pathological() -> list[tuple[str, str, float, str]]:
    """Expressions an attacker could write: our verdict, then raw binding time."""
    big = "[" + ",".join(str(i) for i in range(300)) + "]"
    mid = "[" + ",".join(str(i) for i in range(150)) + "]"
    lst = list(range(1000))
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (
            "nested exists, 300-item literal x2",
            f"{big}.exists(a, {big}.exists(b, a == b + 1000))",
            {},
        ),
        (
            "nested exists, 150-item literal x2",
            f"{mid}.exists(a, {mid}.exists(b, a == b + 1000))",
            {},
        ),
        ("nested map, 150-item literal x2", f"{mid}.map(a, {mid}.map(b, a + b)).size() > 0", {}),
        ("map over 2000-item input", "l.map(a, a)", {"l": list(range(2000))}),
        (
            "nested exists over 1000-item input",
            "l.exists(a, l.exists(b, a == b + 5000))",
            {"l": lst},
        ),
        (
            "string doubling in map (1000 x 10 kB)",
            "l.map(a, s + s).size() > 0",
            {"l": lst, "s": "x" * 10_000},
        ),
    ]
    out = []
    for label, src, ctx in cases:
        program = cel.compile(src)
        ms, outcome = once(partial(program.execute, ctx))
        variables = {k: "list:integer" if isinstance(v, list) else "text" for k, v in ctx.items()}
        expr, problems = compile_expression(src, variables=variables)
        if expr is None:
            verdict = problems[0].code
        else:
            verdict = f"accepted (cost {expr.cost:,})"
            guarded = once(partial(expr.evaluate, ctx))[1]
            verdict += "; evaluate: " + ("ran" if guarded == "ran" else "EXPRESSION_FAILED")
        out.append((label, verdict, ms, outcome))
    return out


def calibrate() -> list[tuple[str, int, float]]:
    """Estimated cost vs measured time for accepted expressions."""
    lst = list(range(500))
    cases = [
        ("all over 500 items", "l.all(a, a >= 0)", 500),
        ("map over 500 items", "l.map(a, a * 2)", 500),
        ("filter over 500 items", "l.filter(a, a % 2 == 0)", 500),
        (
            "exists over 500 x 31",
            "l.exists(a, [" + ",".join(map(str, range(31))) + "].exists(b, a == b - 100))",
            500,
        ),
        ("two-clause rule", RULE, 0),
    ]
    out = []
    for label, src, _n in cases:
        variables: dict[str, Any] = {"l": "list:integer", **VARIABLES}
        expr, problems = compile_expression(src, variables=variables)
        assert expr is not None, problems
        ctx = {"l": lst, "record": RECORD}
        out.append((label, expr.cost, per_call(partial(expr.evaluate, ctx), 0.5)))
    return out


def main() -> None:
    print(f"Python {sys.version.split()[0]}\n")
    rust, py = bench_rust(), bench_celpy()
    print("| measure | common-expression-language | cel-python |")
    print("|---|---|---|")
    for key, value in rust.items():
        other = py[key] if py else "not installed"
        if isinstance(value, float):
            other_text = f"{other:.1f} µs" if isinstance(other, float) else other
            print(f"| {key} | {value:.1f} µs | {other_text} |")
        else:
            print(f"| {key} | `{value}` | `{other}` |")
    ours = per_call(lambda: compile_expression(RULE, variables=VARIABLES, result="boolean"))
    print(f"\ncore.expressions.compile_expression (binding + parse + checks), rule: {ours:.1f} µs")

    print("\n| pathological expression | core.expressions | raw binding time | raw outcome |")
    print("|---|---|---|---|")
    for label, verdict, ms, outcome in pathological():
        print(f"| {label} | {verdict} | {ms:.1f} ms | {outcome} |")

    print("\n| accepted expression | estimated cost | evaluation | ns per cost unit |")
    print("|---|---|---|---|")
    for label, cost, us in calibrate():
        print(f"| {label} | {cost:,} | {us:.1f} µs | {us * 1000 / cost:.1f} |")

    exact = Decimal("0.1") + Decimal("0.2")
    print(f"\nDecimal 0.1 + 0.2 = {exact}; via double = {cel.evaluate('0.1 + 0.2')!r}")


if __name__ == "__main__":
    main()
