//! OTLP/HTTP trace ingest: from request bytes to stored rows.
//!
//! Split by concern: [`http`] reads the request (content type, encoding, size limit),
//! [`json`] holds every OTLP/JSON leniency, [`convert`] validates spans and renders rows,
//! [`status`] and [`reply`] write the answers OTLP clients expect.

pub mod convert;
pub mod http;
pub mod json;
pub mod reply;
pub mod status;

#[cfg(test)]
mod tests;

pub use convert::{Rows, to_rows};
pub use status::IngestError;

/// The two OTLP/HTTP body encodings; a response always uses the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// Reads a `Content-Type` value: case-insensitive, parameters such as charset allowed.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let mime = value.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/x-protobuf")
            || mime.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Self::Protobuf)
        } else if mime.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Decodes an export body (already decompressed) in the given encoding.
pub fn decode(
    encoding: Encoding,
    body: &[u8],
) -> Result<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest, IngestError>
{
    match encoding {
        Encoding::Protobuf => prost::Message::decode(body).map_err(|e| {
            IngestError::InvalidBody(format!(
                "the body is not a valid OTLP protobuf ExportTraceServiceRequest: {e}"
            ))
        }),
        Encoding::Json => json::decode(body).map_err(|e| {
            IngestError::InvalidBody(format!(
                "the body is not a valid OTLP/JSON ExportTraceServiceRequest: {e}"
            ))
        }),
    }
}
