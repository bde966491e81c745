//! What the export routes answer: files to save, OTLP/JSON or OTLP JSON Lines.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The response header that says an export stopped before everything that matched.
pub const TRUNCATED_HEADER: &str = "otel-worker-truncated";

/// `response` as a download named `name`.
pub(crate) fn attachment(mut response: Response, name: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// OTLP JSON Lines (a request a line) as a download named `name`; `truncated` when more
/// matched than the export holds.
pub(crate) fn json_lines(lines: String, truncated: bool, name: &str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/x-ndjson")], lines).into_response();
    if truncated {
        response
            .headers_mut()
            .insert(TRUNCATED_HEADER, HeaderValue::from_static("true"));
    }
    attachment(response, name)
}
