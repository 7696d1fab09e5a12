// GraphQL documents for an entity's records, built from the model.
import { gql } from "./api";
import type { Entity, Field, Model } from "./meta";

/** The GraphQL name of an entity's title field, if it has one. */
export function titleName(entity: Entity | undefined): string | null {
  if (!entity?.titleField) return null;
  return entity.byKey.get(entity.titleField)?.graphqlName ?? null;
}

/** The selection of one field in a record type. */
export function selectField(model: Model, f: Field): string {
  const name = f.graphqlName;
  switch (f.valueType) {
    case "money":
      return `${name} { amount currency }`;
    case "address":
      return `${name} { street city region postalCode country }`;
    case "user":
      return `${name} { id name }`;
    case "relation":
    case "relation_list": {
      const title = titleName(model.byKey.get(f.target ?? ""));
      return `${name} { id${title ? " " + title : ""} }`;
    }
    default:
      return name;
  }
}

export function selection(model: Model, entity: Entity, fields: Field[] = entity.fields): string {
  return ["id version createdAt updatedAt", ...fields.map((f) => selectField(model, f))].join(" ");
}

export type SortDir = "ASC" | "DESC";
export interface Sort {
  field: string; // GraphQL order field name
  direction: SortDir;
}

export interface Page {
  rows: any[];
  total: number;
  hasNext: boolean;
  endCursor: string | null;
}

export async function listRecords(
  model: Model,
  entity: Entity,
  fields: Field[],
  opts: { filter?: any; orderBy?: Sort[]; first?: number; after?: string | null },
): Promise<Page> {
  const q = `query List($filter: ${entity.typeName}Filter, $orderBy: [${entity.typeName}OrderBy!], $first: Int, $after: String) {
    ${entity.listQueryName}(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { ${selection(model, entity, fields)} } }
    }
  }`;
  const data = await gql(q, {
    filter: opts.filter ?? null,
    orderBy: opts.orderBy?.length ? opts.orderBy : null,
    first: opts.first ?? 25,
    after: opts.after ?? null,
  });
  const conn = data[entity.listQueryName];
  return {
    rows: conn.edges.map((e: any) => e.node),
    total: conn.totalCount,
    hasNext: conn.pageInfo.hasNextPage,
    endCursor: conn.pageInfo.endCursor,
  };
}

export async function getRecord(model: Model, entity: Entity): Promise<(id: string) => Promise<any>> {
  const q = `query Get($id: ID!) { ${entity.queryName}(id: $id) { ${selection(model, entity)} } }`;
  return async (id: string) => (await gql(q, { id }))[entity.queryName];
}

/** The input key of a field in create/update inputs. */
export function inputName(f: Field): string {
  if (f.valueType === "relation" || f.valueType === "user") return `${f.graphqlName}Id`;
  if (f.valueType === "relation_list") return `${f.graphqlName}Ids`;
  return f.graphqlName;
}

/** Which field an error path such as `total.amount` or `accountId` points at. */
export function fieldOfPath(entity: Entity, path: string): Field | undefined {
  const head = path.split(".")[0].split("[")[0];
  return entity.fields.find(
    (f) => f.graphqlName === head || inputName(f) === head || f.key === head,
  );
}

/** Whether the caller's inputs may carry a field at all. */
export function writable(f: Field): boolean {
  return !f.readOnly && f.type !== "computed";
}

export async function saveRecord(
  entity: Entity,
  id: string | null,
  input: Record<string, unknown>,
  expectedVersion: number | null,
  fields: string,
): Promise<any> {
  if (id === null) {
    const q = `mutation Create($input: ${entity.typeName}CreateInput!) {
      create${entity.typeName}(input: $input) { ${fields} } }`;
    return (await gql(q, { input }))[`create${entity.typeName}`];
  }
  const q = `mutation Update($id: ID!, $input: ${entity.typeName}UpdateInput!, $v: Int) {
    update${entity.typeName}(id: $id, input: $input, expectedVersion: $v) { ${fields} } }`;
  return (await gql(q, { id, input, v: expectedVersion }))[`update${entity.typeName}`];
}

export async function runTransition(entity: Entity, id: string, transition: string, comment: string | null) {
  const q = `mutation T($id: ID!, $t: String!, $c: String) {
    transition${entity.typeName}(id: $id, transition: $t, comment: $c) { id version } }`;
  return gql(q, { id, t: transition, c: comment });
}

/** The text a related record is shown by. */
export function recordTitle(_model: Model, entity: Entity, row: any): string {
  const t = titleName(entity);
  const value = t ? row?.[t] : null;
  return value ? String(value) : `${entity.label} ${String(row?.id ?? "").slice(0, 8)}`;
}

/** Search an entity's records by its title field (for relation pickers). */
export async function searchRecords(model: Model, entity: Entity, text: string): Promise<any[]> {
  const title = titleName(entity);
  const titleField = entity.titleField ? entity.byKey.get(entity.titleField) : undefined;
  const filter = title && text && titleField?.valueType !== "computed" ? { [title]: { contains: text } } : null;
  const page = await listRecords(model, entity, titleField ? [titleField] : [], { filter, first: 10 });
  return page.rows;
}
