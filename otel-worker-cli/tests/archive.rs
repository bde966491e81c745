//! The archive tier seen from outside: two local servers get the same exports, one keeps
//! everything in its database (`--archive-after off`), the other archives every trace as
//! soon as it looks (`--archive-after 0s`); every read must answer the same.

mod common;

use std::time::{Duration, Instant};

use common::*;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::trace::v1::Status;
use prost::Message;
use reqwest::StatusCode;
use serde_json::Value;

/// Waits until `server` holds no span in its database and `spans` in its archive.
async fn until_archived(server: &TestServer, spans: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, stats) = get_json(server, "/v1/stats").await;
        if stats["spans"] == 0 && stats["archive"]["spans"] == spans {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not archived after 60 s: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first place where `have` is not `want`, briefly.
fn difference(want: &Value, have: &Value) -> String {
    match (want, have) {
        (Value::Array(w), Value::Array(h)) if w.len() == h.len() => w
            .iter()
            .zip(h)
            .enumerate()
            .find(|(_, (w, h))| w != h)
            .map(|(i, (w, h))| format!("[{i}] {}", difference(w, h)))
            .unwrap_or_default(),
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .find(|(k, v)| h.get(*k) != Some(*v))
            .map(|(k, v)| format!(".{k} {}", difference(v, &h[k])))
            .unwrap_or_else(|| format!("extra keys in {have}")),
        _ => format!("want {want}\nhave {have}"),
    }
}

/// Every page of a trace search, following the cursors.
async fn pages(server: &TestServer, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before = String::new();
    for _ in 0..200 {
        let (status, page) = get_json(server, &format!("/v1/traces?{query}{before}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        let next = page["nextCursor"].as_str().map(str::to_owned);
        all.push(page);
        match next {
            Some(cursor) => before = format!("&before={cursor}"),
            None => return all,
        }
    }
    panic!("{query}: more than 200 pages");
}

/// What a user reads: searches, traces, spans page by page, single spans, services and
/// attribute discovery.
async fn everything(server: &TestServer, traces: &[String]) -> Vec<(String, Value)> {
    let mut read = Vec::new();
    for query in [
        "limit=7",
        "limit=5&service=svc-1",
        "limit=3&name=child%202",
        "limit=4&status=error",
        "limit=6&minDuration=3ms",
        "limit=5&attr=i%3D3",
        "limit=5&q=CHILD%204",
        "limit=5&root=true&service=svc-2",
        "limit=5&q=nothing-like-this",
        "limit=9&start=1700000000010000000&end=1700000000030000000",
    ] {
        read.push((query.to_owned(), Value::from(pages(server, query).await)));
    }
    for id in traces {
        for path in [
            format!("/v1/traces/{id}"),
            format!("/v1/traces/{id}/spans?limit=2"),
        ] {
            read.push((path.clone(), get_json(server, &path).await.1));
        }
        let (_, trace) = get_json(server, &format!("/v1/traces/{id}")).await;
        if let Some(span) = trace["spans"][1]["spanId"].as_str() {
            let path = format!("/v1/traces/{id}/spans/{span}");
            read.push((path.clone(), get_json(server, &path).await.1));
        }
    }
    for path in [
        "/v1/services",
        "/v1/attributes",
        "/v1/attributes/i/values",
        "/v1/attributes/service.name/values?limit=10",
    ] {
        read.push((path.to_owned(), get_json(server, path).await.1));
    }
    read
}

/// Forty traces over four services, some failing, with an attribute `i`; their spans'
/// starts fall in 2023, long past any `--archive-after`.
fn exports() -> Vec<(String, Vec<u8>)> {
    (0..40u64)
        .map(|i| {
            let (id, mut request) = trace(
                3 + i as usize % 5,
                1_700_000_000_000_000_000 + i * 1_000_000,
            );
            let resource = &mut request.resource_spans[0];
            resource.resource.as_mut().unwrap().attributes[0] =
                kv("service.name", V::StringValue(format!("svc-{}", i % 4)));
            for (n, span) in resource.scope_spans[0].spans.iter_mut().enumerate() {
                span.attributes.push(kv("i", V::IntValue((i % 5) as i64)));
                span.end_time_unix_nano = span.start_time_unix_nano + (n as u64 + 1) * 1_000_000;
                if n == 1 && i % 7 == 0 {
                    span.status = Some(Status {
                        message: "boom".into(),
                        code: 2,
                    });
                }
            }
            (id, request.encode_to_vec())
        })
        .collect()
}

#[tokio::test]
async fn every_read_answers_the_same_whether_the_traces_were_archived_or_not() {
    let kept = TestServer::local(&["--archive-after", "off"]);
    let archived = TestServer::local(&["--archive-after", "0s"]);
    let exports = exports();
    let mut ids: Vec<String> = exports.iter().map(|(id, _)| id.clone()).collect();
    for server in [&kept, &archived] {
        for (_, body) in &exports {
            assert_eq!(
                post_protobuf(server, body.clone()).await.status(),
                StatusCode::OK
            );
        }
        let response = post_to(
            server,
            "/v1/traces",
            "application/json",
            None,
            EXAMPLE.into(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    ids.push(EXAMPLE_TRACE_ID.into());
    let spans: u64 = (0..40).map(|i| 3 + i % 5).sum::<u64>() + 5;
    until_archived(&archived, spans).await;

    // Spans that arrive after the rest of their trace was archived, one of them sent
    // again: the trace reads whole, each span once.
    let (_, late) = trace(2, 1_700_000_000_000_500_000);
    let mut late = late;
    let first = &exports[3].1;
    let trace_id =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            first.as_slice(),
        )
        .unwrap()
        .resource_spans[0]
            .scope_spans[0]
            .spans[0]
            .trace_id
            .clone();
    for span in &mut late.resource_spans[0].scope_spans[0].spans {
        span.trace_id = trace_id.clone();
        span.parent_span_id = Vec::new();
        span.name = "late".into();
    }
    for server in [&kept, &archived] {
        assert_eq!(
            post_protobuf(server, late.encode_to_vec()).await.status(),
            StatusCode::OK
        );
    }
    until_archived(&archived, spans + 2).await;
    let (_, stats) = get_json(&archived, "/v1/stats").await;
    assert!(stats["archive"]["blocks"].as_u64().unwrap() >= 2, "{stats}");
    let expected = everything(&kept, &ids).await;
    let got = everything(&archived, &ids).await;
    assert_eq!(got.len(), expected.len());
    for ((what, want), (_, have)) in expected.iter().zip(&got) {
        assert!(have == want, "{what}:\n{}", difference(want, have));
    }
    let (_, trace) = get_json(&archived, &format!("/v1/traces/{}", hex::encode(&trace_id))).await;
    assert_eq!(trace["spanCount"], 8);

    // A retried export whose first copy was archived: stored once, as far as any read
    // can tell.
    for server in [&kept, &archived] {
        assert_eq!(
            post_protobuf(server, first.clone()).await.status(),
            StatusCode::OK
        );
    }
    until_archived(&archived, spans + 2).await;
    let expected = everything(&kept, &ids).await;
    let got = everything(&archived, &ids).await;
    for ((what, want), (_, have)) in expected.iter().zip(&got) {
        // Attribute discovery in the database counts a retried export's spans again
        // (search blocks only ever add); the archive counts them once.
        if what.starts_with("/v1/attributes") {
            continue;
        }
        assert!(have == want, "{what}:\n{}", difference(want, have));
    }

    // Deleting an archived trace: gone from every read, on both.
    for server in [&kept, &archived] {
        let response = delete(server, &format!("/v1/traces/{}", ids[0])).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let (status, _) = get_json(server, &format!("/v1/traces/{}", ids[0])).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        pages(&archived, "limit=100").await,
        pages(&kept, "limit=100").await
    );
}
