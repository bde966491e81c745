//! OTLP/gRPC: the trace, logs and metrics collector services (tonic, with the service
//! definitions of `opentelemetry-proto`) over the same transport-free ingest as
//! OTLP/HTTP, for the local server (the Worker cannot serve gRPC).
//!
//! The OTLP rules a server keeps: gzip-compressed messages accepted; a message larger
//! than the limit answered `RESOURCE_EXHAUSTED` (tonic alone says `OUT_OF_RANGE`, which
//! exporters would retry forever); partial success as over
//! HTTP; a busy or full store `UNAVAILABLE` with a `RetryInfo`, so exporters retry;
//! invalid data `INVALID_ARGUMENT`; with a token, `authorization: Bearer <token>`
//! metadata or `UNAUTHENTICATED`, checked before the message is read. gzip and zstd
//! messages are accepted.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Status};

use super::auth::Auth;
use super::compute::{Compute, HEAVY_ITEMS, offload};
use super::retry_after_seconds;
use crate::ingest::{self, Bounds, Export, IngestError, Prepared, Sampling, Stored};
use crate::live::ServerEvents;
use crate::store::{Shards, StoreError};

/// Where `otel-worker-cli dev` serves OTLP/gRPC unless told otherwise: the standard port.
pub const DEFAULT_GRPC_LISTEN: &str = "127.0.0.1:4317";

/// The metadata key under which some exporters (Python's) look for a `RetryInfo`.
pub const RETRY_INFO_KEY: &str = "google.rpc.retryinfo-bin";

/// Assembles the three OTLP services of one home.
pub struct Builder {
    /// Where spans and log records are stored.
    shards: Shards,
    /// Who hears about what was stored.
    events: Arc<dyn ServerEvents>,
    /// The token every call must carry; `None` leaves the services open.
    auth_token: Option<String>,
    /// The largest message accepted, after decompression.
    max_message_bytes: usize,
    /// Which traces to keep; `None` keeps all.
    sampling: Option<Sampling>,
    /// Where messages are converted; `None`: on the call's own task.
    compute: Option<Arc<dyn Compute>>,
    /// The clock items are checked against; `None`: no such check.
    clock: Option<super::Clock>,
}

impl Builder {
    pub fn new(shards: Shards, events: Arc<dyn ServerEvents>) -> Self {
        Self {
            shards,
            events,
            auth_token: None,
            max_message_bytes: super::DEFAULT_MAX_BODY_BYTES,
            sampling: None,
            compute: None,
            clock: None,
        }
    }

