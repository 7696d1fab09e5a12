"""Names of the public contract: snake_case keys to GraphQL names."""

from __future__ import annotations

__all__ = ["camel", "pascal"]


def camel(key: str) -> str:
    """``customer_level`` -> ``customerLevel``."""
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pascal(key: str) -> str:
    """``sales_order`` -> ``SalesOrder``."""
    return "".join(part[:1].upper() + part[1:] for part in key.split("_"))
