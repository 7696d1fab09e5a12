import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useSession } from "../app";
import { ApiError, gql } from "../lib/api";
import { ADDRESS_PARTS, fromRecord, toInput, type Ref, type Values } from "../lib/formvalues";
import { formOf, workflowOf, type Entity, type Field, type FormField, type Model } from "../lib/meta";
import { fieldOfPath, getRecord, saveRecord, searchRecords, recordTitle, titleName, writable } from "../lib/records";
import { navigate } from "../lib/router";
import { celRecord, evaluateRule } from "../lib/rules";
import { SearchPicker } from "./widgets";

/** Where a form opened from another record's page goes back to (`?from=e/quote/123`). */
function returnRoute(): string | null {
  const from = new URLSearchParams(location.search).get("from");
  return from && /^e\/[a-z0-9_]+\/[^/?#]+$/.test(from) ? from : null;
}

/** Values a new record starts with from the address (`?quote=123` from a quote's page). */
async function presetValues(model: Model, entity: Entity): Promise<Values> {
  const out: Values = {};
  for (const [key, raw] of new URLSearchParams(location.search)) {
    const f = entity.byKey.get(key);
    if (!f || !writable(f) || !raw) continue;
    if (f.valueType === "relation") {
      const target = model.byKey.get(f.target ?? "");
      if (!target) continue;
      const title = titleName(target);
      const row = await gql(`query P($id: ID!) { ${target.queryName}(id: $id) { id${title ? " " + title : ""} } }`, { id: raw })
        .then((d) => d[target.queryName])
        .catch(() => null);
      if (row) out[key] = { id: row.id, title: recordTitle(model, target, row) };
    } else if (["text", "long_text", "email", "phone", "url", "enum", "date", "integer", "decimal", "percent"].includes(f.valueType)) {
      out[key] = raw;
    }
  }
  return out;
}

/** Create or edit one record with the tenant's form for its entity. */
export function RecordForm({ entity, id }: { entity: Entity; id: string | null }) {
  const { model, t, notify } = useSession();
  const form = formOf(model, entity);
  const [values, setValues] = useState<Values | null>(id ? null : fromRecord(model, entity, null));
  const [original, setOriginal] = useState<Values | null>(null);
  const [version, setVersion] = useState<number | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [banner, setBanner] = useState<{ kind: "error" | "conflict"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    if (id) return;
    presetValues(model, entity).then((preset) => {
      if (Object.keys(preset).length) setValues((v) => ({ ...(v ?? fromRecord(model, entity, null)), ...preset }));
    });
  }, [model, entity]);

  useEffect(() => {
    if (!id) return;
    getRecord(model, entity)
      .then((get) => get(id))
      .then((row) => {
        const v = fromRecord(model, entity, row);
        setValues(v);
        setOriginal(v);
        setVersion(row?.version ?? null);
      })
      .catch((e) => setBanner({ kind: "error", text: e instanceof ApiError ? e.message : String(e) }));
  }, [id, model, entity]);

  const record = useMemo(() => (values ? celRecord(entity, values) : {}), [entity, values]);
  if (!values) return <p role="status">{t("loading")}</p>;

  const visible = (item: FormField) => evaluateRule(item.visibleWhen, record, true);
  const required = (item: FormField, f: Field) => f.required || evaluateRule(item.requiredWhen, record, false);
  const shown = new Set<string>();
  for (const s of form.sections) for (const item of s.fields) if (visible(item)) shown.add(item.field);
  // A workflow's state changes only through its transitions (the record page's buttons).
  const stateField = workflowOf(model, entity.key)?.field;
  const sendable = new Set([...shown].filter((k) => k !== stateField));

  const set = (key: string, value: unknown) => {
    setValues({ ...values, [key]: value });
    if (errors[key]) {
      const rest = { ...errors };
      delete rest[key];
      setErrors(rest);
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    // Required-when rules are checked here first; the server checks everything again.
    const local: Record<string, string> = {};
    for (const s of form.sections)
      for (const item of s.fields) {
        const f = entity.byKey.get(item.field);
        if (!f || !sendable.has(f.key) || !writable(f) || !required(item, f)) continue;
        const v = values[f.key];
        const blank = v === "" || v === null || (f.valueType === "money" && v.amount === "") || (Array.isArray(v) && !v.length);
        if (blank) local[f.key] = t("required");
      }
    if (Object.keys(local).length) {
      setErrors(local);
      setBanner({ kind: "error", text: t("fixErrors") });
      focusFirstError(formRef.current);
      return;
    }
    setBusy(true);
    setBanner(null);
    try {
      const input = toInput(entity, values, id ? original : null, sendable);
      const saved = await saveRecord(entity, id, input, version, "id version");
      notify(t("saved"));
      navigate(returnRoute() ?? `e/${entity.key}/${saved.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.code === "CONFLICT") {
        const latest = await getRecord(model, entity).then((get) => get(id!)).catch(() => null);
        setBanner({ kind: "conflict", text: t("conflict", { v: latest?.version ?? "?" }) });
      } else if (err instanceof ApiError && err.errors.length) {
        const located: Record<string, string> = {};
        const elsewhere: string[] = [];
        for (const p of err.errors) {
          const f = fieldOfPath(entity, p.field);
          if (f && shown.has(f.key)) located[f.key] = located[f.key] ? `${located[f.key]}; ${p.message}` : p.message;
          else elsewhere.push(f ? `${f.label}: ${p.message}` : p.message);
        }
        setErrors(located);
        setBanner({ kind: "error", text: [t("fixErrors"), ...elsewhere].join(" ") });
        focusFirstError(formRef.current);
      } else {
        setBanner({ kind: "error", text: err instanceof ApiError ? err.message : String(err) });
      }
    } finally {
      setBusy(false);
    }
  };

  const title = id ? `${t("edit")}: ${recordTitle(model, entity, { id, [entity.titleField ?? ""]: values[entity.titleField ?? ""] })}` : `${t("new")} ${entity.label}`;
  return (
    <form ref={formRef} class="record-form" onSubmit={submit} noValidate aria-labelledby="form-title">
      <div class="page-head">
        <h1 id="form-title">{title}</h1>
      </div>
      {banner && (
        <div class={`banner ${banner.kind}`} role="alert" data-testid="form-banner">
          <p>{banner.text}</p>
          {banner.kind === "conflict" && (
            <button type="button" onClick={() => location.reload()}>{t("reload")}</button>
          )}
        </div>
      )}
      {form.sections.map((section) => (
        <fieldset class="section" style={{ "--cols": String(section.columns) }}>
          <legend>{section.label}</legend>
          <div class="grid">
            {section.fields.map((item) => {
              const f = entity.byKey.get(item.field);
              if (!f || !shown.has(f.key)) return null;
              return (
                <FieldInput field={f} item={item} value={values[f.key]} error={errors[f.key]} locked={f.key === stateField}
                  required={required(item, f)} onChange={(v) => set(f.key, v)} />
              );
            })}
          </div>
        </fieldset>
      ))}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={busy}>{t("save")}</button>
        <a class="button" href={returnRoute() ?? (id ? `e/${entity.key}/${id}` : `e/${entity.key}`)}>{t("cancel")}</a>
      </div>
    </form>
  );
}

function focusFirstError(form: HTMLFormElement | null) {
  setTimeout(() => form?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus(), 0);
}

interface InputProps {
  field: Field;
  locked?: boolean;
  item: FormField;
  value: any;
  error?: string;
  required: boolean;
  onChange: (v: any) => void;
}

function FieldInput({ field: f, item, value, error, required, locked, onChange }: InputProps) {
  const { t, model } = useSession();
  const id = `f-${f.key}`;
  const errId = `${id}-error`;
  const helpId = `${id}-help`;
  const described = [error ? errId : "", f.help ? helpId : ""].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name: f.key,
    "aria-invalid": error ? ("true" as const) : undefined,
    "aria-describedby": described,
    "aria-required": required ? ("true" as const) : undefined,
    disabled: !writable(f) || !!locked,
  };
  const text = (e: Event) => onChange((e.target as HTMLInputElement).value);
  let control;
  switch (f.valueType) {
    case "long_text":
      control = <textarea {...common} rows={item.widget === "textarea" ? 4 : 3} value={value} onInput={text} />;
      break;
    case "integer":
      control = <input {...common} type="number" step="1" min={f.min ?? undefined} max={f.max ?? undefined} value={value} onInput={text} />;
      break;
    case "decimal":
    case "percent":
      control = <input {...common} type="number" step="any" min={f.min ?? undefined} max={f.max ?? undefined} value={value} onInput={text} />;
      break;
    case "money":
      control = (
        <div class="money" role="group" aria-labelledby={`${id}-label`}>
          <input {...common} type="number" step="any" inputMode="decimal" aria-label={`${f.label} · ${t("amount")}`}
            value={value.amount} onInput={(e) => onChange({ ...value, amount: (e.target as HTMLInputElement).value })} />
          <label class="sr-only" for={`${id}-currency`}>{`${f.label} · ${t("currency")}`}</label>
          <input id={`${id}-currency`} class="currency" maxLength={3} value={value.currency} disabled={!writable(f)}
            onInput={(e) => onChange({ ...value, currency: (e.target as HTMLInputElement).value.toUpperCase() })} />
        </div>
      );
      break;
    case "boolean":
      control = <input {...common} type="checkbox" checked={!!value} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />;
      break;
    case "date":
      control = <input {...common} type="date" value={value} onInput={text} />;
      break;
    case "datetime":
      control = <input {...common} type="datetime-local" value={value} onInput={text} />;
      break;
    case "enum":
      control = (
        <select {...common} value={value} onChange={text}>
          <option value="">{t("choose")}</option>
          {f.options.map((o) => <option value={o.value}>{o.label}</option>)}
        </select>
      );
      break;
    case "multi_enum":
      control = (
        <div class="checks" role="group" aria-labelledby={`${id}-label`} id={id}>
          {f.options.map((o) => (
            <label><input type="checkbox" checked={value.includes(o.value)} disabled={!writable(f)}
              onChange={(e) => onChange((e.target as HTMLInputElement).checked ? [...value, o.value] : value.filter((v: string) => v !== o.value))} /> {o.label}</label>
          ))}
        </div>
      );
      break;
    case "relation":
    case "relation_list":
      control = <RelationPicker common={common} field={f} value={value} onChange={onChange} />;
      break;
    case "user":
      control = (
        <SearchPicker common={common} many={false} chosen={value ? [value] : []}
          placeholder={t("searchFor", { f: f.label })} search={(text) => searchUsers(model, text)}
          onChange={(chosen) => onChange(chosen[0] ?? null)} />
      );
      break;
    case "address":
      control = (
        <div class="address" role="group" aria-labelledby={`${id}-label`} id={id}>
          {ADDRESS_PARTS.map((p) => (
            <label>
              <span>{t(p)}</span>
              <input name={`${f.key}.${p}`} value={value[p]} disabled={!writable(f)}
                onInput={(e) => onChange({ ...value, [p]: (e.target as HTMLInputElement).value })} />
            </label>
          ))}
        </div>
      );
      break;
    default: {
      const type = f.valueType === "email" ? "email" : f.valueType === "url" ? "url" : f.valueType === "phone" ? "tel" : "text";
      control = <input {...common} type={type} maxLength={f.maxLength ?? undefined} value={value} onInput={text} />;
    }
  }
  const grouped = ["money", "multi_enum", "address"].includes(f.valueType);
  return (
    <div class={`field${error ? " invalid" : ""}${f.valueType === "boolean" ? " check" : ""}`}
      style={item.width ? { gridColumn: `span ${item.width}` } : undefined} data-field={f.key}>
      {grouped ? (
        <span class="label" id={`${id}-label`}>{f.label}{required && <span aria-hidden="true"> *</span>}</span>
      ) : (
        <label for={id} id={`${id}-label`}>{f.label}{required && <span aria-hidden="true"> *</span>}</label>
      )}
      {control}
      {f.help && <small id={helpId} class="help">{f.help}</small>}
      {error && <p id={errId} class="field-error" data-testid={`error-${f.key}`}>{error}</p>}
    </div>
  );
}

function RelationPicker({ common, field, value, onChange }: { common: any; field: Field; value: any; onChange: (v: any) => void }) {
  const { model, t } = useSession();
  const target = model.byKey.get(field.target ?? "");
  const many = field.valueType === "relation_list";
  const chosen: Ref[] = many ? value : value ? [value] : [];
  const search = async (text: string): Promise<Ref[]> =>
    target ? (await searchRecords(model, target, text)).map((r) => ({ id: r.id, title: recordTitle(model, target, r) })) : [];
  return (
    <SearchPicker common={common} many={many} chosen={chosen} placeholder={t("searchFor", { f: target?.label ?? "" })}
      search={search} onChange={(refs) => onChange(many ? refs : refs[0] ?? null)} />
  );
}

/** The tenant's active users whose name or email holds `text`; with no text, the caller first. */
async function searchUsers(model: Model, text: string): Promise<Ref[]> {
  const data = await gql<{ users: { id: string; name: string; email: string }[] }>(
    `query U($s: String) { users(search: $s, first: 10) { id name email } }`, { s: text || null });
  const found = data.users.map((u) => ({ id: u.id, title: u.name || u.email }));
  if (text) return found;
  return [{ id: model.me.id, title: model.me.name }, ...found.filter((u) => u.id !== model.me.id)];
}
