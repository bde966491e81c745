//! Parsing what a reader asks for: ids in paths and the trace list's parameters.
//! Every mistake becomes a 400 that says what was wrong.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::ApiError;
use crate::store::TraceListQuery;

/// Traces per page when `limit` is not given.
pub const DEFAULT_LIST_LIMIT: u32 = 20;
/// The largest `limit` accepted.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// A trace id from a path: 32 hex characters, returned in lower case.
pub fn trace_id(text: &str) -> Result<String, ApiError> {
    hex_id(text, 32).ok_or_else(|| {
        ApiError::BadRequest(
            "invalid-trace-id",
            format!("trace id {text:?} is not 32 hexadecimal characters"),
        )
    })
}

/// A span id from a path: 16 hex characters, returned in lower case.
pub fn span_id(text: &str) -> Result<String, ApiError> {
    hex_id(text, 16).ok_or_else(|| {
        ApiError::BadRequest(
            "invalid-span-id",
            format!("span id {text:?} is not 16 hexadecimal characters"),
        )
    })
}

fn hex_id(text: &str, len: usize) -> Option<String> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

/// The raw query of `GET /v1/traces`; values stay text so errors can name them.
#[derive(Debug, Default, Deserialize)]
pub struct TraceListParams {
    pub limit: Option<String>,
    pub before: Option<String>,
}

impl TraceListParams {
    pub fn parse(&self) -> Result<TraceListQuery, ApiError> {
        let limit = match self.limit.as_deref() {
            None => DEFAULT_LIST_LIMIT,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::BadRequest(
                        "invalid-query",
                        format!("limit {text:?} must be a whole number from 1 to {MAX_LIST_LIMIT}"),
                    ));
                }
            },
        };
        let before_ns = self.before.as_deref().map(instant).transpose()?;
        Ok(TraceListQuery { limit, before_ns })
    }
}

/// An instant as RFC 3339 (`2025-02-18T10:00:00Z`) or unix nanoseconds.
pub fn instant(text: &str) -> Result<u64, ApiError> {
    if let Ok(ns) = text.parse::<u64>() {
        return Ok(ns);
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp_nanos()).ok())
        .ok_or_else(|| {
            ApiError::BadRequest(
                "invalid-query",
                format!("{text:?} is neither an RFC 3339 time nor unix nanoseconds"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_normalised_to_lower_case_and_checked() {
        assert_eq!(trace_id(&"AB".repeat(16)).unwrap(), "ab".repeat(16));
        assert!(trace_id("xyz").is_err());
        assert!(trace_id(&"g".repeat(32)).is_err());
        assert!(span_id(&"0".repeat(15)).is_err());
        assert_eq!(span_id("00F067AA0BA902B7").unwrap(), "00f067aa0ba902b7");
    }

    #[test]
    fn list_parameters() {
        let parse = |limit: Option<&str>, before: Option<&str>| {
            TraceListParams {
                limit: limit.map(Into::into),
                before: before.map(Into::into),
            }
            .parse()
        };
        assert_eq!(parse(None, None).unwrap().limit, DEFAULT_LIST_LIMIT);
        assert_eq!(parse(Some("1000"), None).unwrap().limit, 1000);
        for bad in ["0", "1001", "-1", "ten", ""] {
            assert!(parse(Some(bad), None).is_err(), "limit {bad} passed");
        }
        assert_eq!(
            parse(None, Some("2025-02-18T10:00:00.5Z"))
                .unwrap()
                .before_ns,
            Some(1_739_872_800_500_000_000)
        );
        assert_eq!(parse(None, Some("17")).unwrap().before_ns, Some(17));
        assert!(parse(None, Some("yesterday")).is_err());
    }
}
