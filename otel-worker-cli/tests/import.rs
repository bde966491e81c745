//! `otel-worker-cli import`, black-box: OTLP files in every form the Collector's file
//! exporter and people write them, imported into a fresh local server and read back
//! through the API.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/send-trace");

/// The example exports (a trace of 5 spans, its 3 log records, 3 metrics), each minified
/// to one line.
fn lines() -> Vec<String> {
    ["trace", "logs", "metrics"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(format!("{EXAMPLES}/{name}.json")).unwrap();
            serde_json::to_string(&serde_json::from_str::<Value>(&text).unwrap()).unwrap()
        })
        .collect()
}

/// The same exports as protobuf, each in the file exporter's frame (a 4-byte big-endian
/// length, then the message), zstd-compressed one by one when `compress`.
fn frames(compress: bool) -> Vec<u8> {
    let lines = lines();
    let messages = [
        otel_worker_core::ingest::json::decode(lines[0].as_bytes())
            .unwrap()
            .encode_to_vec(),
        otel_worker_core::ingest::json::logs::decode(lines[1].as_bytes())
            .unwrap()
            .encode_to_vec(),
        otel_worker_core::ingest::json::metrics::decode(lines[2].as_bytes())
            .unwrap()
            .encode_to_vec(),
    ];
    let mut out = Vec::new();
    for message in messages {
        let message = if compress {
            ruzstd::encoding::compress_to_vec(
                message.as_slice(),
                ruzstd::encoding::CompressionLevel::Fastest,
            )
        } else {
            message
        };
        out.extend((message.len() as u32).to_be_bytes());
        out.extend(message);
    }
    out
}

fn import(server: &TestServer, files: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
        .args([
            "import",
            "--base-url",
            &server.base_url,
            "--auth-token",
            &server.token,
        ])
        .args(files)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the server holds: spans (in the database or archived: the example trace is from
/// 2025, so the server archives it soon), log records, metric points.
async fn held(server: &TestServer) -> (u64, u64, u64) {
    let (_, stats) = get_json(server, "/v1/stats").await;
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    let archive = |k: &str| stats["archive"][k].as_u64().unwrap_or(0);
    (
        n("spans") + archive("spans"),
        n("logs") + archive("records"),
        n("metricPoints"),
    )
}

/// The example's items, counted from the files.
fn example_counts() -> (u64, u64, u64) {
    use otel_worker_core::ingest::Export;
    let lines = lines();
    let traces: ExportTraceServiceRequest =
        otel_worker_core::ingest::json::decode(lines[0].as_bytes()).unwrap();
    let logs: ExportLogsServiceRequest =
        otel_worker_core::ingest::json::logs::decode(lines[1].as_bytes()).unwrap();
    let metrics: ExportMetricsServiceRequest =
        otel_worker_core::ingest::json::metrics::decode(lines[2].as_bytes()).unwrap();
    (
        traces.items() as u64,
        logs.items() as u64,
        metrics.items() as u64,
    )
}

#[tokio::test]
async fn every_form_of_an_otlp_file_is_imported_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let jsonl = lines().join("\n") + "\n";
    std::fs::write(path("collector.jsonl"), &jsonl).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(jsonl.as_bytes()).unwrap();
    std::fs::write(path("collector.jsonl.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        path("collector.jsonl.zst"),
        ruzstd::encoding::compress_to_vec(
            jsonl.as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        ),
    )
    .unwrap();
    std::fs::write(path("collector.proto"), frames(false)).unwrap();
    std::fs::write(path("collector-zstd.bin"), frames(true)).unwrap();
    // One document, as an SDK's or a person's pretty-printed export.
    std::fs::copy(format!("{EXAMPLES}/trace.json"), path("trace.json")).unwrap();
    let whole = example_counts();
    for (files, stdin, expected) in [
        (vec![path("collector.jsonl")], None, whole),
        (vec![path("collector.jsonl.gz")], None, whole),
        (vec![path("collector.jsonl.zst")], None, whole),
        (vec![path("collector.proto")], None, whole),
        (vec![path("collector-zstd.bin")], None, whole),
        (vec![path("trace.json")], None, (whole.0, 0, 0)),
        (vec!["-".to_owned()], Some(jsonl.as_bytes()), whole),
        // A directory, and the same items twice: stored once.
        (vec![dir.path().to_string_lossy().into_owned()], None, whole),
    ] {
        // Nothing archived meanwhile: a copy sent again after the first was archived
        // counts twice in the stats until the next archive step.
        let server = TestServer::local(&["--archive-after", "off"]);
        let args: Vec<&str> = files.iter().map(String::as_str).collect();
        let out = import(&server, &args, stdin);
        assert!(
            out.status.success(),
            "{files:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(
            held(&server).await,
            expected,
            "{files:?}: {}",
            text(&out.stdout)
        );
        let (spans, records, points) = expected;
        let report = text(&out.stdout);
        assert!(
            report.contains(&format!(
                "{spans} spans, {records} log records, {points} data points stored; 0 rejected"
            )) || files[0] == dir.path().to_string_lossy(),
            "{report}"
        );
    }
    // The trace reads back with its tree and attributes.
    let server = TestServer::local(&[]);
    assert!(
        import(&server, &[&path("collector-zstd.bin")], None)
            .status
            .success()
    );
    let (status, trace) = get_json(&server, "/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(trace["spanCount"], 5);
    assert_eq!(trace["rootSpanName"], "GET /api/users/:id");
}

#[tokio::test]
async fn a_broken_message_is_reported_where_it_is_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.jsonl");
    let lines = lines();
    let broken = format!(
        "{}\n{{\"resourceSpans\": [{{\"scopeSpans\": [{{\"spans\": [{{\"traceId\": 7}}]}}]}}]}}\n{}\n{}\n",
        lines[0], lines[1], lines[2]
    );
    std::fs::write(&file, broken).unwrap();
    let server = TestServer::local(&["--archive-after", "off"]);
    let out = import(&server, &[&file.to_string_lossy()], None);
    assert!(!out.status.success());
    let report = text(&out.stdout);
    assert!(report.contains("broken.jsonl:2"), "{report}");
    assert!(text(&out.stderr).contains("1 messages could not be imported"));
    assert_eq!(held(&server).await, example_counts());

    // Not telemetry at all: said, nothing sent.
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, [0u8, 0, 0, 3, 1, 2, 3]).unwrap();
    let out = import(&server, &[&junk.to_string_lossy()], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("junk.bin, frame 1"),
        "{}",
        text(&out.stdout)
    );
    let missing = import(&server, &["/no/such/file.jsonl"], None);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stdout).contains("cannot open /no/such/file.jsonl"),
        "{}",
        text(&missing.stdout)
    );
}

