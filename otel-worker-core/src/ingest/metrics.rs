//! Metric points: validated one by one, each metric's points grouped into series (one per
//! metric stream, resource and scope, and attribute set), and stored in one transaction
//! per export, like spans and log records.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, exemplar, metric::Data, number_data_point,
};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{Map, Number, Value, json};

use super::convert::{ResourceText, attributes};
use super::{Bounds, Export, ExportReply, Prepared, Signal, json};
use crate::models::{LiveMetric, ServerMessage};
use crate::store::metrics::{MetricKind, PointRecord, SeriesRecord};
use crate::store::{Batch, ResourceRecord, content_id};

impl Export for ExportMetricsServiceRequest {
    const SIGNAL: Signal = Signal::Metrics;
    fn items(&self) -> usize {
        self.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                Some(Data::Summary(s)) => s.data_points.len(),
                None => 0,
            })
            .sum()
    }
    fn from_protobuf(body: &[u8]) -> Result<Self, prost::DecodeError> {
        prost::Message::decode(body)
    }
    fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        json::metrics::decode(body)
    }
}

/// What a metrics export turns into: the rows to store and what was rejected.
#[derive(Debug, Default)]
pub struct MetricRows {
    pub batch: Batch,
    /// Points per metric and service, for the live feed.
    pub live: Vec<LiveMetric>,
    pub rejected: u64,
    /// The first rejection, for the response's `error_message`.
    pub first_error: Option<String>,
    /// The series already in `batch.series`, by id.
    series_seen: FxHashSet<i64>,
    /// Where each (metric, service) is in `live`.
    live_index: FxHashMap<(String, Option<String>), usize>,
}

/// Validates and converts every point of an export; points outside `bounds` are
/// rejected.
pub fn to_metric_rows(
    request: ExportMetricsServiceRequest,
    bounds: impl Into<Bounds>,
) -> MetricRows {
    let bounds = bounds.into();
    let mut rows = MetricRows::default();
    let mut resources_seen = FxHashSet::default();
    for resource_metrics in request.resource_metrics {
        let resource = ResourceText::of(
            &resource_metrics.resource.unwrap_or_default(),
            resource_metrics.schema_url,
        );
        for scope_metrics in resource_metrics.scope_metrics {
            let pair = resource.with_scope(
                scope_metrics.scope.unwrap_or_default(),
                scope_metrics.schema_url,
            );
            let mut used = false;
            let too_large = bounds.resource_too_large(&pair);
            for metric in scope_metrics.metrics {
                let stream = Stream::of(&metric.name, &metric.unit, &metric.description, &pair);
                let Some(data) = metric.data else { continue };
                let (kind, temporality, monotonic, points) = points_of(data);
                let points: Vec<Result<Point, String>> = match &too_large {
                    Some(problem) => points.into_iter().map(|_| Err(problem.clone())).collect(),
                    None => points,
                };
                used |= points.iter().any(Result::is_ok);
                for point in points {
                    rows.add(&stream, kind, temporality, monotonic, point, &bounds);
                }
            }
            if used && resources_seen.insert(pair.id) {
                rows.batch.resources.push(pair);
            }
        }
    }
    rows
}

/// A metric's kind, temporality and monotonicity, and its points ready for their series
/// (or why each cannot be stored).
fn points_of(data: Data) -> (MetricKind, i32, bool, Vec<Result<Point, String>>) {
    match data {
        Data::Gauge(g) => {
            let points = g.data_points.into_iter().map(|p| {
                number_point(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.value,
                    p.flags,
                    &p.exemplars,
                )
            });
            (MetricKind::Gauge, 0, false, points.collect())
        }
        Data::Sum(s) => {
            let points = s.data_points.into_iter().map(|p| {
                number_point(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    p.value,
                    p.flags,
                    &p.exemplars,
                )
            });
            (
                MetricKind::Sum,
                s.aggregation_temporality,
                s.is_monotonic,
                points.collect(),
            )
        }
        Data::Histogram(h) => {
            let points = h.data_points.into_iter().map(|p| {
                if !p.bucket_counts.is_empty() && p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
                    return Err(format!(
                        "a histogram point has {} bucket counts for {} bounds; it needs one more count than bounds",
                        p.bucket_counts.len(),
                        p.explicit_bounds.len()
                    ));
                }
                let mut body = totals(p.count, p.sum, p.min, p.max);
                body.insert("bucketCounts".into(), p.bucket_counts.into());
                body.insert(
                    "explicitBounds".into(),
                    p.explicit_bounds.iter().map(|b| double(*b)).collect(),
                );
                Point::new(&p.attributes, p.start_time_unix_nano, p.time_unix_nano, body, p.flags, &p.exemplars)
            });
            (
                MetricKind::Histogram,
                h.aggregation_temporality,
                false,
                points.collect(),
            )
        }
        Data::ExponentialHistogram(h) => {
            let points = h.data_points.into_iter().map(|p| {
                let mut body = totals(p.count, p.sum, p.min, p.max);
                body.insert("scale".into(), p.scale.into());
                body.insert("zeroCount".into(), p.zero_count.into());
                body.insert("zeroThreshold".into(), double(p.zero_threshold));
                for (name, buckets) in [("positive", p.positive), ("negative", p.negative)] {
                    let buckets = buckets.unwrap_or_default();
                    body.insert(
                        name.into(),
                        json!({"offset": buckets.offset, "bucketCounts": buckets.bucket_counts}),
                    );
                }
                Point::new(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    body,
                    p.flags,
                    &p.exemplars,
                )
            });
            (
                MetricKind::ExponentialHistogram,
                h.aggregation_temporality,
                false,
                points.collect(),
            )
        }
        Data::Summary(s) => {
            let points = s.data_points.into_iter().map(|p| {
                let mut body = totals(p.count, Some(p.sum), None, None);
                body.insert(
                    "quantileValues".into(),
                    p.quantile_values
                        .iter()
                        .map(|q| json!({"quantile": double(q.quantile), "value": double(q.value)}))
                        .collect(),
                );
                Point::new(
                    &p.attributes,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    body,
                    p.flags,
                    &[],
                )
            });
            (MetricKind::Summary, 0, false, points.collect())
        }
    }
}

