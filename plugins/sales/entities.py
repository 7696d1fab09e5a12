"""Entities of the sales plugin: accounts, contacts, leads, opportunities, activities."""

from __future__ import annotations

from typing import Any

from plugins import labels as L
from plugins import options

__all__ = ["CHANNELS", "ENTITIES"]

_NAME = L("Name", "名称", "Nombre", "Pangalan")
_PHONE = L("Phone", "电话", "Teléfono", "Telepono")
_EMAIL = L("Email", "电子邮件", "Correo electrónico", "Email")
_OWNER = L("Owner", "负责人", "Responsable", "May-ari")
_NOTES = L("Notes", "备注", "Notas", "Mga tala")
_ACCOUNT = L("Account", "客户", "Cuenta", "Account")
_TERRITORY = {"type": "text", "label": L("Territory", "区域", "Territorio", "Teritoryo")}

#: Channels a contact can be reached on; a contact may refuse any of them.
CHANNELS = options(
    ("email", "Email", "电子邮件", "Correo electrónico", "Email"),
    ("phone", "Phone", "电话", "Teléfono", "Telepono"),
    ("sms", "SMS", "短信", "SMS", "SMS"),
    ("im", "Instant messaging", "即时通讯", "Mensajería instantánea", "Chat"),
    ("visit", "Visit", "拜访", "Visita", "Pagbisita"),
    ("mail", "Post", "邮寄", "Correo postal", "Koreo"),
)


def _possible_duplicates(target: str) -> dict[str, Any]:
    """Set by the duplicate check (mode ``warn``): records this one may duplicate."""
    return {
        "type": "relation_list",
        "target": target,
        "read_only": True,
        "label": L("Possible duplicates", "疑似重复", "Posibles duplicados", "Posibleng doble"),
        "help": L(
            "Found by the duplicate check when the record was saved.",
            "保存时查重发现的相似记录。",
            "Encontrados por la comprobación de duplicados al guardar.",
            "Nakita ng pagsusuri ng doble nang i-save ang record.",
        ),
    }


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
        "territory": _TERRITORY,
        "credit_limit": {
            "type": "money",
            "label": L("Credit limit", "信用额度", "Límite de crédito", "Limitasyon ng kredito"),
        },
        "phone": {"type": "phone", "label": _PHONE},
        "email": {"type": "email", "label": _EMAIL},
        "website": {"type": "url", "label": L("Website", "网站", "Sitio web", "Website")},
        "address": {"type": "address", "label": L("Address", "地址", "Dirección", "Tirahan")},
        "notes": {"type": "long_text", "label": _NOTES},
        "possible_duplicates": _possible_duplicates("account"),
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
        "refused_channels": {
            "type": "multi_enum",
            "label": L(
                "Refused channels", "拒绝的联系方式", "Canales rechazados", "Tinanggihang paraan"
            ),
            "help": L(
                "Automations never send messages on these channels.",
                "自动化规则不会通过这些方式发送消息。",
                "Las automatizaciones nunca envían mensajes por estos canales.",
                "Hindi magpapadala ang mga automation sa mga paraang ito.",
            ),
            "options": CHANNELS,
        },
        "owner": {"type": "user", "label": _OWNER},
        "possible_duplicates": _possible_duplicates("contact"),
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
                ("converted", "Converted", "已转化", "Convertido", "Na-convert"),
            ),
        },
        "owner": {"type": "user", "label": _OWNER, "indexed": True},
        "territory": _TERRITORY,
        "notes": {"type": "long_text", "label": _NOTES},
        "matched_account": {
            "type": "relation",
            "target": "account",
            "read_only": True,
            "label": L("Matched account", "匹配的客户", "Cuenta coincidente", "Katugmang account"),
            "help": L(
                "An existing account the duplicate check found for this lead's company; "
                "conversion reuses it.",
                "查重发现的与该线索公司相同的现有客户；转化时将直接使用。",
                "Cuenta existente que coincide con la empresa del cliente potencial; "
                "la conversión la reutiliza.",
                "Umiiral na account na tugma sa kumpanya ng lead; gagamitin ito sa pag-convert.",
            ),
        },
        "possible_duplicates": _possible_duplicates("lead"),
        "converted_account": {
            "type": "relation",
            "target": "account",
            "read_only": True,
            "label": L(
                "Converted account", "转化的客户", "Cuenta convertida", "Na-convert na account"
            ),
        },
        "converted_contact": {
            "type": "relation",
            "target": "contact",
            "read_only": True,
            "label": L(
                "Converted contact", "转化的联系人", "Contacto convertido", "Na-convert na contact"
            ),
        },
        "converted_opportunity": {
            "type": "relation",
            "target": "opportunity",
            "read_only": True,
            "label": L(
                "Converted opportunity",
                "转化的商机",
                "Oportunidad convertida",
                "Na-convert na oportunidad",
            ),
        },
        "converted_at": {
            "type": "datetime",
            "read_only": True,
            "label": L("Converted at", "转化时间", "Convertido el", "Na-convert noong"),
        },
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
            "help": L(
                "Required when the opportunity is lost.",
                "输单时必填。",
                "Obligatorio cuando la oportunidad se pierde.",
                "Kailangan kapag hindi nakuha ang oportunidad.",
            ),
        },
        "pipeline": {
            "type": "enum",
            "label": L("Pipeline", "销售流程", "Embudo", "Pipeline"),
            "help": L(
                "Its stages and their probabilities are set in settings.sales.pipelines.",
                "各阶段及赢率在 settings.sales.pipelines 中配置。",
                "Sus etapas y probabilidades se fijan en settings.sales.pipelines.",
                "Ang mga yugto at probabilidad ay nasa settings.sales.pipelines.",
            ),
            "default": "default",
            "options": options(("default", "Sales", "销售", "Ventas", "Benta")),
        },
        "contact": {
            "type": "relation",
            "target": "contact",
            "label": L("Contact", "联系人", "Contacto", "Contact"),
        },
        "lead": {
            "type": "relation",
            "target": "lead",
            "label": L("Lead", "线索", "Cliente potencial", "Lead"),
        },
        "closed_on": {
            "type": "date",
            "read_only": True,
            "label": L("Closed on", "成交/输单日期", "Cerrada el", "Isinara noong"),
            "help": L(
                "Set when the opportunity reaches a won or lost stage.",
                "商机进入赢单或输单阶段时自动填写。",
                "Se fija al llegar a una etapa ganada o perdida.",
                "Itinatakda kapag umabot sa yugtong nakuha o hindi nakuha.",
            ),
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
        "opportunity": {
            "type": "relation",
            "target": "opportunity",
            "label": L("Opportunity", "商机", "Oportunidad", "Oportunidad"),
        },
        "owner": {"type": "user", "label": _OWNER, "indexed": True},
        "notes": {"type": "long_text", "label": _NOTES},
    },
}