#[tokio::test]
async fn dev_opens_a_file_like_a_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("collector.jsonl");
    std::fs::write(&file, lines().join("\n")).unwrap();
    let server = TestServer::local(&["--import", &file.to_string_lossy()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while held(&server).await != example_counts() {
        assert!(
            std::time::Instant::now() < deadline,
            "not imported after 20 s: {:?}",
            held(&server).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_trace_exported_imported_into_an_empty_store_and_exported_again_is_the_same_file() {
    let export = |server: &TestServer| {
        let out = client(
            server,
            &["traces", "export", "4bf92f3577b34da6a3ce929d0e0e4736"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let first = TestServer::local(&["--archive-after", "off"]);
    let example = format!("{EXAMPLES}/trace.json");
    assert!(import(&first, &[&example], None).status.success());
    let exported = export(&first);
    assert_eq!(exported.lines().count(), 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exported.jsonl");
    std::fs::write(&file, &exported).unwrap();
    // Into an empty store, whose archive takes the 2025 trace at once: read from there.
    let second = TestServer::local(&["--archive-after", "0s"]);
    assert!(
        import(&second, &[&file.to_string_lossy()], None)
            .status
            .success()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while held(&second).await.0 != 5 || get_json(&second, "/v1/stats").await.1["spans"] != 0 {
        assert!(std::time::Instant::now() < deadline, "not archived");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(export(&second), exported);
    // A search's traces, the same way.
    let searched = client(
        &second,
        &[
            "traces",
            "export",
            "--search",
            "service=frontend&status=error",
        ],
    );
    assert!(searched.status.success(), "{}", text(&searched.stderr));
    assert_eq!(text(&searched.stdout), exported);
    let refused = client(
        &second,
        &["traces", "export", "--search", "service=frontend&limit=3"],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("--max-traces"),
        "{}",
        text(&refused.stderr)
    );
}

/// `otel-worker-cli client <args>` against `server`.
fn client(server: &TestServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
        .args([
            "client",
            "--base-url",
            &server.base_url,
            "--auth-token",
            &server.token,
        ])
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn every_signal_exported_as_json_or_protobuf_frames_imports_into_an_empty_store_unchanged() {
    let exports: [&[&str]; 3] = [
        &["traces", "export", "4bf92f3577b34da6a3ce929d0e0e4736"],
        &["logs", "export"],
        &["metrics", "export"],
    ];
    let export = |server: &TestServer, args: &[&str], format: &str| {
        let mut args = args.to_vec();
        args.extend(["--format", format]);
        let out = client(server, &args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out.stdout
    };
    let first = TestServer::local(&[]);
    let examples: Vec<String> = ["trace", "logs", "metrics"]
        .iter()
        .map(|name| format!("{EXAMPLES}/{name}.json"))
        .collect();
    let paths: Vec<&str> = examples.iter().map(String::as_str).collect();
    assert!(import(&first, &paths, None).status.success());
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "proto"] {
        let mut files = Vec::new();
        let mut json_lines = Vec::new();
        for (i, args) in exports.iter().enumerate() {
            let file = dir.path().join(format!("{format}-{i}"));
            std::fs::write(&file, export(&first, args, format)).unwrap();
            files.push(file.to_string_lossy().into_owned());
            json_lines.push(text(&export(&first, args, "json")));
            assert_eq!(
                json_lines[i].lines().count(),
                if i == 2 { 3 } else { 1 },
                "{args:?}"
            );
        }
        let second = TestServer::local(&[]);
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let out = import(&second, &files, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(held(&second).await, example_counts(), "{format}");
        for (args, first_lines) in exports.iter().zip(&json_lines) {
            assert_eq!(
                &text(&export(&second, args, "json")),
                first_lines,
                "{args:?} after a round trip through {format}"
            );
        }
    }
}

/// Against either home (the Worker too): a trace with its log records and a service's
/// metrics, exported as JSON Lines and as protobuf frames, deleted (metrics cannot be:
/// their import must change nothing) and imported again, export the same bytes.
#[tokio::test]
async fn telemetry_exported_and_imported_again_comes_back_byte_for_byte_on_either_home() {
    let server = TestServer::start();
    let (trace_id, request) = trace(4, now_ns() - 120_000_000_000);
    let service = format!("roundtrip-{}", hex::encode(random_span_id()));
    let response = post_protobuf(&server, request.encode_to_vec()).await;
    assert_eq!(response.status(), 200);
    let logs = serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeLogs": [{"scope": {"name": "app"}, "logRecords": [
            {"timeUnixNano": (now_ns() - 119_000_000_000).to_string(), "severityNumber": 17,
             "body": {"stringValue": "declined"}, "traceId": trace_id,
             "attributes": [{"key": "amount", "value": {"doubleValue": 12.5}}]},
            {"timeUnixNano": (now_ns() - 118_000_000_000).to_string(), "severityNumber": 9,
             "body": {"kvlistValue": {"values": [{"key": "n", "value": {"intValue": "3"}}]}},
             "traceId": trace_id}]}]}]});
    let metrics = serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeMetrics": [{"scope": {"name": "app.meter", "version": "1"}, "metrics": [
            {"name": "roundtrip.requests", "unit": "{request}", "sum": {"aggregationTemporality": 2,
             "isMonotonic": true, "dataPoints": [{"asInt": "7",
             "startTimeUnixNano": (now_ns() - 60_000_000_000).to_string(),
             "timeUnixNano": (now_ns() - 1_000_000_000).to_string(),
             "attributes": [{"key": "route", "value": {"stringValue": "/pay"}}]}]}},
            {"name": "roundtrip.latency", "unit": "ms", "histogram": {"aggregationTemporality": 1,
             "dataPoints": [{"count": "3", "sum": 30.5, "min": 1.5, "max": 20.0,
             "bucketCounts": ["1", "1", "1"], "explicitBounds": [5.0, 10.0],
             "startTimeUnixNano": (now_ns() - 60_000_000_000).to_string(),
             "timeUnixNano": (now_ns() - 1_000_000_000).to_string()}]}}]}]}]});
    for (path, body) in [("/v1/logs", logs), ("/v1/metrics", metrics)] {
        let response = post_to(
            &server,
            path,
            "application/json",
            None,
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(response.status(), 200, "{path}");
    }
    let search = format!("traceId={trace_id}");
    let exports: [Vec<&str>; 3] = [
        vec!["traces", "export", &trace_id],
        vec!["logs", "export", "--search", &search],
        vec!["metrics", "export", "--service", &service],
    ];
    let export = |format: &str| -> Vec<Vec<u8>> {
        exports
            .iter()
            .map(|args| {
                let mut args = args.clone();
                args.extend(["--format", format]);
                let out = client(&server, &args);
                assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
                out.stdout
            })
            .collect()
    };
    let first = export("json");
    assert_eq!(
        first
            .iter()
            .map(|f| text(f).lines().count())
            .collect::<Vec<_>>(),
        [1, 1, 2]
    );
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "proto"] {
        let files: Vec<String> = export(format)
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| {
                let file = dir.path().join(format!("{format}-{i}"));
                std::fs::write(&file, bytes).unwrap();
                file.to_string_lossy().into_owned()
            })
            .collect();
        let response = delete(&server, &format!("/v1/traces/{trace_id}")).await;
        assert_eq!(response.status(), 204, "{format}");
        let (status, _) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
        assert_eq!(status, 404, "deleted before the {format} import");
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let out = import(&server, &files, None);
        assert!(out.status.success(), "{format}: {}", text(&out.stdout));
        let again = export("json");
        for (i, (before, after)) in first.iter().zip(&again).enumerate() {
            assert_eq!(
                text(after),
                text(before),
                "{:?} after a {format} round trip",
                exports[i]
            );
        }
    }
}
