// Comparing two traces span by span, and two searches operation by operation.

import { $, api, chip, duration, el, failed, show } from "./core.js";
import { apiQuery } from "./list.js";
import { route } from "./main.js";

let compared = null;
$("compare-back").addEventListener("click", () => { if (compared) location.hash = "trace=" + compared.a.traceId; });
function signed(ns) {
  return ns === null || ns === undefined ? "" : (ns < 0 ? "-" : "+") + duration(Math.abs(ns));
}
function deltaCell(ns) {
  const up = ns > 0, down = ns < 0;
  return el("td", { class: "mono delta" + (up ? " up" : down ? " down" : "") }, signed(ns));
}
export async function openCompare(a, b) {
  show("compare-view");
  $("compare-error").textContent = "";
  $("compare-rows").replaceChildren();
  $("compare-meta").textContent = "";
  try {
    compared = await api(`/v1/compare/traces?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  } catch (error) { compared = null; return failed(error, "compare-error"); }
  const c = compared;
  $("compare-title").textContent = `${duration(c.a.durationNs)} → ${duration(c.b.durationNs)} (${signed(c.durationDeltaNs)})`;
  $("compare-meta").textContent = `A ${c.a.traceId} · B ${c.b.traceId} · ${c.matched} matched · ${c.onlyInA} only in A · ` +
    `${c.onlyInB} only in B · ${c.statusChanges} status changes` + (c.truncated ? " · large traces: their first spans compared" : "");
  $("compare-rows").replaceChildren(...c.positions.map((p) => {
    const side = p.b || p.a;
    const note = !p.a ? "only in B" : !p.b ? "only in A" : p.statusChanged ? (p.b.error ? "now failing" : "no longer failing") : "";
    const cell = (s) => el("td", { class: "mono" + (s && s.error ? " error-text" : "") }, s ? duration(s.durationNs) : "");
    return el("tr", {
      class: !p.a ? "only-b" : !p.b ? "only-a" : "",
      "data-path": p.path,
      onclick: () => { location.hash = `trace=${p.b ? c.b.traceId : c.a.traceId}&span=${side.spanId}`; },
    },
      el("td", { style: `padding-left:${8 + p.depth * 16}px` }, chip(p.service || ""), " ", p.name,
        note ? el("span", { class: "note" }, note) : ""),
      cell(p.a), cell(p.b), deltaCell(p.durationDeltaNs), deltaCell(p.selfDeltaNs));
  }));
}

// Each group is a search as GET /v1/traces takes it; the hash holds both, so the
// comparison is a link.
function groupsHash(baseline, candidate) {
  return "groups&" + new URLSearchParams({ baseline, candidate }).toString();
}
$("compare-groups").addEventListener("click", () => {
  const search = apiQuery(null);
  search.delete("limit");
  const text = search.toString();
  location.hash = groupsHash(text, text);
});
$("groups-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = e.target.elements;
  const hash = groupsHash(f.baseline.value.trim(), f.candidate.value.trim());
  if (location.hash.slice(1) === hash) route();
  else location.hash = hash;
});
function percent(share) {
  return share === null || share === undefined ? "" : (share > 0 ? "+" : "") + (share * 100).toFixed(1) + "%";
}
export async function openGroups(baseline, candidate) {
  show("groups-view");
  const f = $("groups-form").elements;
  f.baseline.value = baseline;
  f.candidate.value = candidate;
  $("groups-error").textContent = "";
  $("groups-meta").textContent = "";
  $("groups-rows").replaceChildren();
  if (!baseline && !candidate) return;
  let r;
  try {
    r = await api("/v1/compare/groups?" + new URLSearchParams({ baseline, candidate }).toString());
  } catch (error) { return failed(error, "groups-error"); }
  const read = (label, g) => `${label}: ${g.traces} traces read of ${g.matched}${g.matchedAll ? "" : "+"} matched` +
    (g.truncated ? " (stopped at the span limit)" : "");
  $("groups-meta").textContent = `${read("baseline", r.baseline)} · ${read("candidate", r.candidate)} · ` +
    `${r.regressions} regressed significantly (Holm-corrected at ${r.alpha}; fewer than ${r.minSamples} calls: not tested)`;
  const pair = (o, f) => `${o.baseline ? f(o.baseline) : "–"} → ${o.candidate ? f(o.candidate) : "–"}`;
  $("groups-rows").replaceChildren(...r.operations.map((o) => {
    const tests = [o.duration, o.selfTime, o.errors].filter(Boolean).map((t) => t.adjustedPValue);
    const mark = o.regressed ? "▲ " : o.improved ? "▼ " : "";
    const changed = o.changedIn.length ? el("span", { class: "note" }, (o.regressed ? "slower in " : "better in ") +
      o.changedIn.map((m) => ({ duration: "duration", selfTime: "self time", errors: "errors" })[m]).join(", ")) : "";
    const errorRate = (s) => (s.errorRate * 100).toFixed(1) + "%";
    return el("tr", {
      class: o.regressed ? "regressed" : o.improved ? "improved" : "",
      "data-operation": o.name,
      title: "The candidate's traces with this operation",
      onclick: () => {
        const search = new URLSearchParams(candidate);
        search.set("name", o.name);
        if (o.service) search.set("service", o.service);
        location.hash = search.toString();
      },
    },
      el("td", {}, mark, chip(o.service || ""), " ", o.name, changed),
      el("td", { class: "mono" }, pair(o, (s) => String(s.calls))),
      el("td", { class: "mono" }, pair(o, (s) => duration(s.p50Ns))),
      el("td", { class: "mono" }, pair(o, (s) => duration(s.p99Ns))),
      deltaCell(o.p50DeltaNs),
      el("td", { class: "mono delta" + (o.p99Change > 0 ? " up" : o.p99Change < 0 ? " down" : "") }, percent(o.p99Change)),
      deltaCell(o.selfP50DeltaNs),
      el("td", { class: "mono" + (o.errorRateDelta > 0 && o.regressed ? " error-text" : "") }, pair(o, errorRate)),
      el("td", { class: "mono" }, tests.length ? Math.min(...tests).toExponential(1) : "not tested"));
  }));
}
