// The web UI in real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core), against a running otel-worker: the local server or the Worker under
// `wrangler dev`. Run by scripts/test-ui.sh:
//
//   node tests/ui/browser.mjs <base-url> <token> [screenshot-dir]
//
// It does what a user does: opens the page, enters the token, sees the example trace,
// filters by service, opens the waterfall, reads a span's attribute and log records,
// searches the log list, watches a new trace and a new record arrive without reloading,
// charts a metric (a line per series, an exemplar dot that opens its trace, a new point
// drawn live), and opens a 5,000-span trace.
import { readFileSync, mkdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const [base, token, shots = "target/screenshots"] = process.argv.slice(2);
if (!base || !token) {
  console.error("usage: node tests/ui/browser.mjs <base-url> <token> [screenshot-dir]");
  process.exit(2);
}
const EXAMPLE = new URL("../../examples/send-trace/trace.json", import.meta.url);
const EXAMPLE_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const run = randomBytes(4).toString("hex");
const hex = (n) => randomBytes(n).toString("hex");

function check(condition, message) {
  if (!condition) throw new Error("UI test failed: " + message);
}

async function post(body) {
  const response = await fetch(base + "/v1/traces", {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  check(response.status === 200, `export answered ${response.status}: ${await response.text()}`);
}

const str = (key, value) => ({ key, value: { stringValue: value } });
const int = (key, value) => ({ key, value: { intValue: String(value) } });

// One OTLP/JSON export: a trace of `spans` ({name, service, parent index, offset ms,
// duration ms, error}) starting `agoMs` ago.
function traceExport(spans, agoMs) {
  const traceId = hex(16);
  const ids = spans.map(() => hex(8));
  const start = BigInt(Date.now() - agoMs) * 1000000n;
  const byService = new Map();
  spans.forEach((s, i) => {
    const startNs = start + BigInt(Math.round(s.offset * 1e6));
    const span = {
      traceId, spanId: ids[i], name: s.name, kind: i === 0 ? 2 : 3,
      parentSpanId: s.parent == null ? "" : ids[s.parent],
      startTimeUnixNano: String(startNs),
      endTimeUnixNano: String(startNs + BigInt(Math.round(s.duration * 1e6))),
      attributes: [str("http.route", s.route || "/"), int("http.response.status_code", s.error ? 500 : 200)],
      status: s.error ? { code: 2, message: "upstream failed" } : {},
    };
    if (!byService.has(s.service)) byService.set(s.service, []);
    byService.get(s.service).push(span);
  });
  return {
    traceId,
    body: {
      resourceSpans: [...byService].map(([service, list]) => ({
        resource: { attributes: [str("service.name", service)] },
        scopeSpans: [{ scope: { name: "ui-test" }, spans: list }],
      })),
    },
  };
}

// A handful of realistic traces so the list (and its screenshot) looks like real use.
async function seed() {
  const shapes = [
    ["GET /api/users/:id", 120, false], ["POST /api/orders", 840, true], ["GET /api/products", 45, false],
    ["GET /api/cart", 230, false], ["POST /api/payments", 1630, true], ["GET /health", 3, false],
  ];
  for (let i = 0; i < shapes.length; i++) {
    const [name, ms, error] = shapes[i];
    const { body } = traceExport([
      { name, service: "gateway", parent: null, offset: 0, duration: ms, route: name.split(" ")[1] },
      { name: "authorize", service: "auth", parent: 0, offset: ms * 0.05, duration: ms * 0.15 },
      { name: name.replace("/api", ""), service: "backend", parent: 0, offset: ms * 0.25, duration: ms * 0.6, error },
      { name: "SELECT", service: "postgres", parent: 2, offset: ms * 0.3, duration: ms * 0.3 },
    ], 60000 - i * 5000);
    await post(body);
  }
}

// Log records of the example trace: two from its failing cache span, one from no span.
async function postLogs() {
  const record = (ms, severity, body, spanId, attributes = []) => ({
    timeUnixNano: String(1739872800000000000n + BigInt(ms) * 1000000n), severityNumber: severity,
    body: { stringValue: body }, traceId: EXAMPLE_TRACE, spanId, attributes,
  });
  const response = await fetch(base + "/v1/logs", {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ resourceLogs: [{
      resource: { attributes: [str("service.name", "user-service")] },
      scopeLogs: [{ logRecords: [
        record(40, 13, `redis timeout ${run}`, "b7ad6b7169203331", [int("retry.attempt", 1)]),
        record(60, 17, `redis gave up ${run}`, "b7ad6b7169203331"),
        record(240, 9, `request finished ${run}`, ""),
      ] }],
    }] }),
  });
  check(response.status === 200, `log export answered ${response.status}: ${await response.text()}`);
}

const started = Date.now();
await post(readFileSync(EXAMPLE, "utf8"));
await postLogs();
await seed();
// The big trace: 5,000 spans, a root with 50 steps of 99 spans each, and a last span.
const bigSpans = [{ name: `big-root-${run}`, service: `big-${run}`, parent: null, offset: 0, duration: 5000 }];
for (let c = 0; c < 50; c++) {
  const parent = bigSpans.length;
  bigSpans.push({ name: `step ${c}`, service: `big-${run}`, parent: 0, offset: c * 100, duration: 90 });
  for (let k = 0; k < 99 && bigSpans.length < 4999; k++) {
    bigSpans.push({ name: `work ${c}.${k}`, service: `big-${run}`, parent, offset: c * 100 + k * 0.9, duration: 0.8, error: k === 97 });
  }
}
bigSpans.push({ name: `last-span-${run}`, service: `big-${run}`, parent: 0, offset: 4999, duration: 1 });
check(bigSpans.length === 5000, "the big trace has 5,000 spans");
const big = traceExport(bigSpans, 10 * 60000);
await post(big.body);

mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const external = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  page.setDefaultTimeout(20000);
  // No request may leave the server's origin.
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("ws" + base.slice(4))) external.push(r.url()); });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // 1. The page needs no token; it asks for one. A wrong token is refused on screen.
  // Requests made with the wrong token after the first refusal are held back until the
  // right token is in, so their late refusals arrive while the page already works: they
  // must not send the user back to the login form (this race once failed the test on a
  // slow server, when the list's refusal wiped the token being typed).
  const wrong = "wrong-" + token;
  let refused = 0;
  const late = [];
  let releaseLate;
  const released = new Promise((resolve) => { releaseLate = resolve; });
  const isApi = (url) => url.pathname.startsWith("/v1/");
  await page.route(isApi, async (route) => {
    if (route.request().headers()["authorization"] === "Bearer " + wrong && refused++ > 0) {
      const answered = released.then(() => route.continue());
      late.push(answered);
      return answered;
    }
    return route.continue();
  });
  await page.goto(base + "/");
  await page.getByTestId("token").fill(wrong);
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByText("the server refused the token").waitFor();
  await page.getByTestId("token").fill(token);
  await page.getByRole("button", { name: "Connect" }).click();
  await page.locator("#list-view:not(.hidden)").waitFor();
  releaseLate();
  await Promise.all(late);
  await page.unroute(isApi);
  await page.waitForTimeout(200);
  check(await page.locator("#list-view:not(.hidden)").count() === 1,
    `late refusals of the old token (${late.length}) leave the list on screen`);

  // 2. The example trace is in the list.
  const exampleRow = page.locator(`tr[data-trace-id="${EXAMPLE_TRACE}"]`);
  await exampleRow.waitFor();
  check((await exampleRow.innerText()).includes("GET /api/users/:id"), "the example row shows its root span");
  await page.locator(".live.on").waitFor();
  await page.screenshot({ path: `${shots}/traces.png` });

  // The header tells how much is stored.
  await page.waitForFunction(() => /[\d,]+ spans · [\d,]+ logs · [\d.]+ [KMG]?B/.test(document.querySelector("#usage").textContent));

  // Typing in the attribute box offers the keys seen, then that key's values; the
  // summaries behind them are built a moment after ingest, so typing again may be needed.
  const attr = page.getByTestId("attr");
  const offered = async (typed, wanted) => {
    for (let i = 0; i < 50; i++) {
      await attr.fill("");
      await attr.pressSequentially(typed);
      try {
        await page.waitForFunction((v) => [...document.querySelectorAll("#attr-suggestions option")]
          .some((o) => o.value === v), wanted, { timeout: 500 });
        return;
      } catch { /* not summarized yet */ }
    }
    throw new Error(`UI test failed: typing ${typed} never offered ${wanted}`);
  };
  await offered("process.p", "process.pid=");
  await offered("http.route=/ap", "http.route=/api/orders");
  await offered("http.route=/api/orders, process.pid=4", "http.route=/api/orders, process.pid=4242");
  await attr.fill("");

  // 3. Filter by service: only traces with a user-service span remain.
  await page.getByTestId("service").selectOption("user-service");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForFunction(() => location.hash.includes("service=user-service"));
  await page.waitForFunction(() => document.querySelectorAll("#traces tr").length > 0 &&
    [...document.querySelectorAll("#traces tr")].every((r) => r.innerText.includes("user-service")));
  check(await exampleRow.count() === 1, "the example trace matches service=user-service");
  check(await page.locator("#traces tr", { hasText: "POST /api/orders" }).count() === 0, "gateway traces are filtered out");

  // 4. The waterfall: five spans on a shared axis, the failing one marked.
  await exampleRow.click();
  await page.locator("#rows .row").first().waitFor();
  check(await page.locator("#rows .row").count() === 5, "the example's five spans are drawn");
  check(await page.locator("#rows .row .bar.error").count() === 1, "one error bar");
  const cache = page.locator('.row[data-span-id="b7ad6b7169203331"]');
  check((await cache.locator(".err").count()) === 1, "the failing span is marked");

  // 4b. The trace's log records: counted on the span that emitted them, listed in its
  // detail, and all of them one click from the waterfall, each linking to its span.
  check((await cache.getByTestId("log-count").innerText()).includes("2 logs"), "two records on the cache span");
  check(await page.locator('.row[data-span-id="2f3e4d5c6b7a8190"]').getByTestId("log-count").count() === 0,
    "no count on a span without records");
  await cache.click();
  const cacheDetail = page.getByTestId("span-detail");
  await cacheDetail.getByText(`redis timeout ${run}`).waitFor();
  check((await cacheDetail.innerText()).includes("retry.attempt"), "a record's attributes are shown");
  await page.getByTestId("trace-logs").click();
  await page.waitForFunction(() => location.hash.endsWith("&logs"));
  const allLogs = page.getByTestId("span-detail");
  await allLogs.getByText(`request finished ${run}`).waitFor();
  check((await allLogs.locator(".log").count()) === 3, "all three records of the trace are listed");
  await allLogs.locator(".log", { hasText: `redis timeout ${run}` }).locator("a").click();
  await page.waitForFunction(() => location.hash.includes("span=b7ad6b7169203331"));
  await page.screenshot({ path: `${shots}/logs.png` });

  // 5. A span's attributes, resource and status.
  await page.locator('.row[data-span-id="2f3e4d5c6b7a8190"]').click();
  const detail = page.getByTestId("span-detail");
  await detail.getByText("db.query.text").waitFor();
  const detailText = await detail.innerText();
  check(detailText.includes("SELECT users"), "the span's name is shown");
  check(detailText.includes("users-7d9f8"), "its resource's host.name is shown");
  const back = await page.locator("#back").boundingBox(), compare = await page.locator("#compare-form").boundingBox();
  check(Math.abs(back.y + back.height / 2 - (compare.y + compare.height / 2)) < 10,
    `the trace's top bar is one line at 1,400 px: ${JSON.stringify([back, compare])}`);
  await page.screenshot({ path: `${shots}/waterfall.png` });
  // Download: the trace as an OTLP/JSON file, the example's five spans.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("trace-download").click()]);
  check(download.suggestedFilename() === "trace-4bf92f3577b34da6a3ce929d0e0e4736.json", `file name ${download.suggestedFilename()}`);
  const file = JSON.parse(readFileSync(await download.path(), "utf8"));
  const downloaded = file.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  check(downloaded.length === 5, `the downloaded file holds the trace's 5 spans: ${downloaded.length}`);

  // Share: a link that a fresh browser, which never saw the token, opens read-only.
  await page.getByTestId("trace-share").click();
  await page.waitForFunction(() => document.querySelector('[data-testid="share-link"]').value.includes("#share="));
  const shareLink = await page.getByTestId("share-link").inputValue();
  check(shareLink.startsWith(base + "/#share="), `the share link is on this server: ${shareLink}`);
  const stranger = await browser.newContext({ viewport: { width: 1400, height: 860 } });
  try {
    const shared = await stranger.newPage();
    shared.setDefaultTimeout(20000);
    const sharedPaths = [];
    shared.on("request", (r) => { if (r.url().startsWith(base + "/v1/")) sharedPaths.push(new URL(r.url()).pathname); });
    shared.on("pageerror", (e) => errors.push("shared page: " + e.message));
    await shared.goto(shareLink);
    await shared.locator("#rows .row").first().waitFor();
    check(await shared.locator("#rows .row").count() === 5, "the shared page draws the trace's five spans");
    check(await shared.locator("#login").isHidden(), "the shared page asks for no token");
    check(/^Shared trace, read-only, until \d{4}-/.test(await shared.getByTestId("share-note").textContent()), "the shared page says it is read-only and until when");
    check(await shared.locator("#nav-traces").isHidden() && await shared.getByTestId("trace-share").isHidden(), "the shared page offers no search and no sharing");
    await shared.locator('.row[data-span-id="b7ad6b7169203331"]').click();
    await shared.waitForFunction(() => location.hash.startsWith("#share=") && location.hash.includes("span=b7ad6b7169203331"));
    await shared.getByTestId("span-detail").getByText("redis did not answer within 10ms").first().waitFor();
    check(sharedPaths.length > 0 && sharedPaths.every((p) => p.startsWith("/v1/shared/")), `the shared page read only through the link: ${sharedPaths.join(", ")}`);
    await shared.screenshot({ path: `${shots}/shared.png` });
  } finally {
    await stranger.close();
  }
  // The Share button's click left the link shown; back to the waterfall's usual state.
  await page.evaluate(() => { location.hash = "trace=4bf92f3577b34da6a3ce929d0e0e4736"; });

  // 5a. Compare with a copy of the example whose query took 100 ms longer: the query is
  // the span whose own time grew; its callers only got longer.
  const slower = hex(16);
  let copy = readFileSync(EXAMPLE, "utf8").replaceAll(EXAMPLE_TRACE, slower);
  for (const [end, later] of [["1739872800210000000", "1739872800310000000"], ["1739872800235000000", "1739872800335000000"],
    ["1739872800240000000", "1739872800340000000"], ["1739872800245000000", "1739872800345000000"]]) copy = copy.replaceAll(end, later);
  await post(copy);
  await page.getByTestId("compare-with").fill(slower);
  await page.getByRole("button", { name: "Compare" }).click();
  await page.waitForFunction((id) => location.hash.includes("compare=") && location.hash.includes("with=" + id), slower);
  const queryRow = page.locator('table.compare tr[data-path$="user-service: SELECT users"]');
  await queryRow.waitFor();
  const cells = await queryRow.locator("td").allInnerTexts();
  check(cells[1] === "180.0ms" && cells[2] === "280.0ms" && cells[3] === "+100.0ms" && cells[4] === "+100.0ms",
    `the query's row shows both durations and +100 ms in all and of its own: ${JSON.stringify(cells)}`);
  const callerCells = await page.locator('table.compare tr[data-path$="user-service: GET /users/<id>"] td').allInnerTexts();
  check(callerCells[3] === "+100.0ms" && callerCells[4] === "+0ns", `its caller only got longer: ${JSON.stringify(callerCells)}`);
  check((await page.locator("#compare-title").innerText()).includes("245.0ms → 345.0ms"), "the title gives both durations");
  await page.screenshot({ path: `${shots}/compare.png` });
  await queryRow.click();
  await page.waitForFunction((id) => location.hash.includes("trace=" + id) && location.hash.includes("span=2f3e4d5c6b7a8190"), slower);

  // 5c. Two groups of traces, from any search: version 1.1's cart query takes three times
  // as long; the comparison ranks it first and links to its traces (from 2024: on a local
  // server they are read from the archive).
  const shop = `shop-ui-${run}`;
  for (const [version, factor] of [["1.0", 1], ["1.1", 3]]) {
    const spans = [];
    for (let i = 0; i < 40; i++) {
      const traceId = hex(16), rootId = hex(8);
      // Older than the example trace, so the list's first page stays as the steps below expect.
      const start = BigInt(Date.parse("2024-06-01T12:00:00Z") + i * 1000) * 1000000n;
      const query = BigInt((4 + (i % 5)) * factor) * 1000000n;
      spans.push(
        { traceId, spanId: rootId, name: "GET /cart", kind: 2, startTimeUnixNano: String(start),
          endTimeUnixNano: String(start + query + 3000000n) },
        { traceId, spanId: hex(8), parentSpanId: rootId, name: "SELECT cart", kind: 3,
          startTimeUnixNano: String(start + 1000000n), endTimeUnixNano: String(start + 1000000n + query) });
    }
    await post({ resourceSpans: [{ resource: { attributes: [str("service.name", shop), str("service.version", version)] },
      scopeSpans: [{ scope: { name: "ui-test" }, spans }] }] });
  }
  await page.evaluate((s) => { location.hash = new URLSearchParams({ service: s, attr: "service.version=1.0" }).toString(); }, shop);
  // The list of that search, not the one before it.
  await page.locator("#traces tr", { hasText: shop }).first().waitFor();
  await page.waitForFunction(() => document.querySelector('#search [name="attr"]').value === "service.version=1.0");
  await page.getByTestId("compare-groups").click();
  await page.waitForFunction(() => location.hash.startsWith("#groups&"));
  const candidateInput = page.getByTestId("candidate");
  check((await candidateInput.inputValue()).includes("service.version%3D1.0") || (await candidateInput.inputValue()).includes("service.version=1.0"),
    `the candidate starts as the search it came from: ${await candidateInput.inputValue()}`);
  await candidateInput.fill((await candidateInput.inputValue()).replace("1.0", "1.1"));
  await page.locator("#groups-form button[type=submit]").click();
  // (The first comparison, of the search with itself, is replaced once the candidate's arrives.)
  const slowRow = page.locator('#groups-rows tr.regressed[data-operation="SELECT cart"]');
  await slowRow.waitFor();
  check(await page.locator("#groups-rows tr").first().getAttribute("data-operation") === "SELECT cart",
    "the slower query is ranked first");
  check((await slowRow.getAttribute("class")) === "regressed", "and marked regressed");
  check((await page.getByTestId("groups-meta").innerText()).includes("40 traces read of 40 matched"), "both groups read whole");
  await page.screenshot({ path: `${shots}/compare-groups.png` });
  await slowRow.click();
  await page.waitForFunction(() => location.hash.includes("name=SELECT+cart") && location.hash.includes("1.1"));

  // 5d. A gzipped JSON Lines file (a trace and a log record, as the Collector's file exporter
  // writes them) opened in the page is imported, and its trace is listed.
  const imported = traceExport([{ name: `imported ${run}`, service: `importer-${run}`, parent: null, offset: 0, duration: 7 }], 5000);
  const record = { resourceLogs: [{ resource: { attributes: [str("service.name", `importer-${run}`)] },
    scopeLogs: [{ logRecords: [{ timeUnixNano: String(BigInt(Date.now()) * 1000000n), severityNumber: 9,
      body: { stringValue: `imported record ${run}` }, traceId: imported.traceId }] }] }] };
  const jsonl = JSON.stringify(imported.body) + "\n" + JSON.stringify(record) + "\n";
  await page.getByTestId("import-file").setInputFiles({ name: "collector.jsonl.gz", mimeType: "application/gzip",
    buffer: gzipSync(Buffer.from(jsonl)) });
  await page.waitForFunction(() => document.querySelector('[data-testid="import-status"]').textContent === "imported 2 messages");
  await page.evaluate((s) => { location.hash = new URLSearchParams({ service: s }).toString(); }, `importer-${run}`);
  await page.locator("#traces tr", { hasText: `imported ${run}` }).waitFor();
  // The search's traces download as OTLP JSON Lines: this one trace.
  const [searchFile] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-search").click()]);
  const exportedLines = readFileSync(await searchFile.path(), "utf8").trim().split("\n");
  check(searchFile.suggestedFilename() === "traces.jsonl" && exportedLines.length === 1 &&
    JSON.parse(exportedLines[0]).resourceSpans[0].scopeSpans[0].spans[0].name === `imported ${run}`,
    `the search downloads as one line holding the imported trace: ${exportedLines.length} lines`);
  // A file that is not OTLP/JSON is refused and said so.
  await page.getByTestId("import-file").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
  await page.waitForFunction(() => document.querySelector('[data-testid="import-status"]').textContent === "imported 0 messages; 1 refused");

  // 5b. The log list: newest first, filtered by severity, following new records live,
  // each one a click away from its trace and span.
  await page.getByTestId("nav-logs").click();
  const logRows = page.getByTestId("log-row");
  await logRows.filter({ hasText: `redis gave up ${run}` }).waitFor();
  await page.getByTestId("log-severity").selectOption("error");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForFunction(() => location.hash.includes("severity=error"));
  await page.waitForFunction((r) => {
    const rows = [...document.querySelectorAll("#logs tr")];
    return rows.some((row) => row.innerText.includes(`redis gave up ${r}`)) &&
      !rows.some((row) => row.innerText.includes(`redis timeout ${r}`));
  }, run);
  const liveLog = `live log ${run}`;
  const logged = await fetch(base + "/v1/logs", {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [str("service.name", "gateway")] },
      scopeLogs: [{ logRecords: [{ timeUnixNano: String(BigInt(Date.now()) * 1000000n), severityNumber: 17,
        body: { stringValue: liveLog } }] }] }] }),
  });
  check(logged.status === 200, "the live log export is stored");
  await logRows.filter({ hasText: liveLog }).waitFor();
  await page.screenshot({ path: `${shots}/log-list.png` });
  // Download: the records this search finds, error and above, as OTLP JSON Lines.
  const [logFile] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-logs").click()]);
  check(logFile.suggestedFilename() === "logs.jsonl", `log file name ${logFile.suggestedFilename()}`);
  const records = readFileSync(await logFile.path(), "utf8").trim().split("\n").map((line) => JSON.parse(line))
    .flatMap((r) => r.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)));
  check(records.some((r) => r.body.stringValue === `redis gave up ${run}`) && records.every((r) => r.severityNumber >= 17),
    `the downloaded records are the search's: ${records.length}`);
  await logRows.filter({ hasText: `redis gave up ${run}` }).locator("a").click();
  await page.waitForFunction(() => location.hash.includes("span=b7ad6b7169203331"));
  await page.getByTestId("span-detail").getByText(`redis gave up ${run}`).waitFor();

  // 6. A new trace appears in the list without a reload.
  await page.getByRole("button", { name: "Traces" }).click();
  await page.getByRole("button", { name: "Clear" }).click();
  await exampleRow.waitFor();
  await page.evaluate(() => { window.notReloaded = true; });
  const liveName = `live-${run}`;
  await post(traceExport([{ name: liveName, service: "gateway", parent: null, offset: 0, duration: 12 }], 0).body);
  await page.locator("#traces tr", { hasText: liveName }).waitFor();
  check(await page.evaluate(() => window.notReloaded === true), "the page was not reloaded");

  // 6b. Metrics: a histogram of this run's service charted as p99 per step, a line per
  // route, the exemplar a red dot that opens the example trace; a new point arrives live.
  const meterService = `meter-${run}`;
  const metricName = `ui.latency.${run}`;
  const nowNs = BigInt(Date.now()) * 1000000n;
  const minute = 60000000000n;
  const histogramPoint = (route, agoMinutes, counts, exemplar) => ({
    attributes: [str("http.route", route)],
    startTimeUnixNano: String(nowNs - BigInt(agoMinutes + 1) * minute),
    timeUnixNano: String(nowNs - BigInt(agoMinutes) * minute),
    count: String(counts.reduce((a, b) => a + b, 0)), sum: 100, min: 1, max: 400,
    bucketCounts: counts.map(String), explicitBounds: [10, 100],
    exemplars: exemplar ? [{ timeUnixNano: String(nowNs - BigInt(agoMinutes) * minute - 1000n), asDouble: 250,
      traceId: EXAMPLE_TRACE, spanId: "b7ad6b7169203331" }] : [],
  });
  const sendMetrics = async (points) => {
    const response = await fetch(base + "/v1/metrics", {
      method: "POST",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify({ resourceMetrics: [{ resource: { attributes: [str("service.name", meterService)] },
        scopeMetrics: [{ metrics: [{ name: metricName, unit: "ms", description: "UI test latency",
          histogram: { aggregationTemporality: 1, dataPoints: points } }] }] }] }),
    });
    check(response.status === 200, `the metrics export is stored: ${response.status}`);
  };
  await sendMetrics([
    histogramPoint("/a", 30, [1, 2, 0]), histogramPoint("/a", 20, [0, 1, 3], true), histogramPoint("/a", 10, [4, 0, 0]),
    histogramPoint("/b", 30, [2, 0, 0]), histogramPoint("/b", 10, [0, 0, 2]),
  ]);
  await page.getByTestId("nav-metrics").click();
  await page.getByTestId("metric-row").filter({ hasText: metricName }).click();
  await page.waitForFunction((name) => location.hash.includes("name=" + encodeURIComponent(name)), metricName);
  const chart = page.getByTestId("chart");
  await chart.getByTestId("chart-line").first().waitFor();
  check(await chart.getByTestId("chart-line").count() === 2, "a line per route");
  check((await chart.innerText()).includes("p99 (ms)"), "the chart says it shows p99 in ms");
  const legend = await chart.locator(".legend").innerText();
  check(legend.includes("http.route=/a") && legend.includes("http.route=/b"), "the legend names each series: " + legend);
  // A new point of route /c arrives: the chart grows a point without a reload.
  await sendMetrics([histogramPoint("/c", 0, [0, 1, 0])]);
  await chart.locator(".legend", { hasText: "http.route=/c" }).waitFor();
  await page.screenshot({ path: `${shots}/metrics.png` });
  // Download: the open metric's points in the range, as OTLP JSON Lines.
  const [metricFile] = await Promise.all([page.waitForEvent("download"), page.getByTestId("download-metrics").click()]);
  check(metricFile.suggestedFilename() === `metric-${metricName}.jsonl`, `metric file name ${metricFile.suggestedFilename()}`);
  const exported = readFileSync(await metricFile.path(), "utf8").trim().split("\n").map((line) => JSON.parse(line))
    .flatMap((r) => r.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics)));
  check(exported.length > 0 && exported.every((m) => m.name === metricName && m.histogram.dataPoints.length > 0),
    `the downloaded file holds the metric's points: ${exported.map((m) => m.name).join(", ")}`);
  await chart.getByTestId("exemplar").first().click();
  await page.waitForFunction((id) => location.hash.includes("trace=" + id) && location.hash.includes("span=b7ad6b7169203331"), EXAMPLE_TRACE);
  await page.getByTestId("span-detail").waitFor();

  // 7. 5,000 spans: only the rows in view exist, and the last span is reachable.
  const opened = Date.now();
  await page.evaluate((id) => { location.hash = "trace=" + id; }, big.traceId);
  await page.locator("#rows .row").first().waitFor();
  const drawnMs = Date.now() - opened;
  const inDom = await page.locator("#rows .row").count();
  check(inDom < 200, `virtualised rows: ${inDom} in the page`);
  await page.locator("#rows").evaluate((rows) => { rows.scrollTop = rows.scrollHeight; });
  await page.locator(".row", { hasText: `last-span-${run}` }).waitFor();
  const responsive = Date.now();
  await page.evaluate(() => 1);
  console.log(`5,000-span trace: drawn in ${drawnMs} ms, ${inDom} rows in the page, ` +
    `event loop answered in ${Date.now() - responsive} ms after scrolling`);

  check(errors.length === 0, "page errors: " + errors.join("; "));
  check(external.length === 0, "requests outside the server: " + external.join(", "));
  console.log(`UI test passed against ${base} in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
    `screenshots in ${shots}/`);
} finally {
  await browser.close();
}
