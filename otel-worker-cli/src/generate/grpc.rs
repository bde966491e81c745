//! `generate --protocol grpc`: the rendered protobuf export sent as the `Export` call of
//! its signal's OTLP/gRPC service as it is, without decoding it into a message first (a
//! pass-through codec), so the generator stays as cheap per request as over HTTP.

use bytes::{Buf, BufMut};
use otel_worker_core::api::grpc::{RETRY_INFO_KEY, retry_delay};
use otel_worker_core::ingest::{Encoding, ExportReply, Signal};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::Failure;

/// The method an OTLP/gRPC export of `signal` calls.
fn export_method(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    }
}

/// A gRPC client of one server's export service for one signal.
#[derive(Clone)]
pub struct GrpcSender {
    grpc: tonic::client::Grpc<Channel>,
    endpoint: String,
    signal: Signal,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl GrpcSender {
    /// A client of `endpoint` (`http://host:port`); it connects on first use.
    pub fn new(
        endpoint: &str,
        signal: Signal,
        token: Option<&str>,
        gzip: bool,
    ) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| anyhow::anyhow!("{endpoint:?} is not a gRPC endpoint: {e}"))?
            .tcp_nodelay(true)
            .connect_lazy();
        let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(usize::MAX);
        if gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        let authorization = token
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .map_err(|_| anyhow::anyhow!("the token cannot be sent as gRPC metadata"))?;
        Ok(Self {
            grpc,
            endpoint: endpoint.to_owned(),
            signal,
            authorization,
        })
    }

    /// Sends one export (uncompressed protobuf: tonic compresses the frame); `Ok(rejected
    /// spans)` on success.
    pub async fn send(&self, payload: &[u8]) -> Result<u64, Failure> {
        let mut grpc = self.grpc.clone();
        grpc.ready()
            .await
            .map_err(|e| Failure::unreachable(format!("could not reach {}: {e}", self.endpoint)))?;
        let mut request = tonic::Request::new(payload.to_vec());
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(export_method(self.signal));
        match grpc.unary(request, path, RawCodec).await {
            Ok(response) => {
                ExportReply::decode(self.signal, Encoding::Protobuf, &response.into_inner())
                    .map(|reply| reply.rejected)
                    .map_err(|e| Failure {
                        message: format!("the answer is unreadable: {e}"),
                        unreachable: false,
                        retryable: false,
                        retry_after: None,
                    })
            }
            Err(status) => Err(failure(&status)),
        }
    }
}

/// An OTLP/gRPC refusal as the generator counts it: retryable as OTLP says (with a
/// `RetryInfo` for `RESOURCE_EXHAUSTED`), waiting what the `RetryInfo` asks.
fn failure(status: &Status) -> Failure {
    let has_retry_info =
        status.metadata().get_bin(RETRY_INFO_KEY).is_some() || !status.details().is_empty();
    let retryable = match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => has_retry_info,
        _ => false,
    };
    let retry_after = status
        .metadata()
        .get_bin(RETRY_INFO_KEY)
        .and_then(|value| value.to_bytes().ok())
        .and_then(|bytes| retry_delay(&bytes));
    Failure {
        message: format!("{:?}: {}", status.code(), status.message()),
        unreachable: false,
        retryable,
        retry_after,
    }
}

/// Sends bytes that already are an encoded message, and hands back the answer's bytes.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}
