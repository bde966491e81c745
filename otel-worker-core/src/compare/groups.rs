//! Two groups of traces (a baseline and a candidate, each a search) compared operation by
//! operation: calls, error rate, duration and self-time percentiles in each, the changes,
//! and whether each change is more than chance ([`super::stats`]).
//!
//! Self time is tested beside duration because a slower operation makes every operation
//! above it slower too: durations say where the time shows, self time says which
//! operation spends it. Significant self-time and error-rate increases rank first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stats::{self, RankTest};
use super::{Span, difference, self_times, service_of};
use crate::models::StatusCode;

/// The level of the whole report: the chance that any unchanged operation is reported
/// as changed, after Holm's correction over every test in it.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// Calls an operation needs in each group to be tested at all.
pub const DEFAULT_MIN_SAMPLES: u64 = 10;

/// How much one group comparison reads, per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Traces read (spread evenly over those the search found).
    pub traces: u32,
    /// Traces the search may list to choose from (newest first).
    pub scanned: u32,
    /// Spans read in all: reading stops there.
    pub spans: u64,
}

/// The local server's: 500 traces of 2,000 listed, at most 500,000 spans, per group.
/// Listing is what a filtered search pays for (about 0.3 s per 1,000 traces of a service
/// at 1M spans: scripts/perf-compare.sh), so four times the traces read, not more.
pub const DEFAULT_LIMITS: Limits = Limits {
    traces: 500,
    scanned: 2_000,
    spans: 500_000,
};

/// The smallest change that counts, as a share of the baseline's p50 duration: a
/// significant shift of a few microseconds (an interpreter's own overhead moving between
/// two runs) is real but no regression.
pub const DEFAULT_MIN_CHANGE: f64 = 0.05;

/// What a group comparison is told besides its groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub alpha: f64,
    pub min_samples: u64,
    pub min_change: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: DEFAULT_ALPHA,
            min_samples: DEFAULT_MIN_SAMPLES,
            min_change: DEFAULT_MIN_CHANGE,
        }
    }
}

/// A measure of an operation that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Measure {
    Duration,
    SelfTime,
    Errors,
}

/// The spans of one group's traces, by operation, as they are read.
#[derive(Debug, Default)]
pub struct GroupSample {
    pub traces: u64,
    pub spans: u64,
    operations: BTreeMap<(Option<String>, String), Calls>,
}

#[derive(Debug, Default)]
struct Calls {
    durations: Vec<u64>,
    self_times: Vec<u64>,
    errors: u64,
}

impl GroupSample {
    /// Adds one trace (all the spans read of it).
    pub fn add_trace(&mut self, spans: &[Span]) {
        self.traces += 1;
        self.spans += spans.len() as u64;
        for (span, self_ns) in spans.iter().zip(self_times(spans)) {
            let calls = self
                .operations
                .entry((service_of(span), span.name.clone()))
                .or_default();
            calls.durations.push(
                span.end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano),
            );
            calls.self_times.push(self_ns);
            calls.errors += u64::from(span.status.code == StatusCode::Error);
        }
    }
}

/// How one group was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSide {
    /// The search, as the query string of `GET /v1/traces`.
    pub query: String,
    /// Traces the search found (all of them when `matchedAll`, else the newest this many).
    pub matched: u64,
    pub matched_all: bool,
    /// Traces read, spread evenly over those matched.
    pub traces: u64,
    pub spans: u64,
    /// Fewer traces were read than matched.
    pub sampled: bool,
    /// Reading stopped at the span limit, or a trace had more spans than are read.
    pub truncated: bool,
}

/// One operation in one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationSide {
    pub calls: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub calls_per_trace: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub self_p50_ns: u64,
    pub self_p90_ns: u64,
    pub self_p99_ns: u64,
}

/// One test of one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    pub p_value: f64,
    /// Holm-adjusted over every test of the report: significant when at most `alpha`.
    pub adjusted_p_value: f64,
    pub significant: bool,
    /// Rank tests: the chance a candidate call is slower than a baseline call.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prob_slower: Option<f64>,
}

