//! Option C: one JSON object per span (newline-delimited), compressed as one stream.
use crate::codec::{Codec, compress, decompress};
use crate::spangen::{DSpan, Span, attrs_json};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

const HEX: &[u8; 16] = b"0123456789abcdef";
fn hex(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    for x in b {
        out.push(HEX[(x >> 4) as usize]);
        out.push(HEX[(x & 15) as usize]);
    }
    out.push(b'"');
}
fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let v = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
    let mut o = [0u8; N];
    for i in 0..N {
        o[i] = v(b[2 * i]) << 4 | v(b[2 * i + 1]);
    }
    o
}

pub fn rows(spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::with_capacity(spans.len() * 600);
    for s in spans {
        out.extend_from_slice(b"{\"traceId\":");
        hex(&mut out, &s.trace_id);
        out.extend_from_slice(b",\"spanId\":");
        hex(&mut out, &s.span_id);
        if let Some(p) = s.parent {
            out.extend_from_slice(b",\"parentSpanId\":");
            hex(&mut out, &p);
        }
        out.extend_from_slice(b",\"name\":");
        serde_json::to_writer(&mut out, &s.name).unwrap();
        out.extend_from_slice(b",\"serviceName\":");
        serde_json::to_writer(&mut out, &s.service).unwrap();
        out.extend_from_slice(format!(",\"kind\":{},\"statusCode\":{},\"statusMessage\":", s.kind, s.status_code).as_bytes());
        serde_json::to_writer(&mut out, &s.status_message).unwrap();
        out.extend_from_slice(format!(",\"startTimeUnixNano\":{},\"endTimeUnixNano\":{},\"attributes\":", s.start_ns, s.end_ns).as_bytes());
        out.extend_from_slice(attrs_json(&s.attrs).as_bytes());
        out.extend_from_slice(b"}\n");
    }
    out
}

pub fn encode(spans: &[Span], codec: Codec) -> Vec<u8> {
    let raw = rows(spans);
    let mut out = Vec::with_capacity(raw.len() / 4);
    out.push(codec.id());
    out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    compress(codec, &raw, &mut out);
    out
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    trace_id: &'a str,
    span_id: &'a str,
    parent_span_id: Option<&'a str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    service_name: Cow<'a, str>,
    kind: u8,
    status_code: u8,
    #[serde(borrow)]
    status_message: Cow<'a, str>,
    start_time_unix_nano: u64,
    end_time_unix_nano: u64,
    #[serde(borrow)]
    attributes: &'a RawValue,
}

pub fn decode(buf: &[u8]) -> Vec<DSpan> {
    let raw_len = u64::from_le_bytes(buf[1..9].try_into().unwrap()) as usize;
    let raw = decompress(buf[0], &buf[9..], raw_len);
    serde_json::Deserializer::from_slice(&raw)
        .into_iter::<Row>()
        .map(|r| {
            let r = r.expect("json row");
            DSpan {
                trace_id: unhex(r.trace_id),
                span_id: unhex(r.span_id),
                parent: r.parent_span_id.map(unhex),
                name: r.name.into_owned(),
                service: r.service_name.into_owned(),
                kind: r.kind,
                status_code: r.status_code,
                status_message: r.status_message.into_owned(),
                start_ns: r.start_time_unix_nano,
                end_ns: r.end_time_unix_nano,
                attributes: r.attributes.get().to_owned(),
            }
        })
        .collect()
}
