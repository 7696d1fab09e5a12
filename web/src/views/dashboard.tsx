import { useEffect, useRef, useState } from "preact/hooks";
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
} from "chart.js";
import { useSession } from "../app";
import { formatMoney, formatNumber } from "../lib/format";
import type { Entity, Field, Model } from "../lib/meta";
import { listRecords } from "../lib/records";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

/** Rows the dashboard reads per entity (the records the user can read, newest first). */
const MAX_ROWS = 1000;

async function allRows(model: Model, entity: Entity, fields: Field[]): Promise<any[]> {
  const rows: any[] = [];
  let after: string | null = null;
  while (rows.length < MAX_ROWS) {
    const page = await listRecords(model, entity, fields, { first: 200, after });
    rows.push(...page.rows);
    if (!page.hasNext) break;
    after = page.endCursor;
  }
  return rows;
}

interface ChartSpec {
  key: string;
  title: string;
  type: "bar" | "line";
  labels: string[];
  datasets: { label: string; data: number[] }[];
  money?: string;
  stacked?: boolean;
}

const COLORS = ["#0b5cad", "#e07b00", "#1b8a4a", "#8e44ad", "#c0392b", "#16a085"];

function amountOf(v: any): number {
  return v && v.amount !== undefined ? Number(v.amount) : 0;
}

function month(value: string | null | undefined): string | null {
  return value ? value.slice(0, 7) : null;
}

