//! Decoder and conversion tests: fixtures in both encodings, every attribute type, the
//! OTLP/JSON leniencies and per-span rejection.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value as V,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use serde_json::{Value, json};

use super::{Encoding, IngestError, decode, gunzip, to_rows};
use crate::models;

const EXAMPLE: &str = include_str!("../../../examples/send-trace/trace.json");

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// One attribute of every OTLP type, with the awkward values SDKs really send.
fn every_type() -> Vec<KeyValue> {
    vec![
        kv("str", V::StringValue("héllo 🌍 \u{0} end".into())),
        kv("empty", V::StringValue(String::new())),
        kv("bool", V::BoolValue(true)),
        kv("int", V::IntValue(4_611_686_018_427_387_905)),
        kv("negative", V::IntValue(-42)),
        kv("double", V::DoubleValue(2.0)),
        kv("nan", V::DoubleValue(f64::NAN)),
        kv(
            "array",
            V::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(V::IntValue(1)),
                    },
                    AnyValue {
                        value: Some(V::StringValue("two".into())),
                    },
                ],
            }),
        ),
        kv("empty_array", V::ArrayValue(ArrayValue { values: vec![] })),
        kv(
            "kvlist",
            V::KvlistValue(KeyValueList {
                values: vec![kv("inner", V::BoolValue(false))],
            }),
        ),
        kv("bytes", V::BytesValue(vec![0, 1, 2, 255])),
    ]
}

fn every_type_json() -> Value {
    json!({
        "str": "héllo 🌍 \u{0} end",
        "empty": "",
        "bool": true,
        "int": 4_611_686_018_427_387_905_i64,
        "negative": -42,
        "double": 2.0,
        "nan": "NaN",
        "array": [1, "two"],
        "empty_array": [],
        "kvlist": {"inner": false},
        "bytes": "AAEC/w==",
    })
}

fn span_with(trace_id: Vec<u8>, span_id: Vec<u8>, parent: Vec<u8>) -> Span {
    Span {
        trace_id,
        span_id,
        parent_span_id: parent,
        name: "op".into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_123_456_789,
        end_time_unix_nano: 1_700_000_000_223_456_789,
        ..Default::default()
    }
}

fn export(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", V::StringValue("checkout".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    attributes: vec![kv("scope.attr", V::IntValue(7))],
                    dropped_attributes_count: 0,
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
        }],
    }
}

/// A converted span as reads return it once stored.
fn stored_text(rows: &super::Rows, record: &crate::store::SpanRecord) -> String {
    let resource = rows
        .batch
        .resources
        .iter()
        .find(|r| r.id == record.resource_id)
        .expect("the span's resource is in the batch");
    let shape = rows
        .batch
        .shapes
        .iter()
        .find(|s| Some(s.id) == record.shape_id);
    assert_eq!(
        shape.is_some(),
        record.shape_id.is_some(),
        "the span's shape is in the batch"
    );
    crate::store::SpanRow::from_record(record, Some(resource), shape)
        .into_json()
        .expect("the stored span reads back")
        .get()
        .to_owned()
}

fn stored(rows: &super::Rows, record: &crate::store::SpanRecord) -> models::Span {
    serde_json::from_str(&stored_text(rows, record)).expect("stored JSON is a Span")
}

#[test]
fn the_example_export_decodes_every_span_with_its_types() {
    let rows = to_rows(decode(Encoding::Json, EXAMPLE.as_bytes()).unwrap(), None);
    assert_eq!(rows.rejected, 0);
    assert_eq!(rows.batch.spans.len(), 5);
    let services: Vec<_> = rows
        .batch
        .spans
        .iter()
        .map(|s| s.service_name.as_deref())
        .collect();
    assert_eq!(
        services.iter().filter(|s| **s == Some("frontend")).count(),
        3
    );
    assert_eq!(
        services
            .iter()
            .filter(|s| **s == Some("user-service"))
            .count(),
        2
    );

    let error = rows
        .batch
        .spans
        .iter()
        .find(|s| s.status_code == 2)
        .unwrap();
    let error = stored(&rows, error);
    assert_eq!(error.status.message, "redis did not answer within 10ms");
    assert_eq!(
        error.events[0].attributes["exception.escaped"],
        json!(false)
    );
    assert_eq!(error.attributes["server.port"], json!(6379));

    let server = rows
        .batch
        .spans
        .iter()
        .find(|s| s.name == "GET /users/<id>")
        .unwrap();
    let server = stored(&rows, server);
    assert_eq!(server.kind, models::SpanKind::Server);
    assert_eq!(
        server.links[0].attributes["link.reason"],
        json!("batch job that warmed the cache")
    );
    assert_eq!(
        server.attributes["app.feature_flags"],
        json!(["new-profile", "dark-mode"])
    );
    assert_eq!(server.scope.name, "opentelemetry.instrumentation.flask");
    assert_eq!(server.resource.attributes["process.pid"], json!(4242));
}

