//! `GET /v1/compare/traces`, black-box over HTTP: two traces matched span by span. Like
//! `api.rs`, runs against `otel-worker-cli dev` by default and against the Worker under
//! `wrangler dev` with `OTEL_WORKER_TEST_URL`.

mod common;

use common::*;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use reqwest::StatusCode;
use serde_json::Value;

const MS: u64 = 1_000_000;

/// A span of `trace_id` from `start_ms` to `end_ms` after `base`, under `parent`.
fn at(
    trace_id: &[u8],
    parent: Option<&Span>,
    name: &str,
    base: u64,
    (start_ms, end_ms): (u64, u64),
    failed: bool,
) -> Span {
    let mut s = span(
        trace_id,
        parent.map(|p| p.span_id.as_slice()),
        name,
        base + start_ms * MS,
    );
    s.end_time_unix_nano = base + end_ms * MS;
    s.status = Some(Status {
        message: String::new(),
        code: if failed { 2 } else { 0 },
    });
    s
}

/// Stores `spans` as one export per service.
async fn store(server: &TestServer, spans: Vec<(&str, Span)>) {
    for service in ["web", "db", "payments", "cache"] {
        let mine: Vec<Span> = spans
            .iter()
            .filter(|(s, _)| *s == service)
            .map(|(_, span)| span.clone())
            .collect();
        if !mine.is_empty() {
            let response = post_protobuf(server, export(service, mine).encode_to_vec()).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
}

fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn two_traces_are_compared_span_by_span_with_duration_self_time_and_structure() {
    let server = TestServer::start();
    let base = now_ns() - 60_000 * MS;
    // A: the checkout as it was.
    let a = random_trace_id();
    let root = at(&a, None, "GET /checkout", base, (0, 100), false);
    let charge = at(&a, Some(&root), "charge", base, (55, 90), false);
    let a_spans = vec![
        ("db", at(&a, Some(&root), "SELECT", base, (10, 30), false)),
        ("db", at(&a, Some(&root), "SELECT", base, (40, 50), false)),
        (
            "payments",
            at(&a, Some(&charge), "fraud-check", base, (60, 70), false),
        ),
        ("payments", charge),
        ("web", root),
    ];
    // B: the second query got 50 ms slower, the charge fails and no longer checks for
    // fraud, and a cache lookup was added.
    let b = random_trace_id();
    let root = at(&b, None, "GET /checkout", base, (0, 150), false);
    let b_spans = vec![
        ("cache", at(&b, Some(&root), "GET", base, (2, 5), false)),
        ("db", at(&b, Some(&root), "SELECT", base, (10, 30), false)),
        ("db", at(&b, Some(&root), "SELECT", base, (40, 100), false)),
        (
            "payments",
            at(&b, Some(&root), "charge", base, (105, 140), true),
        ),
        ("web", root),
    ];
    store(&server, a_spans).await;
    store(&server, b_spans).await;

    let (status, body) = get_json(
        &server,
        &format!("/v1/compare/traces?a={}&b={}", hex(&a), hex(&b)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["a"]["traceId"], hex(&a));
    assert_eq!(
        (body["a"]["spans"].as_u64(), body["b"]["spans"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(body["durationDeltaNs"], 50 * MS);
    assert_eq!(
        (
            &body["matched"],
            &body["onlyInA"],
            &body["onlyInB"],
            &body["statusChanges"]
        ),
        (
            &Value::from(4),
            &Value::from(1),
            &Value::from(1),
            &Value::from(1)
        )
    );
    assert_eq!(body["truncated"], false);
    let positions = body["positions"].as_array().unwrap();
    let paths: Vec<&str> = positions
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "web: GET /checkout",
            "web: GET /checkout > cache: GET",
            "web: GET /checkout > db: SELECT",
            "web: GET /checkout > db: SELECT#2",
            "web: GET /checkout > payments: charge",
            "web: GET /checkout > payments: charge > payments: fraud-check",
        ]
    );
    let ms = |v: &Value| v.as_i64().map(|n| n as f64 / MS as f64);
    let row = |i: usize| {
        let p = &positions[i];
        (
            ms(&p["durationDeltaNs"]),
            ms(&p["selfDeltaNs"]),
            p["statusChanged"].as_bool().unwrap(),
            p["a"].is_null(),
            p["b"].is_null(),
        )
    };
    // The root: 50 ms longer, yet 3 ms less of its own time (35 ms → 32 ms).
    assert_eq!(row(0), (Some(50.0), Some(-3.0), false, false, false));
    assert_eq!(row(1), (None, None, false, true, false), "only in B");
    assert_eq!(row(2), (Some(0.0), Some(0.0), false, false, false));
    assert_eq!(
        row(3),
        (Some(50.0), Some(50.0), false, false, false),
        "the slower query"
    );
    // Same length, 10 ms more of its own without the fraud check, and now failing.
    assert_eq!(row(4), (Some(0.0), Some(10.0), true, false, false));
    assert_eq!(row(5), (None, None, false, false, true), "only in A");
    assert_eq!(positions[4]["a"]["selfNs"], 25 * MS);
    assert_eq!(positions[4]["b"]["error"], true);
    assert_eq!(positions[3]["b"]["offsetNs"], 40 * MS);
    assert_eq!(positions[5]["depth"], 2);
}

#[tokio::test]
async fn a_comparison_names_the_trace_it_cannot_find_and_refuses_bad_queries() {
    let server = TestServer::start();
    let (known, export) = trace(3, now_ns() - 60_000 * MS);
    assert_eq!(
        post_protobuf(&server, export.encode_to_vec())
            .await
            .status(),
        StatusCode::OK
    );
    let missing = hex(&random_trace_id());
    let (status, body) = get_json(
        &server,
        &format!("/v1/compare/traces?a={known}&b={missing}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"].as_str().unwrap().contains(&missing),
        "{body}"
    );
    // The same trace against itself: everything matched, nothing changed.
    let (status, body) =
        get_json(&server, &format!("/v1/compare/traces?a={known}&b={known}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&body["matched"], &body["onlyInA"], &body["onlyInB"]),
        (&Value::from(3), &Value::from(0), &Value::from(0))
    );
    for query in [
        format!("a={known}"),
        format!("b={known}"),
        format!("a=xyz&b={known}"),
        format!("a={known}&b={known}&c=1"),
    ] {
        let (status, body) = get_json(&server, &format!("/v1/compare/traces?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{query}: {body}"
        );
    }
}
