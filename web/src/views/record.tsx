import { useEffect, useState } from "preact/hooks";
import { useSession } from "../app";
import { ApiError, errorText, gql } from "../lib/api";
import { formatDateTime, formatValue, intlLocale } from "../lib/format";
import { can, workflowOf, type Entity, type Field, type Model, type RecordAction } from "../lib/meta";
import { listRecords, recordTitle, runTransition, selection, titleName, writable } from "../lib/records";
import { navigate } from "../lib/router";
import { PdfButton } from "./documents";
import { CommentForm } from "./widgets";

interface Transition {
  key: string;
  label: string;
  toLabel: string;
  allowed: boolean;
  reason: string | null;
  /** TRANSITION_NOT_ALLOWED, TRANSITION_FORBIDDEN, TRANSITION_GUARD, APPROVAL_PENDING, REQUIRED */
  reasonCode: string | null;
  needsApproval: boolean;
  requiredFields: string[];
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
      if (f.valueType === "relation" && f.target === entity.key && !e.internal && can(e, "read")) out.push({ entity: e, field: f });
  return out;
}

/** The address of a new record of `target` linked to this one through `field`; back here after saving. */
function newRelatedHref(target: Entity, field: Field, entity: Entity, id: string): string {
  const params = new URLSearchParams({ [field.key]: id, from: `e/${entity.key}/${id}` });
  return `e/${target.key}/new?${params}`;
}

/** Give focus back to the control that opened something, once it is drawn again. */
function focusLater(selector: string): void {
  setTimeout(() => document.querySelector<HTMLElement>(selector)?.focus(), 0);
}

function blank(v: unknown): boolean {
  return v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0);
}

/** "A, B and C" in the user's language. */
function listOf(locale: string, items: string[]): string {
  try {
    return new Intl.ListFormat(intlLocale(locale), { type: "conjunction" }).format(items);
  } catch {
    return items.join(", ");
  }
}

interface Linked {
  entity: Entity;
  id: string;
  title: string | null;
}

/** The titles of the records an action's result names (one query; unreadable ones stay untitled). */
async function titled(model: Model, refs: { entity: Entity; id: string }[]): Promise<Linked[]> {
  if (!refs.length) return [];
  const vars: Record<string, string> = {};
  const parts = refs.map((r, i) => {
    vars[`i${i}`] = r.id;
    const title = titleName(r.entity);
    return `r${i}: ${r.entity.queryName}(id: $i${i}) { id${title ? " " + title : ""} }`;
  });
  const query = `query T(${refs.map((_, i) => `$i${i}: ID!`).join(", ")}) { ${parts.join(" ")} }`;
  const data = await gql(query, vars).catch(() => ({}) as Record<string, any>);
  return refs.map((r, i) => {
    const row = (data as Record<string, any>)[`r${i}`];
    return { ...r, title: row ? recordTitle(model, r.entity, row) : null };
  });
}

