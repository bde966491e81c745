//! `GET /v1/compare/traces` and `GET /v1/compare/groups`, black-box over HTTP: two traces
//! matched span by span, two groups of traces operation by operation. Like
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

/// A pseudo-random stream (xorshift): the same groups on every run and both homes.
struct Draws(u64);

impl Draws {
    fn within(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

/// Stores `traces` traces of `service` at `version`: `GET /cart` calls `db query` (2-6 ms,
/// times `db_factor`) then `render` (1-3 ms, failing at `render_errors` in 100).
async fn store_group(
    server: &TestServer,
    service: &str,
    version: &str,
    seed: u64,
    traces: usize,
    (db_factor, render_errors): (u64, u64),
) {
    let mut draws = Draws(seed);
    let base = now_ns() - 600_000 * MS;
    let mut spans = Vec::new();
    for t in 0..traces {
        let trace_id = random_trace_id();
        let start = base + t as u64 * 1_000 * MS;
        let own = draws.within(500_000, 1_500_000);
        let db = draws.within(2_000_000, 6_000_000) * db_factor;
        let render = draws.within(1_000_000, 3_000_000);
        let failing = draws.within(0, 100) < render_errors;
        let mut root = span(&trace_id, None, "GET /cart", start);
        root.end_time_unix_nano = start + own + db + render;
        let mut query = span(&trace_id, Some(&root.span_id), "db query", start + own);
        query.end_time_unix_nano = start + own + db;
        let mut page = span(&trace_id, Some(&root.span_id), "render", start + own + db);
        page.end_time_unix_nano = start + own + db + render;
        page.status = Some(Status {
            message: String::new(),
            code: if failing { 2 } else { 0 },
        });
        spans.extend([root, query, page]);
    }
    let mut request = export(service, spans);
    if let Some(resource) = request.resource_spans[0].resource.as_mut() {
        resource.attributes.push(kv(
            "service.version",
            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(version.into()),
        ));
    }
    let response = post_protobuf(server, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// `GET /v1/compare/groups` of the two versions of `service`, with `extra` parameters.
async fn compare_versions(server: &TestServer, service: &str, extra: &str) -> (StatusCode, Value) {
    let group = |version: &str| {
        let search = format!("service={service}&attr=service.version={version}");
        form_urlencoded::byte_serialize(search.as_bytes()).collect::<String>()
    };
    get_json(
        server,
        &format!(
            "/v1/compare/groups?baseline={}&candidate={}{extra}",
            group("1.4.0"),
            group("1.5.0")
        ),
    )
    .await
}

fn names(report: &Value) -> Vec<&str> {
    report["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn two_groups_rank_the_operation_made_slower_and_the_one_made_to_fail_first() {
    let server = TestServer::start();
    let service = format!("shop-{}", hex(&random_span_id()));
    store_group(&server, &service, "1.4.0", 11, 80, (1, 0)).await;
    // The candidate's database is twice as slow, and its render fails 30 times in 100.
    store_group(&server, &service, "1.5.0", 12, 80, (2, 30)).await;
    let (status, report) = compare_versions(&server, &service, "").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    for side in ["baseline", "candidate"] {
        let group = &report[side];
        assert_eq!(
            (&group["matched"], &group["traces"], &group["spans"]),
            (&Value::from(80), &Value::from(80), &Value::from(240)),
            "{side}: {group}"
        );
        assert_eq!(group["matchedAll"], true);
        assert_eq!(group["sampled"], false);
    }
    let order = names(&report);
    assert!(
        order[..2].contains(&"db query") && order[..2].contains(&"render"),
        "{order:?}"
    );
    // The caller is slower only because it waits: after them, slower in duration alone.
    assert_eq!(order[2], "GET /cart", "{report}");
    assert_eq!(report["regressions"], 3);
    let find = |name: &str| {
        report["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap()
            .clone()
    };
    let db = find("db query");
    assert_eq!(db["selfTime"]["significant"], true, "{db}");
    let p50 = db["p50DeltaNs"].as_i64().unwrap();
    let baseline_p50 = db["baseline"]["p50Ns"].as_i64().unwrap();
    assert!(
        (p50 as f64 / baseline_p50 as f64 - 1.0).abs() < 0.35,
        "twice as slow: {db}"
    );
    let render = find("render");
    assert_eq!(render["errors"]["significant"], true, "{render}");
    assert_eq!(render["selfTime"]["significant"], false, "{render}");
    let delta = render["errorRateDelta"].as_f64().unwrap();
    assert!((0.15..0.45).contains(&delta), "{render}");
    let root = find("GET /cart");
    assert_eq!(root["duration"]["significant"], true);
    assert_eq!(root["selfTime"]["significant"], false, "{root}");
    assert!(report["method"].as_str().unwrap().contains("Mann-Whitney"));

    // Fewer traces than matched: read evenly, and said.
    let (status, sampled) = compare_versions(&server, &service, "&maxTraces=20").await;
    assert_eq!(status, StatusCode::OK, "{sampled}");
    assert_eq!(sampled["candidate"]["traces"], 20);
    assert_eq!(sampled["candidate"]["matched"], 80);
    assert_eq!(sampled["candidate"]["sampled"], true);
}

#[tokio::test]
async fn two_groups_drawn_alike_report_no_change() {
    let server = TestServer::start();
    for seed in [21, 22, 23] {
        let service = format!("shop-{}", hex(&random_span_id()));
        store_group(&server, &service, "1.4.0", seed, 60, (1, 5)).await;
        store_group(&server, &service, "1.5.0", seed * 1_000, 60, (1, 5)).await;
        let (status, report) = compare_versions(&server, &service, "").await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["regressions"], 0, "seed {seed}: {report}");
        assert!(
            report["operations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["improved"] == false && o["duration"]["pValue"].is_number()),
            "seed {seed}: {report}"
        );
    }
}

#[tokio::test]
async fn a_group_comparison_refuses_what_it_cannot_read() {
    let server = TestServer::start();
    let group =
        |search: &str| form_urlencoded::byte_serialize(search.as_bytes()).collect::<String>();
    for (query, names) in [
        (format!("baseline={}", group("service=a")), "candidate"),
        (format!("candidate={}", group("service=a")), "baseline"),
        (
            format!(
                "baseline={}&candidate={}",
                group("service=a&limit=5"),
                group("service=b")
            ),
            "limit",
        ),
        (
            format!(
                "baseline={}&candidate={}",
                group("service=a"),
                group("servise=b")
            ),
            "servise",
        ),
        (
            format!(
                "baseline={}&candidate={}",
                group("minDuration=fast"),
                group("service=b")
            ),
            "baseline",
        ),
        (
            format!(
                "baseline={}&candidate={}&maxTraces=0",
                group("service=a"),
                group("service=b")
            ),
            "maxTraces",
        ),
        (
            format!(
                "baseline={}&candidate={}&top=3",
                group("service=a"),
                group("service=b")
            ),
            "top",
        ),
    ] {
        let (status, body) = get_json(&server, &format!("/v1/compare/groups?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(names),
            "{query}: {body}"
        );
    }
    // Groups that match nothing compare to an empty report, not an error.
    let (status, body) = get_json(
        &server,
        &format!(
            "/v1/compare/groups?baseline={}&candidate={}",
            group("service=nobody-at-all"),
            group("service=nobody-either")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["operations"], serde_json::json!([]));
    assert_eq!(body["baseline"]["matched"], 0);
}
