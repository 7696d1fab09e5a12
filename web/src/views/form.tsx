import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { useSession } from "../app";
import { ApiError } from "../lib/api";
import { ADDRESS_PARTS, fromRecord, toInput, type Ref, type Values } from "../lib/formvalues";
import { formOf, type Entity, type Field, type FormField } from "../lib/meta";
import { fieldOfPath, getRecord, saveRecord, searchRecords, recordTitle, writable } from "../lib/records";
import { navigate } from "../lib/router";
import { celRecord, evaluateRule } from "../lib/rules";

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
        if (!f || !shown.has(f.key) || !writable(f) || !required(item, f)) continue;
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
      const input = toInput(entity, values, id ? original : null, shown);
      const saved = await saveRecord(entity, id, input, version, "id version");
      notify(t("saved"));
      navigate(`e/${entity.key}/${saved.id}`);
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
                <FieldInput field={f} item={item} value={values[f.key]} error={errors[f.key]}
                  required={required(item, f)} onChange={(v) => set(f.key, v)} />
              );
            })}
          </div>
        </fieldset>
      ))}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={busy}>{t("save")}</button>
        <a class="button" href={id ? `e/${entity.key}/${id}` : `e/${entity.key}`}>{t("cancel")}</a>
      </div>
    </form>
  );
}

function focusFirstError(form: HTMLFormElement | null) {
  setTimeout(() => form?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus(), 0);
}

interface InputProps {
  field: Field;
  item: FormField;
  value: any;
  error?: string;
  required: boolean;
  onChange: (v: any) => void;
}

function FieldInput({ field: f, item, value, error, required, onChange }: InputProps) {
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
    disabled: !writable(f),
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
        <select {...common} value={value?.id ?? ""} onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value;
          onChange(v === model.me.id ? { id: v, title: model.me.name } : v ? value : null);
        }}>
          <option value="">{t("choose")}</option>
          {value && value.id !== model.me.id && <option value={value.id}>{value.title}</option>}
          <option value={model.me.id}>{model.me.name}</option>
        </select>
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
  const [text, setText] = useState("");
  const [options, setOptions] = useState<Ref[]>([]);
  const [open, setOpen] = useState(false);
  const many = field.valueType === "relation_list";
  const chosen: Ref[] = many ? value : value ? [value] : [];
  const listId = `${common.id}-options`;

  useEffect(() => {
    if (!open || !target) return;
    const timer = setTimeout(() => {
      searchRecords(model, target, text)
        .then((rows) => setOptions(rows.map((r) => ({ id: r.id, title: recordTitle(model, target, r) }))))
        .catch(() => setOptions([]));
    }, 200);
    return () => clearTimeout(timer);
  }, [text, open, model, target]);

  const pick = (r: Ref) => {
    onChange(many ? [...chosen.filter((c) => c.id !== r.id), r] : r);
    setText("");
    setOpen(false);
  };
  return (
    <div class="picker">
      {chosen.map((c) => (
        <span class="chip">
          {c.title}
          {!common.disabled && (
            <button type="button" aria-label={`${t("removeFilter")}: ${c.title}`}
              onClick={() => onChange(many ? chosen.filter((x) => x.id !== c.id) : null)}>✕</button>
          )}
        </span>
      ))}
      {(many || !value) && (
        <input {...common} type="search" role="combobox" aria-expanded={open} aria-controls={listId}
          aria-autocomplete="list" autocomplete="off" placeholder={t("searchFor", { f: target?.label ?? "" })} value={text}
          onFocus={() => setOpen(true)}
          onBlur={() => setTimeout(() => setOpen(false), 200)}
          onInput={(e) => { setText((e.target as HTMLInputElement).value); setOpen(true); }}
          onKeyDown={(e) => { if (e.key === "Enter" && options[0]) { e.preventDefault(); pick(options[0]); } }} />
      )}
      {open && options.length > 0 && (
        <ul id={listId} role="listbox" class="options">
          {options.map((o) => (
            <li role="option" aria-selected="false" tabIndex={0}
              onMouseDown={(e) => { e.preventDefault(); pick(o); }}
              onKeyDown={(e) => { if (e.key === "Enter") pick(o); }}>{o.title}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
