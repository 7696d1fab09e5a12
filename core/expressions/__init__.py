"""The CEL expression layer: compile once per model, evaluate on every write.

Tenants write standard CEL for validation rules, computed fields, transition
guards, automation conditions and form rules. See docs/expressions.md.
"""

from core.expressions.checker import CelType, VarType
from core.expressions.compiled import DEFAULT_LIMITS, Expression, Limits, compile_expression
from core.expressions.values import (
    ExpressionError,
    bindings,
    from_cel,
    record_to_cel,
    record_variables,
    to_cel,
)

__all__ = [
    "DEFAULT_LIMITS",
    "CelType",
    "Expression",
    "ExpressionError",
    "Limits",
    "VarType",
    "bindings",
    "compile_expression",
    "from_cel",
    "record_to_cel",
    "record_variables",
    "to_cel",
]
