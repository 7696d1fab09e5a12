import { useEffect, useState } from "preact/hooks";
import { useSession } from "../app";
import { ApiError, gql } from "../lib/api";
import { formatDateTime, formatValue } from "../lib/format";
import { type Entity, type Field, type Model } from "../lib/meta";
import { listRecords, recordTitle, runTransition, selection, titleName } from "../lib/records";
import { navigate } from "../lib/router";
import { PdfButton } from "./documents";

interface Transition {
  key: string;
  label: string;
  toLabel: string;
  allowed: boolean;
  reason: string | null;
  needsApproval: boolean;
  commentRequired: boolean;
}

interface Approval {
  id: string;
  status: string;
  transitionLabel: string;
  step: number;
  requestedAt: string;
  requestedBy: { name: string } | null;
  steps: { index: number; label: string; approvers: { userId: string; decision: string | null; comment: string; user: { name: string } | null }[] }[];
}

const APPROVAL_FIELDS = `id status transitionLabel step requestedAt requestedBy { name }
  steps { index label approvers { userId decision comment user { name } } }`;

/** Relation fields of other entities that point at `entity` (for related lists). */
function relatedFields(model: Model, entity: Entity): { entity: Entity; field: Field }[] {
  const out: { entity: Entity; field: Field }[] = [];
  for (const e of model.entities)
    for (const f of e.fields)
      if (f.valueType === "relation" && f.target === entity.key && e.key !== "saved_view") out.push({ entity: e, field: f });
  return out;
}

