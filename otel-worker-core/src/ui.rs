//! The web UI: one HTML page (`ui/index.html`, its CSS inline) and its scripts, plain ES
//! modules split by view (`ui/js/`, no build step), served at `/` and `/js/` without a
//! token. The page asks for the token and sends it with every data request, like any
//! other API client.
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

/// The page's scripts by file name, embedded at build time (`/js/<name>`).
#[cfg(feature = "ui")]
pub const SCRIPTS: &[(&str, &str)] = &[
    ("compare.js", include_str!("ui/js/compare.js")),
    ("core.js", include_str!("ui/js/core.js")),
    ("files.js", include_str!("ui/js/files.js")),
    ("list.js", include_str!("ui/js/list.js")),
    ("live.js", include_str!("ui/js/live.js")),
    ("logs.js", include_str!("ui/js/logs.js")),
    ("main.js", include_str!("ui/js/main.js")),
    ("metrics.js", include_str!("ui/js/metrics.js")),
    ("trace.js", include_str!("ui/js/trace.js")),
];

/// The prefix of the scripts' paths, public like the page.
pub const SCRIPTS_PREFIX: &str = "/js/";

/// What the page may load and connect to: nothing but its own origin. Its scripts are
/// files of its own origin (no inline script runs); styles are inline; images are inline
/// SVG or data URLs.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `GET /`
#[cfg(feature = "ui")]
pub async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /js/{name}`
#[cfg(feature = "ui")]
pub async fn script(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match SCRIPTS.iter().find(|(file, _)| *file == name) {
        Some((_, text)) => file("text/javascript; charset=utf-8", text),
        None => {
            crate::api::ApiError::NotFound(format!("there is no script {name}")).into_response()
        }
    }
}

/// A file of the UI with the headers Cloudflare sends with it (`ui/_headers`).
#[cfg(feature = "ui")]
fn file(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
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
        text,
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

    /// Cloudflare serves every file of `ui/js/`; the local server serves those it embeds:
    /// they must be the same files.
    #[cfg(feature = "ui")]
    #[test]
    fn every_script_of_the_page_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ui/js");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = SCRIPTS.iter().map(|(name, _)| *name).collect();
        assert_eq!(on_disk, embedded);
        assert!(INDEX_HTML.contains("<script type=\"module\" src=\"/js/main.js\"></script>"));
    }
}
