"""The ``meta`` query: the tenant's model as the screens read it (strawberry types).

Label fields take an optional ``locale``; without it the caller's locale is
used, falling back to the tenant's default locale and then English.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as data_field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import (
    GraphQLField,
    GraphQLID,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    get_named_type,
)

from core import authz
from core.context import CallContext
from core.errors import ConfigInvalid, Problem
from core.graphql.processes import MetaTransition, MetaWorkflow, workflows_of
from core.metadata import (
    EntityDef,
    FieldDef,
    FormDef,
    FormField,
    FormSection,
    Labels,
    Option,
    TenantModel,
)
from core.naming import camel

if TYPE_CHECKING:
    from core.hookspecs import GraphQLContribution

__all__ = ["Meta", "mark_record_action", "meta_for"]

#: Where a record action's description lives on its mutation field (``GraphQLField.extensions``).
_RECORD_ACTION = "tessera_record_action"


@dataclass(frozen=True, slots=True)
class _RecordAction:
    name: str
    entity: str
    label: Labels


def mark_record_action(
    field: GraphQLField, item: GraphQLContribution, kind: str, where: str
) -> GraphQLField:
    """``field`` marked as a record action of ``item.entity`` (the screens offer it as a
    button on that entity's record pages); raises ConfigInvalid unless it is a mutation on
    an entity whose only required argument is ``id: ID!``."""
    path = f"{where}/{item.name}"
    problems: list[Problem] = []
    if kind != "actions":
        problems.append(
            Problem("PLUGIN_RECORD_ACTION", "a record action must be an action (a mutation)", path)
        )
    if item.entity is None:
        problems.append(
            Problem("PLUGIN_RECORD_ACTION", "a record action must name its entity", path)
        )
    id_arg = field.args.get("id")
    if not (
        id_arg is not None
        and isinstance(id_arg.type, GraphQLNonNull)
        and id_arg.type.of_type is GraphQLID
    ):
        problems.append(
            Problem("PLUGIN_RECORD_ACTION", "a record action takes the record as 'id: ID!'", path)
        )
    for name, arg in field.args.items():
        if name != "id" and isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined:
            problems.append(
                Problem(
                    "PLUGIN_RECORD_ACTION",
                    f"a record action's only required argument is 'id'; give '{name}' a default",
                    f"{path}/{name}",
                )
            )
    if problems:
        raise ConfigInvalid(f"'{item.name}' cannot be a record action", problems)
    kwargs = field.to_kwargs()
    kwargs["extensions"] = {
        **(field.extensions or {}),
        _RECORD_ACTION: _RecordAction(item.name, item.entity or "", dict(item.label or {})),
    }
    return GraphQLField(**kwargs)


class _ActionIndex:
    """The record actions of one schema by entity, read from it on first use (per request)."""

    def __init__(self, schema: GraphQLSchema | None) -> None:
        self.schema = schema
        self._by_entity: dict[str, list[tuple[_RecordAction, Any]]] | None = None

    def of(self, entity: str) -> list[tuple[_RecordAction, Any]]:
        """``(action, the named type its mutation returns)`` for each action on ``entity``."""
        if self._by_entity is None:
            self._by_entity = {}
            mutation = self.schema.mutation_type if self.schema is not None else None
            for field in mutation.fields.values() if mutation is not None else ():
                spec = (field.extensions or {}).get(_RECORD_ACTION)
                if isinstance(spec, _RecordAction):
                    found = (spec, get_named_type(field.type))
                    self._by_entity.setdefault(spec.entity, []).append(found)
        return self._by_entity.get(entity, [])


@strawberry.type(description="A label in one locale.")
class LabelText:
    locale: str
    text: str


def _texts(labels: Labels) -> list[LabelText]:
    return [LabelText(locale=k, text=v) for k, v in labels.items()]


@strawberry.type(name="MetaOption")
class MetaOption:
    option: strawberry.Private[Option]
    model: strawberry.Private[TenantModel]
    locale: strawberry.Private[str]

    @strawberry.field
    def value(self) -> str:
        return self.option.value

    @strawberry.field
    def label(self, locale: str | None = None) -> str:
        return self.model.label(self.option.label, locale or self.locale)

    @strawberry.field
    def labels(self) -> list[LabelText]:
        return _texts(self.option.label)


@strawberry.type(name="MetaField")
class MetaField:
    field: strawberry.Private[FieldDef]
    model: strawberry.Private[TenantModel]
    locale: strawberry.Private[str]

    @strawberry.field
    def key(self) -> str:
        return self.field.key

    @strawberry.field
    def graphql_name(self) -> str:
        return self.field.graphql_name

    @strawberry.field(description="The field type as configured (may be a plugin type).")
    def type(self) -> str:
        return self.field.type

    @strawberry.field(description="The built-in type that values have.")
    def value_type(self) -> str:
        return self.field.value_type

    @strawberry.field
    def label(self, locale: str | None = None) -> str:
        return self.model.label(self.field.label, locale or self.locale)

    @strawberry.field
    def labels(self) -> list[LabelText]:
        return _texts(self.field.label)

    @strawberry.field(description="Help text for the field, if the config gives one.")
    def help(self, locale: str | None = None) -> str | None:
        return self.model.label(self.field.help, locale or self.locale) or None

    @strawberry.field(
        description="The value a new record starts with, as JSON (null when there is none)."
    )
    def default_value(self) -> str | None:
        if self.field.default is None:
            return None
        return json.dumps(self.field.default, default=str, ensure_ascii=False)

    @strawberry.field
    def required(self) -> bool:
        return self.field.required

    @strawberry.field
    def unique(self) -> bool:
        return self.field.unique

    @strawberry.field
    def indexed(self) -> bool:
        return self.field.indexed

    @strawberry.field
    def read_only(self) -> bool:
        return self.field.read_only

    @strawberry.field
    def min(self) -> Decimal | None:
        return self.field.min

    @strawberry.field
    def max(self) -> Decimal | None:
        return self.field.max

    @strawberry.field
    def min_length(self) -> int | None:
        return self.field.min_length

    @strawberry.field
    def max_length(self) -> int | None:
        return self.field.max_length

    @strawberry.field
    def pattern(self) -> str | None:
        return self.field.pattern

    @strawberry.field(description="The target entity key of a relation.")
    def target(self) -> str | None:
        return self.field.target

    @strawberry.field
    def options(self) -> list[MetaOption]:
        return [
            MetaOption(option=o, model=self.model, locale=self.locale) for o in self.field.options
        ]


@strawberry.type(
    name="MetaActionLink",
    description="A field of an action's result that holds the id of a record of 'entity'.",
)
class MetaActionLink:
    field: str
    entity: str


@strawberry.type(
    name="MetaRecordAction",
    description="A plugin action on one record: the mutation 'name', called with the "
    "record's 'id' as its only argument.",
)
class MetaRecordAction:
    action: strawberry.Private[_RecordAction]
    model: strawberry.Private[TenantModel]
    locale: strawberry.Private[str]
    result_links: strawberry.Private[list[MetaActionLink]]
    result_object: strawberry.Private[bool]

    @strawberry.field(description="The mutation's name.")
    def name(self) -> str:
        return self.action.name

    @strawberry.field
    def label(self, locale: str | None = None) -> str:
        return self.model.label(self.action.label, locale or self.locale) or self.action.name

    @strawberry.field
    def labels(self) -> list[LabelText]:
        return _texts(self.action.label)

    @strawberry.field(
        description="Whether the mutation returns an object (select '__typename' and the "
        "links) rather than a plain value."
    )
    def returns_object(self) -> bool:
        return self.result_object

    @strawberry.field(
        description="Fields of the result (such as 'opportunityId') naming records the "
        "caller may read: select them to link to what the action made."
    )
    def links(self) -> list[MetaActionLink]:
        return self.result_links


def _links(model: TenantModel, call: CallContext, result: Any) -> list[MetaActionLink]:
    if not isinstance(result, GraphQLObjectType):
        return []
    by_name = {f"{camel(key)}Id": key for key in model.entities}
    out: list[MetaActionLink] = []
    for name, field in result.fields.items():
        target = by_name.get(name)
        if (
            target is not None
            and get_named_type(field.type) is GraphQLID
            and authz.allowed(call, target, "read")
        ):
            out.append(MetaActionLink(field=name, entity=target))
    return out


@strawberry.type(name="MetaEntity")
class MetaEntity:
    entity: strawberry.Private[EntityDef]
    model: strawberry.Private[TenantModel]
    locale: strawberry.Private[str]
    hidden: strawberry.Private[frozenset[str]] = frozenset()
    call: strawberry.Private[CallContext | None] = None
    index: strawberry.Private[_ActionIndex] = data_field(default_factory=lambda: _ActionIndex(None))

    @strawberry.field
    def key(self) -> str:
        return self.entity.key

    @strawberry.field
    def type_name(self) -> str:
        return self.entity.type_name

    @strawberry.field
    def query_name(self) -> str:
        return self.entity.query_name

    @strawberry.field
    def list_query_name(self) -> str:
        return self.entity.list_query_name

    @strawberry.field(
        description="Bookkeeping a plugin keeps for itself: screens leave it out of menus."
    )
    def internal(self) -> bool:
        return self.entity.internal

    @strawberry.field
    def label(self, locale: str | None = None) -> str:
        return self.model.label(self.entity.label, locale or self.locale)

    @strawberry.field
    def labels(self) -> list[LabelText]:
        return _texts(self.entity.label)

    @strawberry.field
    def plural_label(self, locale: str | None = None) -> str:
        return self.model.label(self.entity.plural_label, locale or self.locale)

    @strawberry.field
    def title_field(self) -> str | None:
        return self.entity.title_field

    @strawberry.field
    def fields(self) -> list[MetaField]:
        return [
            MetaField(field=f, model=self.model, locale=self.locale)
            for f in self.entity.fields.values()
            if f.key not in self.hidden
        ]

    @strawberry.field(
        description="What the caller's roles allow on records of this entity: some of "
        "create, read, update, delete, transition, run."
    )
    def allowed_actions(self) -> list[str]:
        call = self.call
        return [
            a for a in authz.ACTIONS if call is not None and authz.allowed(call, self.entity.key, a)
        ]

    @strawberry.field(
        description="Plugin actions the caller may run on a record of this entity "
        "(the screens show them as buttons on its page)."
    )
    def record_actions(self) -> list[MetaRecordAction]:
        call, key = self.call, self.entity.key
        if call is None or not authz.allowed(call, key, "run"):
            return []
        return [
            MetaRecordAction(
                action=spec,
                model=self.model,
                locale=self.locale,
                result_links=_links(self.model, call, result),
                result_object=isinstance(result, GraphQLObjectType),
            )
            for spec, result in self.index.of(key)
        ]


@strawberry.type(name="MetaFormField")
class MetaFormField:
    item: strawberry.Private[FormField]

    @strawberry.field
    def field(self) -> str:
        return self.item.field

    @strawberry.field
    def widget(self) -> str | None:
        return self.item.widget

    @strawberry.field
    def width(self) -> int | None:
        return self.item.width

    @strawberry.field(description="A CEL expression; the field shows only while it is true.")
    def visible_when(self) -> str | None:
        return self.item.visible_when

    @strawberry.field(description="A CEL expression; the field is required while it is true.")
    def required_when(self) -> str | None:
        return self.item.required_when


@strawberry.type(name="MetaFormSection")
class MetaFormSection:
    section: strawberry.Private[FormSection]
    model: strawberry.Private[TenantModel]
    locale: strawberry.Private[str]
    hidden: strawberry.Private[frozenset[str]] = frozenset()

    @strawberry.field
    def key(self) -> str:
        return self.section.key

    @strawberry.field
    def label(self, locale: str | None = None) -> str:
        return self.model.label(self.section.label, locale or self.locale)

    @strawberry.field
    def columns(self) -> int:
        return self.section.columns

    @strawberry.field
    def fields(self) -> list[MetaFormField]:
        return [MetaFormField(item=i) for i in self.section.fields if i.field not in self.hidden]


@strawberry.type(name="MetaForm")
class MetaForm:
    form: strawberry.Private[FormDef]
    model: strawberry.Private[TenantModel]
    locale: strawberry.Private[str]
    hidden: strawberry.Private[frozenset[str]] = frozenset()

    @strawberry.field
    def entity(self) -> str:
        return self.form.entity

    @strawberry.field
    def sections(self) -> list[MetaFormSection]:
        return [
            MetaFormSection(section=s, model=self.model, locale=self.locale, hidden=self.hidden)
            for s in self.form.sections
        ]

    @strawberry.field
    def list_columns(self) -> list[str]:
        return [c for c in self.form.list_columns if c not in self.hidden]


@strawberry.type(name="MetaTenant")
class MetaTenant:
    model: strawberry.Private[TenantModel]
    locale: strawberry.Private[str]

    @strawberry.field
    def key(self) -> str:
        return self.model.tenant

    @strawberry.field
    def name(self, locale: str | None = None) -> str:
        return self.model.label(self.model.name, locale or self.locale) or self.model.tenant

    @strawberry.field
    def locales(self) -> list[str]:
        return list(self.model.locales)

    @strawberry.field
    def default_locale(self) -> str:
        return self.model.default_locale

    @strawberry.field
    def currency(self) -> str:
        return self.model.currency

    @strawberry.field
    def timezone(self) -> str:
        return self.model.timezone

    @strawberry.field(
        description="The plugins enabled for the tenant (the screens offer their documents)."
    )
    def plugins(self) -> list[str]:
        return list(self.model.plugins)


@strawberry.type(name="MetaUser", description="The caller.")
class MetaUser:
    id: strawberry.ID
    email: str
    name: str
    roles: list[str]
    locale: str


@strawberry.type(name="Meta", description="The tenant's model: entities, fields, forms.")
class Meta:
    model: strawberry.Private[TenantModel]
    locale: strawberry.Private[str]
    caller: strawberry.Private[MetaUser]
    hidden: strawberry.Private[Mapping[str, frozenset[str]]]

    @strawberry.field
    def tenant(self) -> MetaTenant:
        return MetaTenant(model=self.model, locale=self.locale)

    @strawberry.field
    def entities(self, info: strawberry.Info) -> list[MetaEntity]:
        index = _ActionIndex(getattr(info.schema, "_schema", None))
        return [
            MetaEntity(
                entity=e,
                model=self.model,
                locale=self.locale,
                hidden=self.hidden.get(e.key, frozenset()),
                call=info.context.call,
                index=index,
            )
            for e in self.model.entities.values()
        ]

    @strawberry.field
    def forms(self) -> list[MetaForm]:
        return [
            MetaForm(
                form=f,
                model=self.model,
                locale=self.locale,
                hidden=self.hidden.get(f.entity, frozenset()),
            )
            for f in self.model.forms.values()
        ]

    @strawberry.field(description="The workflows (state machines) of the tenant's entities.")
    def workflows(self) -> list[MetaWorkflow]:
        return workflows_of(self.model, self.locale)

    @strawberry.field(
        description="The transitions of a record's workflow from its current state, "
        "with whether the caller may run each now and why not."
    )
    async def transitions(
        self, info: strawberry.Info, entity: str, id: strawberry.ID
    ) -> list[MetaTransition]:
        ctx = info.context
        options = await ctx.service.processes.options(ctx.call, entity, str(id))
        return [
            MetaTransition(
                key=o.key,
                label=o.label,
                to=o.to,
                to_label=o.to_label,
                allowed=o.allowed,
                reason=o.reason,
                reason_code=o.reason_code,
                needs_approval=o.needs_approval,
                required_fields=list(o.required_fields),
                comment_required=o.comment_required,
            )
            for o in options
        ]

    @strawberry.field
    def me(self) -> MetaUser:
        return self.caller


def meta_for(
    model: TenantModel,
    locale: str,
    user: MetaUser,
    hidden: Mapping[str, frozenset[str]] | None = None,
) -> Meta:
    """The ``meta`` root value for one caller (without the fields they may not read)."""
    return Meta(model=model, locale=locale, caller=user, hidden=hidden or {})