/// A distribution point's count, and its sum, min and max when the SDK set them.
fn totals(count: u64, sum: Option<f64>, min: Option<f64>, max: Option<f64>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("count".into(), count.into());
    for (name, value) in [("sum", sum), ("min", min), ("max", max)] {
        if let Some(value) = value {
            body.insert(name.into(), double(value));
        }
    }
    body
}

/// What the points of one metric share.
struct Stream<'a> {
    name: &'a str,
    unit: &'a str,
    description: &'a str,
    resource: &'a ResourceRecord,
}

impl<'a> Stream<'a> {
    fn of(
        name: &'a str,
        unit: &'a str,
        description: &'a str,
        resource: &'a ResourceRecord,
    ) -> Self {
        Self {
            name,
            unit,
            description,
            resource,
        }
    }
}

/// A point before it joins its series.
struct Point {
    attributes: Map<String, Value>,
    time_ns: u64,
    body: Map<String, Value>,
}

impl Point {
    fn new(
        attributes_list: &[opentelemetry_proto::tonic::common::v1::KeyValue],
        start_ns: u64,
        time_ns: u64,
        mut fields: Map<String, Value>,
        flags: u32,
        exemplars: &[Exemplar],
    ) -> Result<Self, String> {
        if let Some(problem) = super::convert::too_many_attributes(attributes_list, "a point") {
            return Err(problem);
        }
        if exemplars.len() > MAX_BUCKETS {
            return Err(format!(
                "a point has {} exemplars, more than this server's limit of {MAX_BUCKETS}",
                exemplars.len()
            ));
        }
        if let Some(count) = fields
            .values()
            .filter_map(longest_list)
            .max()
            .filter(|n| *n > MAX_BUCKETS + 1)
        {
            return Err(format!(
                "a point has {count} buckets or quantiles, more than this server's limit of {MAX_BUCKETS}"
            ));
        }
        let mut body = Map::new();
        body.insert("startTimeUnixNano".into(), start_ns.to_string().into());
        body.append(&mut fields);
        if flags != 0 {
            body.insert("flags".into(), flags.into());
        }
        if !exemplars.is_empty() {
            body.insert(
                "exemplars".into(),
                exemplars.iter().map(exemplar_json).collect(),
            );
        }
        Ok(Self {
            attributes: attributes(attributes_list),
            time_ns,
            body,
        })
    }
}

/// Most buckets (explicit bounds, or exponential buckets on each side), quantiles or
/// exemplars of one point. SDKs use a few dozen (exponential histograms at most 160 a
/// side by default); reading a metric merges every point's buckets.
pub const MAX_BUCKETS: usize = 10_000;

/// The longest list in a point's field: its bucket counts, bounds or quantiles (an
/// exponential histogram's lists sit one level down, in `positive` and `negative`).
fn longest_list(value: &Value) -> Option<usize> {
    match value {
        Value::Array(items) => Some(items.len()),
        Value::Object(fields) => fields.values().filter_map(longest_list).max(),
        _ => None,
    }
}