#[test]
fn protobuf_keeps_every_attribute_type_exactly() {
    let mut span = span_with(vec![1; 16], vec![2; 8], vec![]);
    span.attributes = every_type();
    span.events = vec![span::Event {
        time_unix_nano: u64::MAX,
        name: "ev".into(),
        attributes: every_type(),
        dropped_attributes_count: 1,
    }];
    span.links = vec![span::Link {
        trace_id: vec![3; 16],
        span_id: vec![4; 8],
        trace_state: "k=v".into(),
        attributes: every_type(),
        dropped_attributes_count: 2,
        flags: 257,
    }];
    span.status = Some(Status {
        message: "boom".into(),
        code: 2,
    });
    span.dropped_links_count = 3;
    let body = export(vec![span]).encode_to_vec();

    let rows = to_rows(decode(Encoding::Protobuf, &body).unwrap(), None);
    assert_eq!(rows.batch.spans.len(), 1);
    let record = &rows.batch.spans[0];
    assert_eq!(record.trace_id, "01".repeat(16));
    assert_eq!(record.parent_span_id, None);
    assert_eq!(
        (record.start_ns, record.status_code),
        (1_700_000_000_123_456_789, 2)
    );

    let text = &stored_text(&rows, record);
    assert!(
        text.contains("\"double\":2.0"),
        "2.0 must stay a double: {text}"
    );
    assert!(text.contains("\"int\":4611686018427387905"));
    assert!(text.contains("\"startTimeUnixNano\":\"1700000000123456789\""));
    assert!(text.contains("\"timeUnixNano\":\"18446744073709551615\""));
    let span = stored(&rows, record);
    assert_eq!(Value::Object(span.attributes.clone()), every_type_json());
    assert_eq!(
        Value::Object(span.events[0].attributes.clone()),
        every_type_json()
    );
    assert_eq!(
        Value::Object(span.links[0].attributes.clone()),
        every_type_json()
    );
    assert_eq!(
        (span.links[0].flags, span.links[0].dropped_attributes_count),
        (257, 2)
    );
    assert_eq!(span.dropped_links_count, 3);
    assert_eq!(span.scope.attributes["scope.attr"], json!(7));
    assert_eq!(
        span.resource.schema_url,
        "https://opentelemetry.io/schemas/1.26.0"
    );
    assert_eq!(span.duration_ns, 100_000_000);
}

#[test]
fn json_leniencies_are_accepted() {
    let body = json!({
        "resource_spans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeSpans": [{
                "scope": null,
                "spans": [{
                    "traceId": "5B8EFFF798038103D269B633813FC60C",
                    "span_id": "EEE19B7EC3C1B174",
                    "parentSpanId": "",
                    "name": "lenient",
                    "kind": "SPAN_KIND_CONSUMER",
                    "startTimeUnixNano": 1_700_000_000_000_000_000_u64,
                    "end_time_unix_nano": "1700000000000000500",
                    "status": {"code": "STATUS_CODE_OK"},
                    "unknownField": {"ignored": true},
                    "attributes": [
                        {"key": "int_number", "value": {"intValue": 4_611_686_018_427_387_905_i64}},
                        {"key": "int_string", "value": {"intValue": "-7"}},
                        {"key": "empty_array", "value": {"arrayValue": {}}},
                        {"key": "no_value", "value": {}},
                        {"key": "null_value", "value": null},
                        {"key": "inf", "value": {"doubleValue": "Infinity"}},
                        {"key": "double_int", "value": {"doubleValue": 3}},
                        {"key": "bytes_url", "value": {"bytesValue": "_-8"}},
                        {"key": "kv", "value": {"kvlistValue": {"values": null}}},
                        {"key": "null_int", "value": {"intValue": null}},
                        {"key": "null_double", "value": {"doubleValue": null}},
                        {"key": "null_string", "value": {"stringValue": null}},
                        {"key": "null_bool", "value": {"boolValue": null}},
                        {"key": "null_bytes", "value": {"bytesValue": null}},
                        {"key": "null_array", "value": {"arrayValue": null}},
                        {"key": "null_then_int", "value": {"stringValue": null, "intValue": 5}}
                    ],
                    "events": null,
                    "links": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "flags": "1"}]
                }]
            }]
        }]
    });
    let rows = to_rows(
        decode(Encoding::Json, body.to_string().as_bytes()).unwrap(),
        None,
    );
    assert_eq!(rows.rejected, 0, "{:?}", rows.first_error);
    let record = &rows.batch.spans[0];
    assert_eq!(record.trace_id, "5b8efff798038103d269b633813fc60c");
    assert_eq!(record.span_id, "eee19b7ec3c1b174");
    assert_eq!((record.kind, record.status_code), (5, 1));
    assert_eq!(record.end_ns, 1_700_000_000_000_000_500);
    let span = stored(&rows, record);
    assert_eq!(
        Value::Object(span.attributes),
        json!({
            "int_number": 4_611_686_018_427_387_905_i64,
            "int_string": -7,
            "empty_array": [],
            "no_value": null,
            "null_value": null,
            "inf": "Infinity",
            "double_int": 3.0,
            "bytes_url": "/+8=",
            "kv": {},
            // A null member is an unset member, whatever its type.
            "null_int": null,
            "null_double": null,
            "null_string": null,
            "null_bool": null,
            "null_bytes": null,
            "null_array": null,
            "null_then_int": 5
        })
    );
    assert_eq!(span.links[0].flags, 1);
    assert_eq!(span.scope.name, "");
}

