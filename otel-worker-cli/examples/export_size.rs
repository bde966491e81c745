//! Measures how large an export a server accepts: sends one OTLP/protobuf export of N spans
//! (one trace, ten attributes per span, like an instrumented HTTP service) and reports the
//! answer, the body size and how long it took, then reads the trace back to count the spans.
//!
//! cargo run --release -p otel-worker-cli --example export_size -- <base-url> <token> <spans>...

use std::time::Instant;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use rand::Rng;

fn attribute(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn export(spans: usize) -> (String, ExportTraceServiceRequest) {
    let trace_id: [u8; 16] = rand::rng().random();
    let start = 1_700_000_000_000_000_000u64;
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: trace_id.to_vec(),
            span_id: rand::rng().random::<[u8; 8]>().to_vec(),
            name: format!("GET /api/items/{}", i % 50),
            kind: 2,
            start_time_unix_nano: start + i as u64 * 1_000,
            end_time_unix_nano: start + i as u64 * 1_000 + 500_000,
            attributes: vec![
                attribute("http.request.method", Value::StringValue("GET".into())),
                attribute("http.route", Value::StringValue("/api/items/:id".into())),
                attribute("url.path", Value::StringValue(format!("/api/items/{i}"))),
                attribute("http.response.status_code", Value::IntValue(200)),
                attribute(
                    "server.address",
                    Value::StringValue("items.internal".into()),
                ),
                attribute("server.port", Value::IntValue(8080)),
                attribute("network.protocol.version", Value::StringValue("1.1".into())),
                attribute(
                    "user_agent.original",
                    Value::StringValue("curl/8.5.0".into()),
                ),
                attribute("app.cache_hit", Value::BoolValue(i % 3 == 0)),
                attribute("app.items_returned", Value::DoubleValue(12.0)),
            ],
            ..Default::default()
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attribute(
                    "service.name",
                    Value::StringValue("items".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    };
    (hex_encode(&trace_id), request)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, token, counts @ ..] = args.as_slice() else {
        return Err("usage: export_size <base-url> <token> <spans>...".into());
    };
    let http = reqwest::Client::new();
    println!("spans\tbody_bytes\tstatus\tseconds\tstored");
    for count in counts {
        let (trace_id, request) = export(count.parse()?);
        let body = request.encode_to_vec();
        let started = Instant::now();
        let response = http
            .post(format!("{base}/v1/traces"))
            .bearer_auth(token)
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .await?;
        let status = response.status();
        let seconds = started.elapsed().as_secs_f64();
        let detail = response.text().await.unwrap_or_default();
        let stored = match http
            .get(format!("{base}/v1/traces/{trace_id}"))
            .bearer_auth(token)
            .send()
            .await?
            .json::<serde_json::Value>()
            .await
        {
            Ok(trace) => trace["spanCount"].as_u64().unwrap_or(0),
            Err(_) => 0,
        };
        println!(
            "{count}\t{}\t{}\t{seconds:.2}\t{stored}",
            body.len(),
            status.as_u16()
        );
        if !status.is_success() {
            eprintln!("  {}", detail.chars().take(300).collect::<String>());
        }
    }
    Ok(())
}
