// List state (filters, sort, columns), its GraphQL form, and saved views per user.
import { gql } from "./api";
import type { Entity, Field } from "./meta";
import type { Sort } from "./records";

export type Op = "contains" | "eq" | "ne" | "lt" | "lte" | "gt" | "gte" | "isNull" | "notNull";

export interface FilterRow {
  field: string; // field key
  op: Op;
  value: string;
}

export interface ViewState {
  filters: FilterRow[];
  sort: Sort[];
}

export interface SavedView {
  id: string;
  name: string;
  state: ViewState;
}

export const EMPTY_VIEW: ViewState = { filters: [], sort: [] };

/** The operators a field offers in the filter bar. */
export function operators(f: Field): Op[] {
  switch (f.valueType) {
    case "text":
    case "long_text":
    case "email":
    case "phone":
    case "url":
      return ["contains", "eq", "ne", "isNull", "notNull"];
    case "integer":
    case "decimal":
    case "percent":
    case "money":
    case "date":
    case "datetime":
      return ["eq", "ne", "lt", "lte", "gt", "gte", "isNull", "notNull"];
    case "enum":
    case "boolean":
      return ["eq", "ne", "isNull", "notNull"];
    case "multi_enum":
      return ["contains", "isNull", "notNull"];
    case "relation":
    case "user":
    case "relation_list":
      return ["isNull", "notNull"];
    default:
      return [];
  }
}

export function filterable(f: Field): boolean {
  return operators(f).length > 0;
}

export function sortable(f: Field): boolean {
  return !["relation", "relation_list", "user", "address", "multi_enum"].includes(f.valueType);
}

function typed(f: Field, raw: string): unknown {
  if (f.valueType === "integer") return Number.parseInt(raw, 10);
  if (f.valueType === "boolean") return raw === "true";
  return raw;
}

/** The `<Type>Filter` of a view's filter rows (all must hold). */
export function toFilter(entity: Entity, rows: FilterRow[]): Record<string, unknown> | null {
  const parts: Record<string, unknown>[] = [];
  for (const row of rows) {
    const f = entity.byKey.get(row.field);
    if (!f) continue;
    if (row.op === "isNull" || row.op === "notNull") {
      parts.push({ [f.graphqlName]: { isNull: row.op === "isNull" } });
    } else if (row.value !== "") {
      parts.push({ [f.graphqlName]: { [row.op]: typed(f, row.value) } });
    }
  }
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0] : { and: parts };
}

const VIEW_FIELDS = "id name definition";

function parseView(row: any): SavedView {
  let state: ViewState = EMPTY_VIEW;
  try {
    const parsed = JSON.parse(row.definition || "{}");
    state = { filters: parsed.filters ?? [], sort: parsed.sort ?? [] };
  } catch {
    /* a view that cannot be read opens as the full list */
  }
  return { id: row.id, name: row.name, state };
}

export async function loadViews(entity: string): Promise<SavedView[]> {
  const data = await gql(`query V($e: String!) { myViews(entity: $e) { ${VIEW_FIELDS} } }`, { e: entity });
  return data.myViews.map(parseView);
}

export async function saveView(entity: string, name: string, state: ViewState): Promise<SavedView> {
  const data = await gql(
    `mutation S($e: String!, $n: String!, $d: String!) { saveMyView(entity: $e, name: $n, definition: $d) { ${VIEW_FIELDS} } }`,
    { e: entity, n: name, d: JSON.stringify(state) },
  );
  return parseView(data.saveMyView);
}

export async function deleteView(id: string): Promise<void> {
  await gql(`mutation D($id: ID!) { deleteMyView(id: $id) }`, { id });
}
