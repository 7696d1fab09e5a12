"""Entities of the sales plugin: accounts, contacts, leads, opportunities, activities."""

from __future__ import annotations

from typing import Any

from plugins import labels as L
from plugins import options

__all__ = ["ENTITIES"]

_NAME = L("Name", "名称", "Nombre", "Pangalan")
_PHONE = L("Phone", "电话", "Teléfono", "Telepono")
_EMAIL = L("Email", "电子邮件", "Correo electrónico", "Email")
_OWNER = L("Owner", "负责人", "Responsable", "May-ari")
_NOTES = L("Notes", "备注", "Notas", "Mga tala")
_ACCOUNT = L("Account", "客户", "Cuenta", "Account")

SOURCES = options(
    ("referral", "Referral", "转介绍", "Recomendación", "Rekomendasyon"),
    ("website", "Website", "网站", "Sitio web", "Website"),
    ("trade_show", "Trade show", "展会", "Feria comercial", "Trade show"),
    ("cold_call", "Cold call", "陌生拜访", "Llamada en frío", "Cold call"),
    ("partner", "Partner", "合作伙伴", "Socio", "Katuwang"),
    ("other", "Other", "其他", "Otro", "Iba pa"),
)

_ACCOUNT_ENTITY: dict[str, Any] = {
    "label": _ACCOUNT,
    "plural_label": L("Accounts", "客户", "Cuentas", "Mga account"),
    "plural": "accounts",
    "title_field": "name",
    "description": L(
        "Companies and people you do business with.",
        "与您有业务往来的公司和个人。",
        "Empresas y personas con las que trabaja.",
        "Mga kumpanya at taong kasosyo mo sa negosyo.",
    ),
    "fields": {
        "name": {"type": "text", "label": _NAME, "required": True, "indexed": True},
        "party_type": {
            "type": "enum",
            "label": L("Party type", "往来类型", "Tipo de relación", "Uri ng ugnayan"),
            "required": True,
            "indexed": True,
            "default": "customer",
            "options": options(
                ("customer", "Customer", "客户", "Cliente", "Kliyente"),
                ("prospect", "Prospect", "潜在客户", "Prospecto", "Prospekto"),
                ("competitor", "Competitor", "竞争对手", "Competidor", "Kakumpitensya"),
                ("partner", "Partner", "合作伙伴", "Socio", "Katuwang"),
                ("supplier", "Supplier", "供应商", "Proveedor", "Supplier"),
            ),
        },
        "level": {
            "type": "enum",
            "label": L("Level", "级别", "Nivel", "Antas"),
            "options": options(
                ("a", "A", "A", "A", "A"),
                ("b", "B", "B", "B", "B"),
                ("c", "C", "C", "C", "C"),
                ("d", "D", "D", "D", "D"),
            ),
        },
        "industry": {"type": "text", "label": L("Industry", "行业", "Sector", "Industriya")},
        "source": {
            "type": "enum",
            "label": L("Source", "来源", "Origen", "Pinagmulan"),
            "options": SOURCES,
        },
        "owner": {"type": "user", "label": _OWNER, "indexed": True},
        "territory": {"type": "text", "label": L("Territory", "区域", "Territorio", "Teritoryo")},
        "credit_limit": {
            "type": "money",
            "label": L("Credit limit", "信用额度", "Límite de crédito", "Limitasyon ng kredito"),
        },
        "phone": {"type": "phone", "label": _PHONE},
        "email": {"type": "email", "label": _EMAIL},
        "website": {"type": "url", "label": L("Website", "网站", "Sitio web", "Website")},
        "address": {"type": "address", "label": L("Address", "地址", "Dirección", "Tirahan")},
        "notes": {"type": "long_text", "label": _NOTES},
    },
}

_CONTACT_ENTITY: dict[str, Any] = {
    "label": L("Contact", "联系人", "Contacto", "Contact"),
    "plural_label": L("Contacts", "联系人", "Contactos", "Mga contact"),
    "plural": "contacts",
    "title_field": "name",
    "fields": {
        "name": {"type": "text", "label": _NAME, "required": True, "indexed": True},
        "account": {"type": "relation", "target": "account", "label": _ACCOUNT, "indexed": True},
        "job_title": {"type": "text", "label": L("Job title", "职位", "Cargo", "Posisyon")},
        "phone": {"type": "phone", "label": _PHONE},
        "mobile": {"type": "phone", "label": L("Mobile", "手机", "Móvil", "Mobile")},
        "email": {"type": "email", "label": _EMAIL},
        "preferred_channel": {
            "type": "enum",
            "label": L(
                "Preferred channel", "首选联系方式", "Canal preferido", "Gustong paraan ng pag-abot"
            ),
            "options": options(
                ("phone", "Phone", "电话", "Teléfono", "Telepono"),
                ("email", "Email", "电子邮件", "Correo electrónico", "Email"),
                ("im", "Instant messaging", "即时通讯", "Mensajería instantánea", "Chat"),
                ("visit", "Visit", "拜访", "Visita", "Pagbisita"),
            ),
        },
        "do_not_email": {
            "type": "boolean",
            "label": L("Do not email", "请勿发邮件", "No enviar correos", "Huwag mag-email"),
        },
        "do_not_call": {
            "type": "boolean",
            "label": L("Do not call", "请勿来电", "No llamar", "Huwag tumawag"),
        },
        "owner": {"type": "user", "label": _OWNER},
    },
}

