//! The web UI: one self-contained HTML page (`ui/index.html`, with its CSS and JavaScript
//! inline) served at `/` without a token. The page asks for the token and sends it with
//! every data request, like any other API client.
//!
//! The local server compiles the page in (feature `ui`). The Worker does not: Cloudflare
//! serves `ui/` as static assets (`[assets]` in `wrangler.toml`, headers in `ui/_headers`),
//! which keeps the page out of the Worker's bundle and its requests off the Worker.

#[cfg(feature = "ui")]
use axum::http::{HeaderValue, header};
#[cfg(feature = "ui")]
use axum::response::{IntoResponse, Response};

/// The page, embedded at build time.
#[cfg(feature = "ui")]
pub const INDEX_HTML: &str = include_str!("ui/index.html");

/// What the page may load and connect to: nothing but its own origin. Its script and
/// styles are inline; images are inline SVG or data URLs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /`
#[cfg(feature = "ui")]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Cloudflare sends the headers of `ui/_headers` with the page: they must be the ones
    /// the local server sends.
    #[test]
    fn the_static_asset_headers_are_the_local_servers() {
        let rules = include_str!("ui/_headers");
        let policy = rules
            .lines()
            .find_map(|line| line.trim().strip_prefix("Content-Security-Policy: "));
        assert_eq!(policy, Some(CONTENT_SECURITY_POLICY));
        assert!(rules.contains("\n  Cache-Control: no-cache\n"));
        assert!(rules.contains("\n  X-Content-Type-Options: nosniff\n"));
    }
}
