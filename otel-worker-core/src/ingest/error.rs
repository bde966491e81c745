//! Why an export was refused as a whole. Nothing of a refused export is stored.

use crate::store::StoreError;

/// The `google.rpc.Code` an OTLP server answers a refusal with, over gRPC as the call's
/// status and over HTTP inside the `google.rpc.Status` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcCode {
    InvalidArgument = 3,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

/// Every way an export can be refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unsupported content type {0:?}: send application/x-protobuf or application/json")]
    UnsupportedContentType(String),
    #[error("unsupported content encoding {0:?}: send gzip, zstd or identity")]
    UnsupportedEncoding(String),
    #[error("the body is larger than {limit} bytes (after decompression)")]
    TooLarge { limit: usize },
    #[error("{0}")]
    InvalidBody(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl IngestError {
    /// The status code for the exporter: only a busy or full store is worth a retry.
    pub fn rpc_code(&self) -> RpcCode {
        match self {
            Self::Storage(StoreError::Busy(_) | StoreError::Full(_)) => RpcCode::Unavailable,
            Self::Storage(StoreError::Other(_)) => RpcCode::Internal,
            _ => RpcCode::InvalidArgument,
        }
    }
}
