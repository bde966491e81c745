//! Typed path parameters: a handler that takes a [`TraceId`] or [`SpanId`] gets a checked,
//! lower-case id, and a malformed one is answered with our 400 before the handler runs.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use super::ApiError;
use crate::query;

/// The `{trace_id}` of the path: 32 hex characters, lower case.
pub(crate) struct TraceId(pub String);

/// The `{span_id}` of the path: 16 hex characters, lower case.
pub(crate) struct SpanId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for TraceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let text = path_parameter(parts, state, "trace_id").await?;
        Ok(Self(query::trace_id(&text)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SpanId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let text = path_parameter(parts, state, "span_id").await?;
        Ok(Self(query::span_id(&text)?))
    }
}

/// One named capture of the route, percent-decoded.
async fn path_parameter<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Result<String, ApiError> {
    let invalid = |message: String| ApiError::BadRequest("invalid-path", message);
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| invalid(e.body_text()))?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| invalid(format!("the route has no {{{name}}}")))
}
