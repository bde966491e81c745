// The trace list: the search form, its attribute suggestions, the storage line.

import { $, PAGE, api, bytes, chip, clock, download, duration, el, failed, value } from "./core.js";

export const FILTERS = ["service", "name", "status", "minDuration", "maxDuration", "attr", "q", "since"];
let nextCursor = null;
let shown = new Set();
let refreshTimer = null;

function searchParams() {
  const form = $("search");
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const v = form.elements[name].value.trim();
    if (v) params.set(name, v);
  }
  return params;
}
export function apiQuery(cursor) {
  const filters = searchParams();
  const query = new URLSearchParams({ limit: String(PAGE) });
  for (const [k, v] of filters) {
    if (k === "attr") {
      for (const pair of v.split(",").map((p) => p.trim()).filter(Boolean)) query.append("attr", pair);
    } else if (k === "since") {
      const ms = { "15m": 9e5, "1h": 36e5, "6h": 216e5, "24h": 864e5, "7d": 6048e5 }[v];
      query.set("start", String(BigInt(Date.now() - ms) * 1000000n));
    } else {
      query.set(k, v);
    }
  }
  if (cursor) query.set("before", cursor);
  return query;
}
$("search").addEventListener("submit", (e) => {
  e.preventDefault();
  const hash = searchParams().toString();
  if (location.hash.slice(1) === hash) loadTraces(false);
  else location.hash = hash;
});
$("clear").addEventListener("click", () => { location.hash = ""; });
$("more").addEventListener("click", () => loadTraces(true));
$("keep-searching").addEventListener("click", () => loadTraces(true));

export async function loadServices() {
  try {
    const { services } = await api("/v1/services");
    const select = $("search").elements.service;
    const current = select.value;
    select.replaceChildren(el("option", { value: "" }, "all"),
      ...services.map((s) => el("option", { value: s.name }, `${s.name} (${s.spanCount})`)));
    select.value = current;
  } catch (error) { failed(error, "list-error"); }
}

// The header's storage line: how much is kept, and how near the budget, past which the
// oldest traces are deleted.
export async function loadStats() {
  let stats;
  try { stats = await api("/v1/stats"); } catch (error) { return; }
  const usage = $("usage");
  const archived = stats.archive || {};
  const records = stats.logs + (archived.records || 0);
  const logs = records ? ` · ${records.toLocaleString("en")} logs` : "";
  const points = stats.metricPoints ? ` · ${stats.metricPoints.toLocaleString("en")} metric points` : "";
  // The archive's spans and bytes are part of what is kept (searched alike).
  const archive = stats.archive || {spans: 0, bytes: 0, blocks: 0};
  const spans = stats.spans + archive.spans;
  const kept = stats.bytes + archive.bytes;
  let text = `${spans.toLocaleString("en")} spans${logs}${points} · ${bytes(kept)}`;
  const used = stats.bytes + (archive.withinBudget ? archive.bytes : 0);
  const share = stats.budgetBytes ? used / stats.budgetBytes : 0;
  if (stats.budgetBytes && used === kept) text += ` of ${bytes(stats.budgetBytes)} (${Math.round(share * 100)}%)`;
  else if (stats.budgetBytes) text += ` (${bytes(used)} of the ${bytes(stats.budgetBytes)} budget, ${Math.round(share * 100)}%)`;
  usage.textContent = text;
  usage.classList.toggle("full", share >= 0.9);
  const notes = [];
  const oldest = [stats.oldestUnixNano, archive.oldestUnixNano].filter(Boolean)
    .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))[0];
  if (oldest) notes.push("oldest trace " + clock(oldest));
  if (archive.spans || archive.records) {
    const held = [archive.spans && `${archive.spans.toLocaleString("en")} spans`, archive.records && `${archive.records.toLocaleString("en")} log records`].filter(Boolean);
    notes.push(`${held.join(" and ")} archived in ${archive.blocks.toLocaleString("en")} blocks (${bytes(archive.bytes)})`);
  }
  if (stats.budgetBytes) notes.push("the oldest traces are deleted to stay within the budget");
  if (stats.prunedTraces) notes.push(`${stats.prunedTraces.toLocaleString("en")} traces deleted so far`);
  if (stats.sampledOutSpans) notes.push(`${stats.sampledOutSpans.toLocaleString("en")} spans left out by sampling`);
  if (stats.unindexedSpans) notes.push(`${stats.unindexedSpans.toLocaleString("en")} spans not yet indexed for search`);
  usage.title = notes.join(" · ");
}

