"""Processes as data (D6): the tenant config's workflows, automations, timers and rules.

``build_processes`` turns those sections of a tenant config into immutable
definitions with every CEL expression compiled, once per ``TenantModel``.
Every mistake an implementer can make (an unknown state, a transition from a
final state, a timer on a text field, a guard that is not boolean, a literal
value of the wrong type) is a located :class:`~core.errors.Problem` with a
JSON pointer into the config, so ``crm tenant validate`` reports it instead
of a write failing later.

Expressions of processes see the record variables of computed fields
(``record``, ``previous``, ``user``, ``now``, ``today``) plus ``related``: the
records that the record's relation fields point to (``related.account.credit_limit``),
loaded only when an expression reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from core.errors import Problem
from core.expressions import Expression, compile_expression, record_variables
from core.expressions.checker import VarType
from core.expressions.values import SYSTEM_TYPES
from core.metadata import freeze

if TYPE_CHECKING:
    from core.metadata import EntityDef, Labels, TenantModel

__all__ = [
    "ALL_FIELDS",
    "Action",
    "Approval",
    "ApprovalStep",
    "Automation",
    "FormRequirement",
    "Offset",
    "Processes",
    "Rule",
    "State",
    "TimerDef",
    "Transition",
    "Workflow",
    "build_processes",
    "process_variables",
]

#: ``read_only: "*"`` — every field of the record.
ALL_FIELDS = "*"
DEFAULT_AUTOMATION_DEPTH = 5
_DATE_TYPES = frozenset({"date", "datetime"})
#: Field value type -> the CEL result type an expression for it must have.
_RESULT_FOR: Mapping[str, str] = {
    "text": "text",
    "long_text": "text",
    "email": "text",
    "phone": "text",
    "url": "text",
    "enum": "text",
    "relation": "text",
    "user": "text",
    "integer": "integer",
    "decimal": "decimal",
    "percent": "decimal",
    "money": "decimal",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}


@dataclass(frozen=True, slots=True)
class Offset:
    amount: int
    unit: str  # minutes | hours | days | business_days
    at: time | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    expression: Expression
    message: Labels
    field: str | None
    on: frozenset[str]
    pointer: str


@dataclass(frozen=True, slots=True)
class FormRequirement:
    """A form field required while ``required_when`` holds (and it is shown).

    The screens evaluate the same rules live; the service enforces them on every
    write, so an API client cannot skip what the form asks for.
    """

    field: str
    required_when: Expression
    visible_when: Expression | None
    pointer: str


@dataclass(frozen=True, slots=True)
class State:
    key: str
    label: Labels
    initial: bool = False
    final: bool = False
    read_only: frozenset[str] | str = frozenset()

    def locks(self, field_key: str) -> bool:
        return self.read_only == ALL_FIELDS or field_key in self.read_only


@dataclass(frozen=True, slots=True)
class ApprovalStep:
    key: str
    label: Labels
    roles: tuple[str, ...]
    manager_of: str | None
    mode: str  # any | all


@dataclass(frozen=True, slots=True)
class Approval:
    steps: tuple[ApprovalStep, ...]
    when: Expression | None = None
    pending_state: str | None = None
    reject_to: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """One action of a transition or automation; ``spec`` is its config object."""

    type: str
    spec: Mapping[str, Any]
    pointer: str
    #: Compiled ``expressions`` (field -> expression), evaluated on the triggering record.
    expressions: Mapping[str, Expression] = field(default_factory=dict)
    #: Literal ``values`` already checked against the target entity's fields.
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transition:
    key: str
    label: Labels
    sources: frozenset[str] | None  # None: any non-final state
    to: str
    guard: Expression | None
    guard_message: Labels
    roles: tuple[str, ...]
    required_fields: tuple[str, ...]
    comment_required: bool
    approval: Approval | None
    actions: tuple[Action, ...]

    def leaves(self, state: str | None, workflow: Workflow) -> bool:
        if state is None or state not in workflow.states:
            return self.sources is None
        if self.sources is None:
            return not workflow.states[state].final
        return state in self.sources


@dataclass(frozen=True, slots=True)
class Workflow:
    key: str
    label: Labels
    entity: str
    field: str
    states: Mapping[str, State]
    transitions: Mapping[str, Transition]
    initial: str


@dataclass(frozen=True, slots=True)
class Automation:
    key: str
    label: Labels
    entity: str
    event: str
    when: Expression | None
    actions: tuple[Action, ...]
    fields: frozenset[str] = frozenset()
    transition: str | None = None
    to: str | None = None
    timer: str | None = None


@dataclass(frozen=True, slots=True)
class TimerDef:
    key: str
    label: Labels
    entity: str
    field: str | None
    offset: Offset


@dataclass(frozen=True, slots=True)
class Processes:
    """Everything process-related of one tenant model, compiled."""

    workflows: Mapping[str, Workflow] = field(default_factory=dict)
    automations: Mapping[str, Automation] = field(default_factory=dict)
    timers: Mapping[str, TimerDef] = field(default_factory=dict)
    rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    requirements: Mapping[str, tuple[FormRequirement, ...]] = field(default_factory=dict)
    automation_depth: int = DEFAULT_AUTOMATION_DEPTH

    def workflow_of(self, entity: str) -> Workflow | None:
        for wf in self.workflows.values():
            if wf.entity == entity:
                return wf
        return None

    def automations_for(self, entity: str, event: str) -> list[Automation]:
        return [a for a in self.automations.values() if a.entity == entity and a.event == event]

    def field_timers(self, entity: str) -> list[TimerDef]:
        return [t for t in self.timers.values() if t.entity == entity and t.field is not None]


EMPTY = Processes()


def process_variables(model: TenantModel, entity: EntityDef) -> dict[str, VarType]:
    """Record variables plus ``related.<relation field>`` -> the target record's fields."""
    variables = record_variables(entity)
    related: dict[str, VarType] = {}
    for key, f in entity.fields.items():
        target = model.entities.get(f.target or "")
        if f.value_type == "relation" and target is not None:
            fields: dict[str, VarType] = {k: tf.value_type for k, tf in target.fields.items()}
            fields.update(SYSTEM_TYPES)
            related[key] = fields
    variables["related"] = related
    return variables


