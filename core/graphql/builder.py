"""Per-tenant types as graphql-core objects, merged with the static root fields.

Entity types, their enums, filter/order/input types, connections and the root
fields are built from a :class:`TenantModel`; shared types (scalars, Money,
Address, filters per value kind, SortDirection, User...) come from the static
strawberry schema's type map, so they are never built twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    default_field_resolver,
)

from core.authz import require
from core.errors import ConfigInvalid, Problem
from core.graphql import resolvers as r
from core.graphql.inputs import AND, OR
from core.graphql.leaves import ItemValue, MethodValue
from core.graphql.limits import Limits
from core.graphql.meta import mark_record_action
from core.graphql.static import SortDirection
from core.graphql.users import users_field
from core.hookspecs import GraphQLContribution
from core.metadata import EntityDef, FieldDef, TenantModel
from core.naming import pascal

__all__ = ["build_tenant_schema"]

_TEXT = frozenset({"text", "long_text", "email", "phone", "url"})
_SORTABLE = _TEXT | {
    "integer",
    "decimal",
    "percent",
    "money",
    "boolean",
    "date",
    "datetime",
    "enum",
}
_SCALAR_TYPE = {
    **dict.fromkeys(_TEXT, "String"),
    "integer": "Int",
    "decimal": "Decimal",
    "percent": "Decimal",
    "money": "Money",
    "boolean": "Boolean",
    "date": "Date",
    "datetime": "DateTime",
    "address": "Address",
}
_INPUT_TYPE = {**_SCALAR_TYPE, "money": "MoneyInput", "address": "AddressInput"}
_FILTER_TYPE = {
    **dict.fromkeys(_TEXT, "StringFilter"),
    "integer": "IntFilter",
    "decimal": "DecimalFilter",
    "percent": "DecimalFilter",
    "money": "DecimalFilter",
    "boolean": "BooleanFilter",
    "date": "DateFilter",
    "datetime": "DateTimeFilter",
    "relation": "IDFilter",
    "user": "IDFilter",
    "relation_list": "IDListFilter",
}
#: System fields every record has: GraphQL name -> (key, filter type, sortable).
_SYSTEM = {
    "id": ("id", "IDFilter", True),
    "version": ("version", "IntFilter", True),
    "createdAt": ("created_at", "DateTimeFilter", True),
    "updatedAt": ("updated_at", "DateTimeFilter", True),
    "createdBy": ("created_by", "IDFilter", False),
    "updatedBy": ("updated_by", "IDFilter", False),
}


def _nn(t: Any) -> Any:
    return GraphQLNonNull(t)


def _list_of(t: Any) -> Any:
    return GraphQLList(GraphQLNonNull(t))


class _Builder:
    def __init__(
        self,
        model: TenantModel,
        shared: Mapping[str, GraphQLNamedType],
        static_query: GraphQLObjectType,
        limits: Limits,
        convert: Callable[[Any], GraphQLField],
        static_mutation: GraphQLObjectType | None = None,
        hidden: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.model = model
        self.hidden = hidden or {}
        self.shared = shared
        self.static_query = static_query
        self.static_mutation = static_mutation
        self.limits = limits
        self.convert = convert
        self.types: dict[str, GraphQLNamedType] = {}
        self.objects: dict[str, GraphQLObjectType] = {}
        self.enums: dict[tuple[str, str], GraphQLEnumType] = {}
        self.problems: list[Problem] = []

    # -- helpers -----------------------------------------------------------

    def _visible(self, entity: EntityDef) -> list[FieldDef]:
        """The fields this schema shows: a role set's schema leaves out what it cannot read."""
        hidden = self.hidden.get(entity.key, frozenset())
        return [f for f in entity.fields.values() if f.key not in hidden]

    def _problem(self, message: str, path: str) -> None:
        self.problems.append(Problem("GRAPHQL_NAME_COLLISION", message, path))

    def _add_type(self, t: Any, path: str) -> Any:
        if t.name in self.types or t.name in self.shared:
            self._problem(f"the GraphQL type name '{t.name}' is used twice", path)
        else:
            self.types[t.name] = t
        return t

    def _put(self, fields: dict[str, Any], name: str, value: Any, path: str) -> None:
        if name in fields:
            self._problem(f"the GraphQL name '{name}' is used twice", path)
        fields[name] = value

    def _named(self, name: str) -> Any:
        return self.shared[name]

    def _enum(self, entity: EntityDef, f: FieldDef) -> GraphQLEnumType:
        key = (entity.key, f.key)
        if key not in self.enums:
            self.enums[key] = self._add_type(
                GraphQLEnumType(
                    f"{entity.type_name}{pascal(f.key)}",
                    {o.value: GraphQLEnumValue(o.value) for o in f.options},
                ),
                f"/entities/{entity.key}/fields/{f.key}/options",
            )
        return self.enums[key]

    # -- output types ------------------------------------------------------

    def _record_fields(self, entity: EntityDef) -> dict[str, GraphQLField]:
        user = self._named("User")
        fields: dict[str, GraphQLField] = {
            "id": GraphQLField(_nn(GraphQLID), resolve=r.system_value("id")),
            "version": GraphQLField(_nn(GraphQLInt), resolve=r.system_value("version")),
            "createdAt": GraphQLField(
                _nn(self._named("DateTime")), resolve=r.system_value("created_at")
            ),
            "updatedAt": GraphQLField(
                _nn(self._named("DateTime")), resolve=r.system_value("updated_at")
            ),
            "createdBy": GraphQLField(user, resolve=r.user_ref(lambda rec: rec.created_by)),
            "updatedBy": GraphQLField(user, resolve=r.user_ref(lambda rec: rec.updated_by)),
            "audit": GraphQLField(
                _nn(_list_of(self._named("AuditEntry"))),
                resolve=r.audit(entity.key),
                description="Every write to this record, oldest first.",
            ),
        }
        for f in self._visible(entity):
            path = f"/entities/{entity.key}/fields/{f.key}"
            name, vt = f.graphql_name, f.value_type
            desc = self.model.label(f.label)
            if vt == "relation":
                target = self.objects[f.target or ""]
                self._put(
                    fields,
                    name,
                    GraphQLField(target, resolve=r.relation(f.key, _target(f)), description=desc),
                    path,
                )
                self._put(
                    fields, f"{name}Id", GraphQLField(GraphQLID, resolve=r.field_value(f.key)), path
                )
            elif vt == "relation_list":
                target = self.objects[f.target or ""]
                self._put(
                    fields,
                    name,
                    GraphQLField(
                        _nn(_list_of(target)),
                        resolve=r.relation_list(f.key, _target(f)),
                        description=desc,
                    ),
                    path,
                )
                self._put(
                    fields,
                    f"{name}Ids",
                    GraphQLField(_nn(_list_of(GraphQLID)), resolve=_ids(f.key)),
                    path,
                )
            elif vt == "user":
                self._put(
                    fields,
                    name,
                    GraphQLField(user, resolve=r.user_ref(_data_getter(f.key)), description=desc),
                    path,
                )
                self._put(
                    fields, f"{name}Id", GraphQLField(GraphQLID, resolve=r.field_value(f.key)), path
                )
            else:
                self._put(
                    fields,
                    name,
                    GraphQLField(
                        self._output(entity, f), resolve=r.field_value(f.key), description=desc
                    ),
                    path,
                )
        return fields

    def _output(self, entity: EntityDef, f: FieldDef) -> GraphQLOutputType:
        vt = f.value_type
        if vt == "enum":
            return self._enum(entity, f)
        if vt == "multi_enum":
            return _list_of(self._enum(entity, f))
        out: GraphQLOutputType = self._named(_SCALAR_TYPE[vt])
        return out

    # -- inputs --------------------------------------------------------------

    def _input(self, entity: EntityDef, f: FieldDef) -> tuple[str, GraphQLInputType]:
        vt, name = f.value_type, f.graphql_name
        if vt in ("relation", "user"):
            return f"{name}Id", GraphQLID
        if vt == "relation_list":
            return f"{name}Ids", _list_of(GraphQLID)
        if vt == "enum":
            return name, self._enum(entity, f)
        if vt == "multi_enum":
            return name, _list_of(self._enum(entity, f))
        t: GraphQLInputType = self._named(_INPUT_TYPE[vt])
        return name, t

    def _write_input(self, entity: EntityDef, creating: bool) -> GraphQLInputObjectType:
        suffix = "CreateInput" if creating else "UpdateInput"

        def fields() -> dict[str, GraphQLInputField]:
            out: dict[str, GraphQLInputField] = {}
            for f in self._visible(entity):
                if f.read_only:
                    continue
                name, t = self._input(entity, f)
                if creating and f.required and f.default is None:
                    t = _nn(t)
                self._put(
                    out,
                    name,
                    GraphQLInputField(t, out_name=f.key),
                    f"/entities/{entity.key}/fields/{f.key}",
                )
            return out

        return self._add_type(
            GraphQLInputObjectType(f"{entity.type_name}{suffix}", fields),
            f"/entities/{entity.key}",
        )

    def _filter(self, entity: EntityDef) -> GraphQLInputObjectType:
        name = f"{entity.type_name}Filter"

        def fields() -> dict[str, GraphQLInputField]:
            out: dict[str, GraphQLInputField] = {
                gname: GraphQLInputField(self._named(ftype), out_name=key)
                for gname, (key, ftype, _) in _SYSTEM.items()
            }
            for f in self._visible(entity):
                ftype = self._field_filter(entity, f)
                if ftype is not None:
                    self._put(
                        out,
                        f.graphql_name,
                        GraphQLInputField(ftype, out_name=f.key),
                        f"/entities/{entity.key}/fields/{f.key}",
                    )
            self._put(out, "and", GraphQLInputField(_list_of(flt), out_name=AND), "")
            self._put(out, "or", GraphQLInputField(_list_of(flt), out_name=OR), "")
            return out

        flt = GraphQLInputObjectType(
            name, fields, description="Conditions on fields; all given must hold."
        )
        return self._add_type(flt, f"/entities/{entity.key}")

    def _field_filter(self, entity: EntityDef, f: FieldDef) -> GraphQLInputObjectType | None:
        vt = f.value_type
        if vt in ("enum", "multi_enum"):
            enum = self._enum(entity, f)
            if vt == "enum":
                ops = {
                    "eq": GraphQLInputField(enum),
                    "ne": GraphQLInputField(enum),
                    "in": GraphQLInputField(_list_of(enum)),
                    "isNull": GraphQLInputField(GraphQLBoolean),
                }
            else:
                ops = {
                    "contains": GraphQLInputField(enum),
                    "isNull": GraphQLInputField(GraphQLBoolean),
                }
            t: GraphQLInputObjectType = self._add_type(
                GraphQLInputObjectType(f"{enum.name}Filter", ops),
                f"/entities/{entity.key}/fields/{f.key}",
            )
            return t
        kind = _FILTER_TYPE.get(vt)
        return self._named(kind) if kind else None

    def _order(self, entity: EntityDef) -> GraphQLInputObjectType:
        values = {
            gname: GraphQLEnumValue(key)
            for gname, (key, _, sortable) in _SYSTEM.items()
            if sortable
        }
        for f in self._visible(entity):
            if f.value_type in _SORTABLE:
                if f.graphql_name in values:
                    self._problem(
                        f"the sort field '{f.graphql_name}' is used twice",
                        f"/entities/{entity.key}/fields/{f.key}",
                    )
                values[f.graphql_name] = GraphQLEnumValue(f.key)
        path = f"/entities/{entity.key}"
        field_enum = self._add_type(GraphQLEnumType(f"{entity.type_name}OrderField", values), path)
        direction = self._named("SortDirection")
        return self._add_type(
            GraphQLInputObjectType(
                f"{entity.type_name}OrderBy",
                {
                    "field": GraphQLInputField(_nn(field_enum)),
                    "direction": GraphQLInputField(
                        direction, default_value=SortDirection.ASC.value
                    ),
                },
            ),
            path,
        )

    def _connection(self, entity: EntityDef, node: GraphQLObjectType) -> GraphQLObjectType:
        path = f"/entities/{entity.key}"
        edge = self._add_type(
            GraphQLObjectType(
                f"{entity.type_name}Edge",
                {
                    "cursor": GraphQLField(_nn(GraphQLString), resolve=ItemValue(0)),
                    "node": GraphQLField(_nn(node), resolve=ItemValue(1)),
                },
            ),
            path,
        )
        return self._add_type(
            GraphQLObjectType(
                f"{entity.type_name}Connection",
                {
                    "edges": GraphQLField(_nn(_list_of(edge)), resolve=MethodValue("edges")),
                    "pageInfo": GraphQLField(
                        _nn(self._named("PageInfo")), resolve=MethodValue("page_info")
                    ),
                    "totalCount": GraphQLField(
                        _nn(GraphQLInt),
                        resolve=lambda c, info: c.total_count(info),
                        description="Rows matching the filter, on all pages.",
                    ),
                },
            ),
            path,
        )

    # -- root ----------------------------------------------------------------

    def _queries(self, entity: EntityDef, node: GraphQLObjectType) -> dict[str, GraphQLField]:
        filter_type = self._filter(entity)
        order_type = self._order(entity)
        return {
            entity.query_name: GraphQLField(
                node, {"id": GraphQLArgument(_nn(GraphQLID))}, resolve=r.get_one(entity.key)
            ),
            entity.list_query_name: GraphQLField(
                _nn(self._connection(entity, node)),
                {
                    "filter": GraphQLArgument(filter_type),
                    "orderBy": GraphQLArgument(_list_of(order_type)),
                    "first": GraphQLArgument(GraphQLInt, default_value=r.DEFAULT_PAGE_SIZE),
                    "after": GraphQLArgument(GraphQLString),
                },
                resolve=r.get_list(entity.key, self.limits),
            ),
        }

    def _mutations(self, entity: EntityDef, node: GraphQLObjectType) -> dict[str, GraphQLField]:
        t = entity.type_name
        id_arg = GraphQLArgument(_nn(GraphQLID))
        out: dict[str, GraphQLField] = {}
        # A role set that can read no writable field gets no create/update inputs
        # (an input type without fields is not valid GraphQL).
        writable = any(not f.read_only for f in self._visible(entity))
        update_input = self._write_input(entity, creating=False) if writable else None
        wf = self.model.processes.workflow_of(entity.key)
        if wf is not None:
            names = ", ".join(wf.transitions) or "none"
            args = {
                "id": id_arg,
                "transition": GraphQLArgument(_nn(GraphQLString), description=f"One of: {names}."),
                "comment": GraphQLArgument(GraphQLString),
            }
            if update_input is not None:
                args["input"] = GraphQLArgument(
                    update_input,
                    description="Fields to set with the transition (e.g. required ones).",
                )
            out[f"transition{t}"] = GraphQLField(
                _nn(node),
                args,
                resolve=r.transition(entity),
                description=f"Run a transition of workflow '{wf.key}' on one record.",
            )
        if update_input is not None:
            out[f"create{t}"] = GraphQLField(
                _nn(node),
                {"input": GraphQLArgument(_nn(self._write_input(entity, creating=True)))},
                resolve=r.create(entity),
            )
            out[f"update{t}"] = GraphQLField(
                _nn(node),
                {
                    "id": id_arg,
                    "input": GraphQLArgument(_nn(update_input)),
                    "expectedVersion": GraphQLArgument(
                        GraphQLInt, description="Refuse with CONFLICT unless at this version."
                    ),
                },
                resolve=r.update(entity),
            )
        out[f"delete{t}"] = GraphQLField(_nn(node), {"id": id_arg}, resolve=r.delete(entity))
        return out

    def _plugin_fields(
        self, into: dict[str, GraphQLField], items: Iterable[GraphQLContribution], kind: str
    ) -> None:
        for item in items:
            where = f"/plugins/{item.plugin}/{kind}"
            field = self.convert(item.field)
            if item.entity is not None:
                if item.entity not in self.model.entities:
                    message = f"'{item.name}' runs on unknown entity '{item.entity}'"
                    raise ConfigInvalid(message, [Problem("PLUGIN_FIELD_ENTITY", message, where)])
                field = _gated(field, item.entity)
            if item.record_action:
                field = mark_record_action(field, item, kind, where)
            self._put(into, item.name, field, where)

    def build(
        self, reports: Iterable[GraphQLContribution], actions: Iterable[GraphQLContribution]
    ) -> GraphQLSchema:
        for entity in self.model.entities.values():
            self.objects[entity.key] = self._add_type(
                GraphQLObjectType(
                    entity.type_name,
                    _thunk(self._record_fields, entity),
                    description=self.model.label(entity.label),
                ),
                f"/entities/{entity.key}",
            )
        query: dict[str, GraphQLField] = dict(self.static_query.fields)
        mutation: dict[str, GraphQLField] = (
            dict(self.static_mutation.fields) if self.static_mutation else {}
        )
        query["users"] = self.convert(users_field)
        task = self.objects.get("task")
        if task is not None:
            query["myTasks"] = GraphQLField(
                _nn(_list_of(task)),
                {
                    "due": GraphQLArgument(
                        cast(GraphQLEnumType, self.shared["TaskDue"]), default_value="today"
                    ),
                    "first": GraphQLArgument(GraphQLInt, default_value=r.DEFAULT_PAGE_SIZE),
                },
                resolve=r.my_tasks(self.limits),
                description="The caller's open tasks by due date, in the tenant's time zone.",
            )
        for entity in self.model.entities.values():
            node = self.objects[entity.key]
            path = f"/entities/{entity.key}"
            for name, fld in self._queries(entity, node).items():
                self._put(query, name, fld, path)
            for name, fld in self._mutations(entity, node).items():
                self._put(mutation, name, fld, path)
        self._plugin_fields(query, reports, "reports")
        self._plugin_fields(mutation, actions, "actions")
        # Resolve every thunk now so collisions inside them are reported together.
        for t in list(self.types.values()):
            if isinstance(t, GraphQLObjectType | GraphQLInputObjectType):
                _ = t.fields
        if self.problems:
            raise ConfigInvalid(
                f"{len(self.problems)} GraphQL naming problem(s) in the tenant model",
                self.problems,
            )
        return GraphQLSchema(
            query=GraphQLObjectType("Query", query),
            mutation=GraphQLObjectType("Mutation", mutation) if mutation else None,
            types=[*self.shared.values(), *self.types.values()],
        )


