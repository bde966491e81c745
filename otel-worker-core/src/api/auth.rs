//! Bearer-token authentication for every route but `/health`, the UI (the page at `/`,
//! its scripts under `/js/`) and the share links' reads under [`SHARED_PREFIX`].
//!
//! The header must read exactly `Authorization: Bearer <token>`. Browsers cannot set
//! headers on a WebSocket, so `/api/ws` also takes the token as a subprotocol: the client
//! offers [`WEBSOCKET_PROTOCOL`] and `bearer.<token as base64url, no padding>`, and the
//! server selects [`WEBSOCKET_PROTOCOL`]. A token in the URL (`?token=`) opens nothing:
//! URLs end up in logs and browser history. Tokens are compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{self, HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::ApiError;

/// Paths anyone may call: the health probe and the web UI's page (which holds no data
/// and asks for the token itself).
pub const PUBLIC_PATHS: &[&str] = &["/health", "/"];

/// The prefix of the routes a share link opens without the token; each checks the
/// link's signature itself (`api::share`).
pub const SHARED_PREFIX: &str = "/v1/shared/";

/// The path of the live feed, whose token may also come as a subprotocol.
pub const WEBSOCKET_PATH: &str = "/api/ws";

/// The token `.dev.vars.example` ships: fine for trying things on loopback, refused
/// anywhere else.
pub const EXAMPLE_TOKEN: &str = "your-secret-token-here";

/// The subprotocol the live feed speaks; the server selects it when a client offers it.
pub const WEBSOCKET_PROTOCOL: &str = "otel-worker";

/// The prefix of the subprotocol that carries the token.
pub const BEARER_PROTOCOL_PREFIX: &str = "bearer.";

/// The subprotocol that carries `token`, as clients offer it.
pub fn bearer_protocol(token: &str) -> String {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.as_bytes());
    format!("{BEARER_PROTOCOL_PREFIX}{encoded}")
}

/// The configured token; `None` leaves the server open (loopback-only local use).
#[derive(Clone)]
pub struct Auth {
    token: Option<Arc<[u8]>>,
}

impl Auth {
    pub fn new(token: Option<&str>) -> Self {
        Self {
            token: token.map(|t| Arc::from(t.as_bytes())),
        }
    }

    /// Whether `request` may pass: a public path, an open server, or the token.
    pub fn allows<B>(&self, request: &http::Request<B>) -> bool {
        let path = request.uri().path();
        PUBLIC_PATHS.contains(&path)
            || ((path.starts_with(SHARED_PREFIX) || path.starts_with(crate::ui::SCRIPTS_PREFIX))
                && request.method() == http::Method::GET)
            || self.carries_token(path, request.headers())
    }

    /// Whether an `authorization` value (an HTTP header or gRPC metadata) is exactly
    /// `Bearer <token>`; always true for an open server.
    pub fn accepts_authorization(&self, value: Option<&[u8]>) -> bool {
        let Some(expected) = self.token.as_deref() else {
            return true;
        };
        value
            .and_then(|v| v.strip_prefix(b"Bearer "))
            .is_some_and(|given| constant_time_eq(given, expected))
    }

    fn carries_token(&self, path: &str, headers: &HeaderMap) -> bool {
        let Some(expected) = self.token.as_deref() else {
            return true;
        };
        let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        if self.accepts_authorization(authorization) {
            return true;
        }
        if path != WEBSOCKET_PATH {
            return false;
        }
        subprotocol_token(headers).is_some_and(|given| constant_time_eq(&given, expected))
    }

    /// Whether the token is the one `.dev.vars.example` ships, which anyone can read.
    pub fn is_the_example(&self) -> bool {
        self.token.as_deref() == Some(EXAMPLE_TOKEN.as_bytes())
    }
}

/// Compares two tokens without an early exit on the first differing byte.
pub fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && bool::from(given.ct_eq(expected))
}

/// The token of a `bearer.<base64url>` subprotocol offer, if there is one.
fn subprotocol_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|offer| offer.trim().strip_prefix(BEARER_PROTOCOL_PREFIX))
        .and_then(|encoded| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .ok()
        })
}

/// Middleware: 401 unless the request is public or carries the token (on an export route
/// a `google.rpc.Status` in the export's encoding, else the API's JSON error).
///
/// A refused request's body is read and thrown away (up to `drain_limit` bytes, never
/// kept) before the answer: an HTTP/1.1 client still sending a large export would
/// otherwise see a broken connection instead of the 401.
pub(crate) async fn require_token(
    State((auth, drain_limit)): State<(Auth, usize)>,
    request: Request,
    next: Next,
) -> Response {
    if auth.allows(&request) {
        return next.run(request).await;
    }
    let refusal = super::export::refusal_for(&request, ApiError::Unauthorized);
    let mut body = request.into_body();
    let mut read = 0;
    while read <= drain_limit {
        match http_body_util::BodyExt::frame(&mut body).await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |data| data.len()),
            _ => break,
        }
    }
    axum::response::IntoResponse::into_response(refusal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(uri: &str, authorization: Option<&str>) -> Request {
        let mut builder = Request::builder().uri(uri);
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn only_the_exact_bearer_header_passes() {
        let auth = Auth::new(Some("s3cret"));
        assert!(auth.allows(&request("/v1/traces", Some("Bearer s3cret"))));
        for bad in [
            None,
            Some("Bearer wrong!"),
            Some("Bearer s3cre"),
            Some("Bearer s3cret "),
            Some("bearer s3cret"),
            Some("Bearer  s3cret"),
            Some("s3cret"),
        ] {
            assert!(!auth.allows(&request("/v1/traces", bad)), "{bad:?} passed");
        }
    }

    #[test]
    fn a_token_in_the_url_opens_nothing() {
        let auth = Auth::new(Some("abc"));
        assert!(!auth.allows(&request("/api/ws?token=abc", None)));
        assert!(!auth.allows(&request("/v1/traces?token=abc", None)));
    }

    #[test]
    fn the_bearer_subprotocol_only_opens_the_websocket() {
        let auth = Auth::new(Some("a b+c/é"));
        let offer = |uri: &str, protocols: &str| {
            let mut request = request(uri, None);
            request
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, protocols.parse().unwrap());
            request
        };
        let right = format!("otel-worker, {}", bearer_protocol("a b+c/é"));
        assert!(auth.allows(&offer("/api/ws", &right)));
        assert!(!auth.allows(&offer("/v1/traces", &right)));
        for wrong in [
            format!("otel-worker, {}", bearer_protocol("a b+c/e")),
            "otel-worker, bearer.".to_owned(),
            "otel-worker, bearer.!!!".to_owned(),
            "otel-worker".to_owned(),
        ] {
            assert!(!auth.allows(&offer("/api/ws", &wrong)), "{wrong:?} passed");
        }
    }

    #[test]
    fn no_token_means_open() {
        assert!(Auth::new(None).allows(&request("/v1/traces", None)));
    }
}
