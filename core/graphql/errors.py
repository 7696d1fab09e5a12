"""GraphQL errors as JSON: every error carries ``extensions.code``.

A :class:`~core.errors.TesseraError` keeps its message and code and lists its
problems in ``extensions.errors``; anything unexpected becomes ``INTERNAL``
with a generic message (the traceback goes to the log, not the caller).
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from core.errors import TesseraError

__all__ = ["format_error", "is_unexpected"]

log = logging.getLogger("core.graphql")

INTERNAL_MESSAGE = "internal error; it has been logged"


def _original(error: GraphQLError) -> BaseException | None:
    original = error.original_error
    # graphql-core may wrap a located error in another GraphQLError.
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original


def is_unexpected(error: GraphQLError) -> bool:
    """An exception from a resolver that is not one of ours (a bug, logged)."""
    original = _original(error)
    return (
        original is not None
        and not isinstance(original, TesseraError | GraphQLError)
        and error.path is not None
    )


def format_error(error: GraphQLError) -> dict[str, Any]:
    """One error as JSON, with ``extensions.code`` always set."""
    original = _original(error)
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path is not None:
        out["path"] = list(error.path)
    if isinstance(original, TesseraError):
        out["message"] = original.message
        out["extensions"] = {
            "code": original.code,
            "errors": [
                {"field": p.path, "code": p.code, "message": p.message} for p in original.problems
            ],
        }
    elif is_unexpected(error):
        out["message"] = INTERNAL_MESSAGE
        out["extensions"] = {"code": "INTERNAL"}
    else:
        extensions = dict(error.extensions or {})
        if "code" not in extensions:
            extensions["code"] = (
                "GRAPHQL_PARSE_FAILED"
                if isinstance(error, GraphQLSyntaxError)
                else "GRAPHQL_VALIDATION_FAILED"
            )
        out["extensions"] = extensions
    return out
