// What every view shares: DOM helpers, formatting, the API client, the view switch.
// The token, the live socket and the list's last search live in `state`.

export const TOKEN_KEY = "otel-worker-token";
export const PAGE = 50;
export const $ = (id) => document.getElementById(id);
export const state = {
  token: localStorage.getItem(TOKEN_KEY) || "",
  socket: null,
  // The search the list last showed, for the waterfall's way back.
  listHash: "",
};

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c instanceof Node ? c : String(c));
  return node;
}
export function duration(ns) {
  if (ns < 1e3) return ns + "ns";
  if (ns < 1e6) return (ns / 1e3).toFixed(1) + "µs";
  if (ns < 1e9) return (ns / 1e6).toFixed(1) + "ms";
  return (ns / 1e9).toFixed(2) + "s";
}
// Nanosecond strings are exact; milliseconds are enough for a clock time.
export function clock(nanos) {
  const d = new Date(Number(BigInt(nanos) / 1000000n));
  return isNaN(d) ? nanos : d.toISOString().replace("T", " ").replace("Z", "");
}
function hue(name) {
  let h = 0;
  for (const c of name || "") h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 360;
}
export const color = (service) => service ? `hsl(${hue(service)} 62% 52%)` : "#999";
export function chip(service) {
  return el("span", { class: "chip", style: `background:${color(service)}` }, service || "(none)");
}
export function serviceOf(span) {
  const name = span.resource && span.resource.attributes && span.resource.attributes["service.name"];
  return typeof name === "string" ? name : "";
}
export function value(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

// A refusal remembers the token it was for: answers to requests sent with a token the
// user has since replaced must not send them back to the login form.
class Unauthorized extends Error {
  constructor(sent) { super("the server refused the token"); this.sent = sent; }
}
export async function api(path) {
  const sent = state.token;
  const response = await fetch(path, { headers: { Authorization: "Bearer " + sent } });
  if (response.status === 401) throw new Unauthorized(sent);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error((body && body.message) || response.status + " " + response.statusText);
  return body;
}
export function failed(error, where) {
  if (!(error instanceof Unauthorized)) {
    $(where).textContent = error.message;
    return;
  }
  if (error.sent !== state.token) return;
  // Forget the refused token once, so later refusals of it cannot wipe what the user
  // is typing, and the live feed stops retrying with it.
  state.token = "";
  localStorage.removeItem(TOKEN_KEY);
  showLogin(error.message);
}

// A service picker's options: "all", then every service by name.
export async function fillServices(select) {
  const { services } = await api("/v1/services");
  select.replaceChildren(el("option", { value: "" }, "all"),
    ...services.map((svc) => el("option", { value: svc.name }, svc.name)));
}

export function show(view) {
  for (const id of ["login", "list-view", "logs-view", "metrics-view", "trace-view", "compare-view", "groups-view"]) $(id).classList.toggle("hidden", id !== view);
  $("nav-logs").classList.toggle("on", view === "logs-view");
  $("nav-metrics").classList.toggle("on", view === "metrics-view");
  $("nav-traces").classList.toggle("on", view !== "logs-view" && view !== "metrics-view");
}
export function showLogin(message) {
  show("login");
  $("login-error").textContent = message || "";
  $("token").value = "";
  $("token").focus();
  if (state.socket) state.socket.close();
}

export function bytes(n) {
  if (n < 1e3) return n + " B";
  if (n < 1e6) return (n / 1e3).toFixed(1) + " KB";
  if (n < 1e9) return (n / 1e6).toFixed(1) + " MB";
  return (n / 1e9).toFixed(2) + " GB";
}

// Saves what an API path answers as a file (the token rules out a plain link).
export async function download(path, name, where) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
  if (!response.ok) { $(where).textContent = `download failed: ${response.status}`; return; }
  const link = el("a", { href: URL.createObjectURL(await response.blob()), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
