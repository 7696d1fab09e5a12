"""Entities every tenant has, whatever plugins it enables.

``task``: reminders and to-dos. Automations create them (``create_task``),
timers schedule them, and the GraphQL ``myTasks`` query answers "due today /
tomorrow / overdue" for the caller. A tenant may add fields and relabel it
like a plugin entity.

``saved_view``: a user's named filter and sort of one list screen. Each user
manages only their own, through ``myViews`` / ``saveMyView`` /
``deleteMyView`` (see :mod:`core.graphql.saved_views`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CORE_ENTITIES", "PERSONAL_ENTITIES"]

#: Built-in entities that hold users' own settings rather than business records.
PERSONAL_ENTITIES = frozenset({"saved_view"})

CORE_ENTITIES: dict[str, dict[str, Any]] = {
    "task": {
        "label": {"en": "Task", "zh-CN": "任务", "es-ES": "Tarea", "tl-PH": "Gawain"},
        "plural_label": {"en": "Tasks", "zh-CN": "任务", "es-ES": "Tareas", "tl-PH": "Mga gawain"},
        "plural": "tasks",
        "title_field": "subject",
        "fields": {
            "subject": {
                "type": "text",
                "label": {"en": "Subject", "zh-CN": "主题", "es-ES": "Asunto", "tl-PH": "Paksa"},
                "required": True,
                "max_length": 300,
            },
            "due_at": {
                "type": "datetime",
                "label": {
                    "en": "Due",
                    "zh-CN": "到期时间",
                    "es-ES": "Vence",
                    "tl-PH": "Takdang oras",
                },
                "indexed": True,
            },
            "done": {
                "type": "boolean",
                "label": {"en": "Done", "zh-CN": "已完成", "es-ES": "Hecha", "tl-PH": "Tapos na"},
                "indexed": True,
                "default": False,
            },
            "owner": {
                "type": "user",
                "label": {
                    "en": "Assigned to",
                    "zh-CN": "负责人",
                    "es-ES": "Asignada a",
                    "tl-PH": "Nakatalaga kay",
                },
                "indexed": True,
            },
            "related_entity": {
                "type": "text",
                "label": {
                    "en": "Related to (type)",
                    "zh-CN": "关联类型",
                    "es-ES": "Relacionada con (tipo)",
                    "tl-PH": "Kaugnay na uri",
                },
                "max_length": 63,
            },
            "related_id": {
                "type": "text",
                "label": {
                    "en": "Related record",
                    "zh-CN": "关联记录",
                    "es-ES": "Registro relacionado",
                    "tl-PH": "Kaugnay na rekord",
                },
                "indexed": True,
                "max_length": 64,
            },
            "source": {
                "type": "text",
                "label": {
                    "en": "Created by rule",
                    "zh-CN": "来源规则",
                    "es-ES": "Origen",
                    "tl-PH": "Pinagmulan",
                },
                "max_length": 127,
            },
            "notes": {
                "type": "long_text",
                "label": {"en": "Notes", "zh-CN": "备注", "es-ES": "Notas", "tl-PH": "Mga tala"},
            },
        },
    },
    "saved_view": {
        "internal": True,
        "label": {
            "en": "Saved view",
            "zh-CN": "已保存视图",
            "es-ES": "Vista guardada",
            "tl-PH": "Naka-save na view",
        },
        "plural_label": {
            "en": "Saved views",
            "zh-CN": "已保存视图",
            "es-ES": "Vistas guardadas",
            "tl-PH": "Mga naka-save na view",
        },
        "plural": "saved_views",
        "title_field": "name",
        "fields": {
            "name": {
                "type": "text",
                "label": {"en": "Name", "zh-CN": "名称", "es-ES": "Nombre", "tl-PH": "Pangalan"},
                "required": True,
                "max_length": 100,
            },
            "list_entity": {
                "type": "text",
                "label": {
                    "en": "List of",
                    "zh-CN": "列表",
                    "es-ES": "Lista de",
                    "tl-PH": "Listahan ng",
                },
                "required": True,
                "indexed": True,
                "max_length": 63,
            },
            "definition": {
                "type": "long_text",
                "label": {
                    "en": "Filters and sort (JSON)",
                    "zh-CN": "筛选与排序（JSON）",
                    "es-ES": "Filtros y orden (JSON)",
                    "tl-PH": "Mga salain at ayos (JSON)",
                },
                "max_length": 20000,
            },
            "owner": {
                "type": "user",
                "label": {
                    "en": "Owner",
                    "zh-CN": "所有者",
                    "es-ES": "Propietario",
                    "tl-PH": "May-ari",
                },
                "indexed": True,
            },
        },
    },
}