/// One operation (service and span name) in both groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationComparison {
    pub service: Option<String>,
    pub name: String,
    pub baseline: Option<OperationSide>,
    pub candidate: Option<OperationSide>,
    /// Candidate minus baseline, when both groups have the operation.
    pub p50_delta_ns: Option<i64>,
    pub p90_delta_ns: Option<i64>,
    pub p99_delta_ns: Option<i64>,
    pub self_p50_delta_ns: Option<i64>,
    /// The p99's change as a share of the baseline's (0.1: 10% slower).
    pub p99_change: Option<f64>,
    /// Candidate minus baseline error rate (0.01: one percentage point more).
    pub error_rate_delta: Option<f64>,
    /// Tests, when both groups have at least `minSamples` calls.
    pub duration: Option<Test>,
    pub self_time: Option<Test>,
    pub errors: Option<Test>,
    /// Time the change adds to a candidate trace: the self-time p50 change times the
    /// candidate's calls per trace.
    pub impact_ns: i64,
    /// Significantly slower (duration or self time, its p50 by at least `minChange` of
    /// the baseline's p50 duration) or failing more often.
    pub regressed: bool,
    /// Significantly faster or failing less often, and not regressed otherwise.
    pub improved: bool,
    /// Which measures regressed (or, when `improved`, improved).
    pub changed_in: Vec<Measure>,
}

/// `GET /v1/compare/groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupComparison {
    pub baseline: GroupSide,
    pub candidate: GroupSide,
    /// Regressions first (self time or errors, then duration alone), then improvements,
    /// then the rest; within each, the strongest evidence first, then the impact.
    pub operations: Vec<OperationComparison>,
    pub regressions: u64,
    pub alpha: f64,
    pub min_samples: u64,
    pub min_change: f64,
    /// The tests, in words.
    pub method: String,
}

/// What [`compare`] says about its method.
pub const METHOD: &str = "Durations and self times: two-sided Mann-Whitney U test (normal \
approximation, corrected for ties and continuity); error rates: two-sided two-proportion z \
test; p-values adjusted by Holm's method over every test of the report. A significant \
shift counts as a change when its p50 moved by at least minChange of the baseline's p50 \
duration.";

