"""Errors as values: a stable code, a location and a human message.

The same shape is used by the config validator, the service layer, the CLI
and the GraphQL API (``extensions.code`` / ``extensions.errors``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "BadRequest",
    "ConfigInvalid",
    "Conflict",
    "Forbidden",
    "LimitExceeded",
    "NotFound",
    "PluginError",
    "Problem",
    "RequestTimeout",
    "TesseraError",
    "Unauthenticated",
    "ValidationFailed",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem.

    ``path`` is a JSON pointer for configs (``/entities/account/fields/x/type``)
    or a field path for records (``customerLevel`` or ``address.city``).
    """

    code: str
    message: str
    path: str = ""
    file: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"field": self.path, "code": self.code, "message": self.message}
        if self.file is not None:
            out["file"] = self.file
        return out

    def located(self) -> str:
        where = self.file or ""
        if self.path:
            where = f"{where}#{self.path}" if where else self.path
        return f"{where}: {self.code}: {self.message}" if where else f"{self.code}: {self.message}"


class TesseraError(Exception):
    """Base of every error a caller may see; ``code`` is stable."""

    code = "INTERNAL"

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = list(problems)


class ValidationFailed(TesseraError):
    code = "VALIDATION_FAILED"


class Forbidden(TesseraError):
    code = "FORBIDDEN"


class NotFound(TesseraError):
    code = "NOT_FOUND"


class Conflict(TesseraError):
    code = "CONFLICT"


class Unauthenticated(TesseraError):
    code = "UNAUTHENTICATED"


class BadRequest(TesseraError):
    code = "BAD_REQUEST"


class LimitExceeded(TesseraError):
    code = "LIMIT_EXCEEDED"


class TooManyAttempts(TesseraError):
    """Too many requests of a kind (failed logins): wait before trying again."""

    code = "TOO_MANY_ATTEMPTS"


class RequestTimeout(TesseraError):
    """A request ran past its tenant's wall time and was stopped (and rolled back)."""

    code = "TIMEOUT"


class ConfigInvalid(TesseraError):
    code = "CONFIG_INVALID"


class PluginError(TesseraError):
    code = "PLUGIN_ERROR"


@dataclass(slots=True)
class ProblemList:
    """Collects problems; raise them all at once so nothing is half-reported."""

    items: list[Problem] = field(default_factory=list)

    def add(self, code: str, message: str, path: str = "", file: str | None = None) -> None:
        self.items.append(Problem(code, message, path, file))

    def __bool__(self) -> bool:
        return bool(self.items)
