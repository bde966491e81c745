// One trace: the waterfall, a span's details, its log records, sharing it, and the
// read-only page a share link opens.

import { $, api, chip, clock, color, download, duration, el, failed, serviceOf, show, state, value } from "./core.js";
import { level, logTime, severityName } from "./logs.js";

// The waterfall's row height, from the stylesheet's --row.
const ROW_HEIGHT = parseInt(getComputedStyle(document.documentElement).getPropertyValue("--row"), 10);

let rows = [];
let selected = null;
let trace = null;

// A trace's log records, all pages, in time order.
async function traceLogs(traceId) {
  const path = tracePath(traceId) + "/logs";
  const first = await api(path);
  const logs = first.logs;
  for (let next = first.nextCursor; next; ) {
    const page = await api(path + "?limit=10000&cursor=" + encodeURIComponent(next));
    logs.push(...page.logs);
    next = page.nextCursor;
  }
  return logs;
}

export async function openTrace(traceId, spanId, allLogs) {
  show("trace-view");
  $("trace-error").textContent = "";
  if (!trace || trace.traceId !== traceId) {
    $("rows-inner").replaceChildren();
    $("detail").classList.add("hidden");
    $("share-link").classList.add("hidden");
    $("trace-share").textContent = "Share";
    try {
      // A large trace comes in pages: the summary and first spans, then the rest.
      const path = tracePath(traceId);
      trace = await api(path);
      for (let next = trace.nextSpansCursor; next; ) {
        const page = await api(path + "?spansLimit=10000&spansCursor=" + encodeURIComponent(next));
        trace.spans.push(...page.spans);
        next = page.nextSpansCursor;
      }
      trace.logs = await traceLogs(traceId);
    } catch (error) { trace = null; return failed(error, "trace-error"); }
    layout(trace);
  }
  selected = spanId;
  render();
  if (spanId) showSpan(rows.find((r) => r.span.spanId === spanId));
  else if (allLogs) showLogs();
  else $("detail").classList.add("hidden");
}
$("back").addEventListener("click", () => { location.hash = state.listHash; });

$("trace-download").addEventListener("click", () => {
  if (trace) download(tracePath(trace.traceId) + "/otlp", `trace-${trace.traceId}.json`, "trace-error");
});
$("trace-share").addEventListener("click", async () => {
  if (!trace) return;
  const response = await fetch(`/v1/traces/${trace.traceId}/share`, { method: "POST", headers: { Authorization: "Bearer " + state.token } });
  const body = await response.json().catch(() => null);
  if (!response.ok) { $("trace-error").textContent = "share failed: " + ((body && body.message) || response.status); return; }
  // The page's own origin: the server may know itself by another name.
  const link = location.origin + location.pathname + body.path.replace(/^\/+/, "");
  const field = $("share-link");
  field.value = link;
  field.title = `works without the token until ${body.expiresAt}; otel-worker-cli client traces unshare revokes it`;
  field.classList.remove("hidden");
  field.select();
  try { await navigator.clipboard.writeText(link); $("trace-share").textContent = "Link copied"; }
  catch (e) { $("trace-share").textContent = "Copy the link"; }
});

let shareToken = "";
// What a link grants, read from its text: the trace id (bytes 1 to 16) and the unix
// second it expires (17 to 24). The server checks the signature; this only shows it.
function grantOf(text) {
  try {
    const bytes = Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    const expires = bytes.slice(17, 25).reduce((n, b) => n * 256 + b, 0);
    return { traceId: bytes.slice(1, 17).map((b) => b.toString(16).padStart(2, "0")).join(""), expires };
  } catch (e) { return { traceId: "", expires: 0 }; }
}
const isShared = (traceId) => shareToken !== "" && traceId === grantOf(shareToken).traceId;
// Where the trace view reads a trace: through the link on a shared page.
function tracePath(traceId) {
  return isShared(traceId) ? "/v1/shared/" + encodeURIComponent(shareToken) : "/v1/traces/" + encodeURIComponent(traceId);
}
const traceHash = (traceId) => isShared(traceId) ? "share=" + shareToken : "trace=" + traceId;
export function openShared(params) {
  shareToken = params.get("share");
  const grant = grantOf(shareToken);
  document.body.classList.add("shared");
  const note = $("share-note");
  note.textContent = "Shared trace, read-only" + (grant.expires ? ", until " + new Date(grant.expires * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "");
  note.classList.remove("hidden");
  return openTrace(grant.traceId, params.get("span"), params.has("logs"));
}

$("compare-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const other = e.target.elements.with.value.trim().toLowerCase();
  if (trace && other) location.hash = `compare=${trace.traceId}&with=${encodeURIComponent(other)}`;
});

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && trace && !$("trace-view").classList.contains("hidden")) {
    location.hash = traceHash(trace.traceId);
  }
});

