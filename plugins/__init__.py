"""First-party plugins, loaded through the ``tessera`` entry points like any partner's.

Shared here: a compact way to write the four-locale labels they ship.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LOCALES", "labels", "options"]

#: The locales every first-party label is written in.
LOCALES = ("en", "zh-CN", "es-ES", "tl-PH")


def labels(en: str, zh_cn: str, es_es: str, tl_ph: str) -> dict[str, str]:
    """A label map in the four first-party locales."""
    return dict(zip(LOCALES, (en, zh_cn, es_es, tl_ph), strict=True))


def options(*items: tuple[str, str, str, str, str]) -> list[dict[str, Any]]:
    """Enum options from ``(value, en, zh-CN, es-ES, tl-PH)`` tuples."""
    return [{"value": value, "label": labels(*texts)} for value, *texts in items]