export function RecordPage({ entity, id }: { entity: Entity; id: string }) {
  const { model, t, notify } = useSession();
  const [row, setRow] = useState<any>(null);
  const [error, setError] = useState("");
  const [transitions, setTransitions] = useState<Transition[]>([]);
  const [approvals, setApprovals] = useState<Approval[]>([]);
  const [tick, setTick] = useState(0);
  const hasWorkflow = model.workflows.some((w) => w.entity === entity.key);

  useEffect(() => {
    const q = `query R($id: ID!${hasWorkflow ? ", $e: String!" : ""}) {
      ${entity.queryName}(id: $id) { ${selection(model, entity)} createdBy { name } updatedBy { name }
        audit { at action diff actor { name } } }
      ${hasWorkflow ? `meta { transitions(entity: $e, id: $id) { key label toLabel allowed reason needsApproval commentRequired } }
      approvals(entity: $e, id: $id) { ${APPROVAL_FIELDS} }` : ""}
    }`;
    gql(q, hasWorkflow ? { id, e: entity.key } : { id })
      .then((data) => {
        setRow(data[entity.queryName]);
        setTransitions(data.meta?.transitions ?? []);
        setApprovals(data.approvals ?? []);
      })
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [model, entity, id, tick]);

  if (error) return <p class="error" role="alert">{error}</p>;
  if (!row) return <p role="status">{t("loading")}</p>;
  const title = recordTitle(model, entity, row);

  const run = async (tr: Transition) => {
    let comment: string | null = null;
    if (tr.commentRequired) {
      comment = prompt(`${tr.label} · ${t("comment")}`);
      if (!comment) return;
    }
    try {
      await runTransition(entity, id, tr.key, comment);
      notify(`${tr.label} ✓`);
      setTick(tick + 1);
    } catch (e) {
      notify(e instanceof ApiError ? [e.message, ...e.errors.map((p) => p.message)].join(" · ") : String(e), "error");
    }
  };

  return (
    <article aria-labelledby="record-title">
      <div class="page-head">
        <h1 id="record-title">{title}</h1>
        <div class="actions">
          <a class="button primary" href={`e/${entity.key}/${id}/edit`}>{t("edit")}</a>
          <PdfButton entity={entity} id={id} name={title} />
          <button type="button" onClick={async () => {
            if (!confirm(t("confirmDelete"))) return;
            try {
              await gql(`mutation D($id: ID!) { delete${entity.typeName}(id: $id) { id } }`, { id });
              navigate(`e/${entity.key}`);
            } catch (e) {
              notify(e instanceof ApiError ? e.message : String(e), "error");
            }
          }}>{t("delete")}</button>
        </div>
      </div>
      <div class="record-layout">
        <div>
          {transitions.length > 0 && (
            <section class="card" aria-labelledby="tr-title">
              <h2 id="tr-title">{t("transitions")}</h2>
              <div class="actions">
                {transitions.map((tr) => (
                  <button type="button" class={tr.allowed ? "primary" : ""} disabled={!tr.allowed}
                    title={tr.reason ?? undefined} onClick={() => run(tr)} data-transition={tr.key}>
                    {tr.label} → {tr.toLabel}{tr.needsApproval ? ` (${t("approval")})` : ""}
                  </button>
                ))}
              </div>
              {transitions.filter((tr) => !tr.allowed && tr.reason).map((tr) => (
                <p class="help">{tr.label}: {tr.reason}</p>
              ))}
            </section>
          )}
          {approvals.length > 0 && <ApprovalCard approvals={approvals} onDecided={() => setTick(tick + 1)} />}
          <section class="card" aria-labelledby="fields-title">
            <h2 id="fields-title">{t("fields")}</h2>
            <dl class="fields">
              {entity.fields.map((f) => {
                const v = formatValue(model, f, row[f.graphqlName]);
                if (!v) return null;
                const target = f.valueType === "relation" && row[f.graphqlName] ? `e/${f.target}/${row[f.graphqlName].id}` : null;
                return (
                  <div data-field={f.key}>
                    <dt>{f.label}</dt>
                    <dd>{target ? <a href={target}>{v}</a> : v}</dd>
                  </div>
                );
              })}
            </dl>
          </section>
          {relatedFields(model, entity).map((r) => <RelatedList target={r.entity} field={r.field} id={id} />)}
        </div>
        <div>
          <Timeline id={id} />
          <History entity={entity} audit={row.audit} />
        </div>
      </div>
    </article>
  );
}

export function ApprovalCard({ approvals, onDecided }: { approvals: Approval[]; onDecided: () => void }) {
  const { model, t, notify } = useSession();
  const decide = async (a: Approval, approve: boolean) => {
    const comment = approve ? null : prompt(`${t("reject")} · ${t("comment")}`);
    if (!approve && !comment) return;
    try {
      await gql(approve ? `mutation A($id: ID!) { approve(id: $id) { id status } }`
        : `mutation R($id: ID!, $c: String!) { reject(id: $id, comment: $c) { id status } }`, { id: a.id, c: comment });
      notify(approve ? t("approved") : t("rejected"));
      onDecided();
    } catch (e) {
      notify(e instanceof ApiError ? e.message : String(e), "error");
    }
  };
  return (
    <section class="card" aria-labelledby="approval-title" data-testid="approvals">
      <h2 id="approval-title">{t("approval")}</h2>
      {approvals.map((a) => {
        const step = a.steps.find((s) => s.index === a.step);
        const mine = a.status === "pending" && step?.approvers.some((p) => p.userId === model.me.id && !p.decision);
        return (
          <div class="approval">
            <p>
              {a.transitionLabel} · <span class={`badge ${a.status}`} data-testid="approval-status">{t(a.status)}</span>
              {a.requestedBy && <> · {t("requestedBy")} {a.requestedBy.name}</>}
              {" · "}{formatDateTime(a.requestedAt, model.locale, model.tenant.timezone)}
            </p>
            <ul>
              {a.steps.map((s) => (
                <li>{s.label}: {s.approvers.map((p) => `${p.user?.name ?? p.userId}${p.decision ? ` (${t(p.decision.startsWith("approve") ? "approved" : "rejected")})` : ""}`).join(", ")}</li>
              ))}
            </ul>
            {mine && (
              <div class="actions">
                <button type="button" class="primary" onClick={() => decide(a, true)}>{t("approve")}</button>
                <button type="button" onClick={() => decide(a, false)}>{t("reject")}</button>
              </div>
            )}
          </div>
        );
      })}
    </section>
  );
}

function RelatedList({ target, field, id }: { target: Entity; field: Field; id: string }) {
  const { model, t } = useSession();
  const [rows, setRows] = useState<any[] | null>(null);
  const [total, setTotal] = useState(0);
  useEffect(() => {
    const titleField = target.titleField ? target.byKey.get(target.titleField) : undefined;
    listRecords(model, target, titleField ? [titleField] : [], { filter: { [field.graphqlName]: { eq: id } }, first: 10 })
      .then((p) => { setRows(p.rows); setTotal(p.total); })
      .catch(() => setRows(null));
  }, [model, target, field, id]);
  if (!rows || rows.length === 0) return null;
  return (
    <section class="card" aria-label={`${t("related")}: ${target.pluralLabel}`}>
      <h2>{target.pluralLabel} ({total}) <small class="help">· {field.label}</small></h2>
      <ul>
        {rows.map((r) => <li><a href={`e/${target.key}/${r.id}`}>{recordTitle(model, target, r)}</a></li>)}
      </ul>
    </section>
  );
}

function Timeline({ id }: { id: string }) {
  const { model, t } = useSession();
  const [items, setItems] = useState<{ at: string; text: string; href: string }[]>([]);
  useEffect(() => {
    const sources: Promise<{ at: string; text: string; href: string }[]>[] = [];
    for (const e of model.entities) {
      if (e.key !== "activity" && e.key !== "task") continue;
      const link = e.key === "task" ? e.byKey.get("related_id") : e.fields.find((f) => f.valueType === "relation" && f.target);
      const due = e.byKey.get("due_at");
      if (!link) continue;
      const links = e.key === "task" ? [link] : e.fields.filter((f) => f.valueType === "relation");
      for (const l of links) {
        const title = titleName(e);
        sources.push(
          listRecords(model, e, [due, e.titleField ? e.byKey.get(e.titleField) : undefined].filter(Boolean) as Field[], {
            filter: { [l.graphqlName]: { eq: id } }, first: 20,
          }).then((p) => p.rows.map((r) => ({
            at: r.dueAt ?? r.createdAt, text: `${e.label}: ${title ? r[title] : r.id}`, href: `e/${e.key}/${r.id}`,
          }))).catch(() => []),
        );
      }
    }
    Promise.all(sources).then((all) => setItems(all.flat().sort((a, b) => (a.at < b.at ? 1 : -1))));
  }, [model, id]);
  return (
    <section class="card" aria-labelledby="tl-title">
      <h2 id="tl-title">{t("timeline")}</h2>
      {items.length === 0 ? <p class="help">{t("none")}</p> : (
        <ul class="timeline">
          {items.map((i) => (
            <li><div class="when">{formatDateTime(i.at, model.locale, model.tenant.timezone)}</div><a href={i.href}>{i.text}</a></li>
          ))}
        </ul>
      )}
    </section>
  );
}

function History({ entity, audit }: { entity: Entity; audit: { at: string; action: string; diff: any; actor: { name: string } | null }[] }) {
  const { model, t } = useSession();
  const label = (key: string) => entity.byKey.get(key)?.label ?? key;
  const show = (key: string, v: unknown) => {
    const f = entity.byKey.get(key);
    if (v === null || v === undefined) return "∅";
    if (f?.valueType === "enum") return f.options.find((o) => o.value === v)?.label ?? String(v);
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  };
  return (
    <section class="card" aria-labelledby="hist-title">
      <h2 id="hist-title">{t("history")}</h2>
      <ul class="timeline" data-testid="history">
        {[...audit].reverse().map((a) => (
          <li>
            <div class="when">{t("changedBy", { who: a.actor?.name ?? "system", when: formatDateTime(a.at, model.locale, model.tenant.timezone) })} · {a.action}</div>
            <ul>
              {Object.entries(a.diff ?? {}).slice(0, 12).map(([k, v]: [string, any]) => (
                <li>{label(k)}: {Array.isArray(v) && v.length === 2 ? `${show(k, v[0])} → ${show(k, v[1])}` : show(k, v)}</li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </section>
  );
}