// The attribute box offers keys, then a key's most frequent values, for the last
// comma-separated filter being typed; each option is the whole box's new text.
let suggestTimer = null;
// Keys seen change as spans arrive: a list is reused for a few seconds at most.
let keysFor = null;
let keysAt = 0;
let keys = [];
async function suggest() {
  const form = $("search");
  const text = form.elements.attr.value;
  const cut = text.lastIndexOf(",");
  const head = cut < 0 ? "" : text.slice(0, cut + 1) + " ";
  const last = text.slice(cut + 1).trimStart();
  const service = form.elements.service.value;
  const scope = service ? "?service=" + encodeURIComponent(service) : "";
  let options = [];
  try {
    const eq = last.indexOf("=");
    if (eq < 0) {
      if (keysFor !== service || Date.now() - keysAt > 5000) {
        keys = (await api("/v1/attributes" + scope)).attributes;
        keysFor = service;
        keysAt = Date.now();
      }
      options = keys.filter((k) => k.key.startsWith(last)).slice(0, 30)
        .map((k) => [head + k.key + "=", `${k.count.toLocaleString("en")} spans`]);
    } else {
      const query = new URLSearchParams({ prefix: last.slice(eq + 1), limit: "30" });
      if (service) query.set("service", service);
      const { values } = await api(`/v1/attributes/${encodeURIComponent(last.slice(0, eq))}/values?${query}`);
      options = values.map((v) => [head + last.slice(0, eq + 1) + v.value, `${v.count.toLocaleString("en")} spans`]);
    }
  } catch (error) { return; }
  $("attr-suggestions").replaceChildren(...options.map(([value, label]) => el("option", { value, label })));
}
$("search").elements.attr.addEventListener("input", () => {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(suggest, 120);
});
$("search").elements.attr.addEventListener("focus", suggest);

export async function loadTraces(append, live) {
  $("list-error").textContent = "";
  let list;
  try {
    list = await api("/v1/traces?" + apiQuery(append ? nextCursor : null));
  } catch (error) { return failed(error, "list-error"); }
  const body = $("traces");
  if (!append) body.replaceChildren();
  const longest = Math.max(1, ...list.traces.map((t) => t.durationNs));
  const fresh = new Set();
  for (const t of list.traces) {
    if (live && !shown.has(t.traceId)) fresh.add(t.traceId);
    shown.add(t.traceId);
    const row = el("tr", { "data-trace-id": t.traceId, class: fresh.has(t.traceId) ? "fresh" : "",
      onclick: () => { location.hash = "trace=" + t.traceId; } },
      el("td", { class: "mono" }, clock(t.startTimeUnixNano)),
      el("td", {}, t.rootSpanName || el("i", {}, "(root not received)")),
      el("td", {}, ...t.services.map(chip)),
      el("td", {}, duration(t.durationNs), el("span", { class: "durbar", style: `width:${Math.max(2, 80 * t.durationNs / longest)}px` })),
      el("td", {}, t.spanCount),
      el("td", {}, t.errorCount ? el("span", { class: "badge-error" }, t.errorCount) : ""),
      el("td", { class: "mono" }, t.traceId.slice(0, 16) + "…"));
    body.append(row);
  }
  nextCursor = list.nextCursor;
  $("more").classList.toggle("hidden", !nextCursor || !!list.partial);
  $("partial").classList.toggle("hidden", !list.partial);
  $("no-traces").classList.toggle("hidden", body.children.length > 0 || !!list.partial);
}

$("download-search").addEventListener("click", () => {
  const search = apiQuery(null);
  search.delete("limit");
  download("/v1/export/traces?" + search.toString(), "traces.jsonl", "list-error");
});

function olderPagesLoaded() { return $("traces").children.length > PAGE; }

// The first page follows the live feed; older pages stay put while reading them. At most
// one refresh per 300 ms however fast messages come (the server sends up to ten a second
// under load): later messages join the refresh already planned.
export function followTraces() {
  if ($("list-view").classList.contains("hidden") || olderPagesLoaded() || refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; loadTraces(false, true); loadServices(); loadStats(); }, 300);
}
