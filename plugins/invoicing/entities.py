"""Entities of the invoicing plugin: invoices and payments."""

from __future__ import annotations

from typing import Any

from plugins import labels as L
from plugins import options

__all__ = ["ENTITIES"]

_INVOICE_ENTITY: dict[str, Any] = {
    "label": L("Invoice", "发票", "Factura", "Invoice"),
    "plural_label": L("Invoices", "发票", "Facturas", "Mga invoice"),
    "plural": "invoices",
    "title_field": "number",
    "fields": {
        "number": {
            "type": "text",
            "label": L("Number", "编号", "Número", "Numero"),
            "unique": True,
        },
        "account": {
            "type": "relation",
            "target": "account",
            "label": L("Account", "客户", "Cuenta", "Account"),
            "indexed": True,
        },
        "issue_date": {
            "type": "date",
            "label": L("Issue date", "开票日期", "Fecha de emisión", "Petsa ng pag-isyu"),
            "indexed": True,
        },
        "due_date": {
            "type": "date",
            "label": L("Due date", "到期日", "Fecha de vencimiento", "Takdang petsa"),
            "indexed": True,
        },
        "total": {"type": "money", "label": L("Total", "总计", "Total", "Kabuuan")},
        "source_quote": {
            "type": "text",
            "label": L("From quote", "来源报价单", "Presupuesto de origen", "Mula sa quotation"),
            "help": L(
                "The id of the accepted quote this draft was made from.",
                "生成此草稿的已接受报价单编号。",
                "El presupuesto aceptado del que sale este borrador.",
                "Ang tinanggap na quotation na pinagmulan ng draft na ito.",
            ),
            "read_only": True,
        },
        "quote_number": {
            "type": "text",
            "label": L(
                "Quote number", "报价单编号", "Número de presupuesto", "Numero ng quotation"
            ),
            "read_only": True,
        },
        "status": {
            "type": "enum",
            "label": L("Status", "状态", "Estado", "Katayuan"),
            "default": "draft",
            "options": options(
                ("draft", "Draft", "草稿", "Borrador", "Draft"),
                ("issued", "Issued", "已开具", "Emitida", "Naisyu"),
                (
                    "partially_paid",
                    "Partially paid",
                    "部分付款",
                    "Pagada parcialmente",
                    "Bahagyang bayad",
                ),
                ("paid", "Paid", "已付款", "Pagada", "Bayad na"),
                ("cancelled", "Cancelled", "已作废", "Anulada", "Kinansela"),
            ),
        },
    },
}

_PAYMENT_ENTITY: dict[str, Any] = {
    "label": L("Payment", "收款", "Pago", "Bayad"),
    "plural_label": L("Payments", "收款", "Pagos", "Mga bayad"),
    "plural": "payments",
    "title_field": "reference",
    "fields": {
        "invoice": {
            "type": "relation",
            "target": "invoice",
            "label": L("Invoice", "发票", "Factura", "Invoice"),
            "indexed": True,
        },
        "reference": {
            "type": "text",
            "label": L("Reference", "参考号", "Referencia", "Sanggunian"),
        },
        "amount": {
            "type": "money",
            "label": L("Amount", "金额", "Importe", "Halaga"),
            "required": True,
        },
        "paid_on": {
            "type": "date",
            "label": L("Paid on", "付款日期", "Fecha de pago", "Petsa ng bayad"),
            "indexed": True,
        },
        "method": {
            "type": "enum",
            "label": L("Method", "付款方式", "Forma de pago", "Paraan ng pagbayad"),
            "options": options(
                ("cash", "Cash", "现金", "Efectivo", "Cash"),
                ("bank_transfer", "Bank transfer", "银行转账", "Transferencia", "Bank transfer"),
                ("card", "Card", "银行卡", "Tarjeta", "Card"),
                ("cheque", "Cheque", "支票", "Cheque", "Tseke"),
                ("mobile_wallet", "Mobile wallet", "移动支付", "Monedero móvil", "E-wallet"),
            ),
        },
        "direction": {
            "type": "enum",
            "label": L("Direction", "方向", "Sentido", "Direksyon"),
            "help": L(
                "Received from the customer, or paid out (a refund).",
                "向客户收款，或向外付款（退款）。",
                "Cobrado al cliente, o pagado (una devolución).",
                "Natanggap mula sa customer, o ibinayad palabas (refund).",
            ),
            "default": "in",
            "options": options(
                ("in", "Received", "收入", "Cobro", "Natanggap"),
                ("out", "Paid out", "支出", "Pago", "Ibinayad"),
            ),
        },
    },
}

ENTITIES: dict[str, dict[str, Any]] = {
    "invoice": _INVOICE_ENTITY,
    "payment": _PAYMENT_ENTITY,
}