/// Compares `baseline` with `candidate`.
pub fn compare(
    baseline: GroupSample,
    candidate: GroupSample,
    sides: (GroupSide, GroupSide),
    options: Options,
) -> GroupComparison {
    let (base_traces, cand_traces) = (baseline.traces, candidate.traces);
    let mut keys: Vec<(Option<String>, String)> = baseline
        .operations
        .keys()
        .chain(candidate.operations.keys())
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    let (mut base_ops, mut cand_ops) = (baseline.operations, candidate.operations);
    // Raw tests first (duration, self time, errors per operation), adjusted together.
    let mut rows = Vec::new();
    let mut p_values = Vec::new();
    for key in keys {
        let (base, cand) = (base_ops.remove(&key), cand_ops.remove(&key));
        let tested = matches!((&base, &cand), (Some(b), Some(c))
            if b.durations.len() as u64 >= options.min_samples.max(1)
                && c.durations.len() as u64 >= options.min_samples.max(1));
        let tests = match (&base, &cand) {
            (Some(b), Some(c)) if tested => {
                let duration = stats::mann_whitney(&b.durations, &c.durations);
                let self_time = stats::mann_whitney(&b.self_times, &c.self_times);
                let errors = stats::two_proportions(
                    b.errors,
                    b.durations.len() as u64,
                    c.errors,
                    c.durations.len() as u64,
                );
                let first = p_values.len();
                p_values.extend([
                    duration.map_or(1.0, |t| t.p_value),
                    self_time.map_or(1.0, |t| t.p_value),
                    errors,
                ]);
                Some((first, duration, self_time))
            }
            _ => None,
        };
        rows.push((key, base, cand, tests));
    }
    let adjusted = stats::holm(&p_values);
    let test = |index: usize, rank: Option<RankTest>| Test {
        p_value: p_values[index],
        adjusted_p_value: adjusted[index],
        significant: adjusted[index] <= options.alpha,
        prob_slower: rank.map(|r| r.prob_greater),
    };
    let mut operations: Vec<OperationComparison> = rows
        .into_iter()
        .map(|((service, name), base, cand, tests)| {
            let base = base.map(|calls| side(calls, base_traces));
            let cand = cand.map(|calls| side(calls, cand_traces));
            let delta = |f: fn(&OperationSide) -> u64| match (&base, &cand) {
                (Some(b), Some(c)) => Some(difference(f(b), f(c))),
                _ => None,
            };
            let (duration, self_time, errors) = match tests {
                Some((first, d, s)) => (
                    Some(test(first, d)),
                    Some(test(first + 1, s)),
                    Some(test(first + 2, None)),
                ),
                None => (None, None, None),
            };
            let error_rate_delta = match (&base, &cand) {
                (Some(b), Some(c)) => Some(c.error_rate - b.error_rate),
                _ => None,
            };
            // A shift counts when significant and at least `min_change` of the
            // baseline's p50 duration, in the direction of the p50's move.
            let least = base
                .as_ref()
                .map_or(0.0, |b| b.p50_ns as f64 * options.min_change);
            let shifted = |t: &Option<Test>, moved: Option<i64>, up: bool| {
                t.as_ref().is_some_and(|t| t.significant)
                    && moved.is_some_and(|d| {
                        (if up { d > 0 } else { d < 0 }) && (d.unsigned_abs() as f64) >= least
                    })
            };
            let (p50_moved, self_moved) = (delta(|s| s.p50_ns), delta(|s| s.self_p50_ns));
            let errors_significant = errors.as_ref().is_some_and(|t| t.significant);
            let changed = |up: bool| {
                let mut measures = Vec::new();
                if shifted(&duration, p50_moved, up) {
                    measures.push(Measure::Duration);
                }
                if shifted(&self_time, self_moved, up) {
                    measures.push(Measure::SelfTime);
                }
                if errors_significant
                    && error_rate_delta.is_some_and(|d| (d > 0.0) == up && d != 0.0)
                {
                    measures.push(Measure::Errors);
                }
                measures
            };
            let (worse, better) = (changed(true), changed(false));
            let regressed = !worse.is_empty();
            let improved = !regressed && !better.is_empty();
            let changed_in = if regressed { worse } else { better };
            let self_p50_delta_ns = delta(|s| s.self_p50_ns);
            let impact_ns = match (&cand, self_p50_delta_ns) {
                (Some(c), Some(d)) => (d as f64 * c.calls_per_trace) as i64,
                _ => 0,
            };
            OperationComparison {
                p50_delta_ns: delta(|s| s.p50_ns),
                p90_delta_ns: delta(|s| s.p90_ns),
                p99_delta_ns: delta(|s| s.p99_ns),
                self_p50_delta_ns,
                p99_change: match (&base, &cand) {
                    (Some(b), Some(c)) if b.p99_ns > 0 => {
                        Some(difference(b.p99_ns, c.p99_ns) as f64 / b.p99_ns as f64)
                    }
                    _ => None,
                },
                error_rate_delta,
                duration,
                self_time,
                errors,
                impact_ns,
                regressed,
                improved,
                changed_in,
                service,
                name,
                baseline: base,
                candidate: cand,
            }
        })
        .collect();
    operations.sort_by(|a, b| {
        (rank_class(a), strongest(a))
            .partial_cmp(&(rank_class(b), strongest(b)))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.impact_ns.abs().cmp(&a.impact_ns.abs()))
            .then((&a.service, &a.name).cmp(&(&b.service, &b.name)))
    });
    GroupComparison {
        regressions: operations.iter().filter(|o| o.regressed).count() as u64,
        baseline: sides.0,
        candidate: sides.1,
        operations,
        alpha: options.alpha,
        min_samples: options.min_samples,
        min_change: options.min_change,
        method: METHOD.into(),
    }
}

/// What a CI gate allows the candidate ([`gate`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// The largest p99 duration increase, as a share of the baseline's (0.1: 10%).
    pub max_p99_increase: f64,
    /// The largest error rate increase (0.01: one percentage point).
    pub max_error_rate_increase: f64,
}

/// One operation a [`Gate`] refuses, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateFailure {
    pub service: Option<String>,
    pub name: String,
    /// Why, in words: which measure moved, by how much, against what limit.
    pub reason: String,
}

