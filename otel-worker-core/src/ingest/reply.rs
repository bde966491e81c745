//! The answer to an export that was not refused as a whole: OTLP's
//! `ExportTraceServiceResponse`, with a `partial_success` when spans were rejected, and
//! `google.rpc.Status`, the body of a refusal. Encoded by servers, decoded by clients.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use super::Encoding;

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
    pub rejected_spans: u64,
    /// The first rejection's reason; `None` when nothing was rejected.
    pub error_message: Option<String>,
}

impl ExportReply {
    fn partial_success(&self) -> Option<ExportTracePartialSuccess> {
        (self.rejected_spans > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(self.rejected_spans).unwrap_or(i64::MAX),
            error_message: self.error_message.clone().unwrap_or_default(),
        })
    }

    /// The `ExportTraceServiceResponse` message, as gRPC sends it.
    pub fn to_message(&self) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: self.partial_success(),
        }
    }

    /// The response body in `encoding`; `partial_success` only when spans were rejected.
    pub fn encode(&self, encoding: Encoding) -> Vec<u8> {
        match (encoding, self.partial_success()) {
            (Encoding::Protobuf, _) => self.to_message().encode_to_vec(),
            (Encoding::Json, None) => b"{}".to_vec(),
            // proto3 JSON writes int64 as a string.
            (Encoding::Json, Some(p)) => serde_json::json!({
                "partialSuccess": {
                    "rejectedSpans": p.rejected_spans.to_string(),
                    "errorMessage": p.error_message,
                }
            })
            .to_string()
            .into_bytes(),
        }
    }

    /// Reads a server's 200 answer to an export, in the encoding of the request.
    pub fn decode(encoding: Encoding, body: &[u8]) -> Result<Self, String> {
        let (rejected, message) = match encoding {
            Encoding::Protobuf => {
                let reply = ExportTraceServiceResponse::decode(body)
                    .map_err(|e| format!("the answer is not an ExportTraceServiceResponse: {e}"))?;
                reply.partial_success.map_or((0, String::new()), |p| {
                    (
                        u64::try_from(p.rejected_spans).unwrap_or(0),
                        p.error_message,
                    )
                })
            }
            Encoding::Json => {
                let value: serde_json::Value = serde_json::from_slice(body)
                    .map_err(|e| format!("the answer is not JSON: {e}"))?;
                let partial = &value["partialSuccess"];
                // proto3 JSON allows int64 as a string or a number.
                let rejected = &partial["rejectedSpans"];
                let rejected = rejected
                    .as_u64()
                    .or_else(|| rejected.as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or(0);
                let message = partial["errorMessage"].as_str().unwrap_or_default();
                (rejected, message.to_owned())
            }
        };
        Ok(Self {
            rejected_spans: rejected,
            error_message: (!message.is_empty()).then_some(message),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_reads_back_as_written_in_both_encodings() {
        let replies = [
            ExportReply::default(),
            ExportReply {
                rejected_spans: 3,
                error_message: Some("span \"x\": trace id must be 16 bytes".into()),
            },
        ];
        for reply in replies {
            for encoding in [Encoding::Protobuf, Encoding::Json] {
                let back = ExportReply::decode(encoding, &reply.encode(encoding)).unwrap();
                assert_eq!(back, reply, "{encoding:?}");
            }
        }
        assert_eq!(ExportReply::default().encode(Encoding::Json), b"{}");
        let numeric = br#"{"partialSuccess":{"rejectedSpans":2}}"#;
        assert_eq!(
            ExportReply::decode(Encoding::Json, numeric)
                .unwrap()
                .rejected_spans,
            2
        );
    }
}
