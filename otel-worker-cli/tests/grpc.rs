//! OTLP/gRPC on the local server, driven by tonic's generated clients: the same ingest as
//! HTTP behind the gRPC rules (token metadata, gzip, size limit, retryable busy store).

mod common;

use std::ffi::OsStr;

use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value as V};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use reqwest::StatusCode;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic::{Code, Request};

async fn channel(server: &TestServer) -> Channel {
    let address = server
        .grpc_address
        .as_deref()
        .expect("the local server serves OTLP/gRPC");
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .expect("connects to OTLP/gRPC")
}

/// A local server of its own (started with `args`), its base URL and a channel to its
/// OTLP/gRPC address.
async fn dev_with_grpc(args: &[&OsStr]) -> (std::process::Child, String, Channel) {
    let (child, url, mut lines) = spawn_dev(args);
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| Some(line.split("OTLP/gRPC on ").nth(1)?.trim().to_owned()))
        .expect("an OTLP/gRPC address");
    std::thread::spawn(move || for _ in lines {});
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .expect("connects to OTLP/gRPC");
    (child, url, channel)
}

/// `request` with the server's token as metadata.
fn authorized<T>(server: &TestServer, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", server.auth().parse().unwrap());
    request
}

fn log_export(service: &str, trace_id: &[u8], bodies: &[&str]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", V::StringValue(service.into()))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: bodies
                    .iter()
                    .enumerate()
                    .map(|(i, body)| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                        severity_number: 9,
                        body: Some(AnyValue {
                            value: Some(V::StringValue((*body).into())),
                        }),
                        trace_id: trace_id.to_vec(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

#[tokio::test]
async fn traces_and_logs_sent_over_grpc_are_read_back_over_http() {
    let server = TestServer::start();
    let (trace_id, export) = trace(3, 1_700_000_000_000_000_000);
    let mut traces = TraceServiceClient::new(channel(&server).await);
    let reply = traces
        .export(authorized(&server, export))
        .await
        .expect("stored")
        .into_inner();
    assert_eq!(reply.partial_success, None);
    let (status, detail) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["spanCount"], 3);

    // Logs, compressed as SDKs compress with OTEL_EXPORTER_OTLP_COMPRESSION=gzip.
    let mut logs = LogsServiceClient::new(channel(&server).await)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let trace_bytes = hex::decode(&trace_id).unwrap();
    let export = log_export("grpc-logs", &trace_bytes, &["one", "two"]);
    let reply = logs
        .export(authorized(&server, export.clone()))
        .await
        .expect("stored")
        .into_inner();
    assert_eq!(reply.partial_success, None);
    // A retry of the same export is stored once.
    logs.export(authorized(&server, export)).await.unwrap();
    let (_, of_trace) = get_json(&server, &format!("/v1/traces/{trace_id}/logs")).await;
    let bodies: Vec<&str> = of_trace["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["one", "two"]);
}

#[tokio::test]
async fn invalid_records_and_points_are_a_partial_success_and_the_rest_stored() {
    let server = TestServer::start();
    let mut logs = LogsServiceClient::new(channel(&server).await);
    let mut export = log_export("grpc-partial", &[], &["fine", "bad"]);
    export.resource_logs[0].scope_logs[0].log_records[1].span_id = vec![1, 2, 3];
    let reply = logs
        .export(authorized(&server, export))
        .await
        .unwrap()
        .into_inner();
    let partial = reply.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_log_records, 1);
    assert!(partial.error_message.contains("span id"));

    let mut metrics = MetricsServiceClient::new(channel(&server).await);
    let export = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "grpc.queue.depth".into(),
                    data: Some(Data::Gauge(Gauge {
                        // Three without a time, one to keep.
                        data_points: vec![
                            NumberDataPoint::default(),
                            NumberDataPoint::default(),
                            NumberDataPoint::default(),
                            NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000,
                                value: Some(
                                    opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(7),
                                ),
                                ..Default::default()
                            },
                        ],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let reply = metrics
        .export(authorized(&server, export))
        .await
        .unwrap()
        .into_inner();
    let partial = reply.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_data_points, 3);
    assert!(
        partial.error_message.contains("grpc.queue.depth"),
        "{}",
        partial.error_message
    );
    let (status, stored) = get_json(&server, "/v1/metrics/grpc.queue.depth").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{stored}");
    assert_eq!(stored["series"][0]["points"][0]["value"], 7);
}

#[tokio::test]
async fn a_message_that_is_not_protobuf_is_invalid_argument() {
    let server = TestServer::start();
    let mut grpc = tonic::client::Grpc::new(channel(&server).await);
    grpc.ready().await.unwrap();
    let mut request = Request::new(vec![0xff_u8, 0xff, 0xff, 0x01]);
    request
        .metadata_mut()
        .insert("authorization", server.auth().parse().unwrap());
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    );
    let refused = grpc
        .unary(request, path, BytesCodec)
        .await
        .expect_err("not protobuf");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
}

/// Sends raw bytes as the message and hands back the answer's bytes.
#[derive(Clone, Copy, Default)]
struct BytesCodec;

impl tonic::codec::Codec for BytesCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl tonic::codec::Decoder for BytesCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl tonic::codec::Encoder for BytesCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

#[tokio::test]
async fn a_call_without_the_token_is_unauthenticated_and_stores_nothing() {
    let server = TestServer::start();
    let (trace_id, export) = trace(1, 1_700_000_000_000_000_000);
    let mut traces = TraceServiceClient::new(channel(&server).await);
    let refused = traces
        .export(Request::new(export.clone()))
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("authorization"), "{refused:?}");
    let mut wrong = Request::new(export);
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer not-the-token".parse().unwrap());
    let refused = traces.export(wrong).await.expect_err("wrong token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let (status, _) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_message_over_the_limit_is_resource_exhausted_compressed_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("limit.db");
    let (mut child, _url, channel) = dev_with_grpc(&[
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--max-body-bytes"),
        OsStr::new("20000"),
    ])
    .await;
    // 200 spans: far over 20,000 bytes, and compressible well under it.
    let (_, export) = trace(200, 1_700_000_000_000_000_000);
    assert!(export.encoded_len() > 20_000);
    for compressed in [false, true] {
        let mut traces = TraceServiceClient::new(channel.clone());
        if compressed {
            traces = traces.send_compressed(CompressionEncoding::Gzip);
        }
        let refused = traces
            .export(Request::new(export.clone()))
            .await
            .expect_err("over the limit");
        assert_eq!(
            refused.code(),
            Code::ResourceExhausted,
            "compressed: {compressed}: {refused:?}"
        );
    }
    // The server still serves.
    let (_, small) = trace(2, 1_700_000_000_000_000_000);
    TraceServiceClient::new(channel)
        .export(Request::new(small))
        .await
        .expect("a small export is stored");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_busy_database_is_unavailable_with_retry_info_so_exporters_retry() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    let (mut child, url, channel) = dev_with_grpc(&[OsStr::new("--db"), db.as_os_str()]).await;
    let other_process = rusqlite::Connection::open(&db).unwrap();
    other_process.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (trace_id, export) = trace(2, 1_700_000_000_000_000_000);
    let mut traces = TraceServiceClient::new(channel);
    let refused = traces
        .export(Request::new(export.clone()))
        .await
        .expect_err("busy");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused
            .metadata()
            .get_bin("google.rpc.retryinfo-bin")
            .is_some(),
        "RetryInfo in the metadata: {refused:?}"
    );
    assert!(!refused.details().is_empty(), "RetryInfo in the details");
    other_process.execute_batch("ROLLBACK").unwrap();
    traces
        .export(Request::new(export))
        .await
        .expect("the retry is stored");
    let response = reqwest::get(format!("{url}/v1/traces/{trace_id}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let _ = child.kill();
    let _ = child.wait();
}

/// The server's peak resident memory, in kB (`VmHWM`).
fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_call_without_the_token_is_refused_before_its_message_is_read() {
    let server = TestServer::start();
    let Some(pid) = server.pid() else {
        return;
    };
    // 8 MiB of `0a 00`: millions of empty ResourceSpans, over 300 MB once decoded, in
    // about 8 KB of gzip.
    let message: Vec<u8> = [0x0a_u8, 0x00].repeat(4 * 1024 * 1024);
    let before = peak_rss_kb(pid);
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    let calls = (0..8).map(|_| {
        let (server, message, path) = (&server, message.clone(), path.clone());
        async move {
            let mut grpc = tonic::client::Grpc::new(channel(server).await)
                .send_compressed(CompressionEncoding::Gzip);
            grpc.ready().await.unwrap();
            grpc.unary(Request::new(message), path, BytesCodec)
                .await
                .expect_err("no token")
        }
    });
    for refused in futures_util::future::join_all(calls).await {
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    }
    let after = peak_rss_kb(pid);
    eprintln!("peak RSS {before} kB before, {after} kB after");
    assert!(
        after < before + 64 * 1024,
        "peak RSS grew from {before} kB to {after} kB"
    );
}

#[tokio::test]
async fn zstd_messages_are_read_like_gzip_ones() {
    let server = TestServer::start();
    let (trace_id, export) = trace(2, 1_700_000_000_000_000_000);
    TraceServiceClient::new(channel(&server).await)
        .send_compressed(CompressionEncoding::Zstd)
        .export(authorized(&server, export))
        .await
        .expect("a zstd message is stored");
    let (status, trace) = get_json(&server, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trace["spans"].as_array().map(Vec::len), Some(2));
}
