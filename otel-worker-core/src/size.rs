//! Sizes as people type them (`500MB`, `2GB`, `1.5GiB`), for storage budgets.

/// Parses a positive number followed by a unit: KB, MB and GB count in thousands, KiB,
/// MiB and GiB in 1024s, B or nothing is bytes (case does not matter).
pub fn parse(text: &str) -> Result<u64, String> {
    const UNITS: &[(&str, f64)] = &[
        ("KiB", 1024.0),
        ("MiB", 1024.0 * 1024.0),
        ("GiB", 1024.0 * 1024.0 * 1024.0),
        ("KB", 1e3),
        ("MB", 1e6),
        ("GB", 1e9),
        ("B", 1.0),
        ("", 1.0),
    ];
    let (value, unit) = crate::duration::number_and_unit(text);
    let scale = UNITS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit.trim()))
        .map(|(_, scale)| *scale);
    match (value, scale) {
        (Some(n), Some(scale)) if n * scale >= 1.0 && n * scale < u64::MAX as f64 => {
            Ok((n * scale) as u64)
        }
        _ => Err(format!("{text:?} is not a size like 500MB, 2GB or 1.5GiB")),
    }
}

/// A size in the decimal units [`parse`] reads: `512 B`, `12.3 MB`, `9.00 GB`.
pub fn display(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} KB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.2} GB", b / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_display_in_units_that_parse_back() {
        for (bytes, text) in [
            (512, "512 B"),
            (12_345_678, "12.3 MB"),
            (9_000_000_000, "9.00 GB"),
        ] {
            assert_eq!(display(bytes), text);
            let back = parse(&text.replace(' ', "")).unwrap() as f64;
            assert!(
                (back - bytes as f64).abs() / (bytes as f64) < 0.01,
                "{text}"
            );
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse("2GB"), Ok(2_000_000_000));
        assert_eq!(parse("500MB"), Ok(500_000_000));
        assert_eq!(parse("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse("20mb"), Ok(20_000_000));
        assert_eq!(parse("4096"), Ok(4096));
        for bad in ["", "MB", "0", "-1GB", "2TB", "lots"] {
            assert!(parse(bad).is_err(), "{bad:?} passed");
        }
    }
}
