//! The `otel-worker-cli` binary as a person uses it: client output, error messages,
//! refusing unsafe setups, clean shutdown and database maintenance.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
        .args(args)
        .env_remove("AUTH_TOKEN")
        .env_remove("OTEL_WORKER_URL")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run otel-worker-cli")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example_path() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/send-trace/trace.json")
        .display()
        .to_string()
}

/// The example trace, its id changed and its query 100 ms longer (with every span above
/// it), written to `dir`.
fn slower_example(dir: &Path, trace_id: &str) -> String {
    let mut json = std::fs::read_to_string(example_path())
        .unwrap()
        .replace(EXAMPLE_TRACE_ID, trace_id);
    // SELECT users, GET /users/<id>, GET, and the root end 100 ms later.
    for (end, later) in [
        ("1739872800210000000", "1739872800310000000"),
        ("1739872800235000000", "1739872800335000000"),
        ("1739872800240000000", "1739872800340000000"),
        ("1739872800245000000", "1739872800345000000"),
    ] {
        assert!(json.contains(end), "{end} is in the example");
        json = json.replace(end, later);
    }
    let path = dir.join("slower.json");
    std::fs::write(&path, json).unwrap();
    path.display().to_string()
}

#[test]
fn traces_diff_shows_which_span_got_slower_and_by_how_much() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let slower = "5bf92f3577b34da6a3ce929d0e0e4736";
    let run = |extra: &[&str]| {
        let mut args = vec![
            "client",
            "--base-url",
            &server.base_url,
            "--auth-token",
            &server.token,
        ];
        args.extend(extra);
        cli(&args)
    };
    for file in [example_path(), slower_example(dir.path(), slower)] {
        let sent = run(&["send", &file]);
        assert!(sent.status.success(), "{}", text(&sent.stderr));
    }
    let diff = run(&["traces", "diff", EXAMPLE_TRACE_ID, slower]);
    assert!(diff.status.success(), "{}", text(&diff.stderr));
    let out = text(&diff.stdout);
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.contains("245.0ms") && first.contains("345.0ms") && first.contains("+100.0ms"),
        "{out}"
    );
    assert!(
        first.contains("5 matched, 0 only in A, 0 only in B"),
        "{out}"
    );
    // The query is the one whose own time grew; its callers only got longer.
    let row = |name: &str| {
        out.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not in\n{out}"))
            .to_owned()
    };
    assert_eq!(row("SELECT users").matches("+100.0ms").count(), 2, "{out}");
    assert_eq!(
        row("GET /users/<id>").matches("+100.0ms").count(),
        1,
        "{out}"
    );
    assert!(row("GET /users/<id>").contains("+0ns"), "{out}");

    let json = run(&["--json", "traces", "diff", EXAMPLE_TRACE_ID, slower]);
    let value: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("--json prints JSON");
    assert_eq!(value["durationDeltaNs"], 100_000_000);
    let missing = run(&["traces", "diff", EXAMPLE_TRACE_ID, &"0".repeat(31)]);
    assert!(!missing.status.success());
}