fn number_point(
    attributes_list: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    start_ns: u64,
    time_ns: u64,
    value: Option<number_data_point::Value>,
    flags: u32,
    exemplars: &[Exemplar],
) -> Result<Point, String> {
    let value = match value {
        Some(number_data_point::Value::AsInt(i)) => Value::from(i),
        Some(number_data_point::Value::AsDouble(d)) => double(d),
        None => return Err("a point has no value (asInt or asDouble)".into()),
    };
    let mut body = Map::new();
    body.insert("value".into(), value);
    Point::new(attributes_list, start_ns, time_ns, body, flags, exemplars)
}

/// A double as JSON: a number, or OTLP/JSON's spelling of what JSON numbers cannot hold.
fn double(d: f64) -> Value {
    match Number::from_f64(d) {
        Some(n) => Value::Number(n),
        None if d.is_nan() => "NaN".into(),
        None if d > 0.0 => "Infinity".into(),
        None => "-Infinity".into(),
    }
}

fn exemplar_json(e: &Exemplar) -> Value {
    let id = |bytes: &[u8]| {
        (!bytes.is_empty() && bytes.iter().any(|b| *b != 0)).then(|| hex::encode(bytes))
    };
    json!({
        "timeUnixNano": e.time_unix_nano.to_string(),
        "value": match e.value {
            Some(exemplar::Value::AsInt(i)) => Value::from(i),
            Some(exemplar::Value::AsDouble(d)) => double(d),
            None => Value::Null,
        },
        "traceId": id(&e.trace_id),
        "spanId": id(&e.span_id),
        "filteredAttributes": attributes(&e.filtered_attributes),
    })
}

impl MetricRows {
    /// Adds a point (or its rejection) to its series.
    fn add(
        &mut self,
        stream: &Stream,
        kind: MetricKind,
        temporality: i32,
        monotonic: bool,
        point: Result<Point, String>,
        bounds: &Bounds,
    ) {
        let describe = |problem: String| format!("metric {:?}: {problem}", stream.name);
        let point = point.and_then(|point| {
            if stream.name.is_empty() {
                return Err("a metric needs a name".into());
            }
            if point.time_ns == 0 {
                return Err("a point needs a time (timeUnixNano)".into());
            }
            if let Some(problem) = bounds.too_late(point.time_ns) {
                return Err(problem);
            }
            Ok(point)
        });
        let point = match point {
            Ok(point) => point,
            Err(problem) => {
                self.rejected += 1;
                self.first_error.get_or_insert(describe(problem));
                return;
            }
        };
        let body = Value::Object(point.body).to_string();
        if let Some(limit) = bounds.max_item_bytes.filter(|limit| body.len() > *limit) {
            self.rejected += 1;
            self.first_error.get_or_insert(describe(format!(
                "a point is {} bytes as stored, more than this server's limit of {limit}",
                body.len()
            )));
            return;
        }
        // Gauges and summaries have no temporality, and only sums can be monotonic.
        let temporality = match kind {
            MetricKind::Gauge | MetricKind::Summary => 0,
            _ => temporality,
        };
        let monotonic = kind == MetricKind::Sum && monotonic;
        let attributes = Value::Object(point.attributes).to_string();
        let id = content_id(&[
            &stream.resource.id.to_string(),
            stream.name,
            &(kind as u8).to_string(),
            stream.unit,
            &temporality.to_string(),
            if monotonic { "1" } else { "0" },
            &attributes,
        ]);
        if self.series_seen.insert(id) {
            self.batch.series.push(SeriesRecord {
                id,
                name: stream.name.to_owned(),
                kind,
                unit: stream.unit.to_owned(),
                description: stream.description.to_owned(),
                temporality,
                monotonic,
                resource_id: stream.resource.id,
                attributes,
            });
        }
        self.batch.points.push(PointRecord {
            series_id: id,
            time_ns: point.time_ns,
            body,
        });
        let service = &stream.resource.service_name;
        let key = (stream.name.to_owned(), service.clone());
        match self.live_index.get(&key) {
            Some(&at) => self.live[at].points += 1,
            None => {
                self.live_index.insert(key, self.live.len());
                self.live.push(LiveMetric {
                    name: stream.name.to_owned(),
                    service_name: service.clone(),
                    points: 1,
                });
            }
        }
    }
}

/// Validates and converts every point of `request`, for [`super::commit`]; as
/// [`super::prepare_traces`] does for spans.
pub fn prepare_metrics(
    request: ExportMetricsServiceRequest,
    bounds: impl Into<Bounds>,
) -> Prepared {
    let rows = to_metric_rows(request, bounds);
    Prepared {
        stored: rows.batch.points.len(),
        batch: rows.batch,
        reply: ExportReply {
            rejected: rows.rejected,
            error_message: rows.first_error,
        },
        announcement: Some(ServerMessage::MetricAdded { metrics: rows.live }),
    }
}
