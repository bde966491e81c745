//! Bearer-token authentication for every route but `/health` and the UI page at `/`.
//!
//! The header must read exactly `Authorization: Bearer <token>`. Browsers cannot set
//! headers on a WebSocket, so `/api/ws` also takes the token as a `token` query
//! parameter. Tokens are compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::ApiError;

/// Paths anyone may call: the health probe and the web UI's page (which holds no data
/// and asks for the token itself).
pub const PUBLIC_PATHS: &[&str] = &["/health", "/"];

/// The path whose token may also come as a `token` query parameter.
pub const WEBSOCKET_PATH: &str = "/api/ws";

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

    /// Whether `request` carries the token (always true for an open server).
    pub fn allows(&self, request: &Request) -> bool {
        let Some(expected) = self.token.as_deref() else {
            return true;
        };
        let from_header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        if from_header.is_some_and(|given| constant_time_eq(given, expected)) {
            return true;
        }
        request.uri().path() == WEBSOCKET_PATH
            && query_token(request.uri().query().unwrap_or(""))
                .is_some_and(|given| constant_time_eq(given.as_bytes(), expected))
    }
}

/// Compares two tokens without an early exit on the first differing byte.
pub fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && bool::from(given.ct_eq(expected))
}

fn query_token(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "token").then(|| percent_decode(value))
    })
}

/// Decodes `%XX` escapes and `+`, as a browser's `URLSearchParams` writes them.
fn percent_decode(value: &str) -> String {
    form_urlencoded::parse(format!("t={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Middleware: 401 with a JSON error unless the request is public or carries the token.
pub(crate) async fn require_token(
    State(auth): State<Auth>,
    request: Request,
    next: Next,
) -> Response {
    if PUBLIC_PATHS.contains(&request.uri().path()) || auth.allows(&request) {
        next.run(request).await
    } else {
        axum::response::IntoResponse::into_response(ApiError::Unauthorized)
    }
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
    fn the_query_token_only_opens_the_websocket() {
        let auth = Auth::new(Some("a b+c"));
        assert!(auth.allows(&request("/api/ws?token=a%20b%2Bc", None)));
        assert!(!auth.allows(&request("/api/ws?token=wrong", None)));
        assert!(!auth.allows(&request("/v1/traces?token=a%20b%2Bc", None)));
    }

    #[test]
    fn no_token_means_open() {
        assert!(Auth::new(None).allows(&request("/v1/traces", None)));
    }
}
