import { useEffect, useRef, useState } from "preact/hooks";
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
} from "chart.js";
import { useSession } from "../app";
import { ApiError, errorText, gql } from "../lib/api";
import { formatCompactMoney, formatDate, formatMoney, formatNumber } from "../lib/format";
import { can, type Entity, type Field, type Model } from "../lib/meta";
import { listRecords } from "../lib/records";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

/** Opportunities the pipeline chart reads (no server report sums amounts by stage yet). */
const MAX_ROWS = 1000;

async function allRows(model: Model, entity: Entity, fields: Field[]): Promise<{ rows: any[]; total: number }> {
  const rows: any[] = [];
  let after: string | null = null;
  let total = 0;
  while (rows.length < MAX_ROWS) {
    const page = await listRecords(model, entity, fields, { first: 200, after });
    rows.push(...page.rows);
    total = page.total;
    if (!page.hasNext) break;
    after = page.endCursor;
  }
  return { rows, total };
}

interface ChartSpec {
  key: string;
  title: string;
  /** What the figures cover (a period, or a cap on the records read). */
  note?: string;
  type: "bar" | "line";
  labels: string[];
  datasets: { label: string; data: number[] }[];
  money?: string;
  stacked?: boolean;
}

/** A chart, or why it is not shown: hidden (not enabled, or the role may not run its report) or failed. */
type Outcome = ChartSpec | { key: string; title: string; error: string } | null;

const COLORS = ["#0b5cad", "#e07b00", "#1b8a4a", "#8e44ad", "#c0392b", "#16a085"];

type T = (key: string, vars?: Record<string, string | number>) => string;

function amountOf(v: any): number {
  return v && v.amount !== undefined && v.amount !== null ? Number(v.amount) : 0;
}

/** Today in the tenant's time zone, as YYYY-MM-DD. */
function today(model: Model): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: model.tenant.timezone, year: "numeric", month: "2-digit", day: "2-digit" })
    .format(new Date());
}

function monthLabel(month: string, locale: string): string {
  const [y, m] = month.split("-").map(Number);
  if (!y || !m) return month;
  try {
    return new Intl.DateTimeFormat(locale, { year: "numeric", month: "short", timeZone: "UTC" }).format(new Date(Date.UTC(y, m - 1, 1)));
  } catch {
    return month;
  }
}

/** Run a report; a FORBIDDEN answer hides its chart (null), other errors are shown in its place. */
async function report(key: string, title: string, build: () => Promise<ChartSpec>): Promise<Outcome> {
  try {
    return await build();
  } catch (e) {
    if (e instanceof ApiError && e.code === "FORBIDDEN") return null;
    return { key, title, error: errorText(e) };
  }
}

function pipeline(model: Model, t: T): Promise<Outcome> | null {
  const opp = model.byKey.get("opportunity");
  const stage = opp?.byKey.get("stage");
  const amount = opp?.byKey.get("amount");
  if (!opp || !stage || !amount || !can(opp, "read")) return null;
  return report("pipeline", t("pipeline"), async () => {
    const { rows, total } = await allRows(model, opp, [stage, amount]);
    const sums = new Map(stage.options.map((o) => [o.value, 0]));
    for (const r of rows) if (r.stage) sums.set(r.stage, (sums.get(r.stage) ?? 0) + amountOf(r.amount));
    return {
      key: "pipeline", title: t("pipeline"), type: "bar", money: model.tenant.currency,
      note: total > rows.length ? t("firstRecords", { n: formatNumber(rows.length, model.locale) }) : undefined,
      labels: stage.options.map((o) => o.label),
      datasets: [{ label: amount.label, data: stage.options.map((o) => sums.get(o.value) ?? 0) }],
    };
  });
}

