"""Entities of the service plugin: cases and knowledge-base articles."""

from __future__ import annotations

from typing import Any

from plugins import labels as L
from plugins import options

__all__ = ["ENTITIES"]

_CASE_ENTITY: dict[str, Any] = {
    "label": L("Case", "服务工单", "Caso", "Kaso"),
    "plural_label": L("Cases", "服务工单", "Casos", "Mga kaso"),
    "plural": "cases",
    "title_field": "subject",
    "fields": {
        "subject": {
            "type": "text",
            "label": L("Subject", "主题", "Asunto", "Paksa"),
            "required": True,
        },
        "account": {
            "type": "relation",
            "target": "account",
            "label": L("Account", "客户", "Cuenta", "Account"),
            "indexed": True,
        },
        "contact": {
            "type": "relation",
            "target": "contact",
            "label": L("Contact", "联系人", "Contacto", "Contact"),
        },
        "channel": {
            "type": "enum",
            "label": L("Channel", "渠道", "Canal", "Daluyan"),
            "options": options(
                ("phone", "Phone", "电话", "Teléfono", "Telepono"),
                ("email", "Email", "电子邮件", "Correo electrónico", "Email"),
                ("web", "Web", "网站", "Web", "Web"),
                ("chat", "Chat", "在线聊天", "Chat", "Chat"),
                ("visit", "Visit", "上门", "Visita", "Pagbisita"),
            ),
        },
        "priority": {
            "type": "enum",
            "label": L("Priority", "优先级", "Prioridad", "Prayoridad"),
            "default": "normal",
            "options": options(
                ("low", "Low", "低", "Baja", "Mababa"),
                ("normal", "Normal", "普通", "Normal", "Karaniwan"),
                ("high", "High", "高", "Alta", "Mataas"),
                ("urgent", "Urgent", "紧急", "Urgente", "Madalian"),
            ),
        },
        "status": {
            "type": "enum",
            "label": L("Status", "状态", "Estado", "Katayuan"),
            "indexed": True,
            "default": "new",
            "options": options(
                ("new", "New", "新建", "Nuevo", "Bago"),
                ("in_progress", "In progress", "处理中", "En curso", "Inaasikaso"),
                ("waiting", "Waiting", "等待中", "En espera", "Naghihintay"),
                ("resolved", "Resolved", "已解决", "Resuelto", "Nalutas"),
                ("closed", "Closed", "已关闭", "Cerrado", "Sarado"),
            ),
        },
        "description": {
            "type": "long_text",
            "label": L("Description", "描述", "Descripción", "Paglalarawan"),
        },
        "owner": {
            "type": "user",
            "label": L("Owner", "负责人", "Responsable", "May-ari"),
            "indexed": True,
        },
    },
}

_KB_ARTICLE_ENTITY: dict[str, Any] = {
    "label": L(
        "Knowledge article", "知识库文章", "Artículo de conocimiento", "Artikulo ng kaalaman"
    ),
    "plural_label": L(
        "Knowledge articles",
        "知识库文章",
        "Artículos de conocimiento",
        "Mga artikulo ng kaalaman",
    ),
    "plural": "kb_articles",
    "title_field": "title",
    "fields": {
        "title": {
            "type": "text",
            "label": L("Title", "标题", "Título", "Pamagat"),
            "required": True,
            "indexed": True,
        },
        "problem": {
            "type": "long_text",
            "label": L("Problem", "问题", "Problema", "Problema"),
        },
        "solution": {
            "type": "long_text",
            "label": L("Solution", "解决方案", "Solución", "Solusyon"),
        },
        "keywords": {
            "type": "text",
            "label": L("Keywords", "关键词", "Palabras clave", "Mga keyword"),
        },
    },
}

ENTITIES: dict[str, dict[str, Any]] = {
    "case": _CASE_ENTITY,
    "kb_article": _KB_ARTICLE_ENTITY,
}
