//! Folding one series' points into steps, so a chart needs no arithmetic: a gauge's last
//! value, a counter's increase per second, a histogram's observations with estimated
//! percentiles. Points come as the API writes them (see `docs/api.md`), oldest first.

use serde_json::{Map, Value};

use crate::store::metrics::MetricKind;

/// OTLP's cumulative temporality (the other one that matters here is delta, 1).
const CUMULATIVE: i64 = 2;
/// Exemplars kept per step.
const MAX_STEP_EXEMPLARS: usize = 10;

/// How a series' points are read.
#[derive(Debug, Clone, Copy)]
pub struct SeriesKind {
    pub kind: MetricKind,
    pub temporality: i64,
    pub monotonic: bool,
}

/// The points of one series (oldest first) folded into steps of `step_ns`, each point
/// stamped with its step's end.
pub fn fold(series: SeriesKind, points: &[Value], step_ns: u64) -> Vec<Value> {
    let step_ns = step_ns.max(1);
    let seconds = step_ns as f64 / 1e9;
    let mut out: Vec<Value> = Vec::new();
    let mut previous: Option<&Value> = None;
    let mut current: Option<(u64, Step)> = None;
    for point in points {
        let time = number(point, "timeUnixNano") as u64;
        let bucket = time / step_ns;
        if current.as_ref().is_some_and(|(b, _)| *b != bucket)
            && let Some((b, step)) = current.take()
        {
            out.push(step.finish(series, step_end(b, step_ns), seconds));
        }
        let (_, step) = current.get_or_insert_with(|| (bucket, Step::default()));
        step.add(series, point, previous, step_ns);
        previous = Some(point);
    }
    if let Some((b, step)) = current {
        out.push(step.finish(series, step_end(b, step_ns), seconds));
    }
    out
}

/// When step `bucket` ends; the last step before the end of time ends there.
fn step_end(bucket: u64, step_ns: u64) -> u64 {
    bucket.saturating_add(1).saturating_mul(step_ns)
}

/// What one step has gathered.
#[derive(Default)]
struct Step<'a> {
    last: Option<&'a Value>,
    /// Increase (monotonic sums), or observations (histograms), in the step.
    increase: f64,
    count: f64,
    /// The observations' sum, when the points say it.
    sum: Option<f64>,
    buckets: Vec<Bucket>,
    /// The smallest and largest observation of the step's points, where they say.
    min: Option<f64>,
    max: Option<f64>,
    exemplars: Vec<Value>,
}

/// One histogram bucket: the observations in `(lower, upper]`; the outer buckets of an
/// explicit histogram reach to infinity.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    lower: f64,
    upper: f64,
    count: f64,
}

impl<'a> Step<'a> {
    fn add(
        &mut self,
        series: SeriesKind,
        point: &'a Value,
        previous: Option<&Value>,
        step_ns: u64,
    ) {
        self.last = Some(point);
        for exemplar in point["exemplars"].as_array().into_iter().flatten() {
            if self.exemplars.len() < MAX_STEP_EXEMPLARS {
                self.exemplars.push(exemplar.clone());
            }
        }
        let cumulative = series.temporality == CUMULATIVE;
        // A cumulative point continues the previous one, unless its series restarted (a
        // new start time, or less than before). The first point counts from zero only if
        // its series started within about a step before it.
        let baseline = if cumulative {
            match previous {
                Some(before) if !restarted(point, before) => Some(before),
                Some(_) => None,
                None if started_recently(point, step_ns) => None,
                None => return,
            }
        } else {
            None
        };
        match series.kind {
            MetricKind::Sum if series.monotonic => {
                let value = number(point, "value");
                let base = baseline.map_or(0.0, |b| number(b, "value"));
                self.increase += (value - base).max(0.0);
            }
            MetricKind::Histogram | MetricKind::ExponentialHistogram => {
                let mut buckets = buckets_of(series.kind, point);
                let mut count = number(point, "count");
                let mut sum = point.get("sum").map(|_| number(point, "sum"));
                if let Some(before) = baseline {
                    let earlier = buckets_of(series.kind, before);
                    if same_layout(&buckets, &earlier) {
                        for (b, e) in buckets.iter_mut().zip(&earlier) {
                            b.count = (b.count - e.count).max(0.0);
                        }
                        count = (count - number(before, "count")).max(0.0);
                        sum = sum.map(|s| s - number(before, "sum"));
                    }
                }
                self.count += count;
                if let Some(sum) = sum {
                    self.sum = Some(self.sum.unwrap_or(0.0) + sum);
                }
                merge(&mut self.buckets, &buckets);
                if let Some(min) = point["min"].as_f64() {
                    self.min = Some(self.min.map_or(min, |m| m.min(min)));
                }
                if let Some(max) = point["max"].as_f64() {
                    self.max = Some(self.max.map_or(max, |m| m.max(max)));
                }
            }
            _ => {}
        }
    }

