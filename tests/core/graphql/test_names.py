"""The public names of the API (the contract in ARCHITECTURE.md)."""

from __future__ import annotations

from core.graphql import SchemaRegistry
from core.metadata import TenantModel
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, get_named_type


def _obj(registry: SchemaRegistry, model: TenantModel, name: str) -> GraphQLObjectType:
    t = registry.get(model)._schema.type_map[name]
    assert isinstance(t, GraphQLObjectType)
    return t


def _inp(registry: SchemaRegistry, model: TenantModel, name: str) -> GraphQLInputObjectType:
    t = registry.get(model)._schema.type_map[name]
    assert isinstance(t, GraphQLInputObjectType)
    return t


def test_queries_and_mutations_are_named_from_entity_keys(
    registry: SchemaRegistry, model: TenantModel
) -> None:
    sdl = registry.get(model).sdl()
    assert "salesOrder(id: ID!): SalesOrder\n" in sdl
    assert (
        "salesOrders(after: String, filter: SalesOrderFilter, first: Int = 50, "
        "orderBy: [SalesOrderOrderBy!]): SalesOrderConnection!"
    ) in sdl
    assert "createSalesOrder(input: SalesOrderCreateInput!): SalesOrder!" in sdl
    assert "deleteSalesOrder(id: ID!): SalesOrder!" in sdl
    mutation = _obj(registry, model, "Mutation")
    update = mutation.fields["updateSalesOrder"]
    assert str(update.type) == "SalesOrder!"
    assert {k: str(a.type) for k, a in update.args.items()} == {
        "id": "ID!",
        "input": "SalesOrderUpdateInput!",
        "expectedVersion": "Int",
    }


def test_record_type_has_system_fields_and_typed_custom_fields(
    registry: SchemaRegistry, model: TenantModel
) -> None:
    fields = {k: str(f.type) for k, f in _obj(registry, model, "SalesOrder").fields.items()}
    assert fields == {
        "id": "ID!",
        "version": "Int!",
        "createdAt": "DateTime!",
        "updatedAt": "DateTime!",
        "createdBy": "User",
        "updatedBy": "User",
        "audit": "[AuditEntry!]!",
        "title": "String",
        "notes": "String",
        "email": "String",
        "phone": "String",
        "site": "String",
        "quantity": "Int",
        "weight": "Decimal",
        "discount": "Decimal",
        "total": "Money",
        "paid": "Boolean",
        "dueOn": "Date",
        "shippedAt": "DateTime",
        "customerLevel": "SalesOrderCustomerLevel",
        "tags": "[SalesOrderTags!]",
        "account": "Account",
        "accountId": "ID",
        "related": "[Account!]!",
        "relatedIds": "[ID!]!",
        "owner": "User",
        "ownerId": "ID",
        "shipTo": "Address",
        "score": "Int",
        "code": "String",
    }


def test_enums_are_named_type_plus_field_with_option_values_as_is(
    registry: SchemaRegistry, model: TenantModel
) -> None:
    t = registry.get(model)._schema.type_map["AccountPartyType"]
    assert isinstance(t, GraphQLEnumType)
    assert list(t.values) == ["company", "person"]
    assert [v.value for v in t.values.values()] == ["company", "person"]


def test_inputs_mark_required_and_leave_out_read_only_fields(
    registry: SchemaRegistry, model: TenantModel
) -> None:
    create = {
        k: str(f.type) for k, f in _inp(registry, model, "SalesOrderCreateInput").fields.items()
    }
    update = {
        k: str(f.type) for k, f in _inp(registry, model, "SalesOrderUpdateInput").fields.items()
    }
    assert create["title"] == "String!" and update["title"] == "String"
    assert create["total"] == "MoneyInput" and create["shipTo"] == "AddressInput"
    assert create["accountId"] == "ID" and create["relatedIds"] == "[ID!]"
    assert create["ownerId"] == "ID" and create["tags"] == "[SalesOrderTags!]"
    for absent in ("score", "code", "account", "related", "owner", "id", "version"):
        assert absent not in create and absent not in update
    money = _inp(registry, model, "MoneyInput").fields
    assert str(money["amount"].type) == "Decimal!" and str(money["currency"].type) == "String"


def test_filter_and_order_types(registry: SchemaRegistry, model: TenantModel) -> None:
    flt = {k: str(f.type) for k, f in _inp(registry, model, "SalesOrderFilter").fields.items()}
    assert flt["id"] == "IDFilter" and flt["createdAt"] == "DateTimeFilter"
    assert flt["title"] == "StringFilter" and flt["quantity"] == "IntFilter"
    assert flt["weight"] == flt["discount"] == flt["total"] == "DecimalFilter"
    assert flt["paid"] == "BooleanFilter" and flt["dueOn"] == "DateFilter"
    assert flt["customerLevel"] == "SalesOrderCustomerLevelFilter"
    assert flt["tags"] == "SalesOrderTagsFilter" and flt["related"] == "IDListFilter"
    assert flt["account"] == flt["owner"] == "IDFilter"
    assert flt["and"] == flt["or"] == "[SalesOrderFilter!]"
    assert "shipTo" not in flt
    ops = set(_inp(registry, model, "StringFilter").fields)
    assert ops == {"eq", "ne", "in", "lt", "lte", "gt", "gte", "contains", "startsWith", "isNull"}
    assert set(_inp(registry, model, "SalesOrderTagsFilter").fields) == {"contains", "isNull"}
    order = _inp(registry, model, "SalesOrderOrderBy").fields
    assert str(order["field"].type) == "SalesOrderOrderField!"
    assert str(order["direction"].type) == "SortDirection"
    field_enum = get_named_type(order["field"].type)
    assert isinstance(field_enum, GraphQLEnumType)
    assert set(field_enum.values) == {
        "id", "createdAt", "updatedAt", "version", "title", "notes", "email", "phone", "site",
        "quantity", "weight", "discount", "total", "paid", "dueOn", "shippedAt",
        "customerLevel", "score", "code",
    }  # fmt: skip
    assert field_enum.values["dueOn"].value == "due_on"


def test_connection_shape(registry: SchemaRegistry, model: TenantModel) -> None:
    conn = {k: str(f.type) for k, f in _obj(registry, model, "SalesOrderConnection").fields.items()}
    assert conn == {
        "edges": "[SalesOrderEdge!]!",
        "pageInfo": "PageInfo!",
        "totalCount": "Int!",
    }
    edge = {k: str(f.type) for k, f in _obj(registry, model, "SalesOrderEdge").fields.items()}
    assert edge == {"cursor": "String!", "node": "SalesOrder!"}
    info = {k: str(f.type) for k, f in _obj(registry, model, "PageInfo").fields.items()}
    assert info == {"hasNextPage": "Boolean!", "endCursor": "String"}
