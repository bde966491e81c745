//! Share links over HTTP: made and revoked with the token, read without it.
//!
//! `POST /v1/traces/{traceId}/share?expires=24h` signs a grant for one trace; the routes
//! under `/v1/shared/{token}` are public (see `auth::SHARED_PREFIX`) and read only the
//! trace the grant names, through the same handlers the token routes use. A link that
//! fails its signature is a 404 that says nothing more; an expired or revoked one a 410.

use axum::Json;
use axum::extract::{FromRequestParts, RawPathParams, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::extract::TraceId;
use super::{ApiError, AppState, logs, traces};
use crate::models::Share;
use crate::query;
use crate::share::{Grant, ShareKey, new_share_id};

/// The page a link opens, before its token.
pub const PAGE_PREFIX: &str = "/#share=";

/// The response header that says when the link stops working (RFC 3339).
pub const EXPIRES_HEADER: &str = "otel-worker-share-expires";

type ApiResult<T> = Result<T, ApiError>;

/// `POST /v1/traces/{traceId}/share[?expires=24h]`
pub(crate) async fn create(
    State(state): State<AppState>,
    TraceId(trace_id): TraceId,
    RawQuery(raw): RawQuery,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lasts = query::share_expiry(raw.as_deref())?;
    let key = key(&state)?;
    traces::find_trace(&state, &trace_id).await?;
    let share_id = new_share_id()
        .map_err(|e| ApiError::Misconfigured(format!("no randomness for a share id: {e}")))?;
    let grant = Grant {
        trace_id,
        expires_s: now_s(&state)? + lasts,
        share_id,
    };
    let token = key
        .sign(&grant)
        .map_err(|e| ApiError::Misconfigured(format!("cannot sign a share link: {e}")))?;
    let path = format!("{PAGE_PREFIX}{token}");
    let share = Share {
        url: format!("{}{path}", super::public_base(&uri, &headers)),
        path,
        token,
        trace_id: grant.trace_id,
        share_id: grant.share_id,
        expires_at: rfc3339(grant.expires_s),
    };
    Ok((StatusCode::CREATED, Json(share)).into_response())
}

/// `DELETE /v1/shares/{token}`: the link stops working at once, everywhere.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    ShareToken(token): ShareToken,
) -> ApiResult<StatusCode> {
    let grant = verify(&state, &token)?;
    let now = now_s(&state)?;
    state
        .shards
        .of(&grant.trace_id)
        .revoke_share(
            &grant.share_id,
            grant.expires_s.saturating_mul(1_000_000_000),
            now.saturating_mul(1_000_000_000),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/shared/{token}`: what `GET /v1/traces/{traceId}` answers for the shared trace.
pub(crate) async fn trace(
    State(state): State<AppState>,
    Shared(grant): Shared,
    raw: RawQuery,
) -> ApiResult<Response> {
    let detail = traces::get_trace(State(state), TraceId(grant.trace_id.clone()), raw).await?;
    Ok(with_expiry(detail.into_response(), &grant))
}

/// `GET /v1/shared/{token}/logs`: the shared trace's log records.
pub(crate) async fn trace_logs(
    State(state): State<AppState>,
    Shared(grant): Shared,
    raw: RawQuery,
) -> ApiResult<Response> {
    let logs = logs::trace_logs(State(state), TraceId(grant.trace_id.clone()), raw).await?;
    Ok(with_expiry(logs.into_response(), &grant))
}

/// `GET /v1/shared/{token}/otlp`: the shared trace as an OTLP/JSON file.
pub(crate) async fn trace_otlp(
    State(state): State<AppState>,
    Shared(grant): Shared,
) -> ApiResult<Response> {
    let file = traces::export_trace(State(state), TraceId(grant.trace_id.clone())).await?;
    Ok(with_expiry(file, &grant))
}

/// The `{token}` of the path, as given.
pub(crate) struct ShareToken(String);

impl<S: Send + Sync> FromRequestParts<S> for ShareToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest("invalid-path", e.body_text()))?;
        params
            .iter()
            .find(|(name, _)| *name == "token")
            .map(|(_, value)| Self(value.to_owned()))
            .ok_or_else(|| ApiError::BadRequest("invalid-path", "no share token".into()))
    }
}

/// A grant that is signed, unexpired and not revoked: what the public routes serve.
pub(crate) struct Shared(Grant);

impl FromRequestParts<AppState> for Shared {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ShareToken(token) = ShareToken::from_request_parts(parts, state).await?;
        let grant = verify(state, &token)?;
        if now_s(state)? >= grant.expires_s {
            return Err(ApiError::Gone(
                "share-expired",
                format!("this link expired at {}", rfc3339(grant.expires_s)),
            ));
        }
        if state
            .shards
            .of(&grant.trace_id)
            .share_revoked(&grant.share_id)
            .await?
        {
            return Err(ApiError::Gone(
                "share-revoked",
                "this link was revoked".into(),
            ));
        }
        Ok(Self(grant))
    }
}

fn key(state: &AppState) -> ApiResult<&ShareKey> {
    state.share_key.as_ref().ok_or_else(|| {
        ApiError::BadRequest(
            "no-token",
            "this server has no token, so anything that reaches it reads everything already; \
             share links need a token to keep the rest private (set AUTH_TOKEN)"
                .into(),
        )
    })
}

/// The grant of `token`; a link this server did not sign (or an open server) is a 404.
fn verify(state: &AppState, token: &str) -> ApiResult<Grant> {
    let not_found = || ApiError::NotFound("no such share link".into());
    let key = state.share_key.as_ref().ok_or_else(not_found)?;
    key.verify(token).map_err(|_| not_found())
}

fn now_s(state: &AppState) -> ApiResult<u64> {
    state
        .clock
        .map(|now| now() / 1_000_000_000)
        .ok_or_else(|| ApiError::Misconfigured("share links need the server's clock".into()))
}

fn rfc3339(unix_s: u64) -> String {
    i64::try_from(unix_s)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_s.to_string())
}

fn with_expiry(mut response: Response, grant: &Grant) -> Response {
    if let Ok(value) = HeaderValue::from_str(&rfc3339(grant.expires_s)) {
        response.headers_mut().insert(EXPIRES_HEADER, value);
    }
    // A shared page is one person's capability: nothing in between keeps a copy.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