#[test]
fn send_list_get_and_delete_from_the_terminal() {
    let server = TestServer::start();
    let conn = [
        "client",
        "--base-url",
        &server.base_url,
        "--auth-token",
        &server.token,
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = conn.iter().chain(extra).copied().collect();
        cli(&args)
    };

    let sent = run(&["send", &example_path()]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    assert!(
        text(&sent.stdout).contains("5 spans stored"),
        "{}",
        text(&sent.stdout)
    );

    let list = run(&["traces", "list"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let table = text(&list.stdout);
    for expected in [
        EXAMPLE_TRACE_ID,
        "GET /api/users/:id",
        "frontend",
        "245.0ms",
        "Root span",
        "Errors",
    ] {
        assert!(
            table.contains(expected),
            "{expected:?} missing from\n{table}"
        );
    }

    let tree = text(&run(&["traces", "get", EXAMPLE_TRACE_ID]).stdout);
    let lines: Vec<&str> = tree.lines().collect();
    assert!(lines[0].contains("5 spans, 1 error"), "{tree}");
    let indent = |name: &str| {
        let line = lines
            .iter()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not in\n{tree}"));
        line.len() - line.trim_start().len()
    };
    assert!(indent("SELECT users") > indent("GET /users/<id>"), "{tree}");
    assert!(
        indent("GET /users/<id>") > indent("GET /api/users/:id"),
        "{tree}"
    );
    assert!(
        tree.contains("ERROR: redis did not answer within 10ms"),
        "{tree}"
    );

    let json = run(&["--json", "traces", "list", "--limit", "5"]);
    let value: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("--json prints JSON");
    assert!(
        value["traces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["traceId"] == EXAMPLE_TRACE_ID)
    );

    let span = text(&run(&["spans", "get", EXAMPLE_TRACE_ID, "b7ad6b7169203331"]).stdout);
    assert!(
        span.contains("exception.type = \"ConnectionTimeoutError\""),
        "{span}"
    );
    let spans = text(&run(&["spans", "list", EXAMPLE_TRACE_ID]).stdout);
    assert!(
        spans.contains("2f3e4d5c6b7a8190") && spans.contains("SELECT users"),
        "{spans}"
    );

    assert!(
        run(&["spans", "delete", EXAMPLE_TRACE_ID, "2f3e4d5c6b7a8190"])
            .status
            .success()
    );
    assert!(
        run(&["traces", "delete", EXAMPLE_TRACE_ID])
            .status
            .success()
    );
    let missing = run(&["traces", "get", EXAMPLE_TRACE_ID]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains(&format!("trace {EXAMPLE_TRACE_ID} not found")),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn errors_say_what_to_do() {
    let server = TestServer::start();
    let no_token = cli(&["client", "--base-url", &server.base_url, "traces", "list"]);
    assert!(!no_token.status.success());
    assert!(
        text(&no_token.stderr)
            .contains("the server wants a token: pass --auth-token or set AUTH_TOKEN")
    );

    let unreachable = cli(&[
        "client",
        "--base-url",
        "http://127.0.0.1:9",
        "traces",
        "list",
    ]);
    assert!(!unreachable.status.success());
    assert!(
        text(&unreachable.stderr)
            .contains("could not reach http://127.0.0.1:9 — is `otel-worker-cli dev` running?"),
        "{}",
        text(&unreachable.stderr)
    );

    let bad_id = cli(&[
        "client",
        "--base-url",
        &server.base_url,
        "traces",
        "get",
        "xyz",
    ]);
    assert!(text(&bad_id.stderr).contains("is not 32 hexadecimal characters"));
}

#[test]
fn an_open_server_only_listens_on_loopback() {
    let refused = cli(&["dev", "--listen", "0.0.0.0:0", "--in-memory"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("refusing to listen on 0.0.0.0:0 without a token"),
        "{}",
        text(&refused.stderr)
    );
    let grpc = cli(&[
        "dev",
        "--listen",
        "127.0.0.1:0",
        "--grpc-listen",
        "0.0.0.0:0",
        "--in-memory",
    ]);
    assert!(!grpc.status.success());
    assert!(
        text(&grpc.stderr).contains("refusing to listen on 0.0.0.0:0 without a token"),
        "{}",
        text(&grpc.stderr)
    );
    let typo = cli(&["dev", "--grpc-listen", "nowhere", "--in-memory"]);
    assert!(
        text(&typo.stderr).contains("neither an address"),
        "{}",
        text(&typo.stderr)
    );
}

#[test]
fn sigterm_stops_cleanly_and_keeps_every_acknowledged_span() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keep.db");
    let token = "sigterm-token";
    let start = |db: &Path| {
        spawn_dev(&[
            "--auth-token".as_ref(),
            token.as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
        ])
    };
    let (mut child, url, lines) = start(&db);
    let sent = cli(&[
        "client",
        "--base-url",
        &url,
        "--auth-token",
        token,
        "send",
        &example_path(),
    ]);
    assert!(sent.status.success());
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let log: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:?}");

    let stats = cli(&["system", "database", "stats", "--db", db.to_str().unwrap()]);
    let stats = text(&stats.stdout);
    // The 2025 example is past `--archive-after`: in the database or already archived.
    assert!(
        (stats.contains("spans     5") && stats.contains("traces    1"))
            || (stats.contains("spans     0") && stats.contains("archived  5 spans")),
        "{stats}"
    );

    let (mut child, url, _lines) = start(&db);
    let get = cli(&[
        "client",
        "--base-url",
        &url,
        "--auth-token",
        token,
        "traces",
        "get",
        EXAMPLE_TRACE_ID,
    ]);
    assert!(
        text(&get.stdout).contains("5 spans"),
        "{}",
        text(&get.stdout)
    );
    child.kill().unwrap();
    child.wait().unwrap();

    let refused = cli(&["system", "database", "delete", "--db", db.to_str().unwrap()]);
    assert!(!refused.status.success() && text(&refused.stderr).contains("pass --yes"));
    let deleted = cli(&[
        "system",
        "database",
        "delete",
        "--yes",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    assert!(!db.exists());
}

#[test]
fn traces_tail_prints_a_line_per_span_and_reconnects_after_a_restart() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tail.db");
    let port = free_port();
    let start_server = || {
        Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
            .args([
                "dev",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--auth-token",
                "tail-token",
                "--grpc-listen",
                "off",
            ])
            .arg("--db")
            .arg(&db)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let base_url = format!("http://127.0.0.1:{port}");
    let mut server = Reaped(start_server());
    wait_for_health(&base_url);
    let mut tail = Reaped(
        Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
            .args([
                "client",
                "--base-url",
                &base_url,
                "--auth-token",
                "tail-token",
            ])
            .args(["traces", "tail", "--status", "error"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(tail.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("connected to ws://"), "{line}");

    let send = || {
        let sent = cli(&[
            "client",
            "--base-url",
            &base_url,
            "--auth-token",
            "tail-token",
            "send",
            &example_path(),
        ]);
        assert!(sent.status.success(), "{}", text(&sent.stderr));
    };
    send();
    let mut stdout = BufReader::new(tail.0.stdout.take().unwrap());
    let mut printed = String::new();
    stdout.read_line(&mut printed).unwrap();
    // The example's one failing span, and only it (--status error).
    assert!(printed.contains("frontend"), "{printed}");
    assert!(printed.contains("cache lookup user:42"), "{printed}");
    assert!(printed.contains("ERROR"), "{printed}");
    assert!(printed.contains(EXAMPLE_TRACE_ID), "{printed}");

    // The server restarts: the tail says so, reconnects, and keeps printing.
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    server.0.wait().unwrap();
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("retrying in"), "{line}");
    let _restarted = Reaped(start_server());
    wait_for_health(&base_url);
    loop {
        line.clear();
        stderr.read_line(&mut line).unwrap();
        if line.contains("reconnected to") {
            break;
        }
        assert!(line.contains("retrying in"), "{line}");
    }
    send();
    printed.clear();
    stdout.read_line(&mut printed).unwrap();
    assert!(
        printed.contains("ERROR") && printed.contains(EXAMPLE_TRACE_ID),
        "{printed}"
    );
}

/// A child process that is killed when the test ends, even when it fails.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the server accepts connections (it listens only once its database is open).
fn wait_for_health(base_url: &str) {
    let address = base_url.trim_start_matches("http://");
    for _ in 0..100 {
        if std::net::TcpStream::connect(address).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the server at {base_url} did not come up");
}

#[test]
fn the_token_comes_from_dev_vars_in_the_current_directory_only() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join(".dev.vars"),
        "AUTH_TOKEN=\"from-dev-vars\"\n",
    )
    .unwrap();
    let nested = project.path().join("sub");
    std::fs::create_dir(&nested).unwrap();
    let (mut server, url, _log) = spawn_dev(&[
        "--auth-token".as_ref(),
        "from-dev-vars".as_ref(),
        "--in-memory".as_ref(),
    ]);
    let list_from = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
            .args(["client", "--base-url", &url, "traces", "list"])
            .env_remove("AUTH_TOKEN")
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let here = list_from(project.path());
    let below = list_from(&nested);
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(here.status.success(), "{}", text(&here.stderr));
    assert!(
        !below.status.success(),
        "a parent directory's .dev.vars must not count"
    );
    assert!(
        text(&below.stderr).contains("401"),
        "{}",
        text(&below.stderr)
    );
}

#[tokio::test]
async fn cors_is_opt_in_per_origin() {
    let (mut server, url, _log) = spawn_dev(&[
        "--in-memory".as_ref(),
        "--auth-token".as_ref(),
        "cors-token".as_ref(),
        "--cors-origin".as_ref(),
        "http://localhost:3000".as_ref(),
    ]);
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{url}/v1/traces"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("http://localhost:3000").await.unwrap();
    assert!(
        allowed.status().is_success(),
        "preflight needs no token: {}",
        allowed.status()
    );
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));
    let other = preflight("http://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The real request still needs the token.
    let unauthenticated = http
        .get(format!("{url}/v1/traces"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    server.kill().unwrap();
    server.wait().unwrap();

    let refused = cli(&["dev", "--in-memory", "--cors-origin", "localhost:3000"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("is not an origin like"),
        "{}",
        text(&refused.stderr)
    );
}

#[tokio::test]
async fn the_token_never_shows_in_answers_or_logs() {
    let token = "s3cret-Token-that-must-not-leak";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let (mut server, url, log) = spawn_dev_logging(
        &[
            "--auth-token".as_ref(),
            token.as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
        ],
        "debug",
    );
    let http = reqwest::Client::new();
    let mut answers = String::new();
    for (path, authorization) in [
        ("/v1/traces", format!("Bearer {token}x")),
        ("/v1/traces", format!("bearer {token}")),
        (&format!("/v1/traces?token={token}") as &str, String::new()),
        ("/v1/traces/not-an-id", format!("Bearer {token}")),
        ("/v1/traces?limit=zero", format!("Bearer {token}")),
        ("/api/ws?token=wrong", String::new()),
    ] {
        let mut request = http.get(format!("{url}{path}"));
        if !authorization.is_empty() {
            request = request.header("authorization", authorization);
        }
        answers.push_str(&request.send().await.unwrap().text().await.unwrap());
    }
    let posted = http
        .post(format!("{url}/v1/traces"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    answers.push_str(&posted.text().await.unwrap());
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    server.wait().unwrap();
    let log: Vec<String> = log.map_while(Result::ok).collect();
    assert!(log.len() > 5, "expected a debug log: {log:?}");
    assert!(
        !answers.contains(token),
        "an answer echoed the token: {answers}"
    );
    let leaked: Vec<&String> = log.iter().filter(|line| line.contains(token)).collect();
    assert!(leaked.is_empty(), "the log contains the token: {leaked:?}");
}

#[test]
fn generate_sends_exactly_the_traces_asked_for_and_counts_honestly() {
    let server = TestServer::start();
    let grpc_url = format!(
        "http://{}",
        server.grpc_address.as_deref().expect("OTLP/gRPC served")
    );
    for (protocol, endpoint) in [
        ("http/protobuf", &server.base_url),
        ("http/json", &server.base_url),
        ("grpc", &grpc_url),
    ] {
        let out = cli(&[
            "generate",
            "--endpoint",
            endpoint,
            "--auth-token",
            &server.token,
            "--traces",
            "27",
            "--spans-per-trace",
            "4",
            "--spans-per-request",
            "40",
            "--protocol",
            protocol,
            "--gzip",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["spansAccepted"], 108, "{protocol}: {report}");
        assert_eq!(report["requests"], 3, "10 + 10 + 7 traces: {report}");
        assert_eq!(
            (report["errors"].as_u64(), report["spansRejected"].as_u64()),
            (Some(0), Some(0))
        );
        assert!(report["p99Ms"].as_f64().unwrap() > 0.0);
    }
    let listed = cli(&[
        "client",
        "--base-url",
        &server.base_url,
        "--auth-token",
        &server.token,
        "--json",
        "traces",
        "list",
        "--limit",
        "100",
    ]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let list: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let traces = list["traces"].as_array().unwrap();
    assert_eq!(
        traces.len(),
        81,
        "fresh ids for every trace, nothing deduplicated"
    );
    assert!(traces.iter().all(|t| t["spanCount"] == 4));
    let failing = traces.iter().filter(|t| t["errorCount"] != 0).count();
    assert!(failing >= 4, "some traces fail, as real ones do: {failing}");
    let services: std::collections::BTreeSet<&str> = traces
        .iter()
        .flat_map(|t| t["services"].as_array().unwrap())
        .filter_map(|s| s.as_str())
        .collect();
    assert!(services.len() >= 4, "{services:?}");

    // A wrong token: every request fails, the run says so and exits non-zero.
    let out = cli(&[
        "generate",
        "--endpoint",
        &server.base_url,
        "--auth-token",
        "wrong",
        "--traces",
        "10",
        "--json",
    ]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["spansAccepted"].as_u64(), report["errors"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        report["retries"], 0,
        "a refused token is not worth retrying"
    );
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    let out = cli(&[
        "generate",
        "--protocol",
        "grpc",
        "--endpoint",
        &grpc_url,
        "--auth-token",
        "wrong",
        "--traces",
        "10",
        "--json",
    ]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["errors"].as_u64(), report["retries"].as_u64()),
        (Some(1), Some(0)),
        "UNAUTHENTICATED is not retried: {report}"
    );
    assert!(
        text(&out.stderr).contains("Unauthenticated"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn generate_sends_log_records_and_metric_points_over_http_and_grpc() {
    let server = TestServer::start();
    let grpc_url = format!(
        "http://{}",
        server.grpc_address.as_deref().expect("OTLP/gRPC served")
    );
    for signal in ["logs", "metrics"] {
        for (protocol, endpoint) in [
            ("http/protobuf", &server.base_url),
            ("http/json", &server.base_url),
            ("grpc", &grpc_url),
        ] {
            let out = cli(&[
                "generate",
                "--signal",
                signal,
                "--protocol",
                protocol,
                "--endpoint",
                endpoint,
                "--auth-token",
                &server.token,
                "--traces",
                "5",
                "--spans-per-trace",
                "10",
                "--json",
            ]);
            assert!(
                out.status.success(),
                "{signal} {protocol}: {}",
                text(&out.stderr)
            );
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["spansAccepted"], 50, "{signal} {protocol}: {report}");
        }
    }
    let stats = cli(&[
        "client",
        "--base-url",
        &server.base_url,
        "--auth-token",
        &server.token,
        "--json",
        "stats",
    ]);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["logs"], 150, "every record stored once: {stats}");
    // Every point has a series and a time of its own: none is taken for a retry's copy.
    assert_eq!(
        stats["metricPoints"], 150,
        "every point stored once: {stats}"
    );
    assert_eq!(stats["spans"], 0, "and no spans: {stats}");
}

#[test]
fn generate_sends_again_until_a_server_that_was_down_answers_and_loses_nothing() {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    // The load starts while nothing listens on the port, as after a server restart.
    let load = Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
        .args(["generate", "--endpoint", &endpoint, "--auth-token", "t"])
        .args(["--traces", "20", "--spans-per-request", "50", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let server = Reaped(
        Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
            .args(["dev", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--auth-token", "t", "--in-memory", "--grpc-listen", "off"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = load.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["spansAccepted"].as_u64(), report["errors"].as_u64()),
        (Some(200), Some(0)),
        "{report}"
    );
    assert!(report["retries"].as_u64().unwrap() >= 1, "{report}");
    let asked = cli(&[
        "client",
        "--base-url",
        &endpoint,
        "--auth-token",
        "t",
        "--json",
        "stats",
    ]);
    drop(server);
    let stats: serde_json::Value = serde_json::from_slice(&asked.stdout).unwrap();
    assert_eq!(stats["spans"], 200, "every span stored once: {stats}");
}

#[test]
fn search_flags_services_stats_and_retention_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("search.db");
    let db_arg = db.to_str().unwrap();
    let token = "search-token";
    let start = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec!["--auth-token".as_ref(), token.as_ref()];
        args.extend(["--db".as_ref(), db.as_os_str()]);
        args.extend(extra.iter().map(OsStr::new));
        spawn_dev(&args)
    };
    let (child, url, _lines) = start(&[]);
    let mut server = Reaped(child);
    let client = |args: &[&str]| {
        let out = client_at(&url, token, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    // The example trace is from 2025; three generated traces are from now.
    client(&["send", &example_path()]);
    let generated = cli(&[
        "generate",
        "--endpoint",
        &url,
        "--auth-token",
        token,
        "--traces",
        "3",
        "--spans-per-trace",
        "4",
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--json", "traces", "list"];
        all.extend(args);
        let list: serde_json::Value = serde_json::from_str(&client(&all)).unwrap();
        list["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceId"].as_str().unwrap().to_owned())
            .collect()
    };
    let example = [EXAMPLE_TRACE_ID.to_owned()];
    assert_eq!(ids(&[]).len(), 4);
    assert_eq!(ids(&["--service", "user-service"]), example);
    assert_eq!(
        ids(&["--name", "cache lookup user:42", "--status", "error"]),
        example
    );
    assert_eq!(
        ids(&["--name", "cache lookup user:42", "--root"]),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&["--attr", "process.pid=4242", "--min-duration", "100ms"]),
        example
    );
    assert_eq!(
        ids(&["--query", "REDIS"]),
        example,
        "db.system.name=redis, in any case"
    );
    assert_eq!(ids(&["--query", "no such text"]), Vec::<String>::new());
    assert_eq!(ids(&["-q", "postgres", "--max-duration", "1s"]), example);
    assert_eq!(
        ids(&["--since", "1h"]).len(),
        3,
        "the 2025 trace is older than an hour"
    );
    let table = client(&["traces", "list", "--limit", "2"]);
    assert!(table.contains("more: add --before "), "{table}");
    let services = client(&["services"]);
    assert!(
        services.contains("user-service") && services.contains("frontend"),
        "{services}"
    );
    // The 2025 trace is past `--archive-after`'s hour: the archive holds it.
    let stats: serde_json::Value = serde_json::from_str(&client(&["--json", "stats"])).unwrap();
    let spans = |s: &serde_json::Value| s["spans"].as_u64().unwrap_or(0);
    assert_eq!(spans(&stats) + spans(&stats["archive"]), 17, "{stats}");
    let table = client(&["stats"]);
    assert!(
        table.contains("Not indexed yet") && table.contains("Archived"),
        "{table}"
    );
    // Attribute discovery reads the search summaries, built a moment after ingest.
    let mut keys = String::new();
    for _ in 0..50 {
        keys = client(&["attributes", "--service", "user-service"]);
        if keys.contains("process.pid") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        keys.contains("process.pid") && keys.contains("int"),
        "{keys}"
    );
    let values = client(&["attributes", "process.pid", "--prefix", "42"]);
    assert!(values.contains("4242"), "{values}");
    let none = client(&["attributes", "process.pid", "--prefix", "9"]);
    assert!(none.contains("no values of process.pid"), "{none}");
    let bad = client_at(&url, token, &["traces", "list", "--min-duration", "soon"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("minDuration"),
        "{}",
        text(&bad.stderr)
    );
    drop(server);

    let stats = text(&cli(&["system", "database", "stats", "--db", db_arg]).stdout);
    assert!(stats.contains("traces    4"), "{stats}");
    assert!(
        stats.contains("oldest    2025-02-18 10:00:00.000Z"),
        "{stats}"
    );
    assert!(stats.contains(" MB ("), "{stats}");

    // `system prune` deletes exactly the old trace.
    let pruned = cli(&["system", "prune", "--older-than", "7d", "--db", db_arg]);
    assert!(pruned.status.success(), "{}", text(&pruned.stderr));
    assert!(
        text(&pruned.stdout).starts_with("deleted 1 traces (5 spans)"),
        "{}",
        text(&pruned.stdout)
    );
    let stats = text(&cli(&["system", "database", "stats", "--db", db_arg]).stdout);
    assert!(
        stats.contains("traces    3") && stats.contains("spans     12"),
        "{stats}"
    );

    // `dev --retention` prunes as soon as it starts.
    let (child, url, _lines) = start(&[]);
    server = Reaped(child);
    client_send(&url, token);
    drop(server);
    let (child, url, lines) = start(&["--retention", "7d"]);
    server = Reaped(child);
    let announced = lines
        .map_while(Result::ok)
        .take(20)
        .find(|l| l.contains("retention deleted"));
    assert!(
        announced.is_some_and(|l| l.contains("traces=1")),
        "no retention log line"
    );
    let list = client_at(&url, token, &["traces", "list"]);
    assert!(!text(&list.stdout).contains(EXAMPLE_TRACE_ID));
    drop(server);
}

/// `otel-worker-cli client --base-url <url> --auth-token <token> <args>`.
fn client_at(url: &str, token: &str, args: &[&str]) -> Output {
    let mut all = vec!["client", "--base-url", url, "--auth-token", token];
    all.extend(args);
    cli(&all)
}

fn client_send(url: &str, token: &str) {
    let sent = client_at(url, token, &["send", &example_path()]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
}

#[test]
fn logs_are_listed_followed_and_shown_under_their_span_from_the_terminal() {
    let server = TestServer::start();
    let conn = [
        "client",
        "--base-url",
        &server.base_url,
        "--auth-token",
        &server.token,
    ];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = conn.iter().chain(extra).copied().collect();
        cli(&args)
    };
    assert!(run(&["send", &example_path()]).status.success());
    let mut tail = Reaped(
        Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
            .args(conn)
            .args(["logs", "tail", "--severity", "warn"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = std::io::BufReader::new(tail.0.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("waiting for log records"), "{line}");

    let logs = serde_json::json!({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}]},
    "scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1739872800300000000", "severityNumber": 13,
         "body": {"stringValue": "cache miss, asking redis"},
         "traceId": EXAMPLE_TRACE_ID, "spanId": "b7ad6b7169203331"},
        {"timeUnixNano": "1739872800400000000", "severityNumber": 9,
         "body": {"stringValue": "request done\nin two lines"}, "traceId": EXAMPLE_TRACE_ID},
        {"timeUnixNano": "1739872800500000000", "severityNumber": 17, "severityText": "Error",
         "body": {"kvlistValue": {"values": [{"key": "code", "value": {"intValue": "7"}}]}}}
    ]}]}]});
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let response = runtime.block_on(post_to(
        &server,
        "/v1/logs",
        "application/json",
        None,
        logs.to_string().into_bytes(),
    ));
    assert_eq!(response.status(), 200);

    let tree = text(&run(&["traces", "get", EXAMPLE_TRACE_ID]).stdout);
    let lines: Vec<&str> = tree.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in\n{tree}"))
    };
    let span = at("b7ad6b7169203331");
    let log = at("cache miss, asking redis");
    assert_eq!(log, span + 1, "the record is right under its span:\n{tree}");
    assert!(lines[log].contains("WARN"), "{tree}");
    assert!(
        lines[at("request done in two lines")].contains("INFO"),
        "a record of no span, on one line:\n{tree}"
    );
    assert!(at("logs of no span") < at("request done"), "{tree}");

    let table = text(&run(&["logs", "list", "--severity", "warn"]).stdout);
    assert!(
        table.contains("cache miss, asking redis") && table.contains(r#"{"code":7}"#),
        "{table}"
    );
    assert!(!table.contains("request done"), "{table}");
    let json = run(&["--json", "logs", "list", "--trace", EXAMPLE_TRACE_ID]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["logs"].as_array().unwrap().len(), 2, "{value}");
    let trace_json = run(&["--json", "traces", "get", EXAMPLE_TRACE_ID]);
    let value: serde_json::Value = serde_json::from_slice(&trace_json.stdout).unwrap();
    assert_eq!(value["logs"][0]["body"], "cache miss, asking redis");

    // The tail printed the two records of warn and above, not the info one.
    let mut stdout = std::io::BufReader::new(tail.0.stdout.take().unwrap());
    let mut printed = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        printed.push(line);
    }
    assert!(
        printed[0].contains("WARN") && printed[0].contains("cache miss"),
        "{printed:?}"
    );
    assert!(
        printed[1].contains("ERROR") && printed[1].contains(r#"{"code":7}"#),
        "{printed:?}"
    );
}

#[test]
fn metrics_are_listed_and_shown_with_their_latest_values_from_the_terminal() {
    let server = TestServer::start();
    let service = format!("cli-metrics-{}", hex::encode(random_span_id()));
    // The example export, as a service of its own, its points moved to now so they fall
    // in the trend's hour.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let example = include_str!("../../examples/send-trace/metrics.json")
        .replace("\"frontend\"", &format!("\"{service}\""))
        .replace("1739872740000000000", &(now - 60_000_000_000).to_string())
        .replace("1739872800000000000", &now.to_string());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let response = runtime.block_on(post_to(
        &server,
        "/v1/metrics",
        "application/json",
        None,
        example.into_bytes(),
    ));
    assert_eq!(response.status(), 200);

    let run = |args: &[&str]| client_at(&server.base_url, &server.token, args);
    let list = run(&["metrics", "list", "--service", &service]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let table = text(&list.stdout);
    for expected in [
        "http.server.request.duration",
        "histogram (cumulative)",
        "http.server.requests",
        "sum (cumulative, monotonic)",
        "process.memory.usage",
        "gauge",
    ] {
        assert!(table.contains(expected), "{expected:?} not in\n{table}");
    }

    let counter = text(
        &run(&[
            "metrics",
            "get",
            "http.server.requests",
            "--service",
            &service,
        ])
        .stdout,
    );
    assert!(counter.contains("HTTP requests answered."), "{counter}");
    assert!(
        counter.contains("http.response.status_code=200"),
        "{counter}"
    );
    assert!(counter.contains("rate/s, last 1h"), "{counter}");
    // Six requests in the minute since the counter started: one step of the trend.
    assert!(
        counter
            .lines()
            .any(|l| l.contains(" 6 ") && l.contains('▅')),
        "{counter}"
    );
    let histogram = text(
        &run(&[
            "metrics",
            "get",
            "http.server.request.duration",
            "--service",
            &service,
        ])
        .stdout,
    );
    assert!(
        histogram.contains("count 6, sum 912.5, min 12.5, max 245"),
        "{histogram}"
    );

    let missing = run(&["metrics", "get", "no.such.metric"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("no.such.metric"),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test]
async fn a_server_without_a_token_answers_only_loopback_host_names_and_its_own_pages() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("open.db");
    let (mut server, url, lines) = spawn_dev(&["--db".as_ref(), db.as_os_str()]);
    std::thread::spawn(move || for _ in lines {});
    let port = url.rsplit(':').next().unwrap_or_default().to_owned();
    let http = reqwest::Client::new();
    let get = |host: String, origin: Option<&str>| {
        let mut request = http.get(format!("{url}/v1/traces")).header("host", host);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        assert_eq!(
            get(host.clone(), None).await.unwrap().status(),
            200,
            "{host}"
        );
    }
    // DNS rebinding: a page on evil.example, whose name now resolves to 127.0.0.1, is
    // same-origin with itself and sends its own Host.
    let rebound = format!("evil.example:{port}");
    let refused = get(rebound.clone(), Some(&format!("http://{rebound}")))
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--auth-token"),
        "{body}"
    );
    let delete = http
        .delete(format!("{url}/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736"))
        .header("host", rebound.as_str())
        .header("origin", format!("http://{rebound}"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);
    // A page on another site, at the right address.
    let foreign = get(format!("127.0.0.1:{port}"), Some("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let ws = format!("{}/api/ws", url.replacen("http", "ws", 1));
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws.as_str())
            .unwrap();
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("a foreign page opened the feed: {:?}", other.map(|_| ())),
    }
    // The UI page on the server's own origin opens it.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws.as_str())
            .unwrap();
    request.headers_mut().insert("origin", url.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the server's own page opens the feed");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn the_example_token_is_refused_off_loopback() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
        .args([
            "dev",
            "--listen",
            "0.0.0.0:0",
            "--grpc-listen",
            "off",
            "--in-memory",
        ])
        .args(["--auth-token", otel_worker_core::api::auth::EXAMPLE_TOKEN])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("example token"), "{stderr}");
}

#[tokio::test]
async fn health_answers_quickly_while_four_heavy_exports_are_converted() {
    let server = TestServer::start();
    // Four OTLP/JSON exports of 80,000 gauges each (8 MB): seconds of decoding and
    // conversion, which run on the blocking pool, not on the threads that answer.
    let heavy = |tag: usize| {
        let metrics: Vec<serde_json::Value> = (0..80_000)
            .map(|i| {
                serde_json::json!({"name": format!("h{i}.{tag}"), "gauge": {"dataPoints": [
                    {"timeUnixNano": "1700000000000000000", "asInt": "1"}]}})
            })
            .collect();
        serde_json::json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": metrics}]}]})
            .to_string()
            .into_bytes()
    };
    let bodies: Vec<Vec<u8>> = (0..4).map(heavy).collect();
    let done = std::sync::atomic::AtomicBool::new(false);
    let exports = async {
        let responses = futures_util::future::join_all(
            bodies
                .into_iter()
                .map(|body| post_to(&server, "/v1/metrics", "application/json", None, body)),
        )
        .await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        responses
    };
    let probe = async {
        let http = server.http();
        let mut slowest = std::time::Duration::ZERO;
        let mut probes = 0;
        // From the first byte sent until every export is answered.
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let started = std::time::Instant::now();
            let health = http.get(server.url("/health")).send().await.unwrap();
            assert_eq!(health.status(), 200);
            slowest = slowest.max(started.elapsed());
            probes += 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        (slowest, probes)
    };
    let (responses, (slowest, probes)) = tokio::join!(exports, probe);
    for response in responses {
        assert_eq!(response.status(), 200);
    }
    eprintln!("slowest of {probes} /health answers during the exports: {slowest:?}");
    assert!(
        slowest < std::time::Duration::from_millis(100),
        "/health took {slowest:?} while exports were converted"
    );
}
