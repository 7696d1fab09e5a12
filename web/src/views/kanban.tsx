import { useEffect, useState } from "preact/hooks";
import { useSession } from "../app";
import { ApiError, gql } from "../lib/api";
import { formatValue } from "../lib/format";
import { boardField, formOf, listColumns, type Entity } from "../lib/meta";
import { listRecords, recordTitle, runTransition } from "../lib/records";
import { celRecord, evaluateRule } from "../lib/rules";
import { fromRecord } from "../lib/formvalues";

const PER_COLUMN = 50;

/** Records of an entity in columns by workflow state (or stage); moving a card changes it. */
export function Kanban({ entity }: { entity: Entity }) {
  const { model, t, notify } = useSession();
  const board = boardField(model, entity)!;
  const field = board.field;
  const wf = board.workflow;
  const columns = wf
    ? wf.states.map((s) => ({ key: s.key, label: field.options.find((o) => o.value === s.key)?.label ?? s.label }))
    : field.options.map((o) => ({ key: o.value, label: o.label }));
  const shown = listColumns(model, entity).filter((f) => f.key !== field.key).slice(0, 3);
  const [cards, setCards] = useState<Record<string, any[]>>({});
  const [over, setOver] = useState<string | null>(null);
  const [refusal, setRefusal] = useState("");
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    Promise.all(
      columns.map((c) =>
        listRecords(model, entity, [field, ...shown], { filter: { [field.graphqlName]: { eq: c.key } }, first: PER_COLUMN })
          .then((p) => [c.key, p.rows] as const),
      ),
    ).then((all) => live && setCards(Object.fromEntries(all)))
      .catch((e) => live && notify(e instanceof ApiError ? e.message : String(e), "error"));
    return () => {
      live = false;
    };
  }, [model, entity, tick]);

  /** Why a move is refused before asking the server, or null. */
  const localRefusal = (row: any, to: string): string | null => {
    if (wf) {
      const tr = wf.transitions.find((x) => x.to === to && (x.sources === null || x.sources.includes(row[field.graphqlName])));
      if (!tr) {
        const from = columns.find((c) => c.key === row[field.graphqlName])?.label ?? "";
        return `${from} → ${columns.find((c) => c.key === to)?.label ?? to}: ${t("noPermission")}`;
      }
      return null;
    }
    // Fields a form rule makes required in the new stage must already be filled.
    const values = { ...fromRecord(model, entity, row), [field.key]: to };
    const record = celRecord(entity, values);
    for (const s of formOf(model, entity).sections)
      for (const item of s.fields) {
        const f = entity.byKey.get(item.field);
        if (f && evaluateRule(item.requiredWhen, record, false) && !(f.key in record)) return `${f.label}: ${t("required")}`;
      }
    return null;
  };

  const move = async (id: string, from: string, to: string) => {
    if (from === to) return;
    const row = cards[from]?.find((r) => r.id === id);
    if (!row) return;
    const before = cards;
    const refuse = (reason: string) => {
      setCards(before); // snap back
      setRefusal(t("moveRefused", { reason }));
      notify(t("moveRefused", { reason }), "error");
    };
    const local = localRefusal(row, to);
    if (local) return refuse(local);
    setCards({ ...cards, [from]: cards[from].filter((r) => r.id !== id), [to]: [{ ...row, [field.graphqlName]: to }, ...(cards[to] ?? [])] });
    setRefusal("");
    try {
      if (wf) {
        const tr = wf.transitions.find((x) => x.to === to && (x.sources === null || x.sources.includes(from)))!;
        await runTransition(entity, id, tr.key, null);
      } else {
        await gql(`mutation M($id: ID!, $input: ${entity.typeName}UpdateInput!, $v: Int) {
          update${entity.typeName}(id: $id, input: $input, expectedVersion: $v) { id version } }`,
          { id, input: { [field.graphqlName]: to }, v: row.version });
      }
      notify(t("moved", { state: columns.find((c) => c.key === to)?.label ?? to }));
      setTick((n) => n + 1); // a transition may land elsewhere (an approval's pending state)
    } catch (e) {
      refuse(e instanceof ApiError ? [e.message, ...e.errors.map((p) => p.message)].filter(Boolean).join(" · ") : String(e));
    }
  };

  return (
    <section aria-labelledby="board-title">
      <div class="page-head">
        <h1 id="board-title">{entity.pluralLabel} · {wf ? wf.label : field.label}</h1>
        <div class="actions"><a class="button" href={`e/${entity.key}`}>{t("list")}</a></div>
      </div>
      {refusal && <p class="banner error" role="alert" data-testid="refusal">{refusal}</p>}
      <div class="board">
        {columns.map((c) => (
          <div class={`column${over === c.key ? " over" : ""}`} data-state={c.key} role="region" aria-label={c.label}
            onDragOver={(e) => { e.preventDefault(); setOver(c.key); }}
            onDragLeave={() => setOver(null)}
            onDrop={(e) => {
              e.preventDefault();
              setOver(null);
              const [id, from] = (e.dataTransfer?.getData("text/plain") ?? "").split("|");
              if (id) move(id, from, c.key);
            }}>
            <h2><span>{c.label}</span><span class="badge">{cards[c.key]?.length ?? 0}</span></h2>
            {(cards[c.key] ?? []).map((r) => (
              <div class="kcard" draggable data-id={r.id}
                onDragStart={(e) => e.dataTransfer?.setData("text/plain", `${r.id}|${c.key}`)}>
                <a href={`e/${entity.key}/${r.id}`}>{recordTitle(model, entity, r)}</a>
                {shown.map((f) => {
                  const v = formatValue(model, f, r[f.graphqlName]);
                  return v ? <div class="meta">{v}</div> : null;
                })}
                <label class="sr-only" for={`mv-${r.id}`}>{field.label}</label>
                <select id={`mv-${r.id}`} value={c.key} onChange={(e) => move(r.id, c.key, (e.target as HTMLSelectElement).value)}>
                  {columns.map((o) => <option value={o.key}>{o.label}</option>)}
                </select>
              </div>
            ))}
          </div>
        ))}
      </div>
    </section>
  );
}