/// The operations that regressed beyond the gate's limits: significantly slower in
/// duration with a p99 increase over the limit, or failing significantly more often by
/// more than the limit.
pub fn gate(report: &GroupComparison, limits: Gate) -> Vec<GateFailure> {
    let mut failures = Vec::new();
    for o in &report.operations {
        let mut reasons = Vec::new();
        if o.regressed
            && o.changed_in.contains(&Measure::Duration)
            && let Some(change) = o.p99_change.filter(|c| *c > limits.max_p99_increase)
        {
            let p = o.duration.as_ref().map_or(1.0, |t| t.adjusted_p_value);
            reasons.push(format!(
                "p99 {:+.1}% (limit {:+.1}%), adjusted p = {p:.2e}",
                change * 100.0,
                limits.max_p99_increase * 100.0
            ));
        }
        if let (Some(test), Some(delta)) = (&o.errors, o.error_rate_delta)
            && o.changed_in.contains(&Measure::Errors)
            && delta > limits.max_error_rate_increase
        {
            reasons.push(format!(
                "error rate {:+.2} pp (limit {:+.2} pp), adjusted p = {:.2e}",
                delta * 100.0,
                limits.max_error_rate_increase * 100.0,
                test.adjusted_p_value
            ));
        }
        if !reasons.is_empty() {
            failures.push(GateFailure {
                service: o.service.clone(),
                name: o.name.clone(),
                reason: reasons.join("; "),
            });
        }
    }
    failures
}

/// 0: regressed in self time or errors (the operation that changed); 1: regressed in
/// duration alone (it waits on one that changed); 2: improved; 3: tested, no change;
/// 4: not tested.
fn rank_class(o: &OperationComparison) -> u8 {
    if o.regressed
        && (o.changed_in.contains(&Measure::SelfTime) || o.changed_in.contains(&Measure::Errors))
    {
        0
    } else if o.regressed {
        1
    } else if o.improved {
        2
    } else if o.duration.is_some() {
        3
    } else {
        4
    }
}

/// The smallest adjusted p-value among the operation's tests (1 without tests).
fn strongest(o: &OperationComparison) -> f64 {
    [&o.duration, &o.self_time, &o.errors]
        .into_iter()
        .flatten()
        .map(|t| t.adjusted_p_value)
        .fold(1.0, f64::min)
}

