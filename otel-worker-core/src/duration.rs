//! Durations as people type them (`250ms`, `1.5s`, `2m`, `7d`), shared by the API's
//! filters and the CLI's flags so both accept exactly the same spellings; and as the CLI
//! and the MCP tools write them.

use std::time::Duration;

/// The units accepted, with their length in nanoseconds. The whole text after the number
/// must equal one of them, so `ms` can never be read as `m`.
const UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
    ("d", 86400e9),
];

/// A span's length as people read it, in the unit that suits it: `850ns`, `12.3µs`,
/// `45.6ms`, `1.23s`; each is also a spelling [`parse`] accepts.
pub fn human(ns: u64) -> String {
    let ns_f = ns as f64;
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{:.1}µs", ns_f / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}ms", ns_f / 1e6),
        _ => format!("{:.2}s", ns_f / 1e9),
    }
}

/// A change in length, signed: `+100.0ms`, `-3.0ms`, `+0ns`.
pub fn human_change(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    format!("{sign}{}", human(ns.unsigned_abs()))
}

/// A length of time as it would be typed: `7d`, `36h`, `1m`, `90s`, `1.5s` (the largest
/// unit that divides it).
pub fn spelled(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration.subsec_nanos() == 0 {
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if secs > 0 && secs.is_multiple_of(size) {
                return format!("{}{unit}", secs / size);
            }
        }
    }
    format!("{}s", duration.as_secs_f64())
}

/// Parses a non-negative decimal number followed by one unit: `ns`, `us`, `ms`, `s`, `m`,
/// `h` or `d`. The error says what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    let (value, unit) = number_and_unit(text);
    let scale = UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale);
    match (value, scale) {
        (Some(value), Some(scale)) if value * scale <= u64::MAX as f64 => {
            Ok(Duration::from_nanos((value * scale).round() as u64))
        }
        _ => Err(format!(
            "{text:?} is not a duration like 250ms, 1.5s, 2m, 1h or 7d (units: ns, us, ms, s, m, h, d)"
        )),
    }
}

/// A non-negative decimal number and the text after it, as `250ms` or `2GB` are written;
/// the number is `None` when it does not read.
pub(crate) fn number_and_unit(text: &str) -> (Option<f64>, &str) {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    (number.parse::<f64>().ok().filter(|v| v.is_finite()), unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_time_are_spelled_in_their_largest_whole_unit() {
        let s = Duration::from_secs;
        assert_eq!(spelled(s(7 * 86_400)), "7d");
        assert_eq!(spelled(s(36 * 3_600)), "36h");
        assert_eq!(spelled(s(60)), "1m");
        assert_eq!(spelled(s(90)), "90s");
        assert_eq!(spelled(Duration::from_millis(1_500)), "1.5s");
    }

    #[test]
    fn durations_are_written_in_a_short_unit_that_parses_back() {
        for (ns, text) in [
            (850, "850ns"),
            (12_345, "12.3µs"),
            (45_600_000, "45.6ms"),
            (1_234_000_000, "1.23s"),
        ] {
            assert_eq!(human(ns), text);
            assert!(parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn accepts_every_unit_and_fractions() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("5ns"), Ok(Duration::from_nanos(5)));
        assert_eq!(parse(" 60s "), Ok(Duration::from_secs(60)));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in [
            "",
            "5",
            "ms",
            "-1s",
            "1.5.2s",
            "1sec",
            "3 weeks",
            "1e3s",
            "99999999999999999999d",
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains("not a duration"), "{text}: {error}");
        }
    }
}