#: One row per (record, key): the stored, indexed normalised keys the duplicate check
#: looks candidates up by (D1's value-index idea), so a check never scans every record.
_MATCH_KEY_ENTITY: dict[str, Any] = {
    "label": L("Duplicate-check key", "查重索引键", "Clave de duplicados", "Susi ng pagsusuri"),
    "plural_label": L(
        "Duplicate-check keys", "查重索引键", "Claves de duplicados", "Mga susi ng pagsusuri"
    ),
    "plural": "match_keys",
    "internal": True,
    "title_field": "key",
    "description": L(
        "Maintained by the sales plugin; not edited by hand.",
        "由销售插件维护，无需手工编辑。",
        "Las mantiene el complemento de ventas; no se editan a mano.",
        "Pinapanatili ng sales plugin; hindi ine-edit nang mano-mano.",
    ),
    "fields": {
        "target": {
            "type": "text",
            "label": L("Entity", "实体", "Entidad", "Entity"),
            "required": True,
            "indexed": True,
        },
        "record": {
            "type": "text",
            "label": L("Record", "记录", "Registro", "Record"),
            "required": True,
            "indexed": True,
        },
        "key": {
            "type": "text",
            "label": L("Key", "键", "Clave", "Susi"),
            "required": True,
            "indexed": True,
        },
    },
}

#: The position of each round-robin rule; updated with a version check so concurrent
#: creates take turns instead of picking the same user.
_ASSIGNMENT_CURSOR_ENTITY: dict[str, Any] = {
    "label": L("Assignment position", "分配位置", "Posición de reparto", "Posisyon ng pagtatalaga"),
    "plural_label": L(
        "Assignment positions", "分配位置", "Posiciones de reparto", "Mga posisyon ng pagtatalaga"
    ),
    "plural": "assignment_cursors",
    "internal": True,
    "title_field": "rule",
    "fields": {
        "rule": {
            "type": "text",
            "label": L("Rule", "规则", "Regla", "Tuntunin"),
            "required": True,
            "unique": True,
        },
        "position": {
            "type": "integer",
            "label": L("Position", "位置", "Posición", "Posisyon"),
            "default": 0,
        },
    },
}

ENTITIES: dict[str, dict[str, Any]] = {
    "account": _ACCOUNT_ENTITY,
    "contact": _CONTACT_ENTITY,
    "lead": _LEAD_ENTITY,
    "opportunity": _OPPORTUNITY_ENTITY,
    "activity": _ACTIVITY_ENTITY,
    "match_key": _MATCH_KEY_ENTITY,
    "assignment_cursor": _ASSIGNMENT_CURSOR_ENTITY,
}