_LEAD_ENTITY: dict[str, Any] = {
    "label": L("Lead", "线索", "Cliente potencial", "Lead"),
    "plural_label": L("Leads", "线索", "Clientes potenciales", "Mga lead"),
    "plural": "leads",
    "title_field": "name",
    "fields": {
        "name": {"type": "text", "label": _NAME, "required": True, "indexed": True},
        "company": {"type": "text", "label": L("Company", "公司", "Empresa", "Kumpanya")},
        "phone": {"type": "phone", "label": _PHONE},
        "email": {"type": "email", "label": _EMAIL},
        "source": {
            "type": "enum",
            "label": L("Source", "来源", "Origen", "Pinagmulan"),
            "options": SOURCES,
        },
        "status": {
            "type": "enum",
            "label": L("Status", "状态", "Estado", "Katayuan"),
            "indexed": True,
            "default": "new",
            "options": options(
                ("new", "New", "新建", "Nuevo", "Bago"),
                ("working", "Working", "跟进中", "En curso", "Inaasikaso"),
                ("qualified", "Qualified", "已确认", "Cualificado", "Kwalipikado"),
                ("disqualified", "Disqualified", "已排除", "Descartado", "Hindi kwalipikado"),
            ),
        },
        "owner": {"type": "user", "label": _OWNER, "indexed": True},
        "notes": {"type": "long_text", "label": _NOTES},
    },
}

_OPPORTUNITY_ENTITY: dict[str, Any] = {
    "label": L("Opportunity", "商机", "Oportunidad", "Oportunidad"),
    "plural_label": L("Opportunities", "商机", "Oportunidades", "Mga oportunidad"),
    "plural": "opportunities",
    "title_field": "name",
    "fields": {
        "name": {"type": "text", "label": _NAME, "required": True},
        "account": {"type": "relation", "target": "account", "label": _ACCOUNT, "indexed": True},
        "stage": {
            "type": "enum",
            "label": L("Stage", "阶段", "Etapa", "Yugto"),
            "indexed": True,
            "default": "prospecting",
            "options": options(
                ("prospecting", "Prospecting", "初步接洽", "Prospección", "Paghahanap"),
                ("qualification", "Qualification", "需求确认", "Cualificación", "Pagkwalipika"),
                ("proposal", "Proposal", "方案报价", "Propuesta", "Panukala"),
                ("negotiation", "Negotiation", "商务谈判", "Negociación", "Negosasyon"),
                ("closed_won", "Closed won", "赢单", "Ganada", "Nakuha"),
                ("closed_lost", "Closed lost", "输单", "Perdida", "Hindi nakuha"),
            ),
        },
        "probability": {
            "type": "percent",
            "label": L("Probability", "赢率", "Probabilidad", "Probabilidad"),
            "min": 0,
            "max": 100,
        },
        "amount": {"type": "money", "label": L("Amount", "金额", "Importe", "Halaga")},
        "close_date": {
            "type": "date",
            "label": L("Close date", "预计成交日期", "Fecha de cierre", "Petsa ng pagsasara"),
            "indexed": True,
        },
        "owner": {"type": "user", "label": _OWNER},
        "lost_reason": {
            "type": "text",
            "label": L("Lost reason", "输单原因", "Motivo de pérdida", "Dahilan ng pagkawala"),
        },
    },
}

_ACTIVITY_ENTITY: dict[str, Any] = {
    "label": L("Activity", "活动", "Actividad", "Aktibidad"),
    "plural_label": L("Activities", "活动", "Actividades", "Mga aktibidad"),
    "plural": "activities",
    "title_field": "subject",
    "fields": {
        "subject": {
            "type": "text",
            "label": L("Subject", "主题", "Asunto", "Paksa"),
            "required": True,
        },
        "kind": {
            "type": "enum",
            "label": L("Kind", "类型", "Tipo", "Uri"),
            "required": True,
            "options": options(
                ("call", "Call", "电话", "Llamada", "Tawag"),
                ("email", "Email", "邮件", "Correo electrónico", "Email"),
                ("visit", "Visit", "拜访", "Visita", "Pagbisita"),
                ("meeting", "Meeting", "会议", "Reunión", "Pulong"),
                ("im", "Instant message", "即时消息", "Mensaje instantáneo", "Chat"),
                ("task", "Task", "任务", "Tarea", "Gawain"),
            ),
        },
        "due_at": {
            "type": "datetime",
            "label": L("Due at", "到期时间", "Vence el", "Takdang oras"),
            "indexed": True,
        },
        "done": {"type": "boolean", "label": L("Done", "已完成", "Hecho", "Tapos na")},
        "account": {"type": "relation", "target": "account", "label": _ACCOUNT, "indexed": True},
        "contact": {
            "type": "relation",
            "target": "contact",
            "label": L("Contact", "联系人", "Contacto", "Contact"),
        },
        "owner": {"type": "user", "label": _OWNER, "indexed": True},
        "notes": {"type": "long_text", "label": _NOTES},
    },
}

ENTITIES: dict[str, dict[str, Any]] = {
    "account": _ACCOUNT_ENTITY,
    "contact": _CONTACT_ENTITY,
    "lead": _LEAD_ENTITY,
    "opportunity": _OPPORTUNITY_ENTITY,
    "activity": _ACTIVITY_ENTITY,
}
