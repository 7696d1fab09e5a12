"""Entities every tenant has, whatever plugins it enables.

``task``: reminders and to-dos. Automations create them (``create_task``),
timers schedule them, and the GraphQL ``myTasks`` query answers "due today /
tomorrow / overdue" for the caller. A tenant may add fields and relabel it
like a plugin entity.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CORE_ENTITIES"]

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
    }
}
