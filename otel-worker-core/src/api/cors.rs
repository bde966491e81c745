//! Which browser origins may call the API: one check for the CLI's `--cors-origin` and the
//! Worker's `CORS_ORIGINS`, so both homes accept exactly the same values.

use axum::http::HeaderValue;

/// An origin as browsers send it in `Origin`: scheme, host and optional port, nothing
/// else (`https://app.example.com`, `http://localhost:3000`). A trailing slash, a path, a
/// query or a fragment never matches a real `Origin` header, so they are refused.
pub fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let host = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    let valid = host.is_some_and(|host| {
        !host.is_empty()
            && !host.contains(['/', '?', '#', '@'])
            && !host.chars().any(char::is_whitespace)
    });
    if !valid {
        return Err(format!(
            "{text:?} is not an origin like https://app.example.com or http://localhost:3000"
        ));
    }
    HeaderValue::from_str(text).map_err(|e| format!("{text:?} is not a valid origin: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_origins_are_accepted() {
        for good in [
            "https://app.example.com",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
        ] {
            assert_eq!(parse_origin(good).unwrap(), good);
        }
        for bad in [
            "https://a.com/",
            "https://a.com/path",
            "https://a.com?x=1",
            "https://a.com#top",
            "ftp://a.com",
            "a.com",
            "https://",
            "http://user@a.com",
            "https://a .com",
            "",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad:?} passed");
        }
    }
}
