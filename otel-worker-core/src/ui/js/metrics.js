// The metrics view: the list of metrics and one metric's chart.

import { $, api, fillServices, clock, color, download, el, failed, show, value } from "./core.js";

const METRIC_FILTERS = ["service", "q", "range", "stat"];
const DEFAULTS = { range: "1h", stat: "p99" };
const STEPS = 120;
const RANGES = { "15m": 9e11, "1h": 3.6e12, "6h": 2.16e13, "24h": 8.64e13, "7d": 6.048e14 };
let metricRefresh = null;
export async function openMetrics(params) {
  show("metrics-view");
  const form = $("metric-search");
  try { await fillServices(form.elements.service); } catch (error) { return failed(error, "metrics-error"); }
  for (const name of METRIC_FILTERS) form.elements[name].value = params.get(name) || DEFAULTS[name] || "";
  await loadMetricList(params.get("name"));
  const name = params.get("name");
  $("chart").classList.toggle("hidden", !name);
  if (name) drawMetric(name);
}
function metricHash(name) {
  const form = $("metric-search");
  const params = new URLSearchParams();
  params.set("metrics", "");
  for (const key of METRIC_FILTERS) {
    const v = form.elements[key].value.trim();
    if (v && v !== DEFAULTS[key]) params.set(key, v);
  }
  if (name) params.set("name", name);
  return params.toString().replace("metrics=", "metrics");
}
async function loadMetricList(selected) {
  $("metrics-error").textContent = "";
  const form = $("metric-search");
  const query = new URLSearchParams();
  for (const key of ["service", "q"]) if (form.elements[key].value) query.set(key, form.elements[key].value);
  let list;
  try { list = await api("/v1/metrics?" + query); } catch (error) { return failed(error, "metrics-error"); }
  const body = $("metrics");
  body.replaceChildren();
  const seen = new Set();
  for (const m of list.metrics) {
    // A metric sent by services with other units or temporalities is listed once per kind.
    const first = !seen.has(m.name);
    seen.add(m.name);
    const kind = m.type + (m.temporality ? ` (${m.temporality}${m.monotonic ? ", monotonic" : ""})` : "");
    body.append(el("tr", { class: m.name === selected && first ? "on" : "", "data-testid": "metric-row",
        onclick: () => { location.hash = metricHash(m.name); } },
      el("td", { class: "mono" }, m.name, m.unit ? el("span", { class: "sev" }, " " + m.unit) : ""),
      el("td", {}, kind),
      el("td", {}, String(m.series))));
  }
  $("no-metrics").classList.toggle("hidden", list.metrics.length > 0);
}
// The number a step point shows: a counter's rate, a gauge's value, a histogram's chosen
// percentile, a summary's median.
function stepValue(point, stat) {
  for (const key of ["rate", "value", stat]) {
    const v = point[key];
    if (typeof v === "number") return v;
  }
  const median = (point.quantileValues || []).find((q) => q.quantile === 0.5);
  return median ? median.value : null;
}
function formatNumber(v) {
  if (v == null || !isFinite(v)) return "";
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
  if (a >= 1e3) return (v / 1e3).toFixed(2) + "k";
  return a >= 10 || a === 0 ? v.toFixed(1).replace(/\.0$/, "") : v.toPrecision(3);
}
async function drawMetric(name) {
  const form = $("metric-search");
  const range = RANGES[form.elements.range.value] || RANGES["1h"];
  const stat = form.elements.stat.value || "p99";
  const end = BigInt(Date.now()) * 1000000n;
  const start = end - BigInt(range);
  const stepMs = Math.max(1000, Math.round(range / STEPS / 1e6));
  const query = new URLSearchParams({ start: String(start), step: stepMs + "ms" });
  if (form.elements.service.value) query.set("service", form.elements.service.value);
  let metric;
  try { metric = await api(`/v1/metrics/${encodeURIComponent(name)}?` + query); }
  catch (error) { return failed(error, "metrics-error"); }
  const histogram = metric.type === "histogram" || metric.type === "exponentialHistogram";
  const what = metric.type === "sum" && metric.monotonic ? "rate per second"
    : histogram ? stat : metric.type === "summary" ? "median" : "value";
  const W = 800, H = 260, L = 56, R = 10, T = 10, B = 24;
  const x = (ns) => L + (W - L - R) * Number(BigInt(ns) - start) / range;
  const lines = metric.series.map((series, i) => ({
    series, color: `hsl(${(i * 67 + 210) % 360} 62% 48%)`,
    points: series.points.map((p) => [p.timeUnixNano, stepValue(p, stat)]).filter(([, v]) => v != null && isFinite(v)),
  }));
  // Exemplars have measurements, comparable with gauges and histogram percentiles only.
  const exemplars = metric.type === "gauge" || histogram
    ? metric.series.flatMap((s) => s.points.flatMap((p) => p.exemplars || []))
        .filter((e) => typeof e.value === "number" && e.traceId && BigInt(e.timeUnixNano) >= start)
    : [];
  const values = lines.flatMap((l) => l.points.map(([, v]) => v)).concat(exemplars.map((e) => e.value));
  let lo = Math.min(0, ...values), hi = Math.max(...values, 0);
  if (hi === lo) hi = lo + 1;
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs, ...children) => {
    const node = document.createElementNS(svgNs, tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  };
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${name}: ${what}` });
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4;
    chart.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, formatNumber(v)));
  }
  for (const [ns, anchor] of [[start, "start"], [end, "end"]]) {
    chart.append(svg("text", { x: x(ns), y: H - 6, "text-anchor": anchor }, clock(String(ns)).slice(11, 19)));
  }
  for (const line of lines) {
    if (line.points.length === 1) {
      const [ns, v] = line.points[0];
      chart.append(svg("circle", { cx: x(ns), cy: y(v), r: 3, fill: line.color, "data-testid": "chart-point" }));
    } else if (line.points.length > 1) {
      chart.append(svg("polyline", { fill: "none", stroke: line.color, "stroke-width": 2, "data-testid": "chart-line",
        points: line.points.map(([ns, v]) => `${x(ns).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
    }
  }
  for (const e of exemplars) {
    chart.append(svg("circle", { class: "exemplar", cx: x(e.timeUnixNano), cy: y(e.value), r: 5, fill: "var(--error)",
        "data-testid": "exemplar",
        onclick: () => { location.hash = `trace=${e.traceId}` + (e.spanId ? `&span=${e.spanId}` : ""); } },
      svg("title", {}, `exemplar ${formatNumber(e.value)} ${metric.unit}: open trace ${e.traceId}`)));
  }
  const label = (series) => [series.serviceName, ...Object.entries(series.attributes).map(([k, v]) => `${k}=${value(v)}`)]
    .filter(Boolean).join(" ");
  $("chart").replaceChildren(
    el("h2", { class: "mono" }, metric.name),
    el("div", { class: "meta" }, [what + (metric.unit ? ` (${metric.unit})` : ""), metric.description].filter(Boolean).join(" — "),
      exemplars.length ? ` — ${exemplars.length} exemplar${exemplars.length === 1 ? "" : "s"}: click a red dot for its trace` : ""),
    chart,
    el("div", { class: "legend" }, ...lines.map((l) => el("span", { style: `--c:${l.color}` }, label(l.series)))),
    lines.every((l) => l.points.length === 0) ? el("div", { class: "empty" }, "No points in this range.") : "");
}
// The points in the chosen range (of the open metric, else of every one of the service).
$("download-metrics").addEventListener("click", () => {
  const form = $("metric-search");
  const name = new URLSearchParams(location.hash.slice(1)).get("name");
  const range = RANGES[form.elements.range.value] || RANGES["1h"];
  const query = new URLSearchParams({ start: String(BigInt(Date.now()) * 1000000n - BigInt(range)) });
  if (name) query.set("name", name);
  if (form.elements.service.value) query.set("service", form.elements.service.value);
  download("/v1/export/metrics?" + query, name ? `metric-${name}.jsonl` : "metrics.jsonl", "metrics-error");
});
$("metric-search").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = new URLSearchParams(location.hash.slice(1)).get("name");
  const hash = metricHash(name);
  if (location.hash.slice(1) === hash) openMetrics(new URLSearchParams(hash));
  else location.hash = hash;
});

// The open chart follows new points, at most every second.
export function followMetric() {
  const name = new URLSearchParams(location.hash.slice(1)).get("name");
  if ($("metrics-view").classList.contains("hidden") || !name || metricRefresh) return;
  metricRefresh = setTimeout(() => { metricRefresh = null; drawMetric(name); }, 1000);
}
