// The page's entry: the URL hash says which view to open, and the login form.

import { openCompare, openGroups } from "./compare.js";
import { $, TOKEN_KEY, show, showLogin, state } from "./core.js";
import { FILTERS, loadServices, loadStats, loadTraces } from "./list.js";
import { connectLive } from "./live.js";
import { openLogs } from "./logs.js";
import { openMetrics } from "./metrics.js";
import { openShared, openTrace } from "./trace.js";
// Opening files needs nothing from here but its listeners.
import "./files.js";

// The URL hash holds the view and the search, so reloads and links keep them.
export async function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("share")) return openShared(params);
  if (!state.token) return showLogin();
  const traceId = params.get("trace");
  connectLive();
  if (params.has("compare")) return openCompare(params.get("compare"), params.get("with") || "");
  if (params.has("groups")) return openGroups(params.get("baseline") || "", params.get("candidate") || "");
  if (traceId) return openTrace(traceId, params.get("span"), params.has("logs"));
  if (params.has("logs")) return openLogs(params);
  if (params.has("metrics")) return openMetrics(params);
  state.listHash = location.hash;
  show("list-view");
  // The service picker needs its options before it can show the chosen one.
  await loadServices();
  if (!state.token) return;
  loadStats();
  const form = $("search");
  for (const name of FILTERS) form.elements[name].value = params.get(name) || "";
  loadTraces(false);
}
window.addEventListener("hashchange", route);

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("token").value.trim();
  if (!state.token) return;
  localStorage.setItem(TOKEN_KEY, state.token);
  route();
});
$("change-token").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY);
  state.token = "";
  showLogin();
});

route();
