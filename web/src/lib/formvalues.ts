// Between a record as GraphQL returns it, the values a form edits, and a mutation input.
import { toLocalInput } from "./format";
import type { Entity, Field, Model } from "./meta";
import { inputName, recordTitle, writable } from "./records";

export interface Ref {
  id: string;
  title: string;
}

export type Values = Record<string, any>; // field key -> form value

export const ADDRESS_PARTS = ["street", "city", "region", "postalCode", "country"] as const;

/** Form values of a record (or the empty form of a new one). */
export function fromRecord(model: Model, entity: Entity, row: any | null): Values {
  const out: Values = {};
  for (const f of entity.fields) {
    const v = row ? row[f.graphqlName] : defaultOf(f);
    switch (f.valueType) {
      case "money":
        out[f.key] = { amount: v?.amount ?? "", currency: v?.currency ?? model.tenant.currency };
        break;
      case "boolean":
        out[f.key] = v ?? false;
        break;
      case "multi_enum":
        out[f.key] = v ?? [];
        break;
      case "datetime":
        out[f.key] = toLocalInput(v, model.tenant.timezone);
        break;
      case "relation": {
        const target = model.byKey.get(f.target ?? "");
        out[f.key] = v && target ? { id: v.id, title: recordTitle(model, target, v) } : null;
        break;
      }
      case "relation_list": {
        const target = model.byKey.get(f.target ?? "");
        out[f.key] = (v ?? []).map((x: any) => ({ id: x.id, title: target ? recordTitle(model, target, x) : x.id }));
        break;
      }
      case "user":
        // A new record is the caller's own until they pick someone else: with an "own"
        // record scope, an ownerless record would vanish from its creator's sight.
        out[f.key] = v ? { id: v.id, title: v.name } : !row && f.key === "owner" && writable(f) ? { id: model.me.id, title: model.me.name } : null;
        break;
      case "address":
        out[f.key] = Object.fromEntries(ADDRESS_PARTS.map((p) => [p, v?.[p] ?? ""]));
        break;
      default:
        out[f.key] = v === null || v === undefined ? "" : String(v);
    }
  }
  return out;
}

/** A new record's starting value of a field, in GraphQL output shape. */
function defaultOf(f: Field): any {
  if (f.defaultValue === null) return null;
  try {
    const v = JSON.parse(f.defaultValue);
    if (f.valueType === "money" && (typeof v === "string" || typeof v === "number")) return { amount: String(v) };
    return typeof v === "number" ? String(v) : v;
  } catch {
    return null;
  }
}

function empty(v: unknown): boolean {
  return v === "" || v === null || v === undefined;
}

/** The GraphQL input value of one form value (null clears the field). */
function inputValue(f: Field, v: any): unknown {
  switch (f.valueType) {
    case "money":
      return empty(v?.amount) ? null : { amount: String(v.amount), currency: v.currency || null };
    case "integer":
      return empty(v) ? null : Number.parseInt(v, 10);
    case "boolean":
      return !!v;
    case "multi_enum":
      return v ?? [];
    case "relation":
    case "user":
      return v ? v.id : null;
    case "relation_list":
      return (v ?? []).map((r: Ref) => r.id);
    case "address": {
      if (!v || ADDRESS_PARTS.every((p) => empty(v[p]))) return null;
      return Object.fromEntries(ADDRESS_PARTS.map((p) => [p, empty(v[p]) ? null : v[p]]));
    }
    default:
      return empty(v) ? null : v;
  }
}

/**
 * The mutation input: on create every filled field, on update only the fields
 * the user changed (so a concurrent edit of another field is not overwritten).
 */
export function toInput(entity: Entity, values: Values, original: Values | null, shown: Set<string>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const f of entity.fields) {
    if (!writable(f) || !shown.has(f.key)) continue;
    const value = inputValue(f, values[f.key]);
    if (original === null) {
      if (value === null || (Array.isArray(value) && value.length === 0)) continue;
    } else if (JSON.stringify(value) === JSON.stringify(inputValue(f, original[f.key]))) {
      continue;
    }
    input[inputName(f)] = value;
  }
  return input;
}
