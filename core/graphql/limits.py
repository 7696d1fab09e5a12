"""Request limits: depth, aliases, tokens and page size, on by default.

Depth and alias rules are validation rules built once per limit value, so a
cached validation result stays valid for every request with the same limits.
Their errors carry ``extensions.code = LIMIT_EXCEEDED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from graphql import ASTValidationRule, GraphQLError, ValidationContext, ValidationRule

__all__ = ["LIMIT_EXCEEDED", "Limits", "limit_error", "limit_rules"]

LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one request. ``max_page_size`` bounds ``first`` of every list."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_page_size: int = 200


def limit_error(message: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": LIMIT_EXCEEDED})


class _Tagging:
    """A validation context whose reported errors are limit errors."""

    def __init__(self, context: ValidationContext) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def report_error(self, error: GraphQLError) -> None:
        self._context.report_error(limit_error(error.message, error.nodes))


def _tagged(rule: type[ValidationRule]) -> type[ASTValidationRule]:
    class LimitRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            # The wrapped rules do all their work in __init__.
            rule(_Tagging(context))  # type: ignore[arg-type]

    LimitRule.__name__ = f"Limit{rule.__name__}"
    return LimitRule


def limit_rules(limits: Limits) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules enforcing ``limits`` (new classes: build once, reuse)."""
    return (
        _tagged(depth_validator(limits.max_depth, None)),
        _tagged(alias_validator(limits.max_aliases)),
    )