function forecast(model: Model, t: T): Promise<Outcome> | null {
  const opp = model.byKey.get("opportunity");
  if (!model.tenant.plugins.includes("sales") || !opp || !can(opp, "run")) return null;
  return report("forecast", t("forecast"), async () => {
    const data = await gql(`{ salesForecast(period: MONTH) { period currency amount weightedAmount } }`);
    const currency = model.tenant.currency;
    const amount = new Map<string, number>();
    const weighted = new Map<string, number>();
    // Rows are per month, owner and currency: add up the owners' rows in the tenant's currency.
    for (const r of data.salesForecast as { period: string; currency: string; amount: string; weightedAmount: string }[]) {
      if (r.currency !== currency) continue;
      amount.set(r.period, (amount.get(r.period) ?? 0) + Number(r.amount));
      weighted.set(r.period, (weighted.get(r.period) ?? 0) + Number(r.weightedAmount));
    }
    const months = [...amount.keys()].sort();
    return {
      key: "forecast", title: t("forecast"), type: "line", money: currency,
      labels: months.map((m) => monthLabel(m, model.locale)),
      datasets: [
        { label: opp.byKey.get("amount")?.label ?? t("amount"), data: months.map((m) => amount.get(m) ?? 0) },
        { label: t("weighted"), data: months.map((m) => weighted.get(m) ?? 0) },
      ],
    };
  });
}

function activitiesPerRep(model: Model, t: T): Promise<Outcome> | null {
  const opp = model.byKey.get("opportunity");
  const act = model.byKey.get("activity");
  if (!model.tenant.plugins.includes("sales") || !opp || !act || !can(opp, "run")) return null;
  return report("per-rep", t("perRep"), async () => {
    const to = today(model);
    const start = new Date(`${to}T00:00:00Z`);
    start.setUTCFullYear(start.getUTCFullYear() - 1);
    const from = start.toISOString().slice(0, 10);
    const data = await gql(`query P($from: Date!, $to: Date!) {
      salesPerformance(from: $from, to: $to) { key label activities { kind count } } }`, { from, to });
    const rows = data.salesPerformance as { key: string; label: string; activities: { kind: string; count: number }[] }[];
    const kindField = act.byKey.get("kind");
    const kinds = [...new Set(rows.flatMap((r) => r.activities.map((a) => a.kind)))];
    const order = kindField?.options.map((o) => o.value) ?? [];
    kinds.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    return {
      key: "per-rep", title: t("perRep"), type: "bar", stacked: true,
      note: `${t("doneActivities")} · ${formatDate(from, model.locale)} – ${formatDate(to, model.locale)}`,
      labels: rows.map((r) => r.label),
      datasets: kinds.map((k) => ({
        label: kindField?.options.find((o) => o.value === k)?.label ?? k,
        data: rows.map((r) => r.activities.find((a) => a.kind === k)?.count ?? 0),
      })),
    };
  });
}

const BUCKETS: Record<string, (t: T) => string> = {
  CURRENT: (t) => t("notDue"),
  DAYS_1_30: (t) => t("days", { a: 1, b: 30 }),
  DAYS_31_60: (t) => t("days", { a: 31, b: 60 }),
  DAYS_61_90: (t) => t("days", { a: 61, b: 90 }),
  OVER_90: (t) => t("daysOver", { a: 90 }),
};

function aging(model: Model, t: T): Promise<Outcome> | null {
  const inv = model.byKey.get("invoice");
  if (!model.tenant.plugins.includes("invoicing") || !inv || !can(inv, "run")) return null;
  return report("aging", t("aging"), async () => {
    const data = await gql(`{ receivablesAging { bucket label count amount { amount currency } } }`);
    const rows = data.receivablesAging as { bucket: string; label: string; count: number; amount: { amount: string; currency: string } }[];
    return {
      key: "aging", title: t("aging"), type: "bar", money: rows[0]?.amount.currency ?? model.tenant.currency,
      note: t("asOf", { date: formatDate(today(model), model.locale) }),
      // The screen's own words, so a locale switch follows; the server's label otherwise.
      labels: rows.map((r) => BUCKETS[r.bucket]?.(t) ?? r.label),
      datasets: [{ label: t("outstanding"), data: rows.map((r) => amountOf(r.amount)) }],
    };
  });
}

