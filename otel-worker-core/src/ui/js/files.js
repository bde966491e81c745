// Opening OTLP files in the page.

import { $, showLogin, state } from "./core.js";
import { route } from "./main.js";

// Dropped or opened OTLP files go through the export routes, a message at a time: JSON
// Lines (the Collector's file exporter), one OTLP/JSON document, and the same gzipped.
// The Collector's protobuf frames and zstd need `otel-worker-cli import`.
const SIGNALS = [["resourceSpans", "traces"], ["resourceLogs", "logs"], ["resourceMetrics", "metrics"]];
async function fileText(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b) {
    return new Response(file.stream().pipeThrough(new DecompressionStream("gzip"))).text();
  }
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    throw new Error("zstd files need otel-worker-cli import");
  }
  const text = await file.text();
  if (!/^\s*[{[]/.test(text)) throw new Error("not OTLP/JSON (protobuf frames need otel-worker-cli import)");
  return text;
}
async function importFiles(files) {
  const status = $("import-status");
  let sent = 0, refused = [];
  for (const file of files) {
    let messages;
    try {
      const text = await fileText(file);
      const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
      // JSON Lines, unless the first line is not a whole value: then one document.
      try { JSON.parse(lines[0] || "null"); messages = lines; } catch { messages = [text]; }
    } catch (error) { refused.push(`${file.name}: ${error.message}`); continue; }
    for (let i = 0; i < messages.length; i++) {
      const where = messages.length > 1 ? `${file.name}:${i + 1}` : file.name;
      const head = messages[i].slice(0, 4096);
      const found = SIGNALS.map(([key, path]) => [head.indexOf(`"${key}"`), path]).filter(([at]) => at >= 0).sort((a, b) => a[0] - b[0])[0];
      if (!found) { refused.push(`${where}: no resourceSpans, resourceLogs or resourceMetrics`); continue; }
      status.textContent = `importing ${where}`;
      const response = await fetch("/v1/" + found[1], {
        method: "POST", body: messages[i],
        headers: { Authorization: "Bearer " + state.token, "Content-Type": "application/json" },
      });
      if (response.status === 401) return showLogin("The token was not accepted.");
      const body = await response.json().catch(() => ({}));
      if (!response.ok) refused.push(`${where}: ${body.message || response.status}`);
      else if (body.partialSuccess && body.partialSuccess.errorMessage) refused.push(`${where}: ${body.partialSuccess.errorMessage}`);
      else sent++;
    }
  }
  status.textContent = `imported ${sent} message${sent === 1 ? "" : "s"}` + (refused.length ? `; ${refused.length} refused` : "");
  status.title = refused.join("\n");
  if (refused.length) console.warn("import:", refused);
  route();
}
$("import-file").addEventListener("change", (e) => { importFiles([...e.target.files]); e.target.value = ""; });
document.addEventListener("dragover", (e) => { if (state.token && e.dataTransfer.types.includes("Files")) { e.preventDefault(); document.body.classList.add("dropping"); } });
document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) document.body.classList.remove("dropping"); });
document.addEventListener("drop", (e) => {
  document.body.classList.remove("dropping");
  if (!state.token || !e.dataTransfer.files.length) return;
  e.preventDefault();
  importFiles([...e.dataTransfer.files]);
});