class _Builder:
    def __init__(self, model: TenantModel, file: str | None) -> None:
        self.model = model
        self.cfg = model.config
        self.file = file
        self.problems: list[Problem] = []
        self._variables: dict[str, dict[str, VarType]] = {}
        self.timer_defs: Mapping[str, TimerDef] = {}

    def add(self, code: str, message: str, pointer: str) -> None:
        self.problems.append(Problem(code, message, pointer, self.file))

    def entity(self, key: Any, pointer: str) -> EntityDef | None:
        found = self.model.entities.get(str(key))
        if found is None:
            self.add("ENTITY_UNKNOWN", f"'{key}' is not an entity of this tenant", pointer)
        return found

    def compile(
        self, source: Any, entity: EntityDef, pointer: str, result: str | None = "boolean"
    ) -> Expression | None:
        if source is None:
            return None
        variables = self._variables.get(entity.key)
        if variables is None:
            variables = self._variables[entity.key] = process_variables(self.model, entity)
        expr, problems = compile_expression(
            str(source), variables=variables, pointer=pointer, result=result
        )
        self.problems.extend(Problem(p.code, p.message, p.path, self.file) for p in problems)
        return expr

    def fields_exist(self, entity: EntityDef, keys: Iterable[Any], pointer: str) -> None:
        for i, key in enumerate(keys):
            if key not in entity.fields:
                self.add("FIELD_UNKNOWN", f"'{entity.key}' has no field '{key}'", f"{pointer}/{i}")

    def roles_exist(self, roles: Iterable[Any], pointer: str) -> None:
        for i, role in enumerate(roles):
            if role not in self.model.roles and role != "admin":
                known = ", ".join(sorted(self.model.roles)) or "none"
                self.add(
                    "ROLE_UNKNOWN",
                    f"role '{role}' is not defined (roles: {known})",
                    f"{pointer}/{i}",
                )

    # -- the sections ---------------------------------------------------------

    def build(self) -> Processes:
        timers = self.timer_defs = self.timers()
        workflows = self.workflows()
        automations = self.automations(workflows, timers)
        rules = self.rules()
        requirements = self.requirements()
        limits = self.cfg.get("limits") or {}
        depth = int(limits.get("automation_depth") or DEFAULT_AUTOMATION_DEPTH)
        return Processes(
            workflows=MappingProxyType(workflows),
            automations=MappingProxyType(automations),
            timers=MappingProxyType(timers),
            rules=MappingProxyType(rules),
            requirements=MappingProxyType(requirements),
            automation_depth=depth,
        )

    def offset(self, spec: Mapping[str, Any], pointer: str) -> Offset:
        at: time | None = None
        unit = str(spec.get("unit"))
        if spec.get("at") is not None:
            if unit not in ("days", "business_days"):
                self.add(
                    "OFFSET_AT_UNIT",
                    "'at' (a time of day) applies only to days and business_days",
                    f"{pointer}/at",
                )
            hours, minutes = str(spec["at"]).split(":")
            at = time(int(hours), int(minutes))
        return Offset(int(spec.get("amount", 0)), unit, at)

    def timers(self) -> dict[str, TimerDef]:
        out: dict[str, TimerDef] = {}
        for key, spec in (self.cfg.get("timers") or {}).items():
            ptr = f"/timers/{key}"
            entity = self.entity(spec.get("entity"), f"{ptr}/entity")
            if entity is None:
                continue
            fkey = spec.get("field")
            if fkey is not None:
                f = entity.fields.get(fkey)
                if f is None:
                    self.add(
                        "FIELD_UNKNOWN", f"'{entity.key}' has no field '{fkey}'", f"{ptr}/field"
                    )
                elif f.value_type not in _DATE_TYPES:
                    self.add(
                        "TIMER_FIELD_TYPE",
                        f"a timer runs from a date or datetime field; '{fkey}' is {f.value_type}",
                        f"{ptr}/field",
                    )
            out[key] = TimerDef(
                key=key,
                label=freeze(dict(spec.get("label") or {"en": key})),
                entity=entity.key,
                field=fkey,
                offset=self.offset(spec.get("offset") or {}, f"{ptr}/offset"),
            )
        return out

    def workflows(self) -> dict[str, Workflow]:
        out: dict[str, Workflow] = {}
        claimed: dict[str, str] = {}
        for key, spec in (self.cfg.get("workflows") or {}).items():
            ptr = f"/workflows/{key}"
            entity = self.entity(spec.get("entity"), f"{ptr}/entity")
            if entity is None:
                continue
            if entity.key in claimed:
                self.add(
                    "WORKFLOW_DUPLICATE",
                    f"'{entity.key}' already has workflow '{claimed[entity.key]}'; "
                    "an entity has at most one",
                    f"{ptr}/entity",
                )
                continue
            claimed[entity.key] = key
            wf = self.workflow(key, spec, entity, ptr)
            if wf is not None:
                out[key] = wf
        return out

    def workflow(
        self, key: str, spec: Mapping[str, Any], entity: EntityDef, ptr: str
    ) -> Workflow | None:
        fkey = str(spec.get("field"))
        status = entity.fields.get(fkey)
        if status is None:
            self.add("FIELD_UNKNOWN", f"'{entity.key}' has no field '{fkey}'", f"{ptr}/field")
            return None
        if status.value_type != "enum":
            self.add(
                "WORKFLOW_FIELD_TYPE",
                f"a workflow runs on an enum field; '{fkey}' is {status.value_type}",
                f"{ptr}/field",
            )
            return None
        options = {o.value: o for o in status.options}
        states: dict[str, State] = {}
        for skey, sspec in (spec.get("states") or {}).items():
            sptr = f"{ptr}/states/{skey}"
            if skey not in options:
                self.add(
                    "STATE_UNKNOWN",
                    f"state '{skey}' is not an option of '{entity.key}.{fkey}' "
                    f"(options: {', '.join(options)})",
                    sptr,
                )
                continue
            read_only = sspec.get("read_only", ())
            if read_only != ALL_FIELDS:
                self.fields_exist(entity, read_only, f"{sptr}/read_only")
            label = sspec.get("label") or options[skey].label
            states[skey] = State(
                key=skey,
                label=freeze(dict(label)),
                initial=bool(sspec.get("initial", False)),
                final=bool(sspec.get("final", False)),
                read_only=ALL_FIELDS if read_only == ALL_FIELDS else frozenset(read_only),
            )
        initial = [s.key for s in states.values() if s.initial]
        if len(initial) != 1:
            self.add(
                "WORKFLOW_INITIAL",
                f"exactly one state must be initial; found {len(initial)}",
                f"{ptr}/states",
            )

        def known_state(state: Any, pointer: str) -> bool:
            if state not in states:
                self.add("STATE_UNKNOWN", f"'{state}' is not a state of workflow '{key}'", pointer)
                return False
            return True

        transitions: dict[str, Transition] = {}
        for tkey, tspec in (spec.get("transitions") or {}).items():
            tptr = f"{ptr}/transitions/{tkey}"
            sources_spec = tspec.get("from")
            sources: frozenset[str] | None = None
            if sources_spec != ALL_FIELDS:
                sources = frozenset(str(s) for s in sources_spec or ())
                for i, s in enumerate(sources_spec or ()):
                    if known_state(s, f"{tptr}/from/{i}") and states[s].final:
                        self.add(
                            "TRANSITION_FROM_FINAL",
                            f"'{s}' is a final state; no transition may leave it",
                            f"{tptr}/from/{i}",
                        )
            to = str(tspec.get("to"))
            known_state(to, f"{tptr}/to")
            self.roles_exist(tspec.get("roles") or (), f"{tptr}/roles")
            self.fields_exist(entity, tspec.get("required_fields") or (), f"{tptr}/required_fields")
            approval = None
            if tspec.get("approval") is not None:
                approval = self.approval(tspec["approval"], entity, f"{tptr}/approval", known_state)
            transitions[tkey] = Transition(
                key=tkey,
                label=freeze(dict(tspec.get("label") or {"en": tkey})),
                sources=sources,
                to=to,
                guard=self.compile(tspec.get("guard"), entity, f"{tptr}/guard"),
                guard_message=freeze(dict(tspec.get("guard_message") or {})),
                roles=tuple(tspec.get("roles") or ()),
                required_fields=tuple(tspec.get("required_fields") or ()),
                comment_required=bool(tspec.get("comment_required", False)),
                approval=approval,
                actions=(),
            )
        wf = Workflow(
            key=key,
            label=freeze(dict(spec.get("label") or {"en": key})),
            entity=entity.key,
            field=fkey,
            states=MappingProxyType(states),
            transitions=MappingProxyType(transitions),
            initial=initial[0] if initial else next(iter(states), ""),
        )
        # Actions are checked once the workflow exists (a transition action names it).
        with_actions = {
            tkey: _replace_actions(
                t,
                self.actions(
                    spec["transitions"][tkey].get("actions") or (),
                    entity,
                    f"{ptr}/transitions/{tkey}/actions",
                    wf,
                    None,
                ),
            )
            for tkey, t in transitions.items()
        }
        return Workflow(
            key=wf.key,
            label=wf.label,
            entity=wf.entity,
            field=wf.field,
            states=wf.states,
            transitions=MappingProxyType(with_actions),
            initial=wf.initial,
        )

    def approval(
        self, spec: Mapping[str, Any], entity: EntityDef, ptr: str, known_state: Any
    ) -> Approval:
        steps: list[ApprovalStep] = []
        seen: set[str] = set()
        for i, sspec in enumerate(spec.get("steps") or ()):
            sptr = f"{ptr}/steps/{i}"
            skey = str(sspec.get("key"))
            if skey in seen:
                self.add("STEP_DUPLICATE", f"step key '{skey}' is used twice", f"{sptr}/key")
            seen.add(skey)
            approvers = sspec.get("approvers") or {}
            self.roles_exist(approvers.get("roles") or (), f"{sptr}/approvers/roles")
            manager_of = approvers.get("manager_of")
            if manager_of is not None and manager_of not in ("created_by", "updated_by"):
                f = entity.fields.get(manager_of)
                if f is None or f.value_type != "user":
                    self.add(
                        "APPROVER_FIELD",
                        f"manager_of must name a user field of '{entity.key}' or created_by",
                        f"{sptr}/approvers/manager_of",
                    )
            steps.append(
                ApprovalStep(
                    key=skey,
                    label=freeze(dict(sspec.get("label") or {"en": skey})),
                    roles=tuple(approvers.get("roles") or ()),
                    manager_of=manager_of,
                    mode=str(sspec.get("mode") or "any"),
                )
            )
        for attr in ("pending_state", "reject_to"):
            if spec.get(attr) is not None:
                known_state(spec[attr], f"{ptr}/{attr}")
        return Approval(
            steps=tuple(steps),
            when=self.compile(spec.get("when"), entity, f"{ptr}/when"),
            pending_state=spec.get("pending_state"),
            reject_to=spec.get("reject_to"),
        )

    def automations(
        self, workflows: Mapping[str, Workflow], timers: Mapping[str, TimerDef]
    ) -> dict[str, Automation]:
        by_entity = {wf.entity: wf for wf in workflows.values()}
        out: dict[str, Automation] = {}
        for key, spec in (self.cfg.get("automations") or {}).items():
            ptr = f"/automations/{key}"
            if spec.get("enabled") is False:
                continue
            entity = self.entity(spec.get("entity"), f"{ptr}/entity")
            if entity is None:
                continue
            on = spec.get("on") or {}
            event = str(on.get("event"))
            wf = by_entity.get(entity.key)
            allowed = {
                "field_changed": {"fields"},
                "transitioned": {"transition", "to"},
                "timer": {"timer"},
            }.get(event, set())
            for extra in sorted(set(on) - {"event"} - allowed):
                self.add(
                    "TRIGGER_INVALID",
                    f"'{extra}' does not apply to the '{event}' event",
                    f"{ptr}/on/{extra}",
                )
            if event == "field_changed":
                if not on.get("fields"):
                    self.add("TRIGGER_INVALID", "field_changed needs 'fields'", f"{ptr}/on")
                self.fields_exist(entity, on.get("fields") or (), f"{ptr}/on/fields")
            if event == "transitioned":
                if wf is None:
                    self.add(
                        "WORKFLOW_MISSING",
                        f"'{entity.key}' has no workflow, so it never transitions",
                        f"{ptr}/on/event",
                    )
                else:
                    if on.get("transition") is not None and on["transition"] not in wf.transitions:
                        self.add(
                            "TRANSITION_UNKNOWN",
                            f"workflow '{wf.key}' has no transition '{on['transition']}'",
                            f"{ptr}/on/transition",
                        )
                    if on.get("to") is not None and on["to"] not in wf.states:
                        self.add(
                            "STATE_UNKNOWN",
                            f"'{on['to']}' is not a state of workflow '{wf.key}'",
                            f"{ptr}/on/to",
                        )
            if event == "timer":
                timer = timers.get(str(on.get("timer")))
                if timer is None:
                    self.add(
                        "TIMER_UNKNOWN",
                        f"timer '{on.get('timer')}' is not defined in 'timers'",
                        f"{ptr}/on/timer",
                    )
                elif timer.entity != entity.key:
                    self.add(
                        "TIMER_ENTITY",
                        f"timer '{timer.key}' runs on '{timer.entity}', not '{entity.key}'",
                        f"{ptr}/on/timer",
                    )
            out[key] = Automation(
                key=key,
                label=freeze(dict(spec.get("label") or {"en": key})),
                entity=entity.key,
                event=event,
                when=self.compile(spec.get("when"), entity, f"{ptr}/when"),
                actions=self.actions(spec.get("do") or (), entity, f"{ptr}/do", wf, timers),
                fields=frozenset(on.get("fields") or ()),
                transition=on.get("transition"),
                to=on.get("to"),
                timer=on.get("timer"),
            )
        return out

    def rules(self) -> dict[str, tuple[Rule, ...]]:
        out: dict[str, tuple[Rule, ...]] = {}
        for ekey, espec in (self.cfg.get("entities") or {}).items():
            entity = self.model.entities.get(ekey)
            if entity is None or not espec.get("rules"):
                continue
            rules: list[Rule] = []
            seen: set[str] = set()
            for i, rspec in enumerate(espec["rules"]):
                ptr = f"/entities/{ekey}/rules/{i}"
                rkey = str(rspec.get("key"))
                if rkey in seen:
                    self.add("RULE_DUPLICATE", f"rule key '{rkey}' is used twice", f"{ptr}/key")
                seen.add(rkey)
                fkey = rspec.get("field")
                if fkey is not None and fkey not in entity.fields:
                    self.add("FIELD_UNKNOWN", f"'{ekey}' has no field '{fkey}'", f"{ptr}/field")
                expr = self.compile(rspec.get("expression"), entity, f"{ptr}/expression")
                if expr is not None:
                    rules.append(
                        Rule(
                            key=rkey,
                            expression=expr,
                            message=freeze(dict(rspec.get("message") or {})),
                            field=fkey,
                            on=frozenset(rspec.get("on") or ("create", "update")),
                            pointer=ptr,
                        )
                    )
            out[ekey] = tuple(rules)
        return out

    def requirements(self) -> dict[str, tuple[FormRequirement, ...]]:
        """The forms' ``required_when`` rules (already checked by config validation)."""
        out: dict[str, tuple[FormRequirement, ...]] = {}
        for ekey, form in self.model.forms.items():
            entity = self.model.entities.get(ekey)
            if entity is None:
                continue
            found: list[FormRequirement] = []
            for si, section in enumerate(form.sections):
                for fi, item in enumerate(section.fields):
                    if not item.required_when:
                        continue
                    ptr = f"/forms/{ekey}/sections/{si}/fields/{fi}"
                    # Problems were reported by config validation (expression_problems).
                    kept = len(self.problems)
                    required = self.compile(item.required_when, entity, f"{ptr}/required_when")
                    visible = self.compile(item.visible_when, entity, f"{ptr}/visible_when")
                    del self.problems[kept:]
                    if required is not None:
                        found.append(FormRequirement(item.field, required, visible, ptr))
            if found:
                out[ekey] = tuple(found)
        return out

    # -- actions ----------------------------------------------------------------

    def actions(
        self,
        specs: Iterable[Mapping[str, Any]],
        entity: EntityDef,
        ptr: str,
        wf: Workflow | None,
        timers: Mapping[str, TimerDef] | None,
    ) -> tuple[Action, ...]:
        timers = timers if timers is not None else self.timer_defs
        out: list[Action] = []
        for i, spec in enumerate(specs):
            aptr = f"{ptr}/{i}"
            kind = str(spec.get("type"))
            values: dict[str, Any] = {}
            expressions: dict[str, Expression] = {}
            if kind in ("set_fields", "create_record"):
                target = entity
                if kind == "create_record":
                    found = self.entity(spec.get("entity"), f"{aptr}/entity")
                    if found is None:
                        continue
                    target = found
                    link = spec.get("link_field")
                    if link is not None:
                        lf = target.fields.get(link)
                        if lf is None or lf.value_type != "relation" or lf.target != entity.key:
                            self.add(
                                "LINK_FIELD",
                                f"link_field must be a relation of '{target.key}' to '{entity.key}'",
                                f"{aptr}/link_field",
                            )
                values = self.literal_values(target, spec.get("values") or {}, f"{aptr}/values")
                for fkey, source in (spec.get("expressions") or {}).items():
                    f = target.fields.get(fkey)
                    if f is None:
                        self.add(
                            "FIELD_UNKNOWN",
                            f"'{target.key}' has no field '{fkey}'",
                            f"{aptr}/expressions/{fkey}",
                        )
                        continue
                    expr = self.compile(
                        source, entity, f"{aptr}/expressions/{fkey}", _RESULT_FOR.get(f.value_type)
                    )
                    if expr is not None:
                        expressions[fkey] = expr
                named = [
                    (fkey, f"{aptr}/{part}/{fkey}")
                    for part in ("values", "expressions")
                    for fkey in spec.get(part) or {}
                ]
                for fkey, where in named:
                    if kind == "set_fields" and wf is not None and fkey == wf.field:
                        self.add(
                            "STATUS_BY_TRANSITION",
                            f"'{fkey}' is the workflow's status; use a transition action",
                            where,
                        )
                    f = target.fields.get(fkey)
                    if f is not None and f.type == "computed":
                        self.add("READ_ONLY", f"'{fkey}' is computed", where)
            elif kind == "create_task":
                assignee = str(spec.get("assignee") or "owner")
                if assignee not in ("owner", "actor", "created_by"):
                    f = entity.fields.get(assignee)
                    if f is None or f.value_type != "user":
                        self.add(
                            "ASSIGNEE_INVALID",
                            f"assignee must be owner, actor, created_by or a user field of "
                            f"'{entity.key}'",
                            f"{aptr}/assignee",
                        )
                if spec.get("due") is not None:
                    self.offset(spec["due"], f"{aptr}/due")
            elif kind == "notify":
                to = spec.get("to") or {}
                self.roles_exist(to.get("roles") or (), f"{aptr}/to/roles")
                for j, fkey in enumerate(to.get("fields") or ()):
                    f = entity.fields.get(fkey)
                    if fkey in ("created_by", "updated_by"):
                        continue
                    if f is None or f.value_type not in ("user", "email"):
                        self.add(
                            "RECIPIENT_FIELD",
                            f"'{fkey}' must be a user or email field of '{entity.key}'",
                            f"{aptr}/to/fields/{j}",
                        )
            elif kind == "plugin_action":
                name = str(spec.get("action"))
                plugin = name.split(".", 1)[0]
                if plugin not in self.model.plugins:
                    self.add(
                        "PLUGIN_NOT_ENABLED",
                        f"plugin '{plugin}' is not enabled for this tenant",
                        f"{aptr}/action",
                    )
                elif name not in self.model.plugin_actions:
                    self.add(
                        "ACTION_UNKNOWN",
                        f"plugin '{plugin}' has no automation action '{name}'",
                        f"{aptr}/action",
                    )
            elif kind in ("start_timer", "cancel_timer"):
                timer = timers.get(str(spec.get("timer")))
                if timer is None:
                    self.add(
                        "TIMER_UNKNOWN",
                        f"timer '{spec.get('timer')}' is not defined in 'timers'",
                        f"{aptr}/timer",
                    )
                elif timer.entity != entity.key:
                    self.add(
                        "TIMER_ENTITY",
                        f"timer '{timer.key}' runs on '{timer.entity}', not '{entity.key}'",
                        f"{aptr}/timer",
                    )
            elif kind == "transition":
                if wf is None or spec.get("transition") not in wf.transitions:
                    self.add(
                        "TRANSITION_UNKNOWN",
                        f"'{entity.key}' has no workflow transition '{spec.get('transition')}'",
                        f"{aptr}/transition",
                    )
            out.append(
                Action(
                    type=kind,
                    spec=freeze(dict(spec)),
                    pointer=aptr,
                    expressions=MappingProxyType(expressions),
                    values=MappingProxyType(values),
                )
            )
        return tuple(out)

    def literal_values(
        self, entity: EntityDef, values: Mapping[str, Any], ptr: str
    ) -> dict[str, Any]:
        from core.values import coerce

        out: dict[str, Any] = {}
        for fkey, raw in values.items():
            f = entity.fields.get(fkey)
            if f is None:
                self.add("FIELD_UNKNOWN", f"'{entity.key}' has no field '{fkey}'", f"{ptr}/{fkey}")
                continue
            value, problem = coerce(f, raw, self.model)
            if problem is not None:
                self.add(problem.code, problem.message, f"{ptr}/{fkey}")
            else:
                out[fkey] = value
        return out


def _replace_actions(t: Transition, actions: tuple[Action, ...]) -> Transition:
    from dataclasses import replace

    return replace(t, actions=actions)


def build_processes(model: TenantModel, file: str | None = None) -> tuple[Processes, list[Problem]]:
    """Compile the processes of a model; the problems found, each located."""
    builder = _Builder(model, file)
    processes = builder.build()
    return processes, builder.problems