#[test]
fn empty_exports_are_valid() {
    for body in ["{}", r#"{"resourceSpans":[]}"#, r#"{"resourceSpans":null}"#] {
        let rows = to_rows(decode(Encoding::Json, body.as_bytes()).unwrap(), None);
        assert_eq!((rows.batch.spans.len(), rows.rejected), (0, 0), "{body}");
    }
    let rows = to_rows(decode(Encoding::Protobuf, b"").unwrap(), None);
    assert!(rows.batch.spans.is_empty());
}

#[test]
fn spans_that_can_never_be_valid_are_rejected_one_by_one() {
    let good = span_with(vec![1; 16], vec![2; 8], vec![3; 8]);
    let short_trace = span_with(vec![1; 15], vec![2; 8], vec![]);
    let zero_span = span_with(vec![1; 16], vec![0; 8], vec![]);
    let zero_trace = span_with(vec![0; 16], vec![5; 8], vec![]);
    let odd_parent = span_with(vec![1; 16], vec![6; 8], vec![7; 3]);
    let zero_parent = span_with(vec![1; 16], vec![8; 8], vec![0; 8]);
    let rows = to_rows(
        export(vec![
            short_trace,
            good,
            zero_span,
            zero_trace,
            odd_parent,
            zero_parent,
        ]),
        None,
    );
    assert_eq!(rows.rejected, 4);
    assert_eq!(rows.batch.spans.len(), 2);
    assert_eq!(
        rows.batch.spans[0].parent_span_id.as_deref(),
        Some("0303030303030303")
    );
    // An all-zero parent is read as "no parent".
    assert_eq!(rows.batch.spans[1].parent_span_id, None);
    let message = rows.first_error.unwrap();
    assert!(message.contains("trace id must be 16 bytes"), "{message}");
}

#[test]
fn undecodable_bodies_say_what_is_wrong() {
    let cases: &[(Encoding, &[u8], &str)] = &[
        (
            Encoding::Protobuf,
            b"\xff\xff\xff\xff garbage",
            "not a valid OTLP protobuf",
        ),
        (Encoding::Json, b"{not json", "not a valid OTLP/JSON"),
        (Encoding::Json, b"null", "not a valid OTLP/JSON"),
        (Encoding::Json, b"[]", "not a valid OTLP/JSON"),
        (
            Encoding::Json,
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}"#,
            "is not hex",
        ),
        (
            Encoding::Json,
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}"#,
            "not an integer",
        ),
    ];
    for (encoding, body, expected) in cases {
        match decode(*encoding, body) {
            Err(IngestError::InvalidBody(message)) => {
                assert!(message.contains(expected), "{message:?} lacks {expected:?}")
            }
            other => panic!("{body:?} decoded: {other:?}"),
        }
    }
    // Truncated protobuf.
    let mut body = export(vec![span_with(vec![1; 16], vec![2; 8], vec![])]).encode_to_vec();
    body.truncate(body.len() - 3);
    assert!(matches!(
        decode(Encoding::Protobuf, &body),
        Err(IngestError::InvalidBody(_))
    ));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut value = AnyValue {
        value: Some(V::IntValue(1)),
    };
    for _ in 0..1000 {
        value = AnyValue {
            value: Some(V::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(value),
                    key_strindex: 0,
                }],
            })),
        };
    }
    let mut span = span_with(vec![1; 16], vec![2; 8], vec![]);
    span.attributes = vec![KeyValue {
        key: "deep".into(),
        value: Some(value),
        key_strindex: 0,
    }];
    let body = export(vec![span]).encode_to_vec();
    assert!(matches!(
        decode(Encoding::Protobuf, &body),
        Err(IngestError::InvalidBody(_))
    ));

    let deep_json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"attributes":[{{"key":"d","value":{}{{"intValue":"1"}}{}}}]}}]}}]}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(1000),
        "]}}".repeat(1000)
    );
    assert!(matches!(
        decode(Encoding::Json, deep_json.as_bytes()),
        Err(IngestError::InvalidBody(_))
    ));
}

