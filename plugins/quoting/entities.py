"""Entities of the quoting plugin: products, quotes and quote lines."""

from __future__ import annotations

from typing import Any

from plugins import labels as L
from plugins import options

__all__ = ["ENTITIES"]

_DISCOUNT = L("Discount", "折扣", "Descuento", "Diskwento")

_PRODUCT_ENTITY: dict[str, Any] = {
    "label": L("Product", "产品", "Producto", "Produkto"),
    "plural_label": L("Products", "产品", "Productos", "Mga produkto"),
    "plural": "products",
    "title_field": "name",
    "fields": {
        "name": {
            "type": "text",
            "label": L("Name", "名称", "Nombre", "Pangalan"),
            "required": True,
            "indexed": True,
        },
        "model": {
            "type": "text",
            "label": L("Model", "型号", "Modelo", "Modelo"),
            "unique": True,
        },
        "unit": {"type": "text", "label": L("Unit", "单位", "Unidad", "Yunit")},
        "price": {"type": "money", "label": L("Price", "价格", "Precio", "Presyo")},
        "active": {
            "type": "boolean",
            "label": L("Active", "启用", "Activo", "Aktibo"),
            "default": True,
        },
    },
}

_QUOTE_ENTITY: dict[str, Any] = {
    "label": L("Quote", "报价单", "Presupuesto", "Quotation"),
    "plural_label": L("Quotes", "报价单", "Presupuestos", "Mga quotation"),
    "plural": "quotes",
    "title_field": "title",
    "fields": {
        "title": {
            "type": "text",
            "label": L("Title", "标题", "Título", "Pamagat"),
            "required": True,
        },
        "account": {
            "type": "relation",
            "target": "account",
            "label": L("Account", "客户", "Cuenta", "Account"),
            "indexed": True,
        },
        "status": {
            "type": "enum",
            "label": L("Status", "状态", "Estado", "Katayuan"),
            "indexed": True,
            "default": "draft",
            "options": options(
                ("draft", "Draft", "草稿", "Borrador", "Draft"),
                ("sent", "Sent", "已发送", "Enviado", "Naipadala"),
                ("accepted", "Accepted", "已接受", "Aceptado", "Tinanggap"),
                ("rejected", "Rejected", "已拒绝", "Rechazado", "Tinanggihan"),
            ),
        },
        "valid_until": {
            "type": "date",
            "label": L("Valid until", "有效期至", "Válido hasta", "May bisa hanggang"),
        },
        "discount": {"type": "percent", "label": _DISCOUNT, "min": 0, "max": 100},
        "total": {
            "type": "money",
            "label": L("Total", "总计", "Total", "Kabuuan"),
            "read_only": True,
        },
        "owner": {"type": "user", "label": L("Owner", "负责人", "Responsable", "May-ari")},
    },
}

_QUOTE_LINE_ENTITY: dict[str, Any] = {
    "label": L("Quote line", "报价明细", "Línea de presupuesto", "Linya ng quotation"),
    "plural_label": L("Quote lines", "报价明细", "Líneas de presupuesto", "Mga linya ng quotation"),
    "plural": "quote_lines",
    "title_field": "description",
    "fields": {
        "quote": {
            "type": "relation",
            "target": "quote",
            "label": L("Quote", "报价单", "Presupuesto", "Quotation"),
            "required": True,
            "indexed": True,
        },
        "product": {
            "type": "relation",
            "target": "product",
            "label": L("Product", "产品", "Producto", "Produkto"),
        },
        "description": {
            "type": "text",
            "label": L("Description", "描述", "Descripción", "Paglalarawan"),
        },
        "quantity": {
            "type": "decimal",
            "label": L("Quantity", "数量", "Cantidad", "Dami"),
            "required": True,
            "min": 0,
        },
        "unit_price": {
            "type": "money",
            "label": L("Unit price", "单价", "Precio unitario", "Presyo bawat yunit"),
        },
        "discount": {"type": "percent", "label": _DISCOUNT, "min": 0, "max": 100},
        "tax_rate": {
            "type": "percent",
            "label": L("Tax rate", "税率", "Tipo impositivo", "Antas ng buwis"),
            "min": 0,
            "max": 100,
        },
        "amount": {
            "type": "money",
            "label": L("Amount", "金额", "Importe", "Halaga"),
            "help": L(
                "Quantity × unit price, less discount, plus tax; rounded to the currency.",
                "数量 × 单价，减折扣，加税；按币种精度舍入。",
                "Cantidad × precio unitario, menos descuento, más impuesto; redondeado a la moneda.",
                "Dami × presyo bawat yunit, bawas diskwento, dagdag buwis; binilog ayon sa pera.",
            ),
            "read_only": True,
        },
    },
}

ENTITIES: dict[str, dict[str, Any]] = {
    "product": _PRODUCT_ENTITY,
    "quote": _QUOTE_ENTITY,
    "quote_line": _QUOTE_LINE_ENTITY,
}
