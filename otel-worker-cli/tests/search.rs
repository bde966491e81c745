//! The trace search (`GET /v1/traces` filters, pagination) and `GET /v1/services`,
//! black-box over HTTP. Like `api.rs`, runs against `otel-worker-cli dev` by default and
//! against the Worker under `wrangler dev` with `OTEL_WORKER_TEST_URL`. Every query is
//! confined to this run's own time window and names, so a shared server's other traces
//! never interfere.

mod common;

use std::collections::HashSet;

use common::*;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as V};
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use reqwest::StatusCode;

const MS: u64 = 1_000_000;

/// A span with explicit duration, status and attributes.
fn span_with(
    trace_id: &[u8],
    parent: Option<&[u8]>,
    name: &str,
    start_ns: u64,
    duration_ns: u64,
    status: i32,
    attributes: Vec<KeyValue>,
) -> Span {
    Span {
        end_time_unix_nano: start_ns + duration_ns,
        attributes,
        status: Some(Status {
            message: String::new(),
            code: status,
        }),
        ..span(trace_id, parent, name, start_ns)
    }
}

/// One export per service, each with extra resource attributes.
async fn send(server: &TestServer, service: &str, resource: Vec<KeyValue>, spans: Vec<Span>) {
    let mut request = export(service, spans);
    if let Some(r) = request.resource_spans[0].resource.as_mut() {
        r.attributes.extend(resource);
    }
    let response = common::post_protobuf(server, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// A random instant past `from`, decades ago (the future is refused a day ahead of the
/// server's clock), so this run's traces have a time window of their own on a shared
/// server.
fn private_time(from: u64) -> u64 {
    from + u64::from(u32::from_le_bytes(
        random_span_id()[..4].try_into().unwrap(),
    )) * MS
}

/// Three traces in a private time window, with names made unique by `run`.
struct Fixture {
    run: String,
    window: String,
    /// GET /users on shop, with a postgres query on db; 300 ms; ok.
    users: String,
    /// POST /checkout on shop, failing in pay; 1.2 s.
    checkout: String,
    /// GET /users on web, in staging; 50 ms.
    staging: String,
}

async fn fixture(server: &TestServer) -> Fixture {
    let run = hex::encode(random_span_id());
    // Far in the future, in a window of its own.
    let base = private_time(500_000_000_000_000_000);
    let window = format!("start={base}&end={}", base + 10_000 * MS);
    let shop = format!("shop-{run}");

    let users = random_trace_id();
    let root = span_with(
        &users,
        None,
        "GET /users",
        base + 100 * MS,
        300 * MS,
        1,
        vec![
            kv("http.route", V::StringValue("/users".into())),
            kv("http.status_code", V::IntValue(200)),
        ],
    );
    let query = span_with(
        &users,
        Some(&root.span_id),
        "SELECT users",
        base + 110 * MS,
        20 * MS,
        0,
        vec![
            kv("db.system", V::StringValue("postgres".into())),
            kv(
                "db.statement",
                V::StringValue("SELECT * FROM Users WHERE id = 1".into()),
            ),
        ],
    );
    send(server, &shop, vec![], vec![root]).await;
    send(server, &format!("db-{run}"), vec![], vec![query]).await;

    let checkout = random_trace_id();
    let root = span_with(
        &checkout,
        None,
        "POST /checkout",
        base + 200 * MS,
        1_200 * MS,
        2,
        vec![kv("http.status_code", V::IntValue(500))],
    );
    let charge = span_with(
        &checkout,
        Some(&root.span_id),
        "charge card",
        base + 250 * MS,
        900 * MS,
        2,
        vec![
            kv("retry", V::BoolValue(true)),
            kv("amount", V::DoubleValue(12.5)),
            kv("note", V::StringValue("100% off_coupon".into())),
        ],
    );
    send(server, &shop, vec![], vec![root]).await;
    send(server, &format!("pay-{run}"), vec![], vec![charge]).await;

    let staging = random_trace_id();
    let root = span_with(
        &staging,
        None,
        "GET /users",
        base + 300 * MS,
        50 * MS,
        0,
        vec![kv("http.route", V::StringValue("/users".into()))],
    );
    let env = kv(
        "deployment.environment",
        V::StringValue(format!("staging-{run}")),
    );
    send(server, &format!("web-{run}"), vec![env], vec![root]).await;

    Fixture {
        run,
        window,
        users: hex::encode(users),
        checkout: hex::encode(checkout),
        staging: hex::encode(staging),
    }
}

/// The trace ids a search returns, newest first.
async fn search(server: &TestServer, f: &Fixture, filters: &str) -> Vec<String> {
    let (status, body) = get_json(server, &format!("/v1/traces?{}&{filters}", f.window)).await;
    assert_eq!(status, StatusCode::OK, "{filters}: {body}");
    body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_filter_alone_and_combined() {
    let server = TestServer::start();
    let f = fixture(&server).await;
    let run = &f.run;
    let all = [f.staging.clone(), f.checkout.clone(), f.users.clone()];
    let cases: Vec<(String, Vec<&String>)> = vec![
        (String::new(), all.iter().collect()),
        // service: any span of the trace.
        (format!("service=shop-{run}"), vec![&f.checkout, &f.users]),
        (format!("service=db-{run}"), vec![&f.users]),
        (format!("service=nobody-{run}"), vec![]),
        // name, and root spans only.
        ("name=GET%20%2Fusers".into(), vec![&f.staging, &f.users]),
        ("name=charge%20card".into(), vec![&f.checkout]),
        ("name=charge%20card&root=true".into(), vec![]),
        (
            "name=POST%20%2Fcheckout&root=true".into(),
            vec![&f.checkout],
        ),
        ("name=GET".into(), vec![]),
        // status.
        ("status=error".into(), vec![&f.checkout]),
        ("status=ok".into(), vec![&f.users]),
        ("status=unset".into(), vec![&f.staging, &f.users]),
        // duration of a span.
        ("minDuration=1s".into(), vec![&f.checkout]),
        ("minDuration=250ms".into(), vec![&f.checkout, &f.users]),
        ("maxDuration=30ms".into(), vec![&f.users]),
        ("minDuration=40ms&maxDuration=60ms".into(), vec![&f.staging]),
        ("minDuration=2s".into(), vec![]),
        // attributes: string, int, bool, double, resource; AND when repeated.
        (
            "attr=http.route%3D%2Fusers".into(),
            vec![&f.staging, &f.users],
        ),
        ("attr=http.status_code%3D500".into(), vec![&f.checkout]),
        ("attr=http.status_code%3D200".into(), vec![&f.users]),
        ("attr=http.status_code%3D404".into(), vec![]),
        ("attr=retry%3Dtrue".into(), vec![&f.checkout]),
        ("attr=retry%3Dfalse".into(), vec![]),
        ("attr=amount%3D12.5".into(), vec![&f.checkout]),
        (
            format!("attr=deployment.environment%3Dstaging-{run}"),
            vec![&f.staging],
        ),
        (format!("attr=service.name%3Dpay-{run}"), vec![&f.checkout]),
        (
            "attr=http.route%3D%2Fusers&attr=http.status_code%3D200".into(),
            vec![&f.users],
        ),
        (
            "attr=http.route%3D%2Fusers&attr=retry%3Dtrue".into(),
            vec![],
        ),
        // q: substring of names and string values, ignoring case; wildcards are literal.
        ("q=checkout".into(), vec![&f.checkout]),
        ("q=from%20users".into(), vec![&f.users]),
        ("q=POSTGRES".into(), vec![&f.users]),
        (format!("q=staging-{}", &run[..6]), vec![&f.staging]),
        ("q=100%25%20off_".into(), vec![&f.checkout]),
        ("q=100%25%25".into(), vec![]),
        ("q=_%25".into(), vec![]),
        // The span filters must hold for one span together.
        (
            format!("service=shop-{run}&status=error"),
            vec![&f.checkout],
        ),
        (
            format!("service=pay-{run}&name=charge%20card&minDuration=500ms"),
            vec![&f.checkout],
        ),
        (
            format!("service=shop-{run}&attr=db.system%3Dpostgres"),
            vec![],
        ),
        (
            format!("service=db-{run}&attr=db.system%3Dpostgres"),
            vec![&f.users],
        ),
        (
            "name=GET%20%2Fusers&status=ok&minDuration=100ms".into(),
            vec![&f.users],
        ),
    ];
    for (filters, expected) in cases {
        let got = search(&server, &f, &filters).await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(got, expected, "{filters} on {}", server.label);
    }
}

#[tokio::test]
async fn the_time_range_is_on_the_trace_start() {
    let server = TestServer::start();
    let f = fixture(&server).await;
    let (_, body) = get_json(&server, &format!("/v1/traces?{}", f.window)).await;
    let starts: Vec<u64> = body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["startTimeUnixNano"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(starts.len(), 3);
    // start is inclusive, end exclusive.
    let (oldest, middle) = (starts[2], starts[1]);
    let path = format!("/v1/traces?start={oldest}&end={middle}");
    let (_, body) = get_json(&server, &path).await;
    let ids: Vec<&str> = body["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["traceId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [f.users.as_str()]);
}

#[tokio::test]
async fn pages_follow_the_cursor_without_gaps_or_duplicates() {
    let server = TestServer::start();
    let run = hex::encode(random_span_id());
    let base = private_time(600_000_000_000_000_000);
    // 23 traces, several starting in the very same nanosecond.
    let mut expected = Vec::new();
    for i in 0..23u64 {
        let trace_id = random_trace_id();
        let start = base + (i / 4) * MS;
        let root = span_with(&trace_id, None, "page", start, MS, 0, vec![]);
        send(&server, &format!("pager-{run}"), vec![], vec![root]).await;
        expected.push((start, hex::encode(trace_id)));
    }
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/v1/traces?limit=5&service=pager-{run}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&before={c}"));
        }
        let (status, body) = get_json(&server, &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        seen.extend(
            body["traces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["traceId"].as_str().unwrap().to_owned()),
        );
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "the cursor does not advance");
    }
    assert_eq!(pages, 5, "23 traces in pages of 5");
    assert_eq!(
        seen.len(),
        seen.iter().collect::<HashSet<_>>().len(),
        "duplicates"
    );
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_200_byte_text_search_and_40_attribute_filters_find_their_span() {
    // Sizes past D1's per-query limits if they were bound one by one or matched with LIKE
    // (50-byte patterns, 100 parameters): both homes must answer them exactly.
    let server = TestServer::start();
    let run = hex::encode(random_span_id());
    let base = private_time(700_000_000_000_000_000);
    let window = format!("start={base}&end={}", base + 10_000 * MS);
    let long_text = format!("{run} {}", "Lorem ipsum dolor sit amet. ".repeat(7));
    let mut attributes: Vec<KeyValue> = (0..40)
        .map(|i| {
            kv(
                &format!("key.{i}"),
                V::StringValue(format!("value {i} {run}")),
            )
        })
        .collect();
    attributes.push(kv("story", V::StringValue(long_text.clone())));
    let wanted = random_trace_id();
    let other = random_trace_id();
    send(
        &server,
        &format!("big-{run}"),
        vec![],
        vec![
            span_with(&wanted, None, "wanted", base + MS, MS, 0, attributes),
            span_with(&other, None, "other", base + 2 * MS, MS, 0, vec![]),
        ],
    )
    .await;
    let find = |filters: String| {
        let server = &server;
        let window = &window;
        async move {
            let (status, body) = get_json(server, &format!("/v1/traces?{window}&{filters}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["traces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["traceId"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let q = long_text.to_uppercase();
    assert!(q.len() >= 200);
    let encoded = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    assert_eq!(
        find(format!("q={}", encoded(&q))).await,
        [hex::encode(&wanted)]
    );
    assert_eq!(
        find(format!("q={}", encoded(&format!("{q}!")))).await,
        Vec::<String>::new()
    );
    let all: Vec<String> = (0..40)
        .map(|i| format!("attr={}", encoded(&format!("key.{i}=value {i} {run}"))))
        .collect();
    assert_eq!(find(all.join("&")).await, [hex::encode(&wanted)]);
    let mut one_wrong = all.clone();
    one_wrong[39] = format!("attr={}", encoded(&format!("key.39=value 38 {run}")));
    assert_eq!(find(one_wrong.join("&")).await, Vec::<String>::new());
}

#[tokio::test]
async fn bad_filters_are_400_with_a_reason() {
    let server = TestServer::start();
    for (query, says) in [
        ("status=failed", "status"),
        ("minDuration=fast", "minDuration"),
        ("maxDuration=10", "maxDuration"),
        ("attr=no-value", "key=value"),
        ("root=maybe", "root"),
        ("start=yesterday", "RFC 3339"),
        ("before=123_nothex", "cursor"),
        ("servce=web", "unknown parameter"),
    ] {
        let (status, body) = get_json(&server, &format!("/v1/traces?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"], "invalid-query", "{query}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
}

#[tokio::test]
async fn services_are_listed_with_counts_and_last_seen() {
    let server = TestServer::start();
    let f = fixture(&server).await;
    let (status, body) = get_json(&server, "/v1/services").await;
    assert_eq!(status, StatusCode::OK);
    let services = body["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    let find = |name: String| {
        services
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} missing from {body}"))
            .clone()
    };
    let shop = find(format!("shop-{}", f.run));
    assert_eq!(shop["spanCount"], 2);
    let (_, checkout) = get_json(&server, &format!("/v1/traces/{}", f.checkout)).await;
    // The checkout root ends last of shop's spans.
    assert_eq!(shop["lastSeenUnixNano"], checkout["endTimeUnixNano"]);
    assert_eq!(find(format!("db-{}", f.run))["spanCount"], 1);
    assert_eq!(find(format!("web-{}", f.run))["spanCount"], 1);
}

/// `GET {path}` until `ready` says the answer is complete: attribute counts come from the
/// search blocks, which the server folds new spans into in the background.
async fn when_summarized(
    server: &TestServer,
    path: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    // The Worker folds after requests, a few thousand rows at a time, behind whatever the
    // suites before this one sent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (status, body) = get_json(server, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        if ready(&body) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} not complete after 120 s: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn attribute_keys_and_their_most_frequent_values_are_discovered_per_service() {
    let server = TestServer::start();
    let service = format!("catalog-{}", hex::encode(random_span_id()));
    let base = private_time(300_000_000_000_000_000);
    // Six spans: route /a three times, /b twice, /c once; an int on four of them; a
    // resource attribute on all six.
    let routes = ["/a", "/a", "/b", "/a", "/b", "/c"];
    let trace_id = random_trace_id();
    let spans: Vec<Span> = routes
        .iter()
        .enumerate()
        .map(|(i, route)| {
            let mut attributes = vec![kv("disc.route", V::StringValue(route.to_string()))];
            if i < 4 {
                attributes.push(kv("disc.status", V::IntValue(200 + i as i64)));
            }
            span_with(
                &trace_id,
                None,
                "op",
                base + i as u64 * MS,
                MS,
                0,
                attributes,
            )
        })
        .collect();
    send(
        &server,
        &service,
        vec![kv("disc.zone", V::StringValue("eu-1".into()))],
        spans,
    )
    .await;

    let keys = when_summarized(
        &server,
        &format!("/v1/attributes?service={service}"),
        |body| {
            body["attributes"]
                .as_array()
                .is_some_and(|keys| keys.iter().any(|k| k["key"] == "disc.status"))
        },
    )
    .await;
    let keys = keys["attributes"].as_array().unwrap();
    let find = |key: &str, scope: &str| {
        keys.iter()
            .find(|k| k["key"] == key && k["scope"] == scope)
            .unwrap_or_else(|| panic!("{key} ({scope}) missing from {keys:?}"))
            .clone()
    };
    assert_eq!(find("disc.route", "span")["count"], 6);
    assert_eq!(
        find("disc.route", "span")["types"],
        serde_json::json!(["string"])
    );
    assert_eq!(find("disc.status", "span")["count"], 4);
    assert_eq!(
        find("disc.status", "span")["types"],
        serde_json::json!(["int"])
    );
    // A resource attribute counts once per span of its resource.
    assert_eq!(find("disc.zone", "resource")["count"], 6);
    let counts: Vec<u64> = keys.iter().map(|k| k["count"].as_u64().unwrap()).collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "most common first: {counts:?}"
    );
    let (_, only_resource) = get_json(
        &server,
        &format!("/v1/attributes?service={service}&scope=resource"),
    )
    .await;
    assert!(
        only_resource["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["scope"] == "resource"),
        "{only_resource}"
    );

    // The key list is bounded: the most common first, and a word that more exist.
    let (_, one) = get_json(
        &server,
        &format!("/v1/attributes?service={service}&limit=1"),
    )
    .await;
    assert_eq!(one["attributes"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one["truncated"], true, "{one}");
    let (status, _) = get_json(&server, "/v1/attributes?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, metrics) = get_json(&server, "/v1/metrics?limit=1").await;
    assert!(
        metrics["metrics"].as_array().is_some_and(|m| m.len() <= 1),
        "{metrics}"
    );

    let (_, all) = get_json(
        &server,
        &format!("/v1/attributes/disc.route/values?service={service}"),
    )
    .await;
    assert_eq!(
        all["values"],
        serde_json::json!([
            {"value": "/a", "count": 3},
            {"value": "/b", "count": 2},
            {"value": "/c", "count": 1},
        ])
    );
    let (_, limited) = get_json(
        &server,
        &format!("/v1/attributes/disc.route/values?service={service}&limit=2"),
    )
    .await;
    assert_eq!(limited["values"].as_array().unwrap().len(), 2);
    let (_, prefixed) = get_json(
        &server,
        &format!("/v1/attributes/disc.route/values?service={service}&prefix=%2Fb"),
    )
    .await;
    assert_eq!(
        prefixed["values"],
        serde_json::json!([{"value": "/b", "count": 2}])
    );
    // Integers are listed as `attr` filters spell them.
    let (_, ints) = get_json(
        &server,
        &format!("/v1/attributes/disc.status/values?service={service}&prefix=20"),
    )
    .await;
    assert_eq!(ints["values"].as_array().unwrap().len(), 4, "{ints}");
    assert!(ints["values"][0]["value"].is_string(), "{ints}");

    for (path, says) in [
        ("/v1/attributes?scope=links", "scope"),
        ("/v1/attributes/disc.route/values?limit=0", "limit"),
        ("/v1/attributes/disc.route/values?limit=many", "limit"),
        ("/v1/attributes?servce=web", "unknown parameter"),
    ] {
        let (status, body) = get_json(&server, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{path}: {message}");
    }
}
