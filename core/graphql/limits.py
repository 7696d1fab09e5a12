"""Request limits: depth, aliases, tokens, page size and cost, on by default.

Depth and alias rules are validation rules built once per limit value, so a
cached validation result stays valid for every request with the same limits.
Their errors carry ``extensions.code = LIMIT_EXCEEDED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

__all__ = ["LIMIT_EXCEEDED", "Limits", "limit_error", "limit_rules", "query_cost"]

LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one request. ``max_page_size`` bounds ``first`` of every list."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_page_size: int = 200
    #: Estimated rows and fields a query may touch (see :func:`query_cost`).
    max_cost: int = 50_000
    #: Items assumed for a list without ``first`` (relation lists, history).
    assumed_list: int = 100


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


#: Lists bounded by the configuration (entities, fields, an approval's steps and
#: approvers), not by data: they count once.
_CONFIG_TYPE_PREFIXES = ("Meta", "LabelText", "ApprovalStep", "ApprovalDecision")


def _multiplier(node: FieldNode, field: Any, parent: Any, limits: Limits) -> int:
    """How many items one selection of ``node`` may yield."""
    field_type = field.type
    wrapped = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    named = get_named_type(field_type)
    parent_name = getattr(parent, "name", "")
    if parent_name.endswith("Connection") or named.name.startswith(_CONFIG_TYPE_PREFIXES):
        # A connection's edges were counted by ``first``; the model's own lists
        # (entities, fields, labels) are bounded by the config, not by data.
        return 1
    is_connection = isinstance(named, GraphQLObjectType) and named.name.endswith("Connection")
    if not is_connection and not isinstance(wrapped, GraphQLList):
        return 1
    for arg in node.arguments or ():
        if arg.name.value == "first":
            if isinstance(arg.value, IntValueNode):
                return max(0, min(int(arg.value.value), limits.max_page_size))
            return limits.max_page_size  # a variable: the most it could be
    first = field.args.get("first") if getattr(field, "args", None) else None
    default = getattr(first, "default_value", None)
    if isinstance(default, int):
        return max(0, min(default, limits.max_page_size))
    return limits.max_page_size if is_connection else limits.assumed_list


def query_cost(
    context: ValidationContext,
    selection_set: SelectionSetNode,
    parent: Any,
    limits: Limits,
    fragments: frozenset[str] = frozenset(),
) -> int:
    """Estimated cost of a selection: each field costs 1 plus, for lists and
    connections, ``first`` (or an assumed length) times the cost of its selection.

    ``fragments`` are those being expanded (a cycle — refused by another rule —
    must not recurse forever here)."""
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            field = getattr(parent, "fields", {}).get(selection.name.value)
            if field is None:
                continue  # __typename, or an unknown field (another rule reports it)
            child = 0
            if selection.selection_set is not None:
                child = query_cost(
                    context, selection.selection_set, get_named_type(field.type), limits, fragments
                )
            total += 1 + _multiplier(selection, field, parent, limits) * child
        elif isinstance(selection, InlineFragmentNode):
            target = parent
            if selection.type_condition is not None:
                target = context.schema.get_type(selection.type_condition.name.value)
            total += query_cost(context, selection.selection_set, target, limits, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is not None and name not in fragments:
                target = context.schema.get_type(fragment.type_condition.name.value)
                total += query_cost(
                    context, fragment.selection_set, target, limits, fragments | {name}
                )
        if total > limits.max_cost:
            break  # already too much: no need to count further
    return total


def _cost_rule(limits: Limits) -> type[ASTValidationRule]:
    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            cost = query_cost(self.context, node.selection_set, root, limits)
            if cost > limits.max_cost:
                self.report_error(
                    limit_error(
                        f"the query may touch about {cost:,} rows and fields; at most "
                        f"{limits.max_cost:,} are allowed (ask for fewer rows with 'first', "
                        "or fewer nested lists)",
                        node,
                    )
                )

    return CostLimit


def limit_rules(limits: Limits) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules enforcing ``limits`` (new classes: build once, reuse)."""
    return (
        _tagged(depth_validator(limits.max_depth, None)),
        _tagged(alias_validator(limits.max_aliases)),
        _cost_rule(limits),
    )
