//! How often a group comparison is wrong: the share of reports that call an unchanged
//! operation a regression (groups drawn from one distribution), and the share that find
//! a real one (the query made slower by a given factor, or failing more often).
//!
//!     cargo run --release -p otel-worker-core --example compare_error_rates -- [reports] [traces]
//!
//! Each report compares two groups of `traces` traces (default 1,000 reports of 200) of
//! `GET /cart` calling `SELECT cart` then `render`, with log-normal-like durations (a
//! product of uniforms: skewed, with a tail) and 2% failing renders.

use otel_worker_core::compare::Span;
use otel_worker_core::compare::groups::{GroupSample, Options, compare};

/// xorshift: reproducible without a dependency.
struct Draws(u64);

impl Draws {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Skewed like a latency: around `median_ns`, with a tail.
    fn latency(&mut self, median_ns: f64) -> u64 {
        let spread = (0.5 + self.unit()) * (0.5 + self.unit()) * (0.6 + 0.8 * self.unit());
        (median_ns * spread * 1.6) as u64
    }
}

fn span(id: u64, parent: Option<u64>, name: &str, start: u64, end: u64, error: bool) -> Span {
    Span::numbered("shop", (id, parent), name, (start, end), error)
}

fn group(draws: &mut Draws, traces: u64, query_factor: f64, render_errors: f64) -> GroupSample {
    let mut sample = GroupSample::default();
    for _ in 0..traces {
        let own = draws.latency(800_000.0);
        let query = (draws.latency(4_000_000.0) as f64 * query_factor) as u64;
        let render = draws.latency(2_000_000.0);
        let failing = draws.unit() < render_errors;
        sample.add_trace(&[
            span(1, None, "GET /cart", 0, own + query + render, false),
            span(2, Some(1), "SELECT cart", own, own + query, false),
            span(
                3,
                Some(1),
                "render",
                own + query,
                own + query + render,
                failing,
            ),
        ]);
    }
    sample
}

fn main() {
    let mut args = std::env::args().skip(1);
    let reports: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let traces: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let mut draws = Draws(0x5eed_0fc0_ffee);
    println!("{reports} reports of two groups of {traces} traces each");
    for (label, factor, errors) in [
        ("unchanged", 1.0, 0.02),
        ("query 10% slower", 1.1, 0.02),
        ("query 20% slower", 1.2, 0.02),
        ("query 50% slower", 1.5, 0.02),
        ("render failing 2% -> 5%", 1.0, 0.05),
        ("render failing 2% -> 10%", 1.0, 0.10),
    ] {
        let (mut any, mut query_found, mut render_found) = (0, 0, 0);
        for _ in 0..reports {
            let baseline = group(&mut draws, traces, 1.0, 0.02);
            let candidate = group(&mut draws, traces, factor, errors);
            let report = compare(baseline, candidate, Default::default(), Options::default());
            any += u64::from(report.regressions > 0);
            let regressed = |name: &str| {
                report
                    .operations
                    .iter()
                    .any(|o| o.name == name && o.regressed)
            };
            query_found += u64::from(regressed("SELECT cart"));
            render_found += u64::from(regressed("render"));
        }
        let share = |n: u64| n as f64 * 100.0 / reports as f64;
        println!(
            "{label:<26} any regression reported: {:>5.1}%   SELECT cart: {:>5.1}%   render: {:>5.1}%",
            share(any),
            share(query_found),
            share(render_found)
        );
    }
}