def _target(f: FieldDef) -> str:
    return f.target or ""


def _data_getter(key: str) -> Callable[[Any], Any]:
    return lambda rec: rec.data.get(key)


def _ids(key: str) -> Callable[[Any, Any], list[str]]:
    return lambda rec, _info: list(rec.data.get(key) or ())


def _thunk(fn: Callable[[EntityDef], Any], entity: EntityDef) -> Callable[[], Any]:
    return lambda: fn(entity)


def _gated(field: GraphQLField, entity: str) -> GraphQLField:
    """``field``, callable only by roles granted ``run`` on ``entity``."""
    inner = field.resolve or default_field_resolver

    def resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        require(info.context.call, entity, "run")
        return inner(source, info, **args)

    kwargs = field.to_kwargs()
    kwargs["resolve"] = resolve
    return GraphQLField(**kwargs)


def build_tenant_schema(
    model: TenantModel,
    shared: Mapping[str, GraphQLNamedType],
    static_query: GraphQLObjectType,
    limits: Limits,
    convert: Callable[[Any], GraphQLField],
    reports: Iterable[GraphQLContribution] = (),
    actions: Iterable[GraphQLContribution] = (),
    *,
    static_mutation: GraphQLObjectType | None = None,
    hidden: Mapping[str, frozenset[str]] | None = None,
) -> GraphQLSchema:
    """The tenant's GraphQLSchema; raises ConfigInvalid on GraphQL name collisions.

    ``hidden`` (entity -> field keys) leaves fields out of every type, input,
    filter and sort: the schema of a role set that cannot read them.
    """
    return _Builder(model, shared, static_query, limits, convert, static_mutation, hidden).build(
        reports, actions
    )
