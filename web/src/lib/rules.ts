// Form rules (CEL `visible_when` / `required_when`) evaluated live in the browser.
// Values cross as the server passes them to CEL (core/expressions/values.py):
// integers as int, decimals, percents and money amounts as double, dates and
// datetimes as timestamps. The server stays the authority on what is saved.
import { parse } from "@marcbachmann/cel-js";
import type { Entity } from "./meta";

type Compiled = (vars: Record<string, unknown>) => unknown;
const cache = new Map<string, Compiled | null>();

function compile(source: string): Compiled | null {
  if (!cache.has(source)) {
    try {
      cache.set(source, parse(source) as unknown as Compiled);
    } catch {
      cache.set(source, null); // the server validated it; an unsupported form shows the field
    }
  }
  return cache.get(source) ?? null;
}

function toCel(valueType: string, value: unknown): unknown {
  if (value === null || value === undefined || value === "") return undefined;
  switch (valueType) {
    case "integer": {
      try {
        return BigInt(String(value));
      } catch {
        return undefined;
      }
    }
    case "decimal":
    case "percent": {
      const n = Number(value);
      return Number.isNaN(n) ? undefined : n;
    }
    case "money": {
      const m = value as { amount?: unknown; currency?: string };
      if (m.amount === undefined || m.amount === null || m.amount === "") return undefined;
      return { amount: Number(m.amount), currency: m.currency ?? "" };
    }
    case "date":
    case "datetime":
      return new Date(String(value).length === 10 ? `${value}T00:00:00Z` : String(value));
    case "relation":
    case "user":
      return typeof value === "object" ? (value as { id?: string }).id : value;
    default:
      return value;
  }
}

/** The `record` variable of a form: present fields only, so `has()` works. */
export function celRecord(entity: Entity, values: Record<string, unknown>): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const f of entity.fields) {
    const v = toCel(f.valueType, values[f.key]);
    if (v !== undefined) record[f.key] = v;
  }
  return record;
}

/** Evaluate a rule; `fallback` when there is none or it cannot be evaluated here. */
export function evaluateRule(source: string | null, record: Record<string, unknown>, fallback: boolean): boolean {
  if (!source) return fallback;
  const fn = compile(source);
  if (!fn) return fallback;
  const now = new Date();
  const today = new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()));
  try {
    return fn({ record, today, now }) === true;
  } catch {
    return fallback;
  }
}
