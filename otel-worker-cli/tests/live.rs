//! The live feed (`/api/ws`), black box on both homes: the token as a subprotocol,
//! coalesced messages under a burst, and exports that never wait for the feed.
//!
//! Like `api.rs`, it starts `otel-worker-cli dev`, or runs against `OTEL_WORKER_TEST_URL`.
//! `OTEL_WORKER_TEST_SLOW_LIVE_FEED_MS` tells it that server's feed was made that slow on
//! purpose (the Worker's test-only `LIVE_FEED_TEST_DELAY_MS`).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use prost::Message;
use reqwest::StatusCode;
use serde_json::Value;
use tokio_tungstenite::tungstenite;

#[tokio::test]
async fn the_websocket_takes_the_token_as_a_subprotocol_and_refuses_a_wrong_one() {
    let server = TestServer::start();
    let (_socket, response) =
        tokio_tungstenite::connect_async(server.ws_request(&server.ws_protocols()))
            .await
            .expect("the right token as a subprotocol opens the feed");
    assert_eq!(response.status(), 101);
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "otel-worker",
        "the server selects the otel-worker subprotocol"
    );

    let wrong = format!(
        "otel-worker, {}",
        otel_worker_core::api::auth::bearer_protocol("not-the-token")
    );
    for protocols in [wrong.as_str(), "otel-worker", "otel-worker, bearer.!!"] {
        match tokio_tungstenite::connect_async(server.ws_request(protocols)).await {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{protocols}")
            }
            other => panic!("{protocols} was not refused: {:?}", other.map(|_| ())),
        }
    }

    // A token in the URL would land in logs and browser history: it opens nothing.
    match tokio_tungstenite::connect_async(server.ws_url(&format!("?token={}", server.token))).await
    {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("?token= was not refused: {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn a_burst_of_exports_is_announced_in_a_few_coalesced_messages() {
    let server = TestServer::start();
    let (mut socket, _) =
        tokio_tungstenite::connect_async(server.ws_request(&server.ws_protocols()))
            .await
            .expect("the live feed");
    const EXPORTS: usize = 40;
    let traces: Vec<(String, Vec<u8>)> = (0..EXPORTS)
        .map(|i| {
            let (trace_id, request) = trace(3, 50_000 + i as u64);
            (trace_id, request.encode_to_vec())
        })
        .collect();
    let wanted: HashSet<String> = traces.iter().map(|(id, _)| id.clone()).collect();

    let started = Instant::now();
    let sends = traces.into_iter().map(|(_, body)| {
        let server = &server;
        async move { post_protobuf(server, body).await.status() }
    });
    for status in futures_util::future::join_all(sends).await {
        assert_eq!(status, StatusCode::OK);
    }

    let mut seen = HashSet::new();
    let mut messages = 0;
    let last = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(message) = socket.next().await {
            let tungstenite::Message::Text(text) = message.expect("live message") else {
                continue;
            };
            messages += 1;
            let message: Value = serde_json::from_str(&text).expect("JSON message");
            for pair in message["details"]["newSpans"].as_array().unwrap() {
                let trace_id = pair[0].as_str().unwrap();
                if wanted.contains(trace_id) {
                    seen.insert(trace_id.to_owned());
                }
            }
            if seen.len() == wanted.len() {
                return Instant::now();
            }
        }
        panic!("the live feed closed");
    })
    .await
    .unwrap_or_else(|_| panic!("{} of {EXPORTS} traces announced in 20 s", seen.len()));

    // At most one message per 100 ms (plus the first and a partial last one), whatever
    // the number of exports.
    let allowed = last.duration_since(started).as_millis() as usize / 100 + 2;
    eprintln!(
        "{EXPORTS} exports announced in {messages} messages over {:?}",
        last.duration_since(started)
    );
    assert!(
        messages <= allowed,
        "{messages} messages for {EXPORTS} exports in {:?}",
        last.duration_since(started)
    );
}

#[tokio::test]
async fn exports_are_answered_while_the_live_feed_is_slow() {
    let server = TestServer::start();
    // A client that never reads; on the Worker the feed's object may also be made slow.
    let (_silent, _) = tokio_tungstenite::connect_async(server.ws_request(&server.ws_protocols()))
        .await
        .expect("the live feed");
    let feed_delay = std::env::var("OTEL_WORKER_TEST_SLOW_LIVE_FEED_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis);
    // Well under the feed's delay: an export that waited for the feed would take longer.
    let limit = feed_delay.map_or(Duration::from_secs(5), |delay| delay / 2);
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let (trace_id, request) = trace(50, 70_000 + i);
        let started = Instant::now();
        let response = post_protobuf(&server, request.encode_to_vec()).await;
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::OK);
        slowest = slowest.max(took);
        assert!(took < limit, "export {i} took {took:?}");
        let (status, _) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
        assert_eq!(status, StatusCode::OK);
    }
    eprintln!("slowest export with a slow live feed ({feed_delay:?}): {slowest:?}");
}
