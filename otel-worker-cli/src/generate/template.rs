//! One export, encoded once and patched per send.
//!
//! The synthetic request is built with random sentinel ids and timestamps, encoded, and
//! the byte offsets of every sentinel recorded. A send copies the bytes and overwrites
//! those offsets with fresh ids and current times, so the per-request cost is a memcpy
//! and a few hundred small writes instead of building and encoding a message.

use anyhow::{Context, bail};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use rand::Rng;

use super::Encoding;

/// The services a synthetic request spreads its spans over, with the operations each
/// one serves. The last one is a database, called as a client.
const SERVICES: &[(&str, &[&str])] = &[
    (
        "frontend",
        &[
            "GET /",
            "GET /products/{id}",
            "POST /cart",
            "POST /checkout",
        ],
    ),
    ("checkout", &["PlaceOrder", "PrepareOrder", "ConfirmOrder"]),
    ("cart", &["GetCart", "AddItem", "EmptyCart"]),
    ("payments", &["Charge", "Authorize", "Refund"]),
    ("inventory", &["Reserve", "CheckStock", "Release"]),
    (
        "postgres",
        &["SELECT orders", "INSERT orders", "UPDATE stock"],
    ),
];

/// Root span durations of the traces of a request, in milliseconds: mostly fast, a few
/// slow ones to look for.
const ROOT_MS: &[u64] = &[12, 25, 40, 80, 150, 300, 35, 60, 900, 20];

/// Every this-many traces one fails (its deepest span and its root carry an error).
const ERROR_EVERY: usize = 10;

/// What to overwrite at an offset of the encoded body.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// The id of trace number `.0` of the request.
    TraceId(usize),
    /// The id of span number `.0` of the request.
    SpanId(usize),
    /// A timestamp `offset_ns` after the start of trace `trace`.
    Time { trace: usize, offset_ns: u64 },
}

#[derive(Debug, Clone, Copy)]
struct Patch {
    at: usize,
    field: Field,
}

/// A ready-to-send export of `traces` traces with `spans` spans in all.
#[derive(Debug, Clone)]
pub struct Template {
    body: Vec<u8>,
    patches: Vec<Patch>,
    encoding: Encoding,
    pub traces: usize,
    pub spans: usize,
}

/// The shape of the synthetic traces.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub traces: usize,
    pub spans_per_trace: usize,
    pub attributes: usize,
}

impl Template {
    /// Builds and encodes the export, retrying in the astronomically unlikely case that a
    /// random sentinel also occurs somewhere else in the body.
    pub fn new(shape: Shape, encoding: Encoding, rng: &mut impl Rng) -> anyhow::Result<Self> {
        for _ in 0..8 {
            if let Some(template) = Self::attempt(shape, encoding, rng)? {
                return Ok(template);
            }
        }
        bail!("could not build a request template (sentinels kept colliding)")
    }

    fn attempt(
        shape: Shape,
        encoding: Encoding,
        rng: &mut impl Rng,
    ) -> anyhow::Result<Option<Self>> {
        let mut sentinels = Sentinels::default();
        let request = synthetic_request(shape, &mut sentinels, rng);
        let body = match encoding {
            Encoding::Protobuf => request.encode_to_vec(),
            Encoding::Json => serde_json::to_vec(&request).context("encoding OTLP/JSON")?,
        };
        let mut patches = Vec::new();
        for (bytes, uses, field) in sentinels.encoded(encoding) {
            let found = find_all(&body, &bytes);
            if found.len() != uses {
                return Ok(None);
            }
            patches.extend(found.into_iter().map(|at| Patch { at, field }));
        }
        patches.sort_by_key(|p| p.at);
        Ok(Some(Self {
            body,
            patches,
            encoding,
            traces: shape.traces,
            spans: shape.traces * shape.spans_per_trace,
        }))
    }

    /// A fresh copy of the export: new random ids, traces starting within the last
    /// second before `now_ns`, durations scaled by a random factor per trace.
    pub fn render(&self, rng: &mut impl Rng, now_ns: u64, out: &mut Vec<u8>) {
        let trace_ids: Vec<[u8; 16]> = (0..self.traces).map(|_| rng.random()).collect();
        let span_ids: Vec<[u8; 8]> = (0..self.spans).map(|_| rng.random()).collect();
        let timing: Vec<(u64, u64)> = (0..self.traces)
            .map(|_| {
                let start = now_ns.saturating_sub(rng.random_range(0..1_000_000_000));
                (start, rng.random_range(500..1500))
            })
            .collect();
        out.clear();
        out.extend_from_slice(&self.body);
        for patch in &self.patches {
            let at = patch.at;
            match (patch.field, self.encoding) {
                (Field::TraceId(t), Encoding::Protobuf) => {
                    out[at..at + 16].copy_from_slice(&trace_ids[t])
                }
                (Field::TraceId(t), Encoding::Json) => {
                    write_hex(&mut out[at..at + 32], &trace_ids[t])
                }
                (Field::SpanId(s), Encoding::Protobuf) => {
                    out[at..at + 8].copy_from_slice(&span_ids[s])
                }
                (Field::SpanId(s), Encoding::Json) => {
                    write_hex(&mut out[at..at + 16], &span_ids[s])
                }
                (Field::Time { trace, offset_ns }, encoding) => {
                    let (start, per_mille) = timing[trace];
                    let ns = start + offset_ns * per_mille / 1000;
                    match encoding {
                        Encoding::Protobuf => out[at..at + 8].copy_from_slice(&ns.to_le_bytes()),
                        Encoding::Json => write_decimal19(&mut out[at..at + 19], ns),
                    }
                }
            }
        }
    }
}