function cashFlow(model: Model, t: T): Promise<Outcome> | null {
  const inv = model.byKey.get("invoice");
  if (!model.tenant.plugins.includes("invoicing") || !inv || !can(inv, "run")) return null;
  return report("cash", t("cash"), async () => {
    const data = await gql(`{ cashFlow { month cashIn { amount currency } cashOut { amount currency } } }`);
    const rows = data.cashFlow as { month: string; cashIn: { amount: string; currency: string }; cashOut: { amount: string } }[];
    return {
      key: "cash", title: t("cash"), type: "bar", money: rows[0]?.cashIn.currency ?? model.tenant.currency,
      labels: rows.map((r) => monthLabel(r.month, model.locale)),
      datasets: [
        { label: t("amountIn"), data: rows.map((r) => amountOf(r.cashIn)) },
        { label: t("amountOut"), data: rows.map((r) => amountOf(r.cashOut)) },
      ],
    };
  });
}

export function Dashboard() {
  const { model, t } = useSession();
  const [outcomes, setOutcomes] = useState<Outcome[] | null>(null);
  useEffect(() => {
    let live = true;
    const pending = [pipeline, forecast, activitiesPerRep, aging, cashFlow]
      .map((chart) => chart(model, t))
      .filter((p): p is Promise<Outcome> => p !== null);
    Promise.all(pending).then((done) => live && setOutcomes(done));
    return () => { live = false; };
  }, [model]);
  const shown = (outcomes ?? []).filter((o): o is NonNullable<Outcome> => o !== null);
  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">{t("dashboard")}</h1>
      {!outcomes ? <p role="status">{t("loading")}</p> : shown.length === 0 ? <p>{t("none")}</p> : (
        <div class="charts">
          {shown.map((o) => ("error" in o ? (
            <figure class="card" data-chart={o.key}>
              <h2>{o.title}</h2>
              <p class="field-error" role="alert">{o.error}</p>
            </figure>
          ) : <ChartCard spec={o} />))}
        </div>
      )}
    </section>
  );
}

function ChartCard({ spec }: { spec: ChartSpec }) {
  const { model, t } = useSession();
  const canvas = useRef<HTMLCanvasElement>(null);
  const empty = spec.labels.length === 0 || spec.datasets.every((d) => d.data.every((v) => v === 0));
  useEffect(() => {
    if (!canvas.current || empty) return;
    const fmt = (v: number) => (spec.money ? formatMoney(v, spec.money, model.locale) : formatNumber(v, model.locale));
    const tick = (v: number) => (spec.money ? formatCompactMoney(v, spec.money, model.locale) : formatNumber(v, model.locale));
    const chart = new Chart(canvas.current, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map((d, i) => ({ ...d, backgroundColor: COLORS[i % COLORS.length], borderColor: COLORS[i % COLORS.length] })),
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        locale: model.locale,
        plugins: { legend: { display: spec.datasets.length > 1 }, tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmt(Number(c.raw))}` } } },
        scales: {
          x: { stacked: !!spec.stacked },
          y: { stacked: !!spec.stacked, beginAtZero: true, ticks: { precision: 0, callback: (v) => tick(Number(v)) } },
        },
      },
    });
    return () => chart.destroy();
  }, [spec, model.locale, empty]);
  // The table is the chart's text alternative (screen readers, no-canvas).
  return (
    <figure class="card" data-chart={spec.key}>
      <h2>{spec.title}</h2>
      {spec.note && <p class="help">{spec.note}</p>}
      {empty ? <p class="help" data-testid="no-data">{t("noData")}</p> : (
        <>
          <div class="chart-box"><canvas ref={canvas} role="img" aria-label={spec.title} /></div>
          <details>
            <summary>{t("figures")}</summary>
            <table>
              <thead><tr><th scope="col"></th>{spec.datasets.map((d) => <th scope="col">{d.label}</th>)}</tr></thead>
              <tbody>
                {spec.labels.map((l, i) => (
                  <tr><th scope="row">{l}</th>{spec.datasets.map((d) => <td>{spec.money ? formatMoney(d.data[i], spec.money, model.locale) : formatNumber(d.data[i], model.locale)}</td>)}</tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </figure>
  );
}
