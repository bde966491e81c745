//! The API's error type: one variant per kind of failure, each with its status code,
//! written as `{"error": "<code>", "message": "<sentence>"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ingest::status::RETRY_AFTER_SECONDS;
use crate::models::ErrorBody;
use crate::store::StoreError;

/// Every failure of the read and delete routes.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: (code, message).
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{0}")]
    NotFound(String),
    #[error("this server requires `Authorization: Bearer <token>`")]
    Unauthorized,
    #[error("{0} is not allowed on this path")]
    MethodNotAllowed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(..) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Store(StoreError::Busy(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(StoreError::Other(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(code, _) => code,
            Self::NotFound(_) => "not-found",
            Self::Unauthorized => "unauthorized",
            Self::MethodNotAllowed(_) => "method-not-allowed",
            Self::Store(StoreError::Busy(_)) => "storage-busy",
            Self::Store(StoreError::Other(_)) => "storage-error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = ErrorBody {
            error: self.code().to_owned(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            StatusCode::UNAUTHORIZED => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