fn write_hex(out: &mut [u8], bytes: &[u8]) {
    // Both lengths are fixed by the caller, so this cannot fail.
    let _ = hex::encode_to_slice(bytes, out);
}

/// Writes `value` as exactly 19 decimal digits (every instant from 2001 to 2286).
fn write_decimal19(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(at, _)| at)
        .collect()
}

/// The random placeholders of one template and how often each was used.
#[derive(Default)]
struct Sentinels {
    trace_ids: Vec<([u8; 16], usize)>,
    span_ids: Vec<([u8; 8], usize)>,
    times: Vec<(usize, u64, u64)>,
}

impl Sentinels {
    fn trace_id(&mut self, rng: &mut impl Rng) -> [u8; 16] {
        let id = rng.random();
        self.trace_ids.push((id, 0));
        id
    }

    fn span_id(&mut self, rng: &mut impl Rng) -> [u8; 8] {
        let id = rng.random();
        self.span_ids.push((id, 0));
        id
    }

    /// A placeholder with 19 decimal digits, so JSON and protobuf both keep its width.
    fn time(&mut self, trace: usize, offset_ns: u64, rng: &mut impl Rng) -> u64 {
        let value = rng.random_range(1_000_000_000_000_000_000..10_000_000_000_000_000_000u64);
        self.times.push((trace, offset_ns, value));
        value
    }

