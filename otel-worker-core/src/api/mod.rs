//! The HTTP API as one axum [`Router`], built the same way by both homes.
//!
//! `Builder::new(store, events).auth_token(Some(token)).build()` gives the router; the
//! home adds its own WebSocket route with [`Builder::live_route`]. This is the transport
//! layer: it may use everything below it (`ingest`, `query`, `store`, `live`, `models`),
//! and nothing below it imports from here.

pub mod auth;
mod compare;
pub mod compute;
mod cors;
mod download;
mod error;
mod export;
mod extract;
#[cfg(feature = "grpc")]
pub mod grpc;
mod logs;
pub mod mcp;
mod metrics;
mod origin;
mod share;
mod traces;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::middleware;
use axum::routing::{MethodRouter, delete, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use cors::parse_origin;
pub use error::{ApiError, FailureCause, RETRY_AFTER_SECONDS, retry_after_seconds};
pub use export::{EXPORT_PATHS, Exported, refusal_for};
pub use logs::MAX_LOG_WINDOWS;

use crate::ingest::Sampling;
use crate::live::ServerEvents;
use crate::store::Shards;
use crate::store::search::Budget;

/// Largest export body accepted, measured after decompression (10 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Items (spans, log records or metric points) one export to a file reads at most, unless
/// the home says otherwise: what a request can hold in memory here.
pub const DEFAULT_EXPORT_ITEMS: u64 = 500_000;

/// How long browsers may cache a CORS preflight answer.
pub const CORS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) shards: Shards,
    pub(crate) events: Arc<dyn ServerEvents>,
    pub(crate) max_body_bytes: usize,
    pub(crate) sampling: Option<Sampling>,
    pub(crate) search_budget: Option<Budget>,
    pub(crate) compare_limits: crate::compare::groups::Limits,
    pub(crate) export_items: u64,
    pub(crate) compute: Option<Arc<dyn compute::Compute>>,
    pub(crate) clock: Option<Clock>,
    /// Signs and checks share links; `None` on a server without a token.
    pub(crate) share_key: Option<crate::share::ShareKey>,
}

impl AppState {
    /// What each item of an export must fit in, now.
    pub(crate) fn bounds(&self) -> crate::ingest::Bounds {
        crate::ingest::Bounds::new(&self.shards, self.clock.map(|now| now()))
    }
}

/// The home's clock: unix time in nanoseconds.
pub type Clock = fn() -> u64;

/// Assembles the API router for one home.
pub struct Builder {
    /// Where spans are stored and read from: one store, or several (D1 shards).
    shards: Shards,
    /// Who hears about newly stored spans.
    events: Arc<dyn ServerEvents>,
    /// The bearer token every route but `/health` requires; `None` leaves the API open.
    auth_token: Option<String>,
    /// Export size limit after decompression; defaults to [`DEFAULT_MAX_BODY_BYTES`].
    max_body_bytes: usize,
    /// The home's WebSocket handler for `/api/ws`; sockets are platform-specific.
    live_route: Option<MethodRouter>,
    /// Browser origins allowed to call the API cross-origin; empty (the default) means none.
    cors_origins: Vec<HeaderValue>,
    /// Which traces to keep; `None` keeps all.
    sampling: Option<Sampling>,
    /// How much one search may do; `None`: as much as it needs (the local server).
    search_budget: Option<Budget>,
    /// How much one group comparison reads.
    compare_limits: crate::compare::groups::Limits,
    /// Items one export to a file (`/v1/export/...`, a trace's OTLP) reads at most.
    export_items: u64,
    /// The MCP server at `/mcp`; `None` leaves the route out.
    mcp: Option<mcp::http::McpOptions>,
    /// Where exports are decoded and converted; `None`: on the request's own task.
    compute: Option<Arc<dyn compute::Compute>>,
    /// The clock items are checked against (not dated more than a day ahead); `None`:
    /// no such check.
    clock: Option<Clock>,
}

impl Builder {
    pub fn new(shards: Shards, events: Arc<dyn ServerEvents>) -> Self {
        Self {
            shards,
            events,
            auth_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            live_route: None,
            cors_origins: Vec::new(),
            sampling: None,
            search_budget: None,
            compare_limits: crate::compare::groups::DEFAULT_LIMITS,
            export_items: DEFAULT_EXPORT_ITEMS,
            mcp: None,
            compute: None,
            clock: None,
        }
    }

    /// Refuses items dated more than [`crate::ingest::MAX_FUTURE_NS`] after `clock`.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Decodes and converts exports with `compute`, away from the request threads.
    pub fn compute(mut self, compute: Arc<dyn compute::Compute>) -> Self {
        self.compute = Some(compute);
        self
    }

    /// Serves MCP's Streamable HTTP transport at `/mcp`, over this same API.
    pub fn mcp(mut self, options: mcp::http::McpOptions) -> Self {
        self.mcp = Some(options);
        self
    }

    pub fn sampling(mut self, sampling: Option<Sampling>) -> Self {
        self.sampling = sampling;
        self
    }

