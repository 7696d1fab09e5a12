"""Entities of the quoting plugin: products, price lists, quotes, lines and versions."""

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
        "tax_rate": {
            "type": "percent",
            "label": L("Tax rate", "税率", "Tipo impositivo", "Antas ng buwis"),
            "help": L(
                "Used for a new quote line that names no tax rate.",
                "新增报价明细未填写税率时使用。",
                "Se aplica a una línea nueva que no indique tipo impositivo.",
                "Ginagamit sa bagong linya na walang nakasaad na buwis.",
            ),
            "min": 0,
            "max": 100,
        },
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
        "number": {
            "type": "text",
            "label": L("Number", "编号", "Número", "Numero"),
            "help": L(
                "Given by the tenant's numbering series when the quote is created.",
                "创建报价单时按编号规则自动生成。",
                "Lo asigna la serie de numeración al crear el presupuesto.",
                "Ibinibigay ng numbering series kapag ginawa ang quotation.",
            ),
            "read_only": True,
            "unique": True,
        },
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
        "currency": {
            "type": "text",
            "label": L("Currency", "币种", "Moneda", "Pera"),
            "help": L(
                "ISO 4217 code of the quote's prices; the tenant's currency when empty.",
                "报价币种（ISO 4217）；为空时使用租户币种。",
                "Código ISO 4217 de los precios; vacío, la moneda de la empresa.",
                "ISO 4217 code ng mga presyo; kung wala, ang pera ng tenant.",
            ),
            "pattern": "^[A-Z]{3}$",
        },
        "price_list": {
            "type": "relation",
            "target": "price_list",
            "label": L("Price list", "价目表", "Tarifa", "Listahan ng presyo"),
        },
        "total": {
            "type": "money",
            "label": L("Total", "总计", "Total", "Kabuuan"),
            "read_only": True,
        },
        "revision": {
            "type": "integer",
            "label": L("Revision", "版本", "Revisión", "Rebisyon"),
            "help": L(
                "1 for a new quote; each revision freezes the previous one as a quote version.",
                "新报价为 1；每次修订都会把上一版冻结为报价版本。",
                "1 en un presupuesto nuevo; cada revisión congela la anterior como versión.",
                "1 sa bagong quotation; bawat rebisyon ay nagyeyelo sa nauna bilang bersyon.",
            ),
            "read_only": True,
        },
        "notes": {
            "type": "long_text",
            "label": L("Terms and notes", "条款与备注", "Condiciones y notas", "Mga tuntunin"),
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

_VALID_FROM = L("Valid from", "生效日期", "Válida desde", "May bisa mula")
_VALID_UNTIL = L("Valid until", "有效期至", "Válido hasta", "May bisa hanggang")

_PRICE_LIST_ENTITY: dict[str, Any] = {
    "label": L("Price list", "价目表", "Tarifa", "Listahan ng presyo"),
    "plural_label": L("Price lists", "价目表", "Tarifas", "Mga listahan ng presyo"),
    "plural": "price_lists",
    "title_field": "name",
    "fields": {
        "name": {
            "type": "text",
            "label": L("Name", "名称", "Nombre", "Pangalan"),
            "required": True,
        },
        "currency": {
            "type": "text",
            "label": L("Currency", "币种", "Moneda", "Pera"),
            "required": True,
            "pattern": "^[A-Z]{3}$",
        },
        "valid_from": {"type": "date", "label": _VALID_FROM},
        "valid_until": {"type": "date", "label": _VALID_UNTIL},
        "active": {
            "type": "boolean",
            "label": L("Active", "启用", "Activo", "Aktibo"),
            "default": True,
        },
    },
}

_PRICE_LIST_ITEM_ENTITY: dict[str, Any] = {
    "label": L("Price list item", "价目表明细", "Precio de tarifa", "Presyo sa listahan"),
    "plural_label": L(
        "Price list items", "价目表明细", "Precios de tarifa", "Mga presyo sa listahan"
    ),
    "plural": "price_list_items",
    "title_field": "product",
    "fields": {
        "price_list": {
            "type": "relation",
            "target": "price_list",
            "label": L("Price list", "价目表", "Tarifa", "Listahan ng presyo"),
            "required": True,
            "indexed": True,
        },
        "product": {
            "type": "relation",
            "target": "product",
            "label": L("Product", "产品", "Producto", "Produkto"),
            "required": True,
            "indexed": True,
        },
        "price": {
            "type": "money",
            "label": L("Price", "价格", "Precio", "Presyo"),
            "required": True,
        },
    },
}

_FROZEN = L(
    "Frozen when the quote was revised; it never changes.",
    "修订报价时冻结，之后不再改变。",
    "Congelado al revisar el presupuesto; ya no cambia.",
    "Nakapirmi nang rebisahin ang quotation; hindi na nagbabago.",
)

_QUOTE_VERSION_ENTITY: dict[str, Any] = {
    "label": L("Quote version", "报价版本", "Versión de presupuesto", "Bersyon ng quotation"),
    "plural_label": L(
        "Quote versions", "报价版本", "Versiones de presupuesto", "Mga bersyon ng quotation"
    ),
    "plural": "quote_versions",
    "title_field": "number",
    "description": _FROZEN,
    "fields": {
        "quote": {
            "type": "relation",
            "target": "quote",
            "label": L("Quote", "报价单", "Presupuesto", "Quotation"),
            "read_only": True,
            "indexed": True,
        },
        "revision": {
            "type": "integer",
            "label": L("Revision", "版本", "Revisión", "Rebisyon"),
            "read_only": True,
        },
        "number": {
            "type": "text",
            "label": L("Number", "编号", "Número", "Numero"),
            "read_only": True,
        },
        "title": {
            "type": "text",
            "label": L("Title", "标题", "Título", "Pamagat"),
            "read_only": True,
        },
        "account": {
            "type": "relation",
            "target": "account",
            "label": L("Account", "客户", "Cuenta", "Account"),
            "read_only": True,
        },
        "status": {
            "type": "text",
            "label": L("Status", "状态", "Estado", "Katayuan"),
            "read_only": True,
        },
        "valid_until": {"type": "date", "label": _VALID_UNTIL, "read_only": True},
        "discount": {"type": "percent", "label": _DISCOUNT, "read_only": True},
        "total": {
            "type": "money",
            "label": L("Total", "总计", "Total", "Kabuuan"),
            "read_only": True,
        },
        "lines": {
            "type": "long_text",
            "label": L("Lines", "明细", "Líneas", "Mga linya"),
            "help": _FROZEN,
            "read_only": True,
        },
    },
}

ENTITIES: dict[str, dict[str, Any]] = {
    "product": _PRODUCT_ENTITY,
    "price_list": _PRICE_LIST_ENTITY,
    "price_list_item": _PRICE_LIST_ITEM_ENTITY,
    "quote": _QUOTE_ENTITY,
    "quote_line": _QUOTE_LINE_ENTITY,
    "quote_version": _QUOTE_VERSION_ENTITY,
}
