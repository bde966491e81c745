//! OTLP/gRPC: the trace, logs and metrics collector services (tonic, with the service
//! definitions of `opentelemetry-proto`) over the same transport-free ingest as
//! OTLP/HTTP, for the local server (the Worker cannot serve gRPC).
//!
//! The OTLP rules a server keeps: gzip-compressed messages accepted; a message larger
//! than the limit answered `RESOURCE_EXHAUSTED` (tonic alone says `OUT_OF_RANGE`, which
//! exporters would retry forever); partial success as over
//! HTTP; a busy or full store `UNAVAILABLE` with a `RetryInfo`, so exporters retry;
//! invalid data `INVALID_ARGUMENT`; with a token, `authorization: Bearer <token>`
//! metadata or `UNAUTHENTICATED`.

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
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Status};

use super::auth::Auth;
use super::retry_after_seconds;
use crate::ingest::{self, IngestError, Sampling, Stored};
use crate::live::ServerEvents;
use crate::store::Shards;

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
}

impl Builder {
    pub fn new(shards: Shards, events: Arc<dyn ServerEvents>) -> Self {
        Self {
            shards,
            events,
            auth_token: None,
            max_message_bytes: super::DEFAULT_MAX_BODY_BYTES,
            sampling: None,
        }
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
        let otlp = Otlp {
            inner: Arc::new(Inner {
                shards: self.shards,
                events: self.events,
                auth: Auth::new(self.auth_token.as_deref()),
                sampling: self.sampling,
            }),
        };
        tonic::service::Routes::new(
            TraceServiceServer::new(otlp.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .add_service(
            LogsServiceServer::new(otlp.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .add_service(
            MetricsServiceServer::new(otlp)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit),
        )
        .prepare()
        .into_axum_router()
        .layer(axum::middleware::from_fn_with_state(limit, bounded_message))
    }
}

/// The gRPC frame header: a compression flag and the message length.
const FRAME_HEADER_BYTES: usize = 5;

/// Reads a call's body within the limit before tonic does, and names an undecodable
/// message as OTLP does. tonic refuses an
/// uncompressed message over its limit with `OUT_OF_RANGE`, which OTLP lists as
/// retryable, so an exporter would send it again and again. `RESOURCE_EXHAUSTED` without
/// a `RetryInfo` tells it to drop the message. (Decompressed messages over the limit tonic
/// itself answers `RESOURCE_EXHAUSTED`.)
async fn bounded_message(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
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
    auth: Auth,
    sampling: Option<Sampling>,
}

/// The three services, sharing one state.
#[derive(Clone)]
struct Otlp {
    inner: Arc<Inner>,
}

impl Otlp {
    /// The bearer token of the call's metadata, when the services want one.
    fn authenticate(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let authorization = metadata.get("authorization").map(|v| v.as_bytes());
        if self.inner.auth.accepts_authorization(authorization) {
            return Ok(());
        }
        let status = Status::unauthenticated(
            "send the token as `authorization: Bearer <token>` metadata \
             (OTEL_EXPORTER_OTLP_HEADERS=\"authorization=Bearer%20<token>\")",
        );
        tracing::info!(signal = "grpc", "export refused: {}", status.message());
        Err(status)
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
fn retry_later(message: String) -> Status {
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
        self.authenticate(request.metadata())?;
        let inner = &self.inner;
        let stored = ingest::store_traces(&inner.shards, request.into_inner(), inner.sampling)
            .await
            .map_err(|e| refusal("traces", e))?;
        Ok(tonic::Response::new(
            self.stored(stored).to_traces_message(),
        ))
    }
}

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        self.authenticate(request.metadata())?;
        let inner = &self.inner;
        let stored = ingest::store_logs(&inner.shards, request.into_inner(), inner.sampling)
            .await
            .map_err(|e| refusal("logs", e))?;
        Ok(tonic::Response::new(self.stored(stored).to_logs_message()))
    }
}

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, Status> {
        self.authenticate(request.metadata())?;
        let inner = &self.inner;
        let stored = ingest::metrics::store_metrics(&inner.shards, request.into_inner())
            .await
            .map_err(|e| refusal("metrics", e))?;
        Ok(tonic::Response::new(
            self.stored(stored).to_metrics_message(),
        ))
    }
}
