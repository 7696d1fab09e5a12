"""The quote templates the plugin ships (``tessera_document_templates``).

One layout, written out once per locale with that locale's words, so each
shipped template is a complete Jinja document a tenant can copy as the start
of its own (``templates.quote.<locale>`` in the tenant config). The font is
STSong-Light, a CJK font every PDF reader has (see documents.py), which also
covers Latin text.
"""

from __future__ import annotations

from core.hookspecs import TemplateSpec

__all__ = ["LAYOUT", "TEMPLATES", "WORDS"]

LAYOUT = """<!doctype html>
<html lang="{{ locale }}">
<head>
<meta charset="utf-8">
<title>[[quote]] {{ quote.number or quote.title }}</title>
<style>
  @page { size: a4; margin: 1.6cm; }
  html, body { font-family: STSong-Light; font-size: 10pt; color: #222; }
  h1 { font-size: 18pt; margin: 0 0 4pt 0; }
  table { width: 100%; }
  .lines th { background: #eeeeee; text-align: left; padding: 3pt; }
  .lines td { border-bottom: 0.5pt solid #bbbbbb; padding: 3pt; }
  .num { text-align: right; }
  .totals td { padding: 2pt 3pt; }
  .total td { font-weight: bold; border-top: 1pt solid #222222; }
</style>
</head>
<body>
<h1>[[quote]] {{ quote.number }}</h1>
<table>
  <tr><td>
    <strong>{{ tenant.name }}</strong><br>
    [[date]]: {{ quote.created_at | date }}<br>
    {% if quote.valid_until %}[[valid_until]]: {{ quote.valid_until | date }}<br>{% endif %}
    [[revision]]: {{ quote.revision }}
  </td><td>
    [[customer]]: <strong>{{ account.name }}</strong><br>
    {% if quote.owner_name %}[[owner]]: {{ quote.owner_name }}<br>{% endif %}
    {{ quote.title }}
  </td></tr>
</table>
<br>
<table class="lines">
  <tr>
    <th>#</th><th>[[model]]</th><th>[[description]]</th><th class="num">[[quantity]]</th>
    <th class="num">[[unit_price]]</th><th class="num">[[discount]]</th>
    <th class="num">[[tax]]</th><th class="num">[[amount]]</th>
  </tr>
  {% for line in lines %}
  <tr>
    <td>{{ loop.index }}</td><td>{{ line.model }}</td><td>{{ line.description }}</td>
    <td class="num">{{ line.quantity | number }} {{ line.unit }}</td>
    <td class="num">{{ line.unit_price | money }}</td>
    <td class="num">{{ line.discount | percent }}</td>
    <td class="num">{{ line.tax_rate | percent }}</td>
    <td class="num">{{ line.amount | money }}</td>
  </tr>
  {% endfor %}
</table>
<br>
<table class="totals">
  <tr><td class="num">[[net]]</td><td class="num">{{ totals.net | money }}</td></tr>
  {% for rate in totals.taxes %}
  <tr><td class="num">[[tax]] {{ rate.rate | percent }}</td><td class="num">{{ rate.amount | money }}</td></tr>
  {% endfor %}
  {% if quote.discount %}
  <tr><td class="num">[[quote_discount]] {{ quote.discount | percent }}</td><td class="num">-{{ totals.discount_amount | money }}</td></tr>
  {% endif %}
  <tr class="total"><td class="num">[[total]]</td><td class="num">{{ totals.total | money }}</td></tr>
</table>
{% if quote.notes %}<p>{{ quote.notes }}</p>{% endif %}
</body>
</html>
"""

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "quote": "Quotation",
        "date": "Date",
        "valid_until": "Valid until",
        "revision": "Revision",
        "customer": "Customer",
        "owner": "Sales contact",
        "model": "Model",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "discount": "Disc.",
        "tax": "Tax",
        "amount": "Amount",
        "net": "Net",
        "quote_discount": "Quote discount",
        "total": "Total",
    },
    "zh-CN": {
        "quote": "报价单",
        "date": "日期",
        "valid_until": "有效期至",
        "revision": "版本",
        "customer": "客户",
        "owner": "销售联系人",
        "model": "型号",
        "description": "描述",
        "quantity": "数量",
        "unit_price": "单价",
        "discount": "折扣",
        "tax": "税额",
        "amount": "金额",
        "net": "不含税金额",
        "quote_discount": "整单折扣",
        "total": "合计",
    },
    "es-ES": {
        "quote": "Presupuesto",
        "date": "Fecha",
        "valid_until": "Válido hasta",
        "revision": "Revisión",
        "customer": "Cliente",
        "owner": "Comercial",
        "model": "Referencia",
        "description": "Descripción",
        "quantity": "Cant.",
        "unit_price": "Precio unitario",
        "discount": "Dto.",
        "tax": "IVA",
        "amount": "Importe",
        "net": "Base imponible",
        "quote_discount": "Descuento",
        "total": "Total",
    },
}


def _written(locale: str) -> str:
    out = LAYOUT
    for key, word in WORDS[locale].items():
        out = out.replace(f"[[{key}]]", word)
    return out


TEMPLATES: list[TemplateSpec] = [
    TemplateSpec("quote", "quote", locale, _written(locale)) for locale in WORDS
]
