//! Measures what a long trace costs per export: sends N one-span exports of one trace, one
//! after another (a long-running job whose SDK exports every few seconds does this), and
//! prints the mean time of each thousand. An export should cost the same at any length.
//!
//! cargo run --release -p otel-worker-cli --example long_trace -- <base-url> <token> <spans>

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use rand::Rng;

fn export(trace_id: &[u8], root: &[u8], i: u64) -> ExportTraceServiceRequest {
    let start = 1_700_000_000_000_000_000u64 + i * 1_000_000;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("long-job".into())),
                    }),
                    key_strindex: 0,
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: trace_id.to_vec(),
                    span_id: rand::rng().random::<[u8; 8]>().to_vec(),
                    parent_span_id: root.to_vec(),
                    name: format!("step {}", i % 20),
                    kind: 1,
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + 500_000,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, token, spans] = args.as_slice() else {
        anyhow::bail!("usage: long_trace <base-url> <token> <spans>");
    };
    let spans: u64 = spans.parse()?;
    let http = reqwest::Client::new();
    let trace_id: [u8; 16] = rand::rng().random();
    let root: [u8; 8] = rand::rng().random();
    let mut thousand = Duration::ZERO;
    for i in 0..spans {
        let body = export(&trace_id, &root, i).encode_to_vec();
        let started = Instant::now();
        let response = http
            .post(format!("{base}/v1/traces"))
            .bearer_auth(token)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await?;
        thousand += started.elapsed();
        anyhow::ensure!(response.status().is_success(), "{}", response.status());
        if (i + 1) % 1_000 == 0 {
            println!(
                "spans {:>6}-{:>6}: {:.2} ms per export",
                i + 1 - 1_000,
                i + 1,
                thousand.as_secs_f64() * 1000.0 / 1_000.0
            );
            thousand = Duration::ZERO;
        }
    }
    let summary: serde_json::Value = http
        .get(format!("{base}/v1/traces/{}", hex::encode(trace_id)))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    println!("stored: {} spans", summary["spanCount"]);
    Ok(())
}