    /// Bounds what one search request may do; a page that hits the bound ends early
    /// with a cursor that continues (the Worker, where a query must stay short).
    pub fn search_budget(mut self, budget: Option<Budget>) -> Self {
        self.search_budget = budget;
        self
    }

    /// Bounds what one group comparison reads (the Worker's, to stay within a request's
    /// D1 queries and memory).
    pub fn compare_limits(mut self, limits: crate::compare::groups::Limits) -> Self {
        self.compare_limits = limits;
        self
    }

    /// Bounds what one export to a file reads (the Worker's, to stay within a request's
    /// memory and D1 queries); past it the export says it was cut short.
    pub fn export_items(mut self, items: u64) -> Self {
        self.export_items = items;
        self
    }

    pub fn auth_token(mut self, token: Option<String>) -> Self {
        self.auth_token = token;
        self
    }

    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    pub fn live_route(mut self, route: MethodRouter) -> Self {
        self.live_route = Some(route);
        self
    }

    /// Lets pages on these origins (e.g. `https://app.example.com`, checked with
    /// [`parse_origin`]) call the API from a browser. Preflight requests are answered before authentication, as browsers send
    /// them without credentials; the actual requests still need the token.
    pub fn cors_origins(mut self, origins: Vec<HeaderValue>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// The finished router: every route behind the bearer token except `/health`, and
    /// behind the browser checks of `api::origin`.
    pub fn build(self) -> Router {
        let state = AppState {
            shards: self.shards,
            events: self.events,
            max_body_bytes: self.max_body_bytes,
            sampling: self.sampling,
            search_budget: self.search_budget,
            compare_limits: self.compare_limits,
            export_items: self.export_items,
            compute: self.compute,
            clock: self.clock,
            share_key: self
                .auth_token
                .as_deref()
                .map(|token| crate::share::ShareKey::derive(token.as_bytes())),
        };
        let mut router = Router::new()
            .route("/health", get(traces::health))
            .route(
                "/v1/traces",
                get(traces::list_traces).post(export::export_traces),
            )
            .route(
                "/v1/traces/{trace_id}",
                get(traces::get_trace).delete(traces::delete_trace),
            )
            .route("/v1/traces/{trace_id}/spans", get(traces::trace_spans))
            .route("/v1/traces/{trace_id}/otlp", get(traces::export_trace))
            .route("/v1/export/traces", get(traces::export_search))
            .route("/v1/export/logs", get(logs::export_logs))
            .route("/v1/export/metrics", get(metrics::export_metrics))
            .route("/v1/traces/{trace_id}/share", post(share::create))
            .route("/v1/shares/{token}", delete(share::revoke))
            .route("/v1/shared/{token}", get(share::trace))
            .route("/v1/shared/{token}/logs", get(share::trace_logs))
            .route("/v1/shared/{token}/otlp", get(share::trace_otlp))
            .route("/v1/traces/{trace_id}/logs", get(logs::trace_logs))
            .route("/v1/logs", get(logs::list_logs).post(export::export_logs))
            .route(
                "/v1/metrics",
                get(metrics::list_metrics).post(export::export_metrics),
            )
            .route("/v1/metrics/{name}", get(metrics::get_metric))
            .route("/v1/compare/traces", get(compare::compare_traces))
            .route("/v1/compare/groups", get(compare::compare_groups))
            .route("/v1/services", get(traces::list_services))
            .route("/v1/stats", get(traces::stats))
            .route("/v1/attributes", get(traces::attributes))
            .route("/v1/attributes/{key}/values", get(traces::attribute_values))
            .route(
                "/v1/traces/{trace_id}/spans/{span_id}",
                get(traces::get_span).delete(traces::delete_span),
            )
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(state);
        #[cfg(feature = "ui")]
        {
            router = router
                .route("/", get(crate::ui::index))
                .route("/js/{name}", get(crate::ui::script));
        }
        if let Some(options) = self.mcp {
            let api = router.clone();
            router = router.route("/mcp", mcp::http::route(api, options));
        }
        if let Some(live) = self.live_route {
            router = router.route(auth::WEBSOCKET_PATH, live);
        }
        let auth = auth::Auth::new(self.auth_token.as_deref());
        let guard = origin::Guard {
            cors_origins: Arc::new(self.cors_origins.clone()),
            loopback_only: self.auth_token.is_none(),
            example_token: auth.is_the_example(),
        };
        let router = router
            .layer(middleware::from_fn_with_state(
                (auth, self.max_body_bytes),
                auth::require_token,
            ))
            .layer(middleware::from_fn_with_state(guard, origin::guard));
        if self.cors_origins.is_empty() {
            return router;
        }
        router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.cors_origins))
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::CONTENT_ENCODING,
                ])
                // A page must be able to read how long to wait after a 503.
                .expose_headers([header::RETRY_AFTER])
                .max_age(CORS_MAX_AGE),
        )
    }
}

/// Where the client reached this server (the web UI's address, for links): the URI's own
/// scheme and host when it has them (the Worker's), else the `Host` header, over `https`
/// when a proxy in front says so.
pub(crate) fn public_base(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> String {
    if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
        return format!("{scheme}://{authority}");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("there is no route {}", uri.path()))
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}