    fn finish(self, series: SeriesKind, end_ns: u64, seconds: f64) -> Value {
        let mut out = Map::new();
        out.insert("timeUnixNano".into(), end_ns.to_string().into());
        let last = self.last.unwrap_or(&Value::Null);
        match series.kind {
            MetricKind::Sum if series.monotonic => {
                out.insert("rate".into(), finite(self.increase / seconds));
            }
            MetricKind::Gauge | MetricKind::Sum => {
                out.insert("value".into(), last["value"].clone());
            }
            MetricKind::Histogram | MetricKind::ExponentialHistogram => {
                // Observations are whole: a count is an integer, as in raw points.
                out.insert("count".into(), (self.count.round() as u64).into());
                out.insert("sum".into(), self.sum.map_or(Value::Null, finite));
                for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                    let estimate = percentile(&self.buckets, q, self.min, self.max);
                    out.insert(name.into(), estimate.map_or(Value::Null, finite));
                }
            }
            MetricKind::Summary => {
                for key in ["count", "sum", "quantileValues"] {
                    out.insert(key.into(), last[key].clone());
                }
            }
        }
        if !self.exemplars.is_empty() {
            out.insert("exemplars".into(), Value::Array(self.exemplars));
        }
        Value::Object(out)
    }
}

/// A number field, from a JSON number or a decimal string; 0 when absent.
fn number(point: &Value, key: &str) -> f64 {
    match &point[key] {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn finite(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn restarted(point: &Value, before: &Value) -> bool {
    let start = number(point, "startTimeUnixNano");
    let start_before = number(before, "startTimeUnixNano");
    (start != 0.0 && start_before != 0.0 && start != start_before)
        || number(point, "value") < number(before, "value")
        || number(point, "count") < number(before, "count")
}

fn started_recently(point: &Value, step_ns: u64) -> bool {
    let start = number(point, "startTimeUnixNano");
    start > 0.0 && number(point, "timeUnixNano") - start <= step_ns as f64
}

/// A histogram point's buckets with their bounds: explicit ones, or an exponential
/// histogram's (base 2^(2^-scale); the zero bucket as `[0, 0]`; negative buckets mirrored).
fn buckets_of(kind: MetricKind, point: &Value) -> Vec<Bucket> {
    let counts = |value: &Value| -> Vec<f64> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| match c {
                Value::Number(n) => n.as_f64().unwrap_or(0.0),
                Value::String(s) => s.parse().unwrap_or(0.0),
                _ => 0.0,
            })
            .collect()
    };
    if kind == MetricKind::Histogram {
        let bounds = counts(&point["explicitBounds"]);
        return counts(&point["bucketCounts"])
            .into_iter()
            .enumerate()
            .map(|(i, count)| Bucket {
                lower: i
                    .checked_sub(1)
                    .and_then(|b| bounds.get(b).copied())
                    .unwrap_or(f64::NEG_INFINITY),
                upper: bounds.get(i).copied().unwrap_or(f64::INFINITY),
                count,
            })
            .collect();
    }
    let scale = number(point, "scale");
    let base = 2f64.powf(2f64.powf(-scale));
    let mut out = Vec::new();
    let negative = &point["negative"];
    let offset = number(negative, "offset");
    for (i, count) in counts(&negative["bucketCounts"])
        .into_iter()
        .enumerate()
        .rev()
    {
        let index = offset + i as f64;
        out.push(Bucket {
            lower: -base.powf(index + 1.0),
            upper: -base.powf(index),
            count,
        });
    }
    out.push(Bucket {
        lower: 0.0,
        upper: 0.0,
        count: number(point, "zeroCount"),
    });
    let positive = &point["positive"];
    let offset = number(positive, "offset");
    for (i, count) in counts(&positive["bucketCounts"]).into_iter().enumerate() {
        let index = offset + i as f64;
        out.push(Bucket {
            lower: base.powf(index),
            upper: base.powf(index + 1.0),
            count,
        });
    }
    out
}

fn same_layout(a: &[Bucket], b: &[Bucket]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.lower == y.lower && x.upper == y.upper)
}