#[test]
fn content_types_are_matched_loosely() {
    for (value, expected) in [
        ("application/x-protobuf", Some(Encoding::Protobuf)),
        ("Application/X-Protobuf", Some(Encoding::Protobuf)),
        ("application/json; charset=utf-8", Some(Encoding::Json)),
        (" APPLICATION/JSON ", Some(Encoding::Json)),
        ("text/plain", None),
        ("", None),
        ("application/jsonx", None),
    ] {
        assert_eq!(Encoding::from_content_type(value), expected, "{value:?}");
    }
}

#[test]
fn gzip_is_bounded_after_decompression() {
    let gzip = |data: &[u8]| {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    };
    assert_eq!(gunzip(&gzip(b"hello"), 5).unwrap(), b"hello");
    // Two members concatenated are one stream.
    let mut two = gzip(b"ab");
    two.extend(gzip(b"cd"));
    assert_eq!(gunzip(&two, 10).unwrap(), b"abcd");

    let bomb = gzip(&vec![0u8; 100 * 1024 * 1024]);
    assert!(bomb.len() < 200 * 1024, "the bomb is {} bytes", bomb.len());
    assert!(matches!(
        gunzip(&bomb, 10 * 1024 * 1024),
        Err(IngestError::TooLarge { .. })
    ));
    assert!(matches!(
        gunzip(b"plain text", 100),
        Err(IngestError::InvalidBody(_))
    ));
}

#[test]
fn spans_larger_than_the_store_allows_are_rejected_alone() {
    let small = span_with(vec![1; 16], vec![2; 8], vec![]);
    let mut big = span_with(vec![1; 16], vec![3; 8], vec![]);
    big.attributes = vec![kv("blob", V::StringValue("x".repeat(5 * 1024 * 1024)))];
    let rows = to_rows(export(vec![small.clone(), big.clone()]), Some(900_000));
    assert_eq!((rows.batch.spans.len(), rows.rejected), (1, 1));
    let message = rows.first_error.unwrap();
    assert!(
        message.contains("more than this server's limit of 900000"),
        "{message}"
    );
    // Without a limit the 5 MB attribute is kept whole.
    let rows = to_rows(export(vec![small, big]), None);
    assert_eq!(rows.batch.spans.len(), 2);
    assert_eq!(
        stored(&rows, &rows.batch.spans[1]).attributes["blob"]
            .as_str()
            .unwrap()
            .len(),
        5 * 1024 * 1024
    );
}

#[test]
fn only_gzip_zstd_and_identity_are_content_encodings() {
    use super::Compression;
    for (value, expected) in [
        (None, Some(Compression::None)),
        (Some("identity"), Some(Compression::None)),
        (Some(""), Some(Compression::None)),
        (Some("gzip"), Some(Compression::Gzip)),
        (Some(" GZIP "), Some(Compression::Gzip)),
        (Some("x-gzip"), Some(Compression::Gzip)),
        (Some("zstd"), Some(Compression::Zstd)),
        (Some("br"), None),
        (Some("deflate"), None),
    ] {
        let got = Compression::from_content_encoding(value);
        match expected {
            Some(compression) => assert_eq!(got.unwrap(), compression, "{value:?}"),
            None => assert!(
                matches!(got, Err(IngestError::UnsupportedEncoding(_))),
                "{value:?}"
            ),
        }
    }
}

#[test]
fn zstd_bodies_are_read_within_the_limit_frame_after_frame() {
    use super::unzstd;
    let frame = |data: &[u8]| {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    };
    assert_eq!(unzstd(&frame(b"hello"), 5).unwrap(), b"hello");
    let two = [frame(b"ab"), frame(b"cd")].concat();
    assert_eq!(unzstd(&two, 10).unwrap(), b"abcd");
    let bomb = frame(&vec![0u8; 20 * 1024 * 1024]);
    assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
    assert!(matches!(
        unzstd(&bomb, 10 * 1024 * 1024),
        Err(IngestError::TooLarge { .. })
    ));
    assert!(matches!(
        unzstd(b"plain text", 100),
        Err(IngestError::InvalidBody(_))
    ));
}