async function buildCharts(model: Model, t: (k: string, v?: any) => string): Promise<ChartSpec[]> {
  const specs: ChartSpec[] = [];
  const get = (e: string) => model.byKey.get(e);
  const fieldsOf = (e: Entity, keys: string[]) => keys.map((k) => e.byKey.get(k)).filter((f): f is Field => !!f);
  const currency = model.tenant.currency;

  const opp = get("opportunity");
  if (opp && opp.byKey.has("stage") && opp.byKey.has("amount")) {
    const stage = opp.byKey.get("stage")!;
    const rows = await allRows(model, opp, fieldsOf(opp, ["stage", "amount", "close_date"]));
    const sums = new Map(stage.options.map((o) => [o.value, 0]));
    for (const r of rows) if (r.stage) sums.set(r.stage, (sums.get(r.stage) ?? 0) + amountOf(r.amount));
    specs.push({
      key: "pipeline", title: t("pipeline"), type: "bar", money: currency,
      labels: stage.options.map((o) => o.label),
      datasets: [{ label: opp.byKey.get("amount")!.label, data: stage.options.map((o) => sums.get(o.value) ?? 0) }],
    });
    if (opp.byKey.has("close_date")) {
      const open = rows.filter((r) => r.stage && !String(r.stage).startsWith("closed"));
      const byMonth = new Map<string, number>();
      for (const r of open) {
        const m = month(r.closeDate);
        if (m) byMonth.set(m, (byMonth.get(m) ?? 0) + amountOf(r.amount));
      }
      const months = [...byMonth.keys()].sort();
      specs.push({
        key: "forecast", title: t("forecast"), type: "line", money: currency, labels: months,
        datasets: [{ label: opp.byKey.get("amount")!.label, data: months.map((m) => byMonth.get(m) ?? 0) }],
      });
    }
  }

  const act = get("activity");
  if (act && act.byKey.has("owner")) {
    const rows = await allRows(model, act, fieldsOf(act, ["owner"]));
    const counts = new Map<string, number>();
    for (const r of rows) {
      const name = r.owner?.name ?? "—";
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    const names = [...counts.keys()].sort();
    specs.push({
      key: "per-rep", title: t("perRep"), type: "bar", labels: names,
      datasets: [{ label: act.pluralLabel, data: names.map((n) => counts.get(n) ?? 0) }],
    });
  }

  const inv = get("invoice");
  if (inv && inv.byKey.has("due_date") && inv.byKey.has("total")) {
    const rows = await allRows(model, inv, fieldsOf(inv, ["due_date", "total", "status", "issue_date"]));
    const buckets = [t("days", { a: 0, b: 30 }), t("days", { a: 31, b: 60 }), t("days", { a: 61, b: 90 }), t("daysOver", { a: 90 })];
    const sums = [0, 0, 0, 0];
    const today = Date.now();
    for (const r of rows) {
      if (!["issued", "partially_paid"].includes(r.status) || !r.dueDate) continue;
      const days = Math.floor((today - Date.parse(`${r.dueDate}T00:00:00Z`)) / 86_400_000);
      if (days < 0) continue;
      sums[days <= 30 ? 0 : days <= 60 ? 1 : days <= 90 ? 2 : 3] += amountOf(r.total);
    }
    specs.push({
      key: "aging", title: t("aging"), type: "bar", money: currency, labels: buckets,
      datasets: [{ label: inv.byKey.get("total")!.label, data: sums }],
    });
    const pay = get("payment");
    if (pay && pay.byKey.has("paid_on") && pay.byKey.has("amount")) {
      const paid = await allRows(model, pay, fieldsOf(pay, ["paid_on", "amount"]));
      const inMonth = new Map<string, number>();
      const outMonth = new Map<string, number>();
      for (const p of paid) {
        const m = month(p.paidOn);
        if (m) inMonth.set(m, (inMonth.get(m) ?? 0) + amountOf(p.amount));
      }
      for (const r of rows) {
        const m = month(r.issueDate);
        if (m && r.status !== "draft" && r.status !== "cancelled") outMonth.set(m, (outMonth.get(m) ?? 0) + amountOf(r.total));
      }
      const months = [...new Set([...inMonth.keys(), ...outMonth.keys()])].sort();
      specs.push({
        key: "cash", title: t("cash"), type: "bar", money: currency, labels: months,
        datasets: [
          { label: `${t("amountIn")} · ${pay.pluralLabel}`, data: months.map((m) => inMonth.get(m) ?? 0) },
          { label: `${t("amountOut")} · ${inv.pluralLabel}`, data: months.map((m) => outMonth.get(m) ?? 0) },
        ],
      });
    }
  }
  return specs;
}

export function Dashboard() {
  const { model, t } = useSession();
  const [specs, setSpecs] = useState<ChartSpec[] | null>(null);
  useEffect(() => {
    buildCharts(model, t).then(setSpecs).catch(() => setSpecs([]));
  }, [model]);
  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">{t("dashboard")}</h1>
      {!specs ? <p role="status">{t("loading")}</p> : (
        <div class="charts">
          {specs.map((s) => <ChartCard spec={s} />)}
        </div>
      )}
    </section>
  );
}

function ChartCard({ spec }: { spec: ChartSpec }) {
  const { model } = useSession();
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const fmt = (v: number) => (spec.money ? formatMoney(v, spec.money, model.locale) : formatNumber(v, model.locale));
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
        scales: { y: { beginAtZero: true, ticks: { callback: (v) => fmt(Number(v)) } } },
      },
    });
    return () => chart.destroy();
  }, [spec, model.locale]);
  // The table is the chart's text alternative (screen readers, no-canvas).
  return (
    <figure class="card" data-chart={spec.key}>
      <h2>{spec.title}</h2>
      <div class="chart-box"><canvas ref={canvas} role="img" aria-label={spec.title} /></div>
      <details>
        <summary>{spec.title}</summary>
        <table>
          <thead><tr><th scope="col"></th>{spec.datasets.map((d) => <th scope="col">{d.label}</th>)}</tr></thead>
          <tbody>
            {spec.labels.map((l, i) => (
              <tr><th scope="row">{l}</th>{spec.datasets.map((d) => <td>{spec.money ? formatMoney(d.data[i], spec.money, model.locale) : formatNumber(d.data[i], model.locale)}</td>)}</tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