    /// Refuses items dated more than [`crate::ingest::MAX_FUTURE_NS`] after `clock`.
    pub fn clock(mut self, clock: super::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Converts messages with `compute`, away from the request threads.
    pub fn compute(mut self, compute: Arc<dyn Compute>) -> Self {
        self.compute = Some(compute);
        self
    }

    pub fn auth_token(mut self, token: Option<String>) -> Self {
        self.auth_token = token;
        self
    }

    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    pub fn sampling(mut self, sampling: Option<Sampling>) -> Self {
        self.sampling = sampling;
        self
    }

    /// The services as one router, to be served over HTTP/2.
    pub fn router(self) -> axum::Router {
        let limit = self.max_message_bytes;
        let auth = Auth::new(self.auth_token.as_deref());
        let otlp = Otlp {
            inner: Arc::new(Inner {
                shards: self.shards,
                events: self.events,
                sampling: self.sampling,
                compute: self.compute,
                clock: self.clock,
            }),
        };
        tonic::service::Routes::new(
            TraceServiceServer::new(otlp.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .add_service(
            LogsServiceServer::new(otlp.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .add_service(
            MetricsServiceServer::new(otlp)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .prepare()
        .into_axum_router()
        .layer(axum::middleware::from_fn_with_state(
            (limit, auth),
            bounded_message,
        ))
    }
}

/// The gRPC frame header: a compression flag and the message length.
const FRAME_HEADER_BYTES: usize = 5;

/// Checks the call's token before a byte of its message is read, then reads the body
/// within the limit before tonic does, and names an undecodable message as OTLP does.
/// tonic refuses an
/// uncompressed message over its limit with `OUT_OF_RANGE`, which OTLP lists as
/// retryable, so an exporter would send it again and again. `RESOURCE_EXHAUSTED` without
/// a `RetryInfo` tells it to drop the message. (Decompressed messages over the limit tonic
/// itself answers `RESOURCE_EXHAUSTED`.)
async fn bounded_message(
    axum::extract::State((limit, auth)): axum::extract::State<(usize, Auth)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let authorization = request.headers().get("authorization").map(|v| v.as_bytes());
    if !auth.accepts_authorization(authorization) {
        let status = Status::unauthenticated(
            "send the token as `authorization: Bearer <token>` metadata \
             (OTEL_EXPORTER_OTLP_HEADERS=\"authorization=Bearer%20<token>\")",
        );
        tracing::info!(signal = "grpc", "export refused: {}", status.message());
        return status.into_http();
    }
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, limit + FRAME_HEADER_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let status = if e.downcast_ref::<LengthLimitError>().is_some() {
                Status::resource_exhausted(format!(
                    "the message is larger than {limit} bytes (--max-body-bytes)"
                ))
            } else {
                Status::invalid_argument(format!("the message could not be read: {e}"))
            };
            tracing::info!(code = ?status.code(), "export refused: {}", status.message());
            return status.into_http();
        }
    };
    let response = next
        .run(axum::extract::Request::from_parts(parts, bytes.into()))
        .await;
    // A message that is not valid protobuf is the sender's mistake: tonic answers it
    // `INTERNAL`, OTLP wants `INVALID_ARGUMENT`. The status travels in the headers
    // (trailers-only answer) or in the trailers.
    let (mut parts, body) = response.into_parts();
    invalid_message_is_invalid_argument(&mut parts.headers);
    let body = body.map_frame(|mut frame| {
        if let Some(trailers) = frame.trailers_mut() {
            invalid_message_is_invalid_argument(trailers);
        }
        frame
    });
    Response::from_parts(parts, axum::body::Body::new(body))
}

/// Renames tonic's `INTERNAL` for a message prost could not decode to `INVALID_ARGUMENT`.
fn invalid_message_is_invalid_argument(headers: &mut axum::http::HeaderMap) {
    let internal = headers
        .get("grpc-status")
        .is_some_and(|code| code.as_bytes() == (Code::Internal as i32).to_string().as_bytes());
    let undecodable = headers.get("grpc-message").is_some_and(|message| {
        message.as_bytes().starts_with(b"failed%20to%20decode")
            || message.as_bytes().starts_with(b"failed to decode")
    });
    if internal && undecodable {
        headers.insert(
            "grpc-status",
            axum::http::HeaderValue::from(Code::InvalidArgument as i32),
        );
    }
}

struct Inner {
    shards: Shards,
    events: Arc<dyn ServerEvents>,
    sampling: Option<Sampling>,
    compute: Option<Arc<dyn Compute>>,
    clock: Option<super::Clock>,
}

/// The three services, sharing one state.
#[derive(Clone)]
struct Otlp {
    inner: Arc<Inner>,
}

impl Otlp {
    /// Converts a message where the home runs CPU work, then stores it.
    async fn store(
        &self,
        signal: &'static str,
        items: usize,
        prepare: impl FnOnce(Bounds, Option<Sampling>) -> Prepared + Send + 'static,
    ) -> Result<crate::ingest::ExportReply, Status> {
        let inner = &self.inner;
        let bounds = Bounds::new(&inner.shards, inner.clock.map(|now| now()));
        let sampling = inner.sampling;
        let heavy = items > HEAVY_ITEMS;
        let prepared = offload(inner.compute.as_ref(), heavy, move || {
            prepare(bounds, sampling)
        })
        .await
        .map_err(|e| {
            refusal(
                signal,
                IngestError::Storage(StoreError::Other(e.to_string())),
            )
        })?;
        let stored = ingest::commit(&inner.shards, prepared)
            .await
            .map_err(|e| refusal(signal, e))?;
        Ok(self.stored(stored))
    }

    /// The answer once stored: the live feed hears about it after the reply is built.
    fn stored(&self, stored: Stored) -> crate::ingest::ExportReply {
        if let Some(announcement) = stored.announcement {
            self.inner.events.announce(announcement);
        }
        stored.reply
    }
}

/// A refused export as a gRPC status, logged once with its cause.
fn refusal(signal: &'static str, error: IngestError) -> Status {
    let message = error.to_string();
    let status = match &error {
        IngestError::Storage(
            crate::store::StoreError::Busy(_) | crate::store::StoreError::Full(_),
        ) => retry_later(message),
        IngestError::Storage(crate::store::StoreError::Other(_)) => Status::internal(message),
        IngestError::TooLarge { .. } => Status::resource_exhausted(message),
        _ => Status::invalid_argument(message),
    };
    if status.code() == Code::Internal {
        tracing::error!(signal, "export failed: {error}");
    } else {
        tracing::info!(signal, code = ?status.code(), "export refused: {error}");
    }
    status
}

/// The delay an encoded `google.rpc.RetryInfo` asks for (as a client reads it from
/// [`RETRY_INFO_KEY`]).
pub fn retry_delay(bytes: &[u8]) -> Option<Duration> {
    let delay = RetryInfo::decode(bytes).ok()?.retry_delay?;
    Some(Duration::new(
        u64::try_from(delay.seconds).ok()?,
        u32::try_from(delay.nanos).ok()?,
    ))
}

/// `google.rpc.RetryInfo`: how long to wait before retrying.
#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.Status` with its details, as `grpc-status-details-bin` carries it.
#[derive(Clone, PartialEq, Message)]
struct RichStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `UNAVAILABLE` with a `RetryInfo` of the same jittered delay HTTP's `Retry-After` gives,
/// in the status details and in the metadata key some exporters read.
pub fn retry_later(message: String) -> Status {
    let delay = Duration::from_secs(u64::from(retry_after_seconds()));
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: delay.as_secs() as i64,
            nanos: 0,
        }),
    }
    .encode_to_vec();
    let details = RichStatus {
        code: Code::Unavailable as i32,
        message: message.clone(),
        details: vec![Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.clone(),
        }],
    }
    .encode_to_vec();
    let mut status = Status::with_details(Code::Unavailable, message, details.into());
    status
        .metadata_mut()
        .insert_bin(RETRY_INFO_KEY, MetadataValue::from_bytes(&info));
    status
}

#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        let request = request.into_inner();
        let reply = self
            .store("traces", request.items(), move |bounds, sampling| {
                ingest::prepare_traces(request, bounds, sampling)
            })
            .await?;
        Ok(tonic::Response::new(reply.to_traces_message()))
    }
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        let request = request.into_inner();
        let reply = self
            .store("logs", request.items(), move |bounds, sampling| {
                ingest::prepare_logs(request, bounds, sampling)
            })
            .await?;
        Ok(tonic::Response::new(reply.to_logs_message()))
    }
}

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, Status> {
        let request = request.into_inner();
        let reply = self
            .store("metrics", request.items(), move |bounds, _| {
                ingest::metrics::prepare_metrics(request, bounds)
            })
            .await?;
        Ok(tonic::Response::new(reply.to_metrics_message()))
    }
}
