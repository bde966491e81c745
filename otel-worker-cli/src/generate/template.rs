//! One export, encoded once and patched per send.
//!
//! The synthetic request is built with random sentinel ids and timestamps, encoded, and
//! the byte offsets of every sentinel recorded. A send copies the bytes and overwrites
//! those offsets with fresh ids and current times, so the per-request cost is a memcpy
//! and a few hundred small writes instead of building and encoding a message.

use anyhow::{Context, bail};
use prost::Message;
use rand::Rng;

use super::Encoding;
use super::scenario::{Shape, synthetic_logs, synthetic_metrics, synthetic_request};
use otel_worker_core::ingest::Signal;

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

/// A ready-to-send export of `traces` traces with `spans` spans (or log records) in all.
#[derive(Debug, Clone)]
pub struct Template {
    body: Vec<u8>,
    patches: Vec<Patch>,
    encoding: Encoding,
    pub traces: usize,
    pub spans: usize,
}

/// A message in the request's encoding.
fn encoded<M: Message + serde::Serialize>(
    message: &M,
    encoding: Encoding,
) -> anyhow::Result<Vec<u8>> {
    Ok(match encoding {
        Encoding::Protobuf => message.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(message).context("encoding OTLP/JSON")?,
    })
}

impl Template {
    /// Builds and encodes the export, retrying in the astronomically unlikely case that a
    /// random sentinel also occurs somewhere else in the body.
    pub fn new(
        shape: Shape,
        signal: Signal,
        encoding: Encoding,
        rng: &mut impl Rng,
    ) -> anyhow::Result<Self> {
        for _ in 0..8 {
            if let Some(template) = Self::attempt(shape, signal, encoding, rng)? {
                return Ok(template);
            }
        }
        bail!("could not build a request template (sentinels kept colliding)")
    }

    fn attempt(
        shape: Shape,
        signal: Signal,
        encoding: Encoding,
        rng: &mut impl Rng,
    ) -> anyhow::Result<Option<Self>> {
        let mut sentinels = Sentinels::default();
        let body = match signal {
            Signal::Logs => encoded(&synthetic_logs(shape, &mut sentinels, rng), encoding)?,
            Signal::Metrics => encoded(&synthetic_metrics(shape, &mut sentinels, rng), encoding)?,
            Signal::Traces => encoded(&synthetic_request(shape, &mut sentinels, rng), encoding)?,
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

/// A trace of the template, by number.
#[derive(Debug, Clone, Copy)]
pub struct TraceRef(usize);

/// A span of the template, by number.
#[derive(Debug, Clone, Copy)]
pub struct SpanRef(usize);

/// The random placeholders of one template. Each id is counted every time the scenario
/// writes it, so the template knows how often it must find it in the encoded body.
#[derive(Default)]
pub struct Sentinels {
    trace_ids: Vec<([u8; 16], usize)>,
    span_ids: Vec<([u8; 8], usize)>,
    times: Vec<(usize, u64, u64)>,
}

impl Sentinels {
    /// A new trace, with an id not yet written anywhere.
    pub fn trace(&mut self, rng: &mut impl Rng) -> TraceRef {
        self.trace_ids.push((rng.random(), 0));
        TraceRef(self.trace_ids.len() - 1)
    }

    /// A new span, with an id not yet written anywhere.
    pub fn span(&mut self, rng: &mut impl Rng) -> SpanRef {
        self.span_ids.push((rng.random(), 0));
        SpanRef(self.span_ids.len() - 1)
    }

    /// The trace's id, to write once into the request.
    pub fn trace_id(&mut self, trace: TraceRef) -> Vec<u8> {
        let (id, uses) = &mut self.trace_ids[trace.0];
        *uses += 1;
        id.to_vec()
    }

    /// The span's id, to write once into the request (as its own id or a child's parent).
    pub fn span_id(&mut self, span: SpanRef) -> Vec<u8> {
        let (id, uses) = &mut self.span_ids[span.0];
        *uses += 1;
        id.to_vec()
    }

    /// A time `offset_ns` after the start of `trace`, as a placeholder of 19 decimal
    /// digits, so JSON and protobuf both keep its width.
    pub fn time(&mut self, trace: TraceRef, offset_ns: u64, rng: &mut impl Rng) -> u64 {
        let value = rng.random_range(1_000_000_000_000_000_000..10_000_000_000_000_000_000u64);
        self.times.push((trace.0, offset_ns, value));
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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::Span;
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
            let template = Template::new(shape, Signal::Traces, encoding, &mut rng).unwrap();
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

    #[test]
    fn log_records_get_fresh_ids_and_current_times_too() {
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let shape = Shape {
            traces: 10,
            spans_per_trace: 10,
            attributes: 5,
        };
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let template = Template::new(shape, Signal::Logs, encoding, &mut rng).unwrap();
            let now = 1_800_000_000_000_000_000;
            let mut records = Vec::new();
            for _ in 0..2 {
                let mut body = Vec::new();
                template.render(&mut rng, now, &mut body);
                let request: ExportLogsServiceRequest = match encoding {
                    Encoding::Protobuf => {
                        ExportLogsServiceRequest::decode(body.as_slice()).unwrap()
                    }
                    Encoding::Json => otel_worker_core::ingest::json::logs::decode(&body).unwrap(),
                };
                records.push(
                    request
                        .resource_logs
                        .into_iter()
                        .flat_map(|r| r.scope_logs)
                        .flat_map(|s| s.log_records)
                        .collect::<Vec<_>>(),
                );
            }
            let (a, b) = (&records[0], &records[1]);
            assert_eq!(a.len(), 100, "{encoding:?}");
            let traces: std::collections::HashSet<_> = a.iter().map(|r| &r.trace_id).collect();
            assert_eq!(traces.len(), 10);
            assert!(a.iter().all(|r| !b.iter().any(|o| o.span_id == r.span_id)));
            for record in a {
                assert!(
                    record.time_unix_nano > now - 2_000_000_000
                        && record.time_unix_nano < now + 2_000_000_000
                );
                assert!(record.observed_time_unix_nano > record.time_unix_nano);
                assert!(record.attributes.len() >= 5);
            }
            assert_eq!(a.iter().filter(|r| r.severity_number == 17).count(), 1);
        }
    }
}
