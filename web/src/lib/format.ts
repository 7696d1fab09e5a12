// Values shown in the user's locale: numbers, money, dates via Intl.
import type { Field, Model } from "./meta";
import { recordTitle } from "./records";

/** BCP 47 tag Intl understands for a tenant locale such as zh-CN or tl-PH. */
export function intlLocale(locale: string): string {
  try {
    return Intl.getCanonicalLocales(locale)[0] ?? "en";
  } catch {
    return "en";
  }
}

export function formatNumber(value: unknown, locale: string, digits?: number): string {
  if (value === null || value === undefined || value === "") return "";
  const n = Number(value);
  if (Number.isNaN(n)) return String(value);
  return new Intl.NumberFormat(intlLocale(locale), digits === undefined ? {} : { maximumFractionDigits: digits }).format(n);
}

export function formatMoney(amount: unknown, currency: string, locale: string): string {
  if (amount === null || amount === undefined || amount === "") return "";
  try {
    return new Intl.NumberFormat(intlLocale(locale), { style: "currency", currency }).format(Number(amount));
  } catch {
    return `${amount} ${currency}`;
  }
}

/** An amount in few characters for a chart's axis: ¥20万, 1,2 M€, ₱1.5M. */
export function formatCompactMoney(amount: number, currency: string, locale: string): string {
  try {
    return new Intl.NumberFormat(intlLocale(locale), { style: "currency", currency, notation: "compact" }).format(amount);
  } catch {
    return formatMoney(amount, currency, locale);
  }
}

export function formatDate(value: string | null | undefined, locale: string): string {
  if (!value) return "";
  const [y, m, d] = value.slice(0, 10).split("-").map(Number);
  // A date has no zone: format it as the calendar day it names.
  return new Intl.DateTimeFormat(intlLocale(locale), { dateStyle: "medium", timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

export function formatDateTime(value: string | null | undefined, locale: string, timeZone: string): string {
  if (!value) return "";
  return new Intl.DateTimeFormat(intlLocale(locale), { dateStyle: "medium", timeStyle: "short", timeZone }).format(
    new Date(value),
  );
}

/** The `YYYY-MM-DDTHH:MM` a datetime-local input shows for an instant, in the tenant's zone. */
export function toLocalInput(value: string | null | undefined, timeZone: string): string {
  if (!value) return "";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(value));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "00";
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}`;
}

/** One field's value as text for lists and the record page. */
export function formatValue(model: Model, f: Field, value: any): string {
  if (value === null || value === undefined) return "";
  const locale = model.locale;
  switch (f.valueType) {
    case "money":
      return formatMoney(value.amount, value.currency, locale);
    case "integer":
    case "decimal":
      return formatNumber(value, locale);
    case "percent":
      return `${formatNumber(value, locale)} %`;
    case "date":
      return formatDate(value, locale);
    case "datetime":
      return formatDateTime(value, locale, model.tenant.timezone);
    case "boolean":
      return value ? "✓" : "✗";
    case "enum":
      return f.options.find((o) => o.value === value)?.label ?? String(value);
    case "multi_enum":
      return (value as string[]).map((v) => f.options.find((o) => o.value === v)?.label ?? v).join(", ");
    case "user":
      return value.name ?? "";
    case "relation": {
      const target = model.byKey.get(f.target ?? "");
      return target ? recordTitle(model, target, value) : String(value.id);
    }
    case "relation_list": {
      const target = model.byKey.get(f.target ?? "");
      return (value as any[]).map((v) => (target ? recordTitle(model, target, v) : v.id)).join(", ");
    }
    case "address":
      return [value.street, value.postalCode, value.city, value.region, value.country].filter(Boolean).join(", ");
    default:
      return String(value);
  }
}
