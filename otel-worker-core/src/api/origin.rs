//! Who may talk to the API from a web browser.
//!
//! A token-less server (the local default) trusts whatever reaches it, so two browser
//! tricks must not reach it: a page on another site calling it (`Origin` is that site),
//! and DNS rebinding (a page whose own host name was made to resolve to 127.0.0.1, so its
//! requests are same-origin and carry `Host: evil.example`). Every route refuses a
//! foreign `Origin`, on both homes; without a token only loopback `Host` names are served.
//! Pages the server serves itself (the web UI) and non-browser clients, which send no
//! `Origin`, are unaffected.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// What the guard checks, configured by the [`super::Builder`].
#[derive(Clone)]
pub(crate) struct Guard {
    /// Origins the server was told to allow (`--cors-origin`, `CORS_ORIGINS`).
    pub(crate) cors_origins: Arc<Vec<HeaderValue>>,
    /// Only loopback `Host` names are served: the server has no token.
    pub(crate) loopback_only: bool,
    /// The token is [`super::auth::EXAMPLE_TOKEN`]: only loopback `Host` names are served.
    pub(crate) example_token: bool,
}

impl Guard {
    /// Why `request` is refused, or `None` when it may go on.
    pub(crate) fn refusal<B>(&self, request: &axum::http::Request<B>) -> Option<ApiError> {
        let headers = request.headers();
        let host = headers
            .get(header::HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        let foreign_host = host.as_deref().filter(|host| !is_loopback_host(host));
        if self.example_token
            && let Some(host) = foreign_host
        {
            return Some(ApiError::Misconfigured(format!(
                "this server's token is the example's (\"{}\" from .dev.vars.example), which \
                 anyone can read; it is refused for requests to {host:?}. Set a secret of \
                 your own (npx wrangler secret put AUTH_TOKEN, or --auth-token)",
                super::auth::EXAMPLE_TOKEN
            )));
        }
        if self.loopback_only
            && let Some(host) = foreign_host
        {
            return Some(ApiError::Forbidden(format!(
                "this server has no token, so it only answers requests addressed to localhost, \
                 127.0.0.1 or [::1], not {host:?} (a web page whose name was pointed at this \
                 machine must not read it); to serve other host names, start it with \
                 --auth-token"
            )));
        }
        let origin = headers.get(header::ORIGIN)?;
        if origin_allowed(origin, host.as_deref(), &self.cors_origins) {
            return None;
        }
        let origin = String::from_utf8_lossy(origin.as_bytes());
        Some(ApiError::Forbidden(format!(
            "requests from the web page at {origin:?} are refused, so that pages on other \
             sites cannot read your telemetry; to allow that page, add its origin to the \
             server's CORS origins (otel-worker-cli dev --cors-origin {origin}, or the \
             Worker's CORS_ORIGINS)"
        )))
    }
}

/// Middleware: 403 for a foreign `Origin` or, without a token, a foreign `Host`; an
/// export route answers in the export's encoding.
pub(crate) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match guard.refusal(&request) {
        None => next.run(request).await,
        Some(error) => super::export::refusal_for(&request, error).into_response(),
    }
}

/// Whether a `Host` value (name and optional port) names this machine's loopback:
/// `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// An `Origin` may call when the server was told to allow it, or when it is the server's
/// own origin (the `Host` it was reached at: a page this server served).
fn origin_allowed(origin: &HeaderValue, host: Option<&str>, allowed: &[HeaderValue]) -> bool {
    if allowed.contains(origin) {
        return true;
    }
    let (Ok(origin), Some(host)) = (origin.to_str(), host) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn check(guard: &Guard, host: &str, origin: Option<&str>) -> bool {
        let mut request = axum::http::Request::builder()
            .uri("/v1/traces")
            .header(header::HOST, host);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        guard
            .refusal(&request.body(Body::empty()).unwrap())
            .is_none()
    }

    #[test]
    fn only_configured_and_own_origins_may_call() {
        let guard = Guard {
            cors_origins: Arc::new(vec![HeaderValue::from_static("https://app.example.com")]),
            loopback_only: false,
            example_token: false,
        };
        assert!(check(&guard, "otel.example.com", None));
        assert!(check(
            &guard,
            "otel.example.com",
            Some("https://app.example.com")
        ));
        assert!(check(
            &guard,
            "127.0.0.1:4318",
            Some("http://127.0.0.1:4318")
        ));
        assert!(check(
            &guard,
            "otel.workers.dev",
            Some("https://otel.workers.dev")
        ));
        assert!(!check(
            &guard,
            "localhost:4318",
            Some("http://localhost:3000")
        ));
        assert!(!check(
            &guard,
            "127.0.0.1:4318",
            Some("https://evil.example")
        ));
        assert!(!check(&guard, "127.0.0.1:4318", Some("null")));
    }

    #[test]
    fn without_a_token_only_loopback_host_names_are_served() {
        let guard = Guard {
            cors_origins: Arc::new(Vec::new()),
            loopback_only: true,
            example_token: false,
        };
        for host in [
            "127.0.0.1:4318",
            "localhost",
            "LOCALHOST:1",
            "[::1]:4318",
            "[::1]",
            "127.1.2.3:80",
        ] {
            assert!(check(&guard, host, None), "{host} refused");
        }
        // DNS rebinding: the attacker's name resolves to this server; Host follows it,
        // and the page's Origin is its own.
        for host in [
            "evil.example:4318",
            "evil.example",
            "localhost.evil.example",
            "10.0.0.1:4318",
            "[::2]:4318",
        ] {
            assert!(!check(&guard, host, None), "{host} served");
        }
        assert!(!check(
            &guard,
            "evil.example:4318",
            Some("http://evil.example:4318")
        ));
    }

    #[test]
    fn the_example_token_only_serves_loopback() {
        let guard = Guard {
            cors_origins: Arc::new(Vec::new()),
            loopback_only: false,
            example_token: true,
        };
        assert!(check(&guard, "localhost:8787", None));
        assert!(!check(&guard, "otel-worker.example.workers.dev", None));
    }
}