fn side(mut calls: Calls, traces: u64) -> OperationSide {
    calls.durations.sort_unstable();
    calls.self_times.sort_unstable();
    let n = calls.durations.len() as u64;
    OperationSide {
        calls: n,
        errors: calls.errors,
        error_rate: if n == 0 {
            0.0
        } else {
            calls.errors as f64 / n as f64
        },
        calls_per_trace: if traces == 0 {
            0.0
        } else {
            n as f64 / traces as f64
        },
        p50_ns: stats::percentile(&calls.durations, 0.5),
        p90_ns: stats::percentile(&calls.durations, 0.9),
        p99_ns: stats::percentile(&calls.durations, 0.99),
        self_p50_ns: stats::percentile(&calls.self_times, 0.5),
        self_p90_ns: stats::percentile(&calls.self_times, 0.9),
        self_p99_ns: stats::percentile(&calls.self_times, 0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random stream (xorshift), so the groups are the same on every run.
    struct Draws(u64);
    impl Draws {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// Uniform in `low..high`.
        fn within(&mut self, low: u64, high: u64) -> u64 {
            low + self.next() % (high - low)
        }
    }

    fn span(id: u64, parent: Option<u64>, name: &str, start: u64, end: u64, error: bool) -> Span {
        Span::numbered("shop", (id, parent), name, (start, end), error)
    }

    /// `traces` traces of `GET /cart` calling `db query` then `render`; the database
    /// takes `db_factor` times its usual time, and `render` fails at `render_errors`.
    fn group(seed: u64, traces: u64, db_factor: u64, render_errors: f64) -> GroupSample {
        let mut draws = Draws(seed);
        let mut sample = GroupSample::default();
        for _ in 0..traces {
            let db = draws.within(2_000_000, 6_000_000) * db_factor;
            let render = draws.within(1_000_000, 3_000_000);
            let own = draws.within(500_000, 1_500_000);
            let failing = (draws.next() % 10_000) as f64 / 10_000.0 < render_errors;
            sample.add_trace(&[
                span(1, None, "GET /cart", 0, db + render + own, false),
                span(2, Some(1), "db query", own, own + db, false),
                span(3, Some(1), "render", own + db, own + db + render, failing),
            ]);
        }
        sample
    }

    fn sides() -> (GroupSide, GroupSide) {
        Default::default()
    }

    #[test]
    fn a_slower_operation_and_a_failing_one_rank_first_and_their_callers_after() {
        let report = compare(
            group(1, 300, 1, 0.0),
            group(2, 300, 2, 0.2),
            sides(),
            Options::default(),
        );
        let names: Vec<&str> = report.operations.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(report.regressions, 3, "{report:#?}");
        // The two that changed first (either order), then their caller, slower only
        // because it waits for the database.
        assert!(
            names[..2].contains(&"db query") && names[..2].contains(&"render"),
            "{names:?}"
        );
        assert_eq!(names[2], "GET /cart");
        let db = &report.operations[names.iter().position(|n| *n == "db query").unwrap()];
        assert!(db.self_time.as_ref().unwrap().significant);
        assert!(db.impact_ns > 2_000_000, "{db:#?}");
        let root = &report.operations[2];
        assert!(root.duration.as_ref().unwrap().significant);
        assert!(!root.self_time.as_ref().unwrap().significant, "{root:#?}");
        let render = &report.operations[names.iter().position(|n| *n == "render").unwrap()];
        assert!(render.errors.as_ref().unwrap().significant);
        assert!(
            (render.error_rate_delta.unwrap() - 0.2).abs() < 0.07,
            "{render:#?}"
        );
    }

    #[test]
    fn the_gate_refuses_the_slower_and_the_failing_operation_past_their_limits_only() {
        let report = compare(
            group(1, 300, 2, 0.0),
            group(2, 300, 2, 0.1),
            sides(),
            Options::default(),
        );
        let strict = Gate {
            max_p99_increase: 0.1,
            max_error_rate_increase: 0.01,
        };
        let failures = gate(&report, strict);
        assert_eq!(failures.len(), 1, "{failures:#?}");
        assert_eq!(failures[0].name, "render");
        assert!(failures[0].reason.contains("error rate"), "{failures:#?}");
        // Some ten points more are within a limit of twenty.
        let lenient = Gate {
            max_error_rate_increase: 0.2,
            ..strict
        };
        assert!(gate(&report, lenient).is_empty());
        let slower = compare(
            group(1, 300, 1, 0.0),
            group(2, 300, 2, 0.0),
            sides(),
            Options::default(),
        );
        let names: Vec<String> = gate(&slower, strict).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["db query", "GET /cart"]);
        let doubled = Gate {
            max_p99_increase: 1.5,
            ..strict
        };
        assert!(gate(&slower, doubled).is_empty());
    }

    #[test]
    fn groups_drawn_alike_show_no_change_on_any_of_fifty_seeds() {
        for seed in 1..=50u64 {
            let report = compare(
                group(seed * 7919, 200, 1, 0.05),
                group(seed * 104_729, 200, 1, 0.05),
                sides(),
                Options::default(),
            );
            assert_eq!(report.regressions, 0, "seed {seed}: {report:#?}");
            assert!(report.operations.iter().all(|o| !o.improved), "seed {seed}");
        }
    }

    #[test]
    fn operations_with_too_few_calls_or_in_one_group_only_are_listed_untested() {
        let mut baseline = group(3, 5, 1, 0.0);
        let candidate = group(4, 5, 3, 0.0);
        baseline.add_trace(&[span(9, None, "gone", 0, 10, false)]);
        let report = compare(baseline, candidate, sides(), Options::default());
        assert_eq!(report.regressions, 0);
        assert!(report.operations.iter().all(|o| o.duration.is_none()));
        let gone = report.operations.iter().find(|o| o.name == "gone").unwrap();
        assert!(gone.candidate.is_none() && gone.p50_delta_ns.is_none());
    }
}
