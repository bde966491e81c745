// The live feed: one WebSocket, reconnected with backoff; each view follows what it shows.

import { $, state } from "./core.js";
import { followTraces } from "./list.js";
import { followLogs } from "./logs.js";
import { followMetric } from "./metrics.js";

let backoff = 500;
export function connectLive() {
  if (!state.token || (state.socket && state.socket.readyState <= 1)) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  // The token goes as a subprotocol, never in the URL (which request logs keep).
  state.socket = new WebSocket(`${scheme}//${location.host}/api/ws`, ["otel-worker", bearerProtocol(state.token)]);
  state.socket.onopen = () => { backoff = 500; $("live").classList.add("on"); $("live").textContent = "live"; };
  state.socket.onclose = () => {
    $("live").classList.remove("on");
    $("live").textContent = "offline";
    if (!state.token) return;
    setTimeout(connectLive, backoff);
    backoff = Math.min(backoff * 2, 10000);
  };
  state.socket.onmessage = (event) => {
    let type = null;
    try { type = JSON.parse(event.data).type; } catch { /* not JSON: refresh anyway */ }
    if (type === "metricAdded") followMetric();
    else if (type === "logAdded") followLogs();
    else followTraces();
  };

}
// `bearer.` + the token as base64url without padding, as /api/ws accepts it.
function bearerProtocol(secret) {
  let binary = "";
  for (const byte of new TextEncoder().encode(secret)) binary += String.fromCharCode(byte);
  return "bearer." + btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
