"""Document templates: sandboxed Jinja, tenant overrides, located syntax errors.

Plugins ship default templates (``tessera_document_templates``); a tenant
replaces any of them, per key and locale, in its config's ``templates``
section. Templates are HTML written in Jinja and run in Jinja's immutable
sandbox with autoescaping on: a template sees only the plain values it is
given (dicts, lists, strings, numbers, dates), cannot reach attributes that
start with an underscore or Python internals, and cannot change its inputs.
A syntax error, or a filter that does not exist, is a located problem when
the config is validated (``/templates/<key>/<locale>``), not at print time.

Filters for the template's locale (Babel): ``money`` (a money value or a
number, optional currency), ``number``, ``percent`` (0–100 values, as
fields store them), ``date`` (``short``/``medium``/``long``/``full`` or a
CLDR pattern).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import Template, TemplateError, TemplateSyntaxError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.errors import Problem, ValidationFailed
from core.hookspecs import TemplateSpec
from core.metadata import TenantModel

__all__ = [
    "ResolvedTemplate",
    "environment",
    "render",
    "resolve",
    "template_problems",
]


def _locale(ctx: Context) -> str:
    return str(ctx.get("locale") or "en").replace("-", "_")


@pass_context
def _money(ctx: Context, value: Any, currency: str | None = None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, Mapping):
        amount, currency = value.get("amount"), value.get("currency") or currency
    else:
        amount = value
    code = currency or str(ctx.get("currency") or "USD")
    return format_currency(Decimal(str(amount)), code, locale=_locale(ctx))


@pass_context
def _number(ctx: Context, value: Any, places: int | None = None) -> str:
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    fmt = None if places is None else "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(number, format=fmt, locale=_locale(ctx))


@pass_context
def _percent(ctx: Context, value: Any) -> str:
    if value is None or value == "":
        return ""
    return format_percent(Decimal(str(value)) / 100, format="#,##0.##%", locale=_locale(ctx))


@pass_context
def _date(ctx: Context, value: Any, fmt: str = "medium") -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = (
            date.fromisoformat(value[:10]) if len(value) <= 10 else datetime.fromisoformat(value)
        )
    if isinstance(value, datetime):
        return format_datetime(value, fmt, locale=_locale(ctx))
    return format_date(value, fmt, locale=_locale(ctx))


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """The one sandbox every document template runs in."""
    env = ImmutableSandboxedEnvironment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(money=_money, number=_number, percent=_percent, date=_date)
    return env


@functools.lru_cache(maxsize=512)
def _compiled(content: str) -> Template:
    return environment().from_string(content)


class ResolvedTemplate:
    """The template to use for a key and locale, and where it comes from."""

    __slots__ = ("content", "entity", "key", "locale", "source")

    def __init__(self, key: str, locale: str, content: str, entity: str, source: str) -> None:
        self.key = key
        self.locale = locale
        self.content = content
        self.entity = entity
        #: ``tenant`` or ``plugin:<name>``.
        self.source = source


def resolve(
    model: TenantModel, specs: Iterable[TemplateSpec], key: str, locale: str | None = None
) -> ResolvedTemplate | None:
    """The tenant's template for ``key`` in ``locale``, else the plugin's default.

    Locales are tried in order: ``locale``, the tenant's default, English,
    then any the template has. Within one locale the tenant's own wins.
    """
    own: Mapping[str, str] = (model.config.get("templates") or {}).get(key) or {}
    shipped = {s.locale: s for s in specs if s.key == key}
    entity = next(iter(shipped.values())).entity if shipped else ""
    order = [locale, model.default_locale, "en", *own, *shipped]
    for loc in dict.fromkeys(x for x in order if x):
        if loc in own:
            return ResolvedTemplate(key, loc, own[loc], entity, "tenant")
        if loc in shipped:
            spec = shipped[loc]
            return ResolvedTemplate(key, loc, spec.content, spec.entity, f"plugin:{spec.plugin}")
    return None


def render(template: ResolvedTemplate, variables: Mapping[str, Any]) -> str:
    """Render in the sandbox; a failing template is a located ``TEMPLATE_FAILED`` problem."""
    where = f"/templates/{template.key}/{template.locale}"
    try:
        return _compiled(template.content).render(
            {"locale": template.locale, **variables},
        )
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        message = f"line {line}: {exc.message}" if line else str(exc.message or exc)
        raise ValidationFailed(
            f"the template '{template.key}' ({template.locale}) failed: {message}",
            [Problem("TEMPLATE_FAILED", message, where)],
        ) from None


def template_problems(model: TenantModel, file: str | None = None) -> list[Problem]:
    """Syntax errors and unknown filters of the tenant's templates, and stray locales."""
    problems: list[Problem] = []
    for key, by_locale in (model.config.get("templates") or {}).items():
        for locale, content in by_locale.items():
            where = f"/templates/{key}/{locale}"
            if locale not in model.locales:
                problems.append(
                    Problem(
                        "TEMPLATE_LOCALE",
                        f"'{locale}' is not one of the tenant's locales {list(model.locales)}",
                        where,
                        file,
                    )
                )
            try:
                _compiled(content)
            except TemplateSyntaxError as exc:
                problems.append(
                    Problem("TEMPLATE_SYNTAX", f"line {exc.lineno}: {exc.message}", where, file)
                )
    return problems
