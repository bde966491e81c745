// The log list, and how a record is shown anywhere (severity, time).

import { $, api, fillServices, chip, clock, download, el, failed, show, value } from "./core.js";

const LOG_FILTERS = ["service", "severity", "attr", "q"];
const LOG_PAGE = 100;
let logsCursor = null;
let logsRefresh = null;
export async function openLogs(params) {
  show("logs-view");
  const form = $("log-search");
  try { await fillServices(form.elements.service); } catch (error) { return failed(error, "logs-error"); }
  for (const name of LOG_FILTERS) form.elements[name].value = params.get(name) || "";
  loadLogs(false);
}
function logQuery(cursor) {
  const form = $("log-search");
  const query = new URLSearchParams({ limit: String(LOG_PAGE) });
  for (const name of LOG_FILTERS) {
    const v = form.elements[name].value.trim();
    if (!v) continue;
    if (name === "attr") {
      for (const pair of v.split(",").map((p) => p.trim()).filter(Boolean)) query.append("attr", pair);
    } else query.set(name, v);
  }
  if (cursor) query.set("before", cursor);
  return query;
}
async function loadLogs(append) {
  $("logs-error").textContent = "";
  let list;
  try { list = await api("/v1/logs?" + logQuery(append ? logsCursor : null)); }
  catch (error) { return failed(error, "logs-error"); }
  const body = $("logs");
  if (!append) body.replaceChildren();
  for (const log of list.logs) {
    const trace = log.traceId
      ? el("a", { class: "mono", onclick: () => { location.hash = `trace=${log.traceId}` + (log.spanId ? `&span=${log.spanId}` : ""); } },
          log.traceId.slice(0, 16) + "…")
      : "";
    body.append(el("tr", { "data-testid": "log-row" },
      el("td", { class: "mono" }, clock(logTime(log))),
      el("td", {}, el("span", { class: "sev " + level(log.severityNumber) }, severityName(log))),
      el("td", {}, log.serviceName ? chip(log.serviceName) : ""),
      el("td", { class: "body" }, value(log.body)),
      el("td", {}, trace)));
  }
  logsCursor = list.nextCursor;
  $("logs-more").classList.toggle("hidden", !logsCursor || !!list.partial);
  $("logs-partial").classList.toggle("hidden", !list.partial);
  $("no-logs").classList.toggle("hidden", body.children.length > 0 || !!list.partial);
}
$("log-search").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = $("log-search");
  const params = new URLSearchParams();
  for (const name of LOG_FILTERS) {
    const v = form.elements[name].value.trim();
    if (v) params.set(name, v);
  }
  const hash = "logs" + (params.toString() ? "&" + params : "");
  if (location.hash.slice(1) === hash) loadLogs(false);
  else location.hash = hash;
});
$("log-clear").addEventListener("click", () => { location.hash = "logs"; });
$("logs-more").addEventListener("click", () => loadLogs(true));
$("logs-keep-searching").addEventListener("click", () => loadLogs(true));

$("download-logs").addEventListener("click", () => {
  const search = logQuery(null);
  search.delete("limit");
  download("/v1/export/logs?" + search.toString(), "logs.jsonl", "logs-error");
});

export function logTime(log) { return log.timeUnixNano !== "0" ? log.timeUnixNano : log.observedTimeUnixNano; }
export function level(severity) { return severity >= 17 ? "error" : severity >= 13 ? "warn" : ""; }
const LEVELS = [[21, "FATAL"], [17, "ERROR"], [13, "WARN"], [9, "INFO"], [5, "DEBUG"], [1, "TRACE"]];
export function severityName(log) {
  if (log.severityText) return log.severityText.toUpperCase();
  const found = LEVELS.find(([start]) => log.severityNumber >= start);
  return found ? found[1] : "-";
}

// The first page of the log list follows new records, at most every 300 ms.
export function followLogs() {
  if ($("logs-view").classList.contains("hidden") || $("logs").children.length > LOG_PAGE || logsRefresh) return;
  logsRefresh = setTimeout(() => { logsRefresh = null; loadLogs(false); }, 300);
}
