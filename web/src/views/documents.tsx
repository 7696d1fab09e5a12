// Documents the quoting plugin serves under /t/{tenant}/x/quoting/ (PDF, Excel).
import { useSession } from "../app";
import { ApiError, download } from "../lib/api";
import type { Entity } from "../lib/meta";
import type { Sort } from "../lib/records";

const QUOTING = "x/quoting";

function useQuoting(entity: Entity): boolean {
  const { model } = useSession();
  return entity.key === "quote" && model.tenant.plugins.includes("quoting");
}

/** A quote printed with the tenant's template (PDF), and the quote as a workbook. */
export function PdfButton({ entity, id, name }: { entity: Entity; id: string; name: string }) {
  const { model, t, notify } = useSession();
  if (!useQuoting(entity)) return null;
  const fail = (e: unknown) => notify(e instanceof ApiError ? e.message : String(e), "error");
  const base = `${QUOTING}/quotes/${encodeURIComponent(id)}`;
  return (
    <>
      <button type="button" data-testid="download-pdf"
        onClick={() => download(`${base}/quote.pdf?locale=${encodeURIComponent(model.locale)}`, `${name}.pdf`).catch(fail)}>
        {t("downloadPdf")}
      </button>
      <button type="button" onClick={() => download(`${base}/quote.xlsx`, `${name}.xlsx`).catch(fail)}>
        {t("exportExcel")}
      </button>
    </>
  );
}

/** The list as a workbook, with the list's filter and sort: quotes through the quoting
 * plugin's richer export, any other list through the core's (GET export/{entity}). */
export function ExportButton({ entity, filter, sort }: { entity: Entity; filter: unknown; sort: Sort[] }) {
  const { t, notify } = useSession();
  const quotes = useQuoting(entity);
  const params = new URLSearchParams();
  if (filter) params.set("filter", JSON.stringify(filter));
  if (sort.length) params.set("orderBy", JSON.stringify(sort));
  const query = params.toString() ? `?${params}` : "";
  const path = quotes ? `${QUOTING}/quotes.xlsx` : `export/${encodeURIComponent(entity.key)}`;
  const go = () =>
    download(`${path}${query}`, `${entity.key}.xlsx`).catch((e) =>
      notify(e instanceof ApiError ? e.message : String(e), "error"),
    );
  return <button type="button" data-testid="export-xlsx" onClick={go}>{t("exportExcel")}</button>;
}
