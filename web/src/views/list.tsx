import { useEffect, useMemo, useState } from "preact/hooks";
import { useSession } from "../app";
import { ApiError } from "../lib/api";
import { formatNumber, formatValue } from "../lib/format";
import { boardField, can, listColumns, type Entity, type Field } from "../lib/meta";
import { listRecords, recordTitle, type Page, type Sort } from "../lib/records";
import {
  EMPTY_VIEW, deleteView, filterable, loadViews, operators, saveView, sortable, toFilter,
  type FilterRow, type Op, type SavedView, type ViewState,
} from "../lib/views";
import { ExportButton } from "./documents";

const PAGE_SIZE = 25;

const OP_LABEL: Record<Op, string> = {
  contains: "opContains", eq: "=", ne: "≠", lt: "<", lte: "≤", gt: ">", gte: "≥", isNull: "opIsNull", notNull: "opNotNull",
};

export function ListView({ entity }: { entity: Entity }) {
  const { model, t, notify } = useSession();
  const columns = useMemo(() => listColumns(model, entity), [model, entity]);
  const [view, setView] = useState<ViewState>(EMPTY_VIEW);
  const [draft, setDraft] = useState<FilterRow[]>([]);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState("");
  const [views, setViews] = useState<SavedView[]>([]);
  const [viewId, setViewId] = useState("");
  const [viewName, setViewName] = useState("");

  const after = cursors[cursors.length - 1];
  useEffect(() => {
    let live = true;
    setError("");
    listRecords(model, entity, columns, {
      filter: toFilter(entity, view.filters),
      orderBy: view.sort,
      first: PAGE_SIZE,
      after,
    })
      .then((p) => live && setPage(p))
      .catch((e) => live && setError(e instanceof ApiError ? e.message : String(e)));
    return () => {
      live = false;
    };
  }, [model, entity, columns, view, after]);

  useEffect(() => {
    loadViews(entity.key).then(setViews).catch(() => setViews([]));
  }, [entity.key]);

  const apply = (next: ViewState) => {
    setView(next);
    setCursors([null]);
  };
  const toggleSort = (f: Field) => {
    const current = view.sort[0];
    const direction = current?.field === f.graphqlName && current.direction === "ASC" ? "DESC" : "ASC";
    apply({ ...view, sort: [{ field: f.graphqlName, direction } as Sort] });
  };
  const chooseView = (id: string) => {
    setViewId(id);
    const found = views.find((v) => v.id === id);
    const state = found ? found.state : EMPTY_VIEW;
    setDraft(state.filters);
    apply(state);
  };
  const storeView = async (e: Event) => {
    e.preventDefault();
    if (!viewName.trim()) return;
    try {
      const saved = await saveView(entity.key, viewName.trim(), { ...view, filters: draft });
      setViews([...views.filter((v) => v.id !== saved.id), saved]);
      setViewId(saved.id);
      setViewName("");
      notify(t("saved"));
    } catch (err) {
      notify(err instanceof ApiError ? err.message : String(err), "error");
    }
  };
  const removeView = async () => {
    if (!viewId) return;
    await deleteView(viewId).catch((err) => notify(String(err), "error"));
    setViews(views.filter((v) => v.id !== viewId));
    chooseView("");
  };
  const fields = entity.fields.filter(filterable);
  const board = boardField(model, entity);

  return (
    <section aria-labelledby="list-title">
      <div class="page-head">
        <h1 id="list-title">{entity.pluralLabel}</h1>
        <div class="actions">
          {can(entity, "create") && <a class="button primary" href={`e/${entity.key}/new`}>{t("new")}</a>}
          {board && <a class="button" href={`board/${entity.key}`}>{t("kanban")}</a>}
          <ExportButton entity={entity} filter={toFilter(entity, view.filters)} sort={view.sort} />
        </div>
      </div>

      <div class="views">
        <label for="saved-view">{t("savedViews")}</label>
        <select id="saved-view" value={viewId} onChange={(e) => chooseView((e.target as HTMLSelectElement).value)}>
          <option value="">{t("defaultView")}</option>
          {views.map((v) => <option value={v.id}>{v.name}</option>)}
        </select>
        {viewId && <button type="button" onClick={removeView}>{t("deleteView")}</button>}
        <form class="inline" onSubmit={storeView}>
          <label for="view-name" class="sr-only">{t("viewName")}</label>
          <input id="view-name" placeholder={t("viewName")} value={viewName}
            onInput={(e) => setViewName((e.target as HTMLInputElement).value)} />
          <button type="submit">{t("saveView")}</button>
        </form>
      </div>

      <form class="filters" onSubmit={(e) => { e.preventDefault(); apply({ ...view, filters: draft }); }}
        aria-label={t("filter")}>
        {draft.map((row, i) => {
          const f = entity.byKey.get(row.field) ?? fields[0];
          const set = (patch: Partial<FilterRow>) => setDraft(draft.map((r, j) => (j === i ? { ...r, ...patch } : r)));
          return (
            <div class="filter-row" data-testid="filter-row">
              <label class="sr-only" for={`ff-${i}`}>{t("field")}</label>
              <select id={`ff-${i}`} value={row.field}
                onChange={(e) => {
                  const nf = entity.byKey.get((e.target as HTMLSelectElement).value)!;
                  set({ field: nf.key, op: operators(nf)[0], value: "" });
                }}>
                {fields.map((x) => <option value={x.key}>{x.label}</option>)}
              </select>
              <label class="sr-only" for={`fo-${i}`}>{t("operator")}</label>
              <select id={`fo-${i}`} value={row.op} onChange={(e) => set({ op: (e.target as HTMLSelectElement).value as Op })}>
                {operators(f).map((op) => <option value={op}>{OP_LABEL[op].length > 1 ? t(OP_LABEL[op]) : OP_LABEL[op]}</option>)}
              </select>
              {row.op !== "isNull" && row.op !== "notNull" && (
                <FilterValue id={`fv-${i}`} field={f} value={row.value} onChange={(value) => set({ value })} />
              )}
              <button type="button" aria-label={t("removeFilter")} onClick={() => setDraft(draft.filter((_, j) => j !== i))}>✕</button>
            </div>
          );
        })}
        <div class="filter-actions">
          <button type="button" onClick={() => fields[0] && setDraft([...draft, { field: fields[0].key, op: operators(fields[0])[0], value: "" }])}>
            + {t("addFilter")}
          </button>
          <button type="submit" class="primary">{t("apply")}</button>
          {view.filters.length > 0 && (
            <button type="button" onClick={() => { setDraft([]); apply({ ...view, filters: [] }); }}>{t("clearFilters")}</button>
          )}
        </div>
      </form>

      {error && <p class="error" role="alert">{error}</p>}
      {!page ? (
        <p role="status">{t("loading")}</p>
      ) : (
        <>
          <p class="count" role="status" data-testid="count">{t("total", { n: formatNumber(page.total, model.locale) })}</p>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  {columns.map((f) => {
                    const s = view.sort[0]?.field === f.graphqlName ? view.sort[0].direction : null;
                    return (
                      <th scope="col" aria-sort={s === "ASC" ? "ascending" : s === "DESC" ? "descending" : undefined}>
                        {sortable(f) ? (
                          <button type="button" class="sort" onClick={() => toggleSort(f)} title={t("sortBy", { f: f.label })}>
                            {f.label} {s === "ASC" ? "▲" : s === "DESC" ? "▼" : ""}
                          </button>
                        ) : f.label}
                      </th>
                    );
                  })}
                </tr>
              </thead>
              <tbody>
                {page.rows.length === 0 && (
                  <tr><td colSpan={columns.length}>{t("noRecords")}</td></tr>
                )}
                {page.rows.map((row) => (
                  <tr>
                    {columns.map((f, i) => (
                      <td data-label={f.label}>
                        {i === 0 ? (
                          <a href={`e/${entity.key}/${row.id}`}>
                            {formatValue(model, f, row[f.graphqlName]) || recordTitle(model, entity, row)}
                          </a>
                        ) : formatValue(model, f, row[f.graphqlName])}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="pager">
            <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
              {t("prevPage")}
            </button>
            <span>{t("page", { n: cursors.length })}</span>
            <button type="button" disabled={!page.hasNext} onClick={() => setCursors([...cursors, page.endCursor])}>
              {t("nextPage")}
            </button>
          </div>
        </>
      )}
    </section>
  );
}

function FilterValue({ id, field, value, onChange }: { id: string; field: Field; value: string; onChange: (v: string) => void }) {
  const { t } = useSession();
  const label = <label class="sr-only" for={id}>{t("value")}</label>;
  const input = (e: Event) => onChange((e.target as HTMLInputElement).value);
  if (field.valueType === "enum" || field.valueType === "multi_enum") {
    return (
      <>{label}<select id={id} value={value} onChange={input}>
        <option value="">{t("choose")}</option>
        {field.options.map((o) => <option value={o.value}>{o.label}</option>)}
      </select></>
    );
  }
  if (field.valueType === "boolean") {
    return (
      <>{label}<select id={id} value={value} onChange={input}>
        <option value="">{t("choose")}</option>
        <option value="true">{t("yes")}</option>
        <option value="false">{t("no")}</option>
      </select></>
    );
  }
  const type = field.valueType === "date" ? "date" : field.valueType === "datetime" ? "datetime-local"
    : ["integer", "decimal", "percent", "money"].includes(field.valueType) ? "number" : "text";
  return <>{label}<input id={id} type={type} step="any" value={value} onInput={input} /></>;
}