export function RecordPage({ entity, id }: { entity: Entity; id: string }) {
  const { model, t, notify } = useSession();
  const [row, setRow] = useState<any>(null);
  const [error, setError] = useState("");
  const [transitions, setTransitions] = useState<Transition[]>([]);
  const [approvals, setApprovals] = useState<Approval[]>([]);
  const [tick, setTick] = useState(0);
  const [commenting, setCommenting] = useState<Transition | null>(null);
  const [running, setRunning] = useState<string | null>(null);
  const [actionError, setActionError] = useState("");
  const [done, setDone] = useState<{ label: string; links: Linked[] } | null>(null);
  const hasWorkflow = model.workflows.some((w) => w.entity === entity.key);

  useEffect(() => {
    const q = `query R($id: ID!${hasWorkflow ? ", $e: String!" : ""}) {
      ${entity.queryName}(id: $id) { ${selection(model, entity)} createdBy { name } updatedBy { name }
        audit { at action diff actor { name } } }
      ${hasWorkflow ? `meta { transitions(entity: $e, id: $id) { key label toLabel allowed reason reasonCode needsApproval requiredFields commentRequired } }
      approvals(entity: $e, id: $id) { ${APPROVAL_FIELDS} }` : ""}
    }`;
    gql(q, hasWorkflow ? { id, e: entity.key } : { id })
      .then((data) => {
        if (!data[entity.queryName]) throw new ApiError(t("notFound"), "NOT_FOUND");
        setRow(data[entity.queryName]);
        setTransitions(data.meta?.transitions ?? []);
        setApprovals(data.approvals ?? []);
      })
      .catch((e) => setError(errorText(e)));
  }, [model, entity, id, tick]);

  if (error) return <p class="error" role="alert">{error}</p>;
  if (!row) return <p role="status">{t("loading")}</p>;
  const title = recordTitle(model, entity, row);

  const transition = async (tr: Transition, comment: string | null) => {
    await runTransition(entity, id, tr.key, comment);
    notify(`${tr.label} ✓`);
    setCommenting(null);
    setTick(tick + 1);
  };
  const run = async (tr: Transition) => {
    setActionError("");
    setDone(null);
    if (tr.commentRequired) {
      setCommenting(tr); // the comment box asks first, and shows a refusal itself
      return;
    }
    setRunning(tr.key);
    try {
      await transition(tr, null);
    } catch (e) {
      setActionError(errorText(e));
      notify(errorText(e), "error");
    } finally {
      setRunning(null);
    }
  };
  const runAction = async (action: RecordAction) => {
    setActionError("");
    setDone(null);
    setCommenting(null);
    setRunning(action.name);
    try {
      const selected = action.returnsObject ? ` { ${["__typename", ...action.links.map((l) => l.field)].join(" ")} }` : "";
      const data = await gql(`mutation A($id: ID!) { ${action.name}(id: $id)${selected} }`, { id });
      const result = data[action.name] ?? {};
      const refs = action.links
        .map((l) => ({ entity: model.byKey.get(l.entity), id: typeof result === "object" ? result[l.field] : null }))
        .filter((r): r is { entity: Entity; id: string } => !!r.entity && !!r.id && !(r.entity.key === entity.key && r.id === id));
      setDone({ label: action.label, links: await titled(model, refs) });
      notify(t("actionDone", { action: action.label }));
      setTick(tick + 1);
    } catch (e) {
      setActionError(errorText(e));
      notify(errorText(e), "error");
    } finally {
      setRunning(null);
    }
  };
  const actions = entity.recordActions;
  /** Why a transition cannot run now, in the user's language: the server's reason codes
   * the screens word themselves; a guard's own message (the config's, localised) as is. */
  const reasonOf = (tr: Transition): string | null => {
    if (tr.allowed || !tr.reason) return null;
    switch (tr.reasonCode) {
      case "APPROVAL_PENDING":
        return t("approvalPending");
      case "TRANSITION_FORBIDDEN":
        return t("noPermission");
      case "REQUIRED": {
        const missing = tr.requiredFields
          .map((k) => entity.byKey.get(k))
          .filter((f): f is Field => !!f && blank(row[f.graphqlName]));
        return t("fillInFirst", { fields: listOf(model.locale, missing.map((f) => f.label)) });
      }
      default:
        return tr.reason;
    }
  };

  return (
    <article aria-labelledby="record-title">
      <div class="page-head">
        <h1 id="record-title" data-value>{title}</h1>
        <div class="actions">
          {can(entity, "update") && <a class="button primary" href={`e/${entity.key}/${id}/edit`}>{t("edit")}</a>}
          <PdfButton entity={entity} id={id} name={title} />
          {can(entity, "delete") && <button type="button" onClick={async () => {
            if (!confirm(t("confirmDelete"))) return;
            try {
              await gql(`mutation D($id: ID!) { delete${entity.typeName}(id: $id) { id } }`, { id });
              navigate(`e/${entity.key}`);
            } catch (e) {
              notify(errorText(e), "error");
            }
          }}>{t("delete")}</button>}
        </div>
      </div>
      <div class="record-layout">
        <div>
          {done && (
            <div class="banner ok" role="status" data-testid="action-result">
              <p>{t("actionDone", { action: done.label })}</p>
              {done.links.length > 0 && (
                <ul class="links">
                  {done.links.map((l) => (
                    <li data-entity={l.entity.key}>
                      {l.entity.label}: <a href={`e/${l.entity.key}/${l.id}`} data-value>{l.title ?? t("open")}</a>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {(transitions.length > 0 || actions.length > 0) && (
            <section class="card" aria-labelledby="tr-title">
              <h2 id="tr-title">{t("transitions")}</h2>
              <div class="actions">
                {transitions.map((tr) => (
                  <button type="button" class={tr.allowed ? "primary" : ""} disabled={!tr.allowed || running !== null}
                    aria-expanded={tr.commentRequired ? commenting?.key === tr.key : undefined}
                    title={reasonOf(tr) ?? undefined} onClick={() => run(tr)} data-transition={tr.key}>
                    {tr.label} → {tr.toLabel}{tr.needsApproval ? ` (${t("approval")})` : ""}
                  </button>
                ))}
                {actions.map((a) => (
                  <button type="button" disabled={running !== null} onClick={() => runAction(a)} data-action={a.name}>
                    {a.label}
                  </button>
                ))}
              </div>
              {commenting && (
                <CommentForm key={commenting.key} id="transition-comment" label={`${commenting.label} · ${t("comment")}`}
                  submitLabel={commenting.label} required onSubmit={(c) => transition(commenting, c)}
                  onCancel={() => { setCommenting(null); focusLater(`[data-transition="${commenting.key}"]`); }} />
              )}
              {actionError && <p class="field-error" role="alert" data-testid="action-error">{actionError}</p>}
              {transitions.filter((tr) => reasonOf(tr)).map((tr) => (
                <p class="help" data-reason={tr.key}>{tr.label}: {reasonOf(tr)}</p>
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
                    <dd data-value>{target ? <a href={target}>{v}</a> : v}</dd>
                  </div>
                );
              })}
            </dl>
          </section>
          <RelatedLists entity={entity} id={id} tick={tick} />
        </div>
        <div>
          <Timeline id={id} />
          <History entity={entity} row={row} />
        </div>
      </div>
    </article>
  );
}

export function ApprovalCard({ approvals, onDecided }: { approvals: Approval[]; onDecided: () => void }) {
  const { model, t, notify } = useSession();
  const [rejecting, setRejecting] = useState<string | null>(null);
  const [error, setError] = useState("");
  const approve = async (a: Approval) => {
    setError("");
    try {
      await gql(`mutation A($id: ID!) { approve(id: $id) { id status } }`, { id: a.id });
      notify(t("approved"));
      onDecided();
    } catch (e) {
      setError(errorText(e));
      notify(errorText(e), "error");
    }
  };
  const reject = async (a: Approval, comment: string) => {
    await gql(`mutation R($id: ID!, $c: String!) { reject(id: $id, comment: $c) { id status } }`, { id: a.id, c: comment });
    setRejecting(null);
    notify(t("rejected"));
    onDecided();
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
              {a.requestedBy && <> · {t("requestedBy")} <span data-value>{a.requestedBy.name}</span></>}
              {" · "}<span data-value>{formatDateTime(a.requestedAt, model.locale, model.tenant.timezone)}</span>
            </p>
            <ul>
              {a.steps.map((s) => (
                <li>{s.label}: {s.approvers.map((p, i) => (
                  <>{i > 0 && ", "}<span data-value>{p.user?.name ?? p.userId}</span>{p.decision && ` (${t(p.decision.startsWith("approve") ? "approved" : "rejected")})`}{p.comment && <> · <span data-value>{p.comment}</span></>}</>
                ))}</li>
              ))}
            </ul>
            {mine && (
              <div class="actions">
                <button type="button" class="primary" onClick={() => approve(a)}>{t("approve")}</button>
                <button type="button" data-reject={a.id} aria-expanded={rejecting === a.id} onClick={() => { setError(""); setRejecting(a.id); }}>{t("reject")}</button>
              </div>
            )}
            {mine && rejecting === a.id && (
              <CommentForm id={`reject-${a.id}`} label={`${t("reject")} · ${t("comment")}`} submitLabel={t("reject")}
                required onSubmit={(c) => reject(a, c)}
                onCancel={() => { setRejecting(null); focusLater(`[data-reject="${a.id}"]`); }} />
            )}
            {error && <p class="field-error" role="alert">{error}</p>}
          </div>
        );
      })}
    </section>
  );
}

/** Records of other entities that point at this one, each list with a *New* that links back;
 * empty lists collapse into one card of *New* links. */
function RelatedLists({ entity, id, tick }: { entity: Entity; id: string; tick: number }) {
  const { model, t } = useSession();
  const related = relatedFields(model, entity);
  const [pages, setPages] = useState<({ rows: any[]; total: number } | null)[] | null>(null);
  useEffect(() => {
    Promise.all(related.map(({ entity: target, field }) => {
      const titleField = target.titleField ? target.byKey.get(target.titleField) : undefined;
      return listRecords(model, target, titleField ? [titleField] : [], { filter: { [field.graphqlName]: { eq: id } }, first: 10 })
        .then((p) => ({ rows: p.rows, total: p.total }))
        .catch(() => null);
    })).then(setPages);
  }, [model, entity, id, tick]);
  if (!pages) return null;
  const creatable = (target: Entity, field: Field) => can(target, "create") && writable(field);
  const empty = related.filter((r, i) => pages[i]?.total === 0 && creatable(r.entity, r.field));
  const label = (r: { entity: Entity; field: Field }) =>
    related.filter((x) => x.entity.key === r.entity.key).length > 1 ? `${r.entity.pluralLabel} · ${r.field.label}` : r.entity.pluralLabel;
  return (
    <>
      {related.map((r, i) => {
        const page = pages[i];
        if (!page || page.total === 0) return null;
        return (
          <section class="card related" aria-labelledby={`rel-${r.entity.key}-${r.field.key}`} data-related={r.entity.key}>
            <div class="card-head">
              <h2 id={`rel-${r.entity.key}-${r.field.key}`}>{label(r)} ({page.total})</h2>
              {creatable(r.entity, r.field) && (
                <a class="button" data-related-new={r.entity.key} href={newRelatedHref(r.entity, r.field, entity, id)}>
                  {t("newOf", { entity: r.entity.label })}
                </a>
              )}
            </div>
            <ul>
              {page.rows.map((row) => <li><a href={`e/${r.entity.key}/${row.id}`} data-value>{recordTitle(model, r.entity, row)}</a></li>)}
            </ul>
          </section>
        );
      })}
      {empty.length > 0 && (
        <section class="card" aria-labelledby="add-related">
          <h2 id="add-related">{t("addRelated")}</h2>
          <div class="actions">
            {empty.map((r) => (
              <a class="button" data-related-new={r.entity.key} href={newRelatedHref(r.entity, r.field, entity, id)}>
                {t("newOf", { entity: label(r) })}
              </a>
            ))}
          </div>
        </section>
      )}
    </>
  );
}

function Timeline({ id }: { id: string }) {
  const { model, t } = useSession();
  const [items, setItems] = useState<{ at: string; kind: string; text: string; href: string }[]>([]);
  useEffect(() => {
    const sources: Promise<{ at: string; kind: string; text: string; href: string }[]>[] = [];
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
            at: r.dueAt ?? r.createdAt, kind: e.label, text: title ? r[title] : r.id, href: `e/${e.key}/${r.id}`,
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
            <li><div class="when" data-value>{formatDateTime(i.at, model.locale, model.tenant.timezone)}</div>{i.kind}: <a href={i.href} data-value>{i.text}</a></li>
          ))}
        </ul>
      )}
    </section>
  );
}