// Depth-first order, children by start time; spans whose parent is missing are roots.
function layout(t) {
  const byId = new Map(t.spans.map((s) => [s.spanId, s]));
  const children = new Map();
  const roots = [];
  for (const s of t.spans) {
    if (s.parentSpanId && byId.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      if (!children.has(s.parentSpanId)) children.set(s.parentSpanId, []);
      children.get(s.parentSpanId).push(s);
    } else roots.push(s);
  }
  const logsOf = new Map();
  for (const log of t.logs) {
    if (!log.spanId) continue;
    if (!logsOf.has(log.spanId)) logsOf.set(log.spanId, []);
    logsOf.get(log.spanId).push(log);
  }
  rows = [];
  const seen = new Set();
  const stack = roots.reverse().map((s) => [s, 0]);
  while (stack.length) {
    const [s, depth] = stack.pop();
    if (seen.has(s.spanId)) continue;
    seen.add(s.spanId);
    rows.push({ span: s, depth, service: serviceOf(s), logs: logsOf.get(s.spanId) || [] });
    const kids = children.get(s.spanId) || [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
  }
  const start = BigInt(t.startTimeUnixNano);
  const total = Number(BigInt(t.endTimeUnixNano) - start) || 1;
  for (const r of rows) {
    r.offset = Number(BigInt(r.span.startTimeUnixNano) - start);
    r.left = Math.max(0, r.offset / total) * 100;
    r.width = Math.min(100 - r.left, (r.span.durationNs / total) * 100);
    r.marks = r.logs.map((log) => ({
      left: Math.min(100, Math.max(0, Number(BigInt(logTime(log)) - start) / total * 100)),
      level: level(log.severityNumber),
    }));
  }
  const logButton = $("trace-logs");
  logButton.textContent = `Logs (${t.logs.length})`;
  logButton.classList.toggle("hidden", t.logs.length === 0);
  $("trace-title").textContent = t.rootSpanName || "(root not received)";
  $("trace-meta").textContent = `${t.traceId} · ${clock(t.startTimeUnixNano)} · ${duration(t.durationNs)} · ${t.spanCount} spans` +
    (t.errorCount ? ` · ${t.errorCount} errors` : "");
  $("trace-meta").title = $("trace-meta").textContent;
  $("legend").replaceChildren(...t.services.map(chip));
  $("ticks").replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) =>
    el("span", { class: "tick", style: `left:${f * 100}%;${f === 1 ? "transform:translateX(-100%)" : f === 0 ? "transform:none" : ""}` }, duration(Math.round(f * total)))));
  $("rows-inner").style.height = rows.length * ROW_HEIGHT + "px";
  $("rows").scrollTop = 0;
}

// Only the rows in view (plus a margin) exist in the page, so 5,000 spans scroll as
// smoothly as 5.
function render() {
  const container = $("rows");
  const first = Math.max(0, Math.floor(container.scrollTop / ROW_HEIGHT) - 10);
  const last = Math.min(rows.length, Math.ceil((container.scrollTop + container.clientHeight) / ROW_HEIGHT) + 10);
  const nodes = [];
  for (let i = first; i < last; i++) {
    const r = rows[i];
    const s = r.span;
    const isError = s.status && s.status.code === "error";
    const bar = el("div", { class: "bar" + (isError ? " error" : ""), style: `left:${r.left}%;width:${r.width}%;background:${color(r.service)}` });
    const label = el("span", { class: "dur", style: r.left + r.width > 80 ? `right:${100 - r.left + 0.5}%` : `left:calc(${r.left + r.width}% + 4px)` }, duration(s.durationNs));
    nodes.push(el("div", {
        class: "row" + (selected === s.spanId ? " selected" : ""), style: `top:${i * ROW_HEIGHT}px`,
        "data-span-id": s.spanId, title: s.name,
        onclick: () => { location.hash = `${traceHash(trace.traceId)}&span=${s.spanId}`; } },
      el("div", { class: "name", style: `padding-left:${8 + r.depth * 14}px` },
        el("span", { class: "dot", style: `background:${color(r.service)}` }),
        isError ? el("span", { class: "err", title: "error" }, "!") : null,
        el("span", {}, s.name), el("span", { class: "svc" }, r.service),
        r.logs.length ? el("span", { class: "logs", "data-testid": "log-count", title: "log records of this span" },
          r.logs.length + (r.logs.length === 1 ? " log" : " logs")) : null),
      el("div", { class: "lane" }, bar, label,
        ...r.marks.map((m) => el("div", { class: "log-mark " + m.level, style: `left:${m.left}%` })))));
  }
  $("rows-inner").replaceChildren(...nodes);
}
$("rows").addEventListener("scroll", () => requestAnimationFrame(render));
window.addEventListener("resize", () => { if (trace) render(); });