/// Adds `more` to `into`, bucket by bucket where the bounds agree, keeping `into` sorted
/// by its bounds: one pass over both after sorting `more` (O(B log B), not a search per
/// bucket).
fn merge(into: &mut Vec<Bucket>, more: &[Bucket]) {
    let order = |a: &Bucket, b: &Bucket| {
        a.upper
            .total_cmp(&b.upper)
            .then(a.lower.total_cmp(&b.lower))
    };
    let mut more = more.to_vec();
    more.sort_by(order);
    let earlier = std::mem::take(into);
    into.reserve(earlier.len() + more.len());
    let (mut a, mut b) = (earlier.into_iter().peekable(), more.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if order(x, y).is_le() => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        let Some(bucket) = next else { break };
        match into.last_mut() {
            Some(last) if last.lower == bucket.lower && last.upper == bucket.upper => {
                last.count += bucket.count
            }
            _ => into.push(bucket),
        }
    }
}

/// The `q` quantile of the observations in `buckets`, interpolated linearly inside the
/// bucket it falls in; `None` without observations. An infinite edge is replaced by the
/// smallest or largest observation when known, else by 0 or the bucket's other edge.
fn percentile(buckets: &[Bucket], q: f64, min: Option<f64>, max: Option<f64>) -> Option<f64> {
    let total: f64 = buckets.iter().map(|b| b.count).sum();
    if total <= 0.0 {
        return None;
    }
    let target = q * total;
    let mut seen = 0.0;
    for bucket in buckets {
        if bucket.count > 0.0 && seen + bucket.count >= target {
            let lower = if bucket.lower.is_finite() {
                bucket.lower
            } else {
                min.unwrap_or(if bucket.upper > 0.0 {
                    0.0
                } else {
                    bucket.upper
                })
            };
            let upper = if bucket.upper.is_finite() {
                bucket.upper
            } else {
                max.unwrap_or(lower)
            };
            let within = (target - seen) / bucket.count;
            return Some(lower + (upper - lower) * within);
        }
        seen += bucket.count;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECOND: u64 = 1_000_000_000;

    fn at(t: u64, fields: Value) -> Value {
        let mut point = fields;
        point["timeUnixNano"] = (t * SECOND).to_string().into();
        point
    }

    #[test]
    fn a_cumulative_counter_becomes_its_increase_per_second_across_a_restart() {
        let counter = SeriesKind {
            kind: MetricKind::Sum,
            temporality: CUMULATIVE,
            monotonic: true,
        };
        let start = |s: u64| (s * SECOND).to_string();
        let points = [
            at(5, json!({"startTimeUnixNano": start(1), "value": 10})),
            at(8, json!({"startTimeUnixNano": start(1), "value": 30})),
            at(15, json!({"startTimeUnixNano": start(1), "value": 70})),
            // The process restarted at 16 s: its counter starts again from zero.
            at(18, json!({"startTimeUnixNano": start(16), "value": 5})),
        ];
        let steps = fold(counter, &points, 10 * SECOND);
        assert_eq!(steps.len(), 2);
        // 0-10 s: 10 since the start, then 20 more; 10-20 s: 40, then 5 after the restart.
        assert_eq!(steps[0], json!({"timeUnixNano": start(10), "rate": 3.0}));
        assert_eq!(steps[1], json!({"timeUnixNano": start(20), "rate": 4.5}));
    }

    #[test]
    fn a_point_at_the_end_of_time_is_in_a_step_that_ends_there() {
        let gauge = SeriesKind {
            kind: MetricKind::Gauge,
            temporality: 0,
            monotonic: false,
        };
        let last = json!({"timeUnixNano": u64::MAX.to_string(), "value": 1});
        for step_ns in [1, 10 * SECOND, u64::MAX] {
            let steps = fold(gauge, std::slice::from_ref(&last), step_ns);
            assert_eq!(
                steps[0]["timeUnixNano"],
                json!(u64::MAX.to_string()),
                "{step_ns}"
            );
        }
    }

    #[test]
    fn a_counter_first_seen_long_after_its_start_is_only_a_baseline() {
        let counter = SeriesKind {
            kind: MetricKind::Sum,
            temporality: CUMULATIVE,
            monotonic: true,
        };
        let points = [
            at(100, json!({"startTimeUnixNano": "1", "value": 1000})),
            at(105, json!({"startTimeUnixNano": "1", "value": 1010})),
        ];
        assert_eq!(fold(counter, &points, 10 * SECOND)[0]["rate"], json!(1.0));
    }

    #[test]
    fn delta_sums_add_up_and_gauges_keep_their_last_value() {
        let delta = SeriesKind {
            kind: MetricKind::Sum,
            temporality: 1,
            monotonic: true,
        };
        let points = [at(1, json!({"value": 4})), at(2, json!({"value": 6}))];
        assert_eq!(fold(delta, &points, 10 * SECOND)[0]["rate"], json!(1.0));
        let gauge = SeriesKind {
            kind: MetricKind::Gauge,
            temporality: 0,
            monotonic: false,
        };
        let points = [at(1, json!({"value": 4})), at(2, json!({"value": 6.5}))];
        let steps = fold(gauge, &points, 60 * SECOND);
        assert_eq!(
            steps,
            [json!({"timeUnixNano": (60 * SECOND).to_string(), "value": 6.5})]
        );
    }

    #[test]
    fn histogram_percentiles_are_interpolated_in_the_step_observations() {
        let histogram = SeriesKind {
            kind: MetricKind::Histogram,
            temporality: CUMULATIVE,
            monotonic: false,
        };
        let start = (SECOND / 2).to_string();
        let points = [
            // 10 observations: 5 in (0, 10], 5 in (10, 100].
            at(
                1,
                json!({"startTimeUnixNano": start, "count": 10, "sum": 300.0,
                "bucketCounts": [5, 5, 0], "explicitBounds": [10.0, 100.0]}),
            ),
            // 10 more, all in (100, +inf): the step after sees only these.
            at(
                12,
                json!({"startTimeUnixNano": start, "count": 20, "sum": 2300.0, "max": 300.0,
                "bucketCounts": [5, 5, 10], "explicitBounds": [10.0, 100.0]}),
            ),
        ];
        let steps = fold(histogram, &points, 10 * SECOND);
        assert_eq!(steps[0]["count"], json!(10));
        assert_eq!(steps[0]["p50"], json!(10.0));
        assert_eq!(steps[0]["p90"], json!(82.0));
        assert_eq!(steps[1]["count"], json!(10));
        assert_eq!(steps[1]["sum"], json!(2000.0));
        assert_eq!(steps[1]["p50"], json!(200.0));
    }

    #[test]
    fn exponential_buckets_have_the_bounds_of_their_scale() {
        // Scale 0: base 2; offset 1 means the first bucket is (2, 4].
        let point = json!({"scale": 0, "zeroCount": 1, "positive": {"offset": 1, "bucketCounts": [3]},
            "negative": {"offset": 0, "bucketCounts": []}});
        let buckets = buckets_of(MetricKind::ExponentialHistogram, &point);
        assert_eq!(
            buckets,
            [
                Bucket {
                    lower: 0.0,
                    upper: 0.0,
                    count: 1.0
                },
                Bucket {
                    lower: 2.0,
                    upper: 4.0,
                    count: 3.0
                },
            ]
        );
        assert_eq!(percentile(&buckets, 1.0, None, None), Some(4.0));
    }
}