function History({ entity, row }: { entity: Entity; row: any }) {
  const { model, t } = useSession();
  const audit: { at: string; action: string; diff: any; actor: { name: string } | null }[] = row.audit;
  const label = (key: string) => entity.byKey.get(key)?.label ?? key;
  /** A stored id by the name the record shows for it now (else shortened: history keeps ids). */
  const named = (f: Field, v: string): string => {
    const current = row[f.graphqlName];
    if (f.valueType === "user") return current?.id === v ? current.name : v === model.me.id ? model.me.name : `#${v.slice(0, 8)}`;
    const target = model.byKey.get(f.target ?? "");
    return current?.id === v && target ? recordTitle(model, target, current) : `${target?.label ?? ""} #${v.slice(0, 8)}`;
  };
  const show = (key: string, v: unknown): string => {
    const f = entity.byKey.get(key);
    if (v === null || v === undefined || v === "") return "∅";
    if (f && (f.valueType === "relation" || f.valueType === "user") && typeof v === "string") return named(f, v);
    if (f && ["enum", "multi_enum", "money", "boolean", "date", "datetime", "integer", "decimal", "percent"].includes(f.valueType))
      return formatValue(model, f, v) || "∅";
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  };
  const transitionLabel = (key: unknown) =>
    workflowOf(model, entity.key)?.transitions.find((x) => x.key === key)?.label ?? String(key ?? "");
  /** What a history entry did, in the user's words (transitions by their configured label). */
  const action = (a: { action: string; diff: any }) => {
    if (a.action.startsWith("transition:")) return transitionLabel(a.action.slice("transition:".length));
    const key = `audit_${a.action}`;
    const text = t(key, { transition: transitionLabel(a.diff?.transition) });
    return text === key ? a.action : text;
  };
  /** The changes an entry lists: fields by label, a comment; bookkeeping (ids) left out. */
  const changes = (a: { action: string; diff: any }): [string, string][] => {
    const out: [string, string][] = [];
    for (const [k, v] of Object.entries(a.diff ?? {}) as [string, any][]) {
      if (k === "comment" || k === "_comment") {
        if (v) out.push([t("comment"), String(v)]);
      } else if (entity.byKey.has(k) && !(a.action.startsWith("approval_") && k === "transition")) {
        out.push([label(k), Array.isArray(v) && v.length === 2 ? `${show(k, v[0])} → ${show(k, v[1])}` : show(k, v)]);
      }
    }
    return out.slice(0, 12);
  };
  return (
    <section class="card" aria-labelledby="hist-title">
      <h2 id="hist-title">{t("history")}</h2>
      <ul class="timeline" data-testid="history">
        {[...audit].reverse().map((a) => (
          <li>
            <div class="when">
              <span data-value>{t("changedBy", { who: a.actor?.name ?? t("system"), when: formatDateTime(a.at, model.locale, model.tenant.timezone) })}</span> · {action(a)}
            </div>
            <ul>
              {changes(a).map(([what, value]) => <li>{what}: <span data-value>{value}</span></li>)}
            </ul>
          </li>
        ))}
      </ul>
    </section>
  );
}
