//! The web UI: one self-contained HTML page (`ui/index.html`, with its CSS and JavaScript
//! inline) compiled into both servers and served at `/` without a token. The page asks
//! for the token and sends it with every data request, like any other API client.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The page, embedded at build time.
pub const INDEX_HTML: &str = include_str!("ui/index.html");

/// What the page may load and connect to: nothing but its own origin. Its script and
/// styles are inline; images are inline SVG or data URLs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /`
pub async fn index() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        INDEX_HTML,
    )
        .into_response()
}
