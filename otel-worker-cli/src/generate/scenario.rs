//! What the synthetic traffic looks like: a shop of six services, traces nested as a
//! binary tree across them, one in ten failing with an exception, and attributes of every
//! value type. Ids and timestamps come from [`Sentinels`], which records each use so the
//! template can patch them per send.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use rand::Rng;

use super::template::{Sentinels, SpanRef, TraceRef};

/// A service of the synthetic shop and the operations it serves.
struct Service {
    name: &'static str,
    operations: &'static [&'static str],
    /// A database: called as a client, with `db.*` attributes instead of `http.*`.
    database: bool,
}

impl Service {
    const fn app(name: &'static str, operations: &'static [&'static str]) -> Self {
        Self {
            name,
            operations,
            database: false,
        }
    }

    const fn database(name: &'static str, operations: &'static [&'static str]) -> Self {
        Self {
            name,
            operations,
            database: true,
        }
    }
}

/// The services a request spreads its spans over; the first one serves the roots.
const SERVICES: &[Service] = &[
    Service::app(
        "frontend",
        &[
            "GET /",
            "GET /products/{id}",
            "POST /cart",
            "POST /checkout",
        ],
    ),
    Service::app("checkout", &["PlaceOrder", "PrepareOrder", "ConfirmOrder"]),
    Service::app("cart", &["GetCart", "AddItem", "EmptyCart"]),
    Service::app("payments", &["Charge", "Authorize", "Refund"]),
    Service::app("inventory", &["Reserve", "CheckStock", "Release"]),
    Service::database(
        "postgres",
        &["SELECT orders", "INSERT orders", "UPDATE stock"],
    ),
];

/// Root span durations of the traces of a request, in milliseconds: mostly fast, a few
/// slow ones to look for.
const ROOT_MS: &[u64] = &[12, 25, 40, 80, 150, 300, 35, 60, 900, 20];

/// Every this-many traces one fails (its deepest span and its root carry an error).
const ERROR_EVERY: usize = 10;

/// The shape of the synthetic traces.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub traces: usize,
    pub spans_per_trace: usize,
    pub attributes: usize,
}

/// Where a span sits in its trace: its offset from the trace's start, its duration, and
/// its id, for its children.
#[derive(Clone, Copy)]
struct Placed {
    start: u64,
    duration: u64,
    id: SpanRef,
}

/// The request: `shape.traces` traces of `spans_per_trace` spans nested as a binary tree,
/// grouped into one `ResourceSpans` per service as an SDK or collector would send them.
pub fn synthetic_request(
    shape: Shape,
    sentinels: &mut Sentinels,
    rng: &mut impl Rng,
) -> ExportTraceServiceRequest {
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    for t in 0..shape.traces {
        let trace = sentinels.trace(rng);
        let failed = t % ERROR_EVERY == ERROR_EVERY - 3;
        let mut placed: Vec<Placed> = Vec::with_capacity(shape.spans_per_trace);
        for i in 0..shape.spans_per_trace {
            let (start, duration, parent) = match i.checked_sub(1) {
                None => (0, ROOT_MS[t % ROOT_MS.len()] * 1_000_000, None),
                Some(j) => {
                    let parent = placed[j / 2];
                    let second = j % 2 == 1;
                    let start = parent.start + parent.duration * if second { 5 } else { 1 } / 10;
                    (start, parent.duration * 4 / 10, Some(parent.id))
                }
            };
            let me = Placed {
                start,
                duration,
                id: sentinels.span(rng),
            };
            placed.push(me);
            let service = if i == 0 {
                0
            } else {
                1 + (i - 1) % (SERVICES.len() - 1)
            };
            let deepest = i == shape.spans_per_trace - 1;
            let span = SpanPlan {
                trace,
                parent,
                me,
                service: &SERVICES[service],
                operation_index: t + i,
                number: t * shape.spans_per_trace + i,
                failed: failed && (i == 0 || deepest),
                throws: failed && deepest,
                attributes: shape.attributes,
            };
            by_service[service].push(span.build(sentinels, rng));
        }
    }
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .zip(SERVICES)
            .filter(|(spans, _)| !spans.is_empty())
            .map(|(spans, service)| ResourceSpans {
                resource: Some(resource(service.name)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// Log records as the same shop's services write them: `spans_per_trace` records per
/// trace, each from the span in that position (its trace and span ids), mostly INFO, a
/// WARN every few, and ERROR records with an exception in failing traces; grouped into
/// one `ResourceLogs` per service.
pub fn synthetic_logs(
    shape: Shape,
    sentinels: &mut Sentinels,
    rng: &mut impl Rng,
) -> ExportLogsServiceRequest {
    let mut by_service: Vec<Vec<LogRecord>> = vec![Vec::new(); SERVICES.len()];
    for t in 0..shape.traces {
        let trace = sentinels.trace(rng);
        let failed = t % ERROR_EVERY == ERROR_EVERY - 3;
        let root_ns = ROOT_MS[t % ROOT_MS.len()] * 1_000_000;
        for i in 0..shape.spans_per_trace {
            let service_index = if i == 0 {
                0
            } else {
                1 + (i - 1) % (SERVICES.len() - 1)
            };
            let service = &SERVICES[service_index];
            let operation = service.operations[(t + i) % service.operations.len()];
            let number = t * shape.spans_per_trace + i;
            let at = root_ns * i as u64 / shape.spans_per_trace as u64;
            let deepest = i == shape.spans_per_trace - 1;
            let (severity, text, body) = if failed && deepest {
                (
                    17,
                    "ERROR",
                    format!("{operation} failed: {} hung up", service.name),
                )
            } else if number % 7 == 3 {
                (13, "WARN", format!("{operation} took longer than expected"))
            } else {
                (
                    9,
                    "INFO",
                    format!("{operation} handled for user-{}", number % 97),
                )
            };
            let mut attributes =
                span_attributes(shape.attributes, service, operation, number, failed);
            if failed && deepest {
                attributes.push(kv("exception.type", string("ConnectionReset")));
            }
            let span = sentinels.span(rng);
            by_service[service_index].push(LogRecord {
                time_unix_nano: sentinels.time(trace, at, rng),
                observed_time_unix_nano: sentinels.time(trace, at + 50_000, rng),
                severity_number: severity,
                severity_text: text.into(),
                body: Some(AnyValue {
                    value: Some(string(body)),
                }),
                attributes,
                flags: 1,
                trace_id: sentinels.trace_id(trace),
                span_id: sentinels.span_id(span),
                ..Default::default()
            });
        }
    }
    ExportLogsServiceRequest {
        resource_logs: by_service
            .into_iter()
            .zip(SERVICES)
            .filter(|(records, _)| !records.is_empty())
            .map(|(log_records, service)| ResourceLogs {
                resource: Some(resource(service.name)),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope()),
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// The generator's instrumentation scope.
/// A synthetic point before it becomes one of its metric: its route attribute, start and
/// time sentinels, and its number in the request (which picks its values).
type PointSeed = (KeyValue, u64, u64, usize);

/// Latency buckets of the synthetic histograms, in milliseconds.
const LATENCY_BOUNDS_MS: [f64; 6] = [5.0, 10.0, 25.0, 50.0, 100.0, 250.0];

/// Metric points as the shop's services report them: per trace-sized group of
/// `spans_per_trace` points, one service (in turn) reports, for one route, its requests
/// (a delta counter), its request latency (a delta histogram) and its memory (a gauge), in
/// turn, each point at its own time, so no two points of a series share one.
pub fn synthetic_metrics(
    shape: Shape,
    sentinels: &mut Sentinels,
    rng: &mut impl Rng,
) -> ExportMetricsServiceRequest {
    let mut by_service: Vec<[Vec<PointSeed>; 3]> =
        (0..SERVICES.len()).map(|_| Default::default()).collect();
    for g in 0..shape.traces {
        let group = sentinels.trace(rng);
        let service_index = g % SERVICES.len();
        let service = &SERVICES[service_index];
        let route = service.operations[(g / SERVICES.len()) % service.operations.len()];
        for i in 0..shape.spans_per_trace {
            // Start and time a few microseconds apart, distinct for every point of the group.
            let offset = (i as u64 + 1) * 2_000;
            let start = sentinels.time(group, offset, rng);
            let time = sentinels.time(group, offset + 1_000, rng);
            let number = g * shape.spans_per_trace + i;
            by_service[service_index][i % 3].push((
                kv("route", string(route)),
                start,
                time,
                number,
            ));
        }
    }
    let resource_metrics = by_service
        .into_iter()
        .zip(SERVICES)
        .filter(|(kinds, _)| kinds.iter().any(|points| !points.is_empty()))
        .map(|([requests, latency, memory], service)| {
            let number = |points: Vec<PointSeed>, value: fn(usize) -> i64| {
                points
                    .into_iter()
                    .map(|(route, start, time, n)| NumberDataPoint {
                        attributes: vec![route],
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsInt(value(n))),
                        ..Default::default()
                    })
                    .collect::<Vec<_>>()
            };
            let mut metrics = Vec::new();
            if !requests.is_empty() {
                metrics.push(Metric {
                    name: "http.server.requests".into(),
                    unit: "{request}".into(),
                    description: "Requests answered since the previous export.".into(),
                    data: Some(Data::Sum(Sum {
                        data_points: number(requests, |n| 1 + (n % 20) as i64),
                        aggregation_temporality: 1,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                });
            }
            if !latency.is_empty() {
                let points = latency
                    .into_iter()
                    .map(|(route, start, time, n)| {
                        let counts: Vec<u64> = (0..=LATENCY_BOUNDS_MS.len())
                            .map(|b| ((n + b * 3) % 7) as u64)
                            .collect();
                        let count = counts.iter().sum();
                        HistogramDataPoint {
                            attributes: vec![route],
                            start_time_unix_nano: start,
                            time_unix_nano: time,
                            count,
                            sum: Some(count as f64 * (20.0 + (n % 50) as f64)),
                            bucket_counts: counts,
                            explicit_bounds: LATENCY_BOUNDS_MS.to_vec(),
                            min: Some(1.0),
                            max: Some(400.0),
                            ..Default::default()
                        }
                    })
                    .collect();
                metrics.push(Metric {
                    name: "http.server.request.duration".into(),
                    unit: "ms".into(),
                    description: "Time to answer a request.".into(),
                    data: Some(Data::Histogram(Histogram {
                        data_points: points,
                        aggregation_temporality: 1,
                    })),
                    ..Default::default()
                });
            }
            if !memory.is_empty() {
                metrics.push(Metric {
                    name: "process.memory.usage".into(),
                    unit: "By".into(),
                    description: "Resident memory of the process.".into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: number(memory, |n| 60_000_000 + (n % 100) as i64 * 65_536),
                    })),
                    ..Default::default()
                });
            }
            ResourceMetrics {
                resource: Some(resource(service.name)),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope()),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "otel-worker-generate".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        attributes: vec![kv("generator.kind", string("synthetic"))],
        ..Default::default()
    }
}

/// Everything that decides one synthetic span.
struct SpanPlan {
    trace: TraceRef,
    parent: Option<SpanRef>,
    me: Placed,
    service: &'static Service,
    /// Picks the operation among the service's.
    operation_index: usize,
    /// The span's number in the request, which varies its attribute values.
    number: usize,
    failed: bool,
    /// Carries the exception event of a failing trace.
    throws: bool,
    attributes: usize,
}

impl SpanPlan {
    fn build(self, sentinels: &mut Sentinels, rng: &mut impl Rng) -> Span {
        let service = self.service;
        let operation = service.operations[self.operation_index % service.operations.len()];
        let Placed {
            start, duration, ..
        } = self.me;
        let mut events = Vec::new();
        if self.throws {
            events.push(span::Event {
                time_unix_nano: sentinels.time(self.trace, start + duration / 2, rng),
                name: "exception".into(),
                attributes: vec![
                    kv("exception.type", string("ConnectionReset")),
                    kv(
                        "exception.message",
                        string(format!("{} hung up", service.name)),
                    ),
                ],
                ..Default::default()
            });
        }
        Span {
            trace_id: sentinels.trace_id(self.trace),
            span_id: sentinels.span_id(self.me.id),
            parent_span_id: self
                .parent
                .map(|parent| sentinels.span_id(parent))
                .unwrap_or_default(),
            name: operation.into(),
            kind: if service.database {
                span::SpanKind::Client
            } else {
                span::SpanKind::Server
            } as i32,
            start_time_unix_nano: sentinels.time(self.trace, start, rng),
            end_time_unix_nano: sentinels.time(self.trace, start + duration, rng),
            attributes: span_attributes(
                self.attributes,
                service,
                operation,
                self.number,
                self.failed,
            ),
            events,
            status: Some(Status {
                code: if self.failed { 2 } else { 0 },
                message: if self.failed {
                    format!("{operation} failed")
                } else {
                    String::new()
                },
            }),
            ..Default::default()
        }
    }
}

fn kv(key: impl Into<String>, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(text: impl Into<String>) -> Value {
    Value::StringValue(text.into())
}

/// `count` attributes for span `n` of `service`, mixing every value type.
fn span_attributes(
    count: usize,
    service: &Service,
    operation: &str,
    n: usize,
    failed: bool,
) -> Vec<KeyValue> {
    let name = service.name;
    (0..count)
        .map(|i| match i {
            0 if service.database => kv("db.system.name", string("postgresql")),
            0 => kv("http.request.method", string(["GET", "POST", "PUT"][n % 3])),
            1 if service.database => kv(
                "db.query.text",
                string(format!("{operation} WHERE id = $1")),
            ),
            1 => kv("http.route", string(format!("/api/{name}/{operation}"))),
            2 => kv(
                "http.response.status_code",
                Value::IntValue(if failed { 500 } else { 200 }),
            ),
            3 => kv("url.path", string(format!("/api/{name}/{}", 1000 + n))),
            4 => kv("server.address", string(format!("{name}.internal"))),
            5 => kv("server.port", Value::IntValue(8080)),
            6 => kv("app.cache_hit", Value::BoolValue(n.is_multiple_of(3))),
            7 => kv("app.items", Value::DoubleValue(n as f64 * 1.5)),
            8 => kv("enduser.id", string(format!("user-{}", n % 97))),
            9 => kv(
                "app.tags",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(string("synthetic")),
                        },
                        AnyValue {
                            value: Some(string(name)),
                        },
                    ],
                }),
            ),
            _ => kv(
                format!("app.extra.{i}"),
                string(format!("value {i} of span {n}")),
            ),
        })
        .collect()
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            kv("service.name", string(service)),
            kv("service.version", string("1.4.2")),
            kv("deployment.environment.name", string("load-test")),
            kv("host.name", string(format!("{service}-7d9f8-x2k4q"))),
            kv("telemetry.sdk.language", string("rust")),
            kv("telemetry.sdk.name", string("otel-worker-generate")),
        ],
        ..Default::default()
    }
}