    /// Every sentinel as it appears in the body, how many times it must appear, and what
    /// it stands for.
    fn encoded(&self, encoding: Encoding) -> Vec<(Vec<u8>, usize, Field)> {
        let bytes = |raw: &[u8]| match encoding {
            Encoding::Protobuf => raw.to_vec(),
            Encoding::Json => hex::encode(raw).into_bytes(),
        };
        let mut all = Vec::new();
        for (t, (id, uses)) in self.trace_ids.iter().enumerate() {
            all.push((bytes(id), *uses, Field::TraceId(t)));
        }
        for (s, (id, uses)) in self.span_ids.iter().enumerate() {
            all.push((bytes(id), *uses, Field::SpanId(s)));
        }
        for (trace, offset_ns, value) in &self.times {
            let encoded = match encoding {
                Encoding::Protobuf => value.to_le_bytes().to_vec(),
                Encoding::Json => value.to_string().into_bytes(),
            };
            let field = Field::Time {
                trace: *trace,
                offset_ns: *offset_ns,
            };
            all.push((encoded, 1, field));
        }
        all
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
    service: &str,
    operation: &str,
    n: usize,
    failed: bool,
) -> Vec<KeyValue> {
    let database = service == "postgres";
    (0..count)
        .map(|i| match i {
            0 if database => kv("db.system.name", string("postgresql")),
            0 => kv("http.request.method", string(["GET", "POST", "PUT"][n % 3])),
            1 if database => kv(
                "db.query.text",
                string(format!("{operation} WHERE id = $1")),
            ),
            1 => kv("http.route", string(format!("/api/{service}/{operation}"))),
            2 => kv(
                "http.response.status_code",
                Value::IntValue(if failed { 500 } else { 200 }),
            ),
            3 => kv("url.path", string(format!("/api/{service}/{}", 1000 + n))),
            4 => kv("server.address", string(format!("{service}.internal"))),
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
                            value: Some(string(service)),
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

/// The request: `shape.traces` traces of `spans_per_trace` spans nested as a binary tree,
/// grouped into one `ResourceSpans` per service as an SDK or collector would send them.
fn synthetic_request(
    shape: Shape,
    sentinels: &mut Sentinels,
    rng: &mut impl Rng,
) -> ExportTraceServiceRequest {
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES.len()];
    for t in 0..shape.traces {
        let trace_id = sentinels.trace_id(rng);
        let failed = t % ERROR_EVERY == ERROR_EVERY - 3;
        let root_ns = ROOT_MS[t % ROOT_MS.len()] * 1_000_000;
        // (start offset, duration, span id) of the spans so far, for their children.
        let mut placed: Vec<(u64, u64, [u8; 8])> = Vec::new();
        for i in 0..shape.spans_per_trace {
            let (start, duration, parent) = if i == 0 {
                (0, root_ns, None)
            } else {
                let p = (i - 1) / 2;
                let (p_start, p_duration, p_id) = placed[p];
                let second = (i - 1) % 2 == 1;
                let start = p_start + p_duration * if second { 5 } else { 1 } / 10;
                (start, p_duration * 4 / 10, Some(p_id))
            };
            let span_id = sentinels.span_id(rng);
            placed.push((start, duration, span_id));
            sentinels.trace_ids[t].1 += 1;
            if let Some((_, uses)) = sentinels.span_ids.last_mut() {
                *uses += 1;
            }
            if let Some(parent) = parent
                && let Some(entry) = sentinels.span_ids.iter_mut().find(|(id, _)| *id == parent)
            {
                entry.1 += 1;
            }
            let service = if i == 0 {
                0
            } else {
                1 + (i - 1) % (SERVICES.len() - 1)
            };
            let (service_name, operations) = SERVICES[service];
            let operation = operations[(t + i) % operations.len()];
            let deepest = i == shape.spans_per_trace - 1;
            let span_failed = failed && (i == 0 || deepest);
            let start_ns = sentinels.time(t, start, rng);
            let end_ns = sentinels.time(t, start + duration, rng);
            let mut events = Vec::new();
            if span_failed && deepest {
                events.push(span::Event {
                    time_unix_nano: sentinels.time(t, start + duration / 2, rng),
                    name: "exception".into(),
                    attributes: vec![
                        kv("exception.type", string("ConnectionReset")),
                        kv(
                            "exception.message",
                            string(format!("{service_name} hung up")),
                        ),
                    ],
                    ..Default::default()
                });
            }
            by_service[service].push(Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_vec(),
                parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
                name: operation.into(),
                kind: if service == SERVICES.len() - 1 {
                    span::SpanKind::Client
                } else {
                    span::SpanKind::Server
                } as i32,
                start_time_unix_nano: start_ns,
                end_time_unix_nano: end_ns,
                attributes: span_attributes(
                    shape.attributes,
                    service_name,
                    operation,
                    t * shape.spans_per_trace + i,
                    span_failed,
                ),
                events,
                status: Some(Status {
                    code: if span_failed { 2 } else { 0 },
                    message: if span_failed {
                        format!("{operation} failed")
                    } else {
                        String::new()
                    },
                }),
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .zip(SERVICES)
            .filter(|(spans, _)| !spans.is_empty())
            .map(|(spans, (service, _))| ResourceSpans {
                resource: Some(resource(service)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "otel-worker-generate".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        attributes: vec![kv("generator.kind", string("synthetic"))],
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn decoded(template: &Template, rng: &mut rand::rngs::StdRng) -> ExportTraceServiceRequest {
        let mut body = Vec::new();
        let now = 1_800_000_000_000_000_000;
        template.render(rng, now, &mut body);
        match template.encoding {
            Encoding::Protobuf => ExportTraceServiceRequest::decode(body.as_slice()).unwrap(),
            Encoding::Json => otel_worker_core::ingest::json::decode(&body).unwrap(),
        }
    }

    #[test]
    fn every_render_has_fresh_ids_current_times_and_intact_nesting() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let shape = Shape {
            traces: 10,
            spans_per_trace: 10,
            attributes: 12,
        };
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let template = Template::new(shape, encoding, &mut rng).unwrap();
            let first = decoded(&template, &mut rng);
            let second = decoded(&template, &mut rng);
            let spans = |r: &ExportTraceServiceRequest| -> Vec<Span> {
                r.resource_spans
                    .iter()
                    .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| ss.spans.clone()))
                    .collect()
            };
            let (a, b) = (spans(&first), spans(&second));
            assert_eq!(a.len(), 100, "{encoding:?}");
            let mut trace_ids: Vec<_> = a.iter().map(|s| s.trace_id.clone()).collect();
            trace_ids.sort();
            trace_ids.dedup();
            assert_eq!(trace_ids.len(), 10, "{encoding:?}");
            let ids = |spans: &[Span]| -> std::collections::HashSet<Vec<u8>> {
                spans.iter().map(|s| s.span_id.clone()).collect()
            };
            assert_eq!(ids(&a).len(), 100);
            assert!(ids(&a).is_disjoint(&ids(&b)), "ids must be fresh per send");
            for span in &a {
                assert_eq!(span.attributes.len(), 12);
                assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
                assert!(span.start_time_unix_nano > 1_800_000_000_000_000_000 - 2_000_000_000);
                assert!(span.end_time_unix_nano < 1_800_000_000_000_000_000 + 2_000_000_000);
                if !span.parent_span_id.is_empty() {
                    let parent = a
                        .iter()
                        .find(|p| p.span_id == span.parent_span_id)
                        .expect("every parent is in the request");
                    assert_eq!(parent.trace_id, span.trace_id);
                    assert!(span.start_time_unix_nano >= parent.start_time_unix_nano);
                }
            }
            let roots = a.iter().filter(|s| s.parent_span_id.is_empty()).count();
            assert_eq!(roots, 10);
            let errors = a
                .iter()
                .filter(|s| s.status.as_ref().unwrap().code == 2)
                .count();
            assert_eq!(errors, 2, "one failing trace: its root and deepest span");
        }
    }
}
