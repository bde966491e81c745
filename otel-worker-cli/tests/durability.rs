//! Durability and concurrency of the local server, with real processes and real failures:
//! SIGKILL during sustained ingest, and reads while ingest runs flat out.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use prost::Message;
use rand::Rng;
use reqwest::StatusCode;

/// One export the server acknowledged with a 200: its trace and span ids.
type Acknowledged = (String, Vec<String>);

/// Posts a fresh 10-span trace as protobuf; returns its ids and the server's answer.
async fn post_trace(
    http: &reqwest::Client,
    base_url: &str,
    token: &str,
) -> (Acknowledged, reqwest::Result<reqwest::Response>) {
    let (trace_id, request) = trace(10, 1_700_000_000_000_000_000);
    let span_ids = request.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| hex::encode(&s.span_id))
        .collect();
    let sent = http
        .post(format!("{base_url}/v1/traces"))
        .bearer_auth(token)
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await;
    ((trace_id, span_ids), sent)
}

/// Sends 10-span exports in a loop until the server stops answering; records every export
/// that got a 200 without partial rejection.
async fn ingest_until_gone(
    base_url: String,
    token: String,
    acknowledged: Arc<Mutex<Vec<Acknowledged>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    loop {
        let ((trace_id, span_ids), sent) = post_trace(&http, &base_url, &token).await;
        match sent {
            Ok(response) if response.status() == StatusCode::OK => {
                let body = response.bytes().await;
                let clean = body.ok().and_then(|b| {
                    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(b.as_ref()).ok()
                });
                if clean.is_some_and(|r| r.partial_success.is_none()) {
                    acknowledged.lock().unwrap().push((trace_id, span_ids));
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingest_loses_no_acknowledged_export() {
    kill_and_check(&[], 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingest_and_archiving_loses_and_doubles_nothing() {
    // Every trace is archived as soon as the server looks: kills land in compaction steps.
    kill_and_check(&["--archive-after", "0s"], 3).await;
}

/// `GET path` as JSON (`null` when the answer is not JSON).
async fn read(http: &reqwest::Client, url: &str, token: &str, path: &str) -> serde_json::Value {
    http.get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or_default()
}

/// Ingests from four clients and SIGKILLs the server at a random moment, `kills` times
/// (restarting it on the same files), then checks that every acknowledged export reads
/// back whole, each span once, and that the trace list holds each trace once.
async fn kill_and_check(extra: &[&str], kills: u32) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let token = "kill-9-token";
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--auth-token".as_ref(),
        token.as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut kill_times = Vec::new();
    for _ in 0..kills {
        let (mut server, url, log) = spawn_dev(&args);
        std::thread::spawn(move || for _ in log {});
        let clients: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(ingest_until_gone(
                    url.clone(),
                    token.into(),
                    acknowledged.clone(),
                ))
            })
            .collect();
        let kill_after = Duration::from_millis(rand::rng().random_range(500..2_000));
        tokio::time::sleep(kill_after).await;
        server.kill().expect("SIGKILL the server");
        server.wait().unwrap();
        for client in clients {
            client.await.unwrap();
        }
        kill_times.push(kill_after);
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty(),
        "no export was acknowledged before the kill"
    );

    let (mut server, url, log) = spawn_dev(&args);
    std::thread::spawn(move || for _ in log {});
    let http = reqwest::Client::new();
    let mut problems = Vec::new();
    for (trace_id, span_ids) in &acknowledged {
        let trace = read(&http, &url, token, &format!("/v1/traces/{trace_id}")).await;
        let stored: Vec<&str> = trace["spans"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["spanId"].as_str()).collect())
            .unwrap_or_default();
        let mut sorted_stored = stored.clone();
        sorted_stored.sort();
        sorted_stored.dedup();
        let mut expected: Vec<&str> = span_ids.iter().map(String::as_str).collect();
        expected.sort();
        if sorted_stored != expected || stored.len() != expected.len() || trace["spanCount"] != 10 {
            problems.push(format!("trace {trace_id}: {} of 10 spans", stored.len()));
        }
    }
    // The list, page by page: each acknowledged trace once.
    let mut listed = Vec::new();
    let mut before = String::new();
    loop {
        let page = read(
            &http,
            &url,
            token,
            &format!("/v1/traces?limit=1000{before}"),
        )
        .await;
        listed.extend(
            page["traces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["traceId"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => before = format!("&before={cursor}"),
            None => break,
        }
    }
    let listed_count = listed.len();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), listed_count, "a trace is listed twice");
    for (trace_id, _) in &acknowledged {
        if listed.binary_search(trace_id).is_err() {
            problems.push(format!("trace {trace_id} is not listed"));
        }
    }
    let stats = read(&http, &url, token, "/v1/stats").await;
    server.kill().unwrap();
    server.wait().unwrap();
    let integrity: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    eprintln!(
        "killed after {kill_times:?}: {} acknowledged exports ({} spans) checked, integrity \
         {integrity}, archive {}",
        acknowledged.len(),
        acknowledged.len() * 10,
        stats["archive"]
    );
    assert!(
        problems.is_empty(),
        "acknowledged but not stored exactly once: {problems:?}"
    );
    assert_eq!(integrity, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_keeps_answering_while_ingest_runs_flat_out() {
    let server = TestServer::start();
    let acknowledged: Arc<Mutex<Vec<Acknowledged>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (url, token, acknowledged, stop) = (
                server.base_url.clone(),
                server.token.clone(),
                acknowledged.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (acked, sent) = post_trace(&http, &url, &token).await;
                    let response = sent.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    acknowledged.lock().unwrap().push(acked);
                }
            })
        })
        .collect();
    let http = server.http();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let asked = Instant::now();
        let response = http
            .get(server.url("/v1/traces?limit=20"))
            .header("authorization", server.auth())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "the trace list failed during ingest"
        );
        let list: serde_json::Value = response.json().await.unwrap();
        assert!(list["traces"].is_array());
        latencies.push(asked.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    let exports = acknowledged.lock().unwrap().len();
    // Figures for the record (the machine is shared, so they are reported, not asserted).
    eprintln!(
        "{} list requests during ingest, p50 {:?}, p99 {p99:?}; {exports} exports ({} spans) in 3 s",
        latencies.len(),
        latencies[latencies.len() / 2],
        exports * 10
    );
    assert!(exports > 0 && latencies.len() > 10);
}
