//! What an OTLP/HTTP exporter sends again, and after how long: `generate` and `import`
//! retry the same answers the way SDK exporters do.

use std::time::Duration;

/// The answers an exporter retries: too many requests, a gateway's failure, unavailable.
pub fn is_retryable(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// The wait an answer's `Retry-After` asks for, in whole seconds.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