function table(entries) {
  if (!entries.length) return el("div", { class: "empty" }, "none");
  return el("table", {}, ...entries.map(([k, v]) =>
    el("tr", {}, el("td", { class: "key" }, k), el("td", { class: "mono" }, value(v)))));
}
function showSpan(row) {
  const panel = $("detail");
  if (!row) { panel.classList.add("hidden"); return; }
  const s = row.span;
  const offset = row.offset;
  panel.replaceChildren(
    el("button", { class: "secondary close", type: "button", onclick: () => { location.hash = traceHash(trace.traceId); } }, "Close"),
    el("h3", {}, s.name),
    table([
      ["service", row.service], ["span id", s.spanId], ["parent", s.parentSpanId || "(root)"],
      ["kind", s.kind], ["start", clock(s.startTimeUnixNano) + ` (+${duration(offset)})`],
      ["duration", duration(s.durationNs)],
      ["status", s.status.code + (s.status.message ? ": " + s.status.message : "")],
    ]),
    el("h4", {}, "Attributes"), table(Object.entries(s.attributes)),
    el("h4", {}, `Logs (${row.logs.length})`), logList(row.logs, false),
    el("h4", {}, "Events"),
    s.events.length ? el("div", {}, ...s.events.map((ev) => el("div", {},
      el("b", {}, ev.name), " ", el("span", { class: "mono" }, "+" + duration(Number(BigInt(ev.timeUnixNano) - BigInt(trace.startTimeUnixNano)))),
      table(Object.entries(ev.attributes))))) : el("div", { class: "empty" }, "none"),
    el("h4", {}, "Links"),
    s.links.length ? el("div", {}, ...s.links.map((l) => el("div", { class: "mono" },
      el("a", { onclick: () => { location.hash = `trace=${l.traceId}&span=${l.spanId}`; } }, `${l.traceId} / ${l.spanId}`),
      table(Object.entries(l.attributes))))) : el("div", { class: "empty" }, "none"),
    el("h4", {}, "Resource"), table(Object.entries(s.resource.attributes)),
    el("h4", {}, "Scope"), table([["name", s.scope.name], ["version", s.scope.version], ...Object.entries(s.scope.attributes)]));
  panel.classList.remove("hidden");
}

// Records as a list: offset from the trace's start, severity, body and attributes;
// with `linked`, each names its span, one click away.
function logList(logs, linked) {
  if (!logs.length) return el("div", { class: "empty" }, "none");
  const start = BigInt(trace.startTimeUnixNano);
  const names = new Map(trace.spans.map((s) => [s.spanId, s.name]));
  return el("div", { "data-testid": "logs" }, ...logs.map((log) => {
    const at = BigInt(logTime(log)) - start;
    const span = log.spanId && names.has(log.spanId)
      ? el("a", { onclick: () => { location.hash = `${traceHash(trace.traceId)}&span=${log.spanId}`; } }, names.get(log.spanId))
      : null;
    return el("div", { class: "log" },
      el("span", { class: "mono" }, (at < 0n ? "-" : "+") + duration(Number(at < 0n ? -at : at))), " ",
      el("span", { class: "sev " + level(log.severityNumber) }, severityName(log)), " ",
      linked && span ? el("span", {}, span, " · ") : null,
      el("span", { class: "body" }, value(log.body)),
      Object.keys(log.attributes).length ? table(Object.entries(log.attributes)) : null);
  }));
}
function showLogs() {
  const panel = $("detail");
  panel.replaceChildren(
    el("button", { class: "secondary close", type: "button", onclick: () => { location.hash = traceHash(trace.traceId); } }, "Close"),
    el("h3", {}, `Logs of this trace (${trace.logs.length})`),
    logList(trace.logs, true));
  panel.classList.remove("hidden");
}
$("trace-logs").addEventListener("click", () => { location.hash = `${traceHash(trace.traceId)}&logs`; });
