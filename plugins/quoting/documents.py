"""A quote as a document: the template's variables, rendered to HTML and to PDF.

The template is the tenant's own (``templates.<key>.<locale>`` in its
config) or the plugin's default for that locale; ``settings.quoting.template``
names the key (default ``quote``). Everything is read through the service as
the caller, so a document shows only what the caller may read.

PDF: xhtml2pdf (pure Python on reportlab) renders the same HTML. CJK text
uses reportlab's built-in CID font STSong-Light (Adobe-GB1): it needs no
font file and no system library, so a plain ``pip install`` prints Chinese;
PDF readers supply the glyphs (the font is referenced, not embedded). The
renderer fetches nothing: no network, no local files (``data:`` URIs only).
"""

from __future__ import annotations

import dataclasses
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision

from core.context import CallContext, Record
from core.errors import NotFound, Problem, ValidationFailed
from core.templates import ResolvedTemplate, render, resolve
from plugins.quoting.access import lines_of, service_of
from plugins.quoting.layouts import TEMPLATES
from plugins.quoting.settings import settings_of
from plugins.quoting.totals import currency_of

__all__ = ["document_variables", "quote_html", "quote_pdf", "template_for"]

_HUNDRED = Decimal(100)


def _minor(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def _label(ctx: CallContext, entity: str, field: str, value: Any, locale: str) -> str:
    f = ctx.model.entities[entity].fields.get(field)
    for option in f.options if f else ():
        if option.value == value:
            return ctx.model.label(option.label, locale)
    return "" if value is None else str(value)


def template_for(ctx: CallContext, locale: str | None) -> ResolvedTemplate:
    key = settings_of(ctx.model).template
    specs = [dataclasses.replace(t, plugin="quoting") for t in TEMPLATES]
    found = resolve(ctx.model, specs, key, locale or ctx.locale)
    if found is None:
        raise NotFound(
            f"no document template '{key}'", [Problem("TEMPLATE_UNKNOWN", "no such template", "")]
        )
    return found


async def document_variables(ctx: CallContext, quote: Record, locale: str) -> dict[str, Any]:
    """Every variable a quote template sees (documented in docs/plugins/quoting.md)."""
    service = service_of(ctx)
    data = quote.data
    currency = currency_of(ctx, data)
    lines = await lines_of(ctx, quote.id)
    product_ids = [ln.data["product"] for ln in lines if ln.data.get("product")]
    products = await service.get_many(ctx, "product", product_ids) if product_ids else {}
    account: dict[str, Any] = {}
    if data.get("account"):
        found = (await service.get_many(ctx, "account", [data["account"]])).get(data["account"])
        account = dict(found.data) if found else {}
    owner_name = ""
    if data.get("owner"):
        owner = (await service.user_names(ctx, [data["owner"]])).get(data["owner"])
        owner_name = (owner or {}).get("name") or (owner or {}).get("email") or ""
    rows: list[dict[str, Any]] = []
    taxes: dict[Decimal, Decimal] = defaultdict(Decimal)
    net_total = Decimal(0)
    for ln in lines:
        d = ln.data
        product = products.get(d.get("product") or "")
        amount = (d.get("amount") or {}).get("amount")
        price = (d.get("unit_price") or {}).get("amount")
        net = None
        if amount is not None and price is not None and d.get("quantity") is not None:
            raw = d["quantity"] * price * (1 - (d.get("discount") or 0) / _HUNDRED)
            net = raw.quantize(_minor(currency), ROUND_HALF_UP)
            net_total += net
            taxes[d.get("tax_rate") or Decimal(0)] += amount - net
        rows.append(
            {
                "model": (product.data.get("model") if product else None) or "",
                "product": (product.data.get("name") if product else None) or "",
                "unit": (product.data.get("unit") if product else None) or "",
                "description": d.get("description") or "",
                "quantity": d.get("quantity"),
                "unit_price": d.get("unit_price"),
                "discount": d.get("discount"),
                "tax_rate": d.get("tax_rate"),
                "net": net,
                "amount": d.get("amount"),
            }
        )
    total = (data.get("total") or {}).get("amount") or Decimal(0)
    gross = sum(taxes.values(), net_total)
    return {
        "locale": locale,
        "currency": currency,
        "tenant": {"name": ctx.model.label(ctx.model.name, locale) or ctx.tenant},
        "quote": {
            **{k: v for k, v in data.items() if k not in ("account", "owner", "price_list")},
            "id": quote.id,
            "status_label": _label(ctx, "quote", "status", data.get("status"), locale),
            "revision": data.get("revision") or 1,
            "owner_name": owner_name,
            "created_at": quote.created_at,
        },
        "account": account,
        "lines": rows,
        "totals": {
            "net": net_total,
            "taxes": [{"rate": r, "amount": a} for r, a in sorted(taxes.items()) if r],
            "gross": gross,
            "discount_amount": max(gross - total, Decimal(0)),
            "total": total,
        },
    }


async def quote_html(ctx: CallContext, quote_id: str, locale: str | None = None) -> str:
    quote = await service_of(ctx).get(ctx, "quote", quote_id)
    template = template_for(ctx, locale)
    return render(template, await document_variables(ctx, quote, template.locale))


def html_to_pdf(html: str) -> bytes:
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    # Templates are tenant-written: the renderer may read nothing but the document.
    policy = ResourceAccessPolicy.server(base_dir=None, allow_remote=False)
    out = io.BytesIO()
    status = pisa.CreatePDF(html, dest=out, encoding="utf-8", resource_policy=policy)
    if status.err:
        raise ValidationFailed(
            "the document could not be made into a PDF",
            [Problem("PDF_FAILED", f"{status.err} error(s) in the HTML", "")],
        )
    return out.getvalue()


async def quote_pdf(ctx: CallContext, quote_id: str, locale: str | None = None) -> bytes:
    return html_to_pdf(await quote_html(ctx, quote_id, locale))
