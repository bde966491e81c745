//! The answer to an export that was not refused as a whole: OTLP's
//! `Export*ServiceResponse`, with a `partial_success` when items were rejected, and
//! `google.rpc.Status`, the body of a refusal. Encoded by servers, decoded by clients.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use super::{Encoding, Signal};

/// `google.rpc.Status` (`details` is never filled, so it is left out).
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The success reply of an export: what was rejected and the first reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReply {
    /// Spans, log records or data points rejected, as the signal counts them.
    pub rejected: u64,
    /// The first rejection's reason; `None` when nothing was rejected.
    pub error_message: Option<String>,
}

/// The `partial_success` of every signal's export response: the three messages have the
/// same two fields under the same numbers, so one encodes and decodes them all.
#[derive(Clone, PartialEq, Message)]
struct PartialSuccess {
    #[prost(int64, tag = "1")]
    rejected: i64,
    #[prost(string, tag = "2")]
    error_message: String,
}

/// `Export{Trace,Logs,Metrics}ServiceResponse`.
#[derive(Clone, PartialEq, Message)]
struct ExportResponse {
    #[prost(message, optional, tag = "1")]
    partial_success: Option<PartialSuccess>,
}

impl ExportReply {
    fn partial_success(&self) -> Option<PartialSuccess> {
        (self.rejected > 0).then(|| PartialSuccess {
            rejected: i64::try_from(self.rejected).unwrap_or(i64::MAX),
            error_message: self.error_message.clone().unwrap_or_default(),
        })
    }

    /// The `ExportTraceServiceResponse` message, as gRPC sends it.
    pub fn to_traces_message(&self) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: self.partial_success().map(|p| ExportTracePartialSuccess {
                rejected_spans: p.rejected,
                error_message: p.error_message,
            }),
        }
    }

    /// The `ExportLogsServiceResponse` message, as gRPC sends it.
    pub fn to_logs_message(&self) -> ExportLogsServiceResponse {
        ExportLogsServiceResponse {
            partial_success: self.partial_success().map(|p| ExportLogsPartialSuccess {
                rejected_log_records: p.rejected,
                error_message: p.error_message,
            }),
        }
    }

    /// The `ExportMetricsServiceResponse` message, as gRPC sends it.
    pub fn to_metrics_message(&self) -> ExportMetricsServiceResponse {
        ExportMetricsServiceResponse {
            partial_success: self.partial_success().map(|p| ExportMetricsPartialSuccess {
                rejected_data_points: p.rejected,
                error_message: p.error_message,
            }),
        }
    }

    /// The response body in `encoding`; `partial_success` only when something was
    /// rejected.
    pub fn encode(&self, signal: Signal, encoding: Encoding) -> Vec<u8> {
        match (encoding, self.partial_success()) {
            (Encoding::Protobuf, partial_success) => {
                ExportResponse { partial_success }.encode_to_vec()
            }
            (Encoding::Json, None) => b"{}".to_vec(),
            // proto3 JSON writes int64 as a string.
            (Encoding::Json, Some(p)) => {
                let mut partial = serde_json::Map::new();
                partial.insert(
                    signal.rejected_field().into(),
                    p.rejected.to_string().into(),
                );
                partial.insert("errorMessage".into(), p.error_message.into());
                serde_json::json!({ "partialSuccess": partial })
                    .to_string()
                    .into_bytes()
            }
        }
    }

    /// Reads a server's 200 answer to an export, in the encoding of the request.
    pub fn decode(signal: Signal, encoding: Encoding, body: &[u8]) -> Result<Self, String> {
        let (rejected, message) = match encoding {
            Encoding::Protobuf => {
                let reply = ExportResponse::decode(body)
                    .map_err(|e| format!("the answer is not an OTLP export response: {e}"))?;
                reply.partial_success.map_or((0, String::new()), |p| {
                    (u64::try_from(p.rejected).unwrap_or(0), p.error_message)
                })
            }
            Encoding::Json => {
                let value: serde_json::Value = serde_json::from_slice(body)
                    .map_err(|e| format!("the answer is not JSON: {e}"))?;
                let partial = &value["partialSuccess"];
                // proto3 JSON allows int64 as a string or a number.
                let rejected = &partial[signal.rejected_field()];
                let rejected = rejected
                    .as_u64()
                    .or_else(|| rejected.as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or(0);
                let message = partial["errorMessage"].as_str().unwrap_or_default();
                (rejected, message.to_owned())
            }
        };
        Ok(Self {
            rejected,
            error_message: (!message.is_empty()).then_some(message),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_reads_back_as_written_for_every_signal_and_encoding() {
        let replies = [
            ExportReply::default(),
            ExportReply {
                rejected: 3,
                error_message: Some("span \"x\": trace id must be 16 bytes".into()),
            },
        ];
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            for reply in &replies {
                for encoding in [Encoding::Protobuf, Encoding::Json] {
                    let back =
                        ExportReply::decode(signal, encoding, &reply.encode(signal, encoding))
                            .unwrap();
                    assert_eq!(&back, reply, "{signal:?} {encoding:?}");
                }
            }
        }
        assert_eq!(
            ExportReply::default().encode(Signal::Logs, Encoding::Json),
            b"{}"
        );
        let numeric = br#"{"partialSuccess":{"rejectedSpans":2}}"#;
        assert_eq!(
            ExportReply::decode(Signal::Traces, Encoding::Json, numeric)
                .unwrap()
                .rejected,
            2
        );
        let logs = String::from_utf8(replies[1].encode(Signal::Logs, Encoding::Json)).unwrap();
        assert!(logs.contains(r#""rejectedLogRecords":"3""#), "{logs}");
    }

    #[test]
    fn the_protobuf_reply_is_each_signals_own_response_message() {
        let reply = ExportReply {
            rejected: 2,
            error_message: Some("no".into()),
        };
        let bytes = reply.encode(Signal::Metrics, Encoding::Protobuf);
        let metrics = ExportMetricsServiceResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(metrics, reply.to_metrics_message());
        let logs = ExportLogsServiceResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(logs, reply.to_logs_message());
        let traces = ExportTraceServiceResponse::decode(bytes.as_slice()).unwrap();
        assert_eq!(traces, reply.to_traces_message());
    }
}
