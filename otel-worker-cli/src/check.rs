//! `otel-worker-cli check`: a regression gate for CI. Compares two groups of traces on
//! any otel-worker (`GET /v1/compare/groups`) and fails when an operation got
//! significantly slower or failed significantly more often than the limits allow.

use std::process::ExitCode;

use otel_worker_core::compare::groups::{Gate, gate};

use crate::client::{CompareArgs, Connection};
use crate::view;

/// The p99 increase allowed when `--max-p99-increase` is not given.
pub const DEFAULT_MAX_P99_INCREASE: &str = "10%";
/// The error rate increase allowed when `--max-error-rate-increase` is not given.
pub const DEFAULT_MAX_ERROR_RATE_INCREASE: &str = "1pp";

/// Exit status when the candidate regressed; an error (the server unreachable, a group
/// with no trace) is [`FAILED_TO_CHECK`].
pub const REGRESSED: u8 = 1;
pub const FAILED_TO_CHECK: u8 = 2;

/// `otel-worker-cli check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(flatten)]
    pub groups: CompareArgs,
    /// The largest p99 duration increase allowed for an operation that is significantly
    /// slower (`10%`).
    #[arg(long, default_value = DEFAULT_MAX_P99_INCREASE, value_parser = percent)]
    pub max_p99_increase: f64,
    /// The largest error rate increase allowed for an operation that fails significantly
    /// more often, in percentage points (`1pp`).
    #[arg(long, default_value = DEFAULT_MAX_ERROR_RATE_INCREASE, value_parser = points)]
    pub max_error_rate_increase: f64,
    /// Print the verdict and the whole comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `10%` (or `10`) as 0.1.
fn percent(text: &str) -> Result<f64, String> {
    share(text, '%', "a percentage like 10%")
}

/// `1pp` (or `1`) as 0.01.
fn points(text: &str) -> Result<f64, String> {
    let text = text.trim();
    share(
        text.strip_suffix("pp").unwrap_or(text),
        '%',
        "percentage points like 1pp",
    )
}

fn share(text: &str, suffix: char, what: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches(suffix).trim();
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n / 100.0),
        _ => Err(format!("{text:?} is not {what}")),
    }
}

/// Runs the gate: success when nothing regressed beyond the limits, [`REGRESSED`] when
/// something did (with the report on stdout either way).
pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let client = args.connection.client();
    let report = args.groups.compare(&client).await?;
    // A group with no trace (the tests did not run, a filter is wrong) is no pass.
    for (label, side) in [
        ("baseline", &report.baseline),
        ("candidate", &report.candidate),
    ] {
        if side.traces == 0 {
            anyhow::bail!(
                "the {label} ({}) matched no trace: nothing to compare",
                side.query
            );
        }
    }
    let limits = Gate {
        max_p99_increase: args.max_p99_increase,
        max_error_rate_increase: args.max_error_rate_increase,
    };
    let failures = gate(&report, limits);
    let passed = failures.is_empty();
    if args.json {
        let verdict = serde_json::json!({
            "passed": passed,
            "failures": failures,
            "maxP99Increase": limits.max_p99_increase,
            "maxErrorRateIncrease": limits.max_error_rate_increase,
            "comparison": report,
        });
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        print!("{}", view::group_comparison(&report));
        if passed {
            println!(
                "PASSED: no operation regressed beyond p99 {:+.1}% or error rate {:+.2} pp",
                limits.max_p99_increase * 100.0,
                limits.max_error_rate_increase * 100.0
            );
        } else {
            println!("FAILED: {} regressed", failures.len());
            for f in &failures {
                println!(
                    "  {}: {}: {}",
                    f.service.as_deref().unwrap_or("?"),
                    f.name,
                    f.reason
                );
            }
        }
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(REGRESSED)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_as_percentages_and_points() {
        assert_eq!(percent("10%"), Ok(0.1));
        assert_eq!(percent("2.5"), Ok(0.025));
        assert_eq!(points("1pp"), Ok(0.01));
        assert_eq!(points("0.5"), Ok(0.005));
        assert!(percent("ten").is_err());
        assert!(points("-1pp").is_err());
    }
}
