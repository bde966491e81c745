//! OTLP/JSON decoding, with every leniency in this one file.
//!
//! The OTLP specification maps protobuf to JSON with a few twists (hex ids instead of
//! base64, lowerCamelCase names) and real exporters bend it further. Accepted here:
//! - trace and span ids as hex in either case;
//! - 64-bit integers (`intValue`, `*UnixNano`) as strings or numbers, counts and flags too;
//! - enums (`kind`, `status.code`) as numbers or names (`SPAN_KIND_SERVER`, `SERVER`);
//! - doubles as numbers or the strings `"NaN"`, `"Infinity"`, `"-Infinity"` or digits;
//! - `bytesValue` as standard or URL-safe base64, padded or not;
//! - field names in lowerCamelCase or the proto's snake_case;
//! - `null`, missing and empty values (`{"arrayValue":{}}`, `"value":{}`) as proto3 defaults;
//!   inside an attribute value, `null` (`{"intValue": null}`, `{"stringValue": null}`, any
//!   type alike) means that member is not set, so such a value is "no value";
//! - unknown fields, which are ignored.
//!
//! The result is the same prost message the protobuf path produces, so everything after
//! decoding has one path.

pub mod logs;
pub mod metrics;

use std::fmt;

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1 as collector;
use opentelemetry_proto::tonic::common::v1 as common;
use opentelemetry_proto::tonic::resource::v1 as resource;
use opentelemetry_proto::tonic::trace::v1 as trace;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode(body: &[u8]) -> Result<collector::ExportTraceServiceRequest, serde_json::Error> {
    let request: ExportRequest = object(body)?;
    Ok(request.into())
}

/// Reads a JSON object (serde would read a JSON array as a message's fields in order;
/// OTLP/JSON is an object).
fn object<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, serde_json::Error> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(de::Error::custom("expected a JSON object"));
    }
    serde_json::from_slice(body)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ExportRequest {
    #[serde(alias = "resource_spans", deserialize_with = "nullable")]
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ResourceSpans {
    #[serde(deserialize_with = "nullable")]
    resource: Option<Resource>,
    #[serde(alias = "scope_spans", deserialize_with = "nullable")]
    scope_spans: Vec<ScopeSpans>,
    #[serde(alias = "schema_url", deserialize_with = "nullable")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Resource {
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "lenient_u32")]
    dropped_attributes_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ScopeSpans {
    #[serde(deserialize_with = "nullable")]
    scope: Option<Scope>,
    #[serde(deserialize_with = "nullable")]
    spans: Vec<Span>,
    #[serde(alias = "schema_url", deserialize_with = "nullable")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Scope {
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(deserialize_with = "nullable")]
    version: String,
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "lenient_u32")]
    dropped_attributes_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Span {
    #[serde(alias = "trace_id", deserialize_with = "hex_id")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "hex_id")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state", deserialize_with = "nullable")]
    trace_state: String,
    #[serde(alias = "parent_span_id", deserialize_with = "hex_id")]
    parent_span_id: Vec<u8>,
    #[serde(deserialize_with = "lenient_u32")]
    flags: u32,
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(deserialize_with = "span_kind")]
    kind: i32,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "lenient_u64")]
    start_time_unix_nano: u64,
    #[serde(alias = "end_time_unix_nano", deserialize_with = "lenient_u64")]
    end_time_unix_nano: u64,
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "lenient_u32")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "nullable")]
    events: Vec<Event>,
    #[serde(alias = "dropped_events_count", deserialize_with = "lenient_u32")]
    dropped_events_count: u32,
    #[serde(deserialize_with = "nullable")]
    links: Vec<Link>,
    #[serde(alias = "dropped_links_count", deserialize_with = "lenient_u32")]
    dropped_links_count: u32,
    #[serde(deserialize_with = "nullable")]
    status: Option<Status>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Event {
    #[serde(alias = "time_unix_nano", deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "nullable")]
    name: String,
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "lenient_u32")]
    dropped_attributes_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Link {
    #[serde(alias = "trace_id", deserialize_with = "hex_id")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "hex_id")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state", deserialize_with = "nullable")]
    trace_state: String,
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "lenient_u32")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "lenient_u32")]
    flags: u32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Status {
    #[serde(deserialize_with = "nullable")]
    message: String,
    #[serde(deserialize_with = "status_code")]
    code: i32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KeyValue {
    #[serde(deserialize_with = "nullable")]
    key: String,
    #[serde(deserialize_with = "nullable")]
    value: Option<AnyValue>,
}

/// One OTLP `AnyValue`: at most one of the fields is set; none set means "no value".
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AnyValue {
    #[serde(alias = "string_value")]
    string_value: Option<String>,
    #[serde(alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(alias = "int_value", deserialize_with = "lenient_i64_opt")]
    int_value: Option<i64>,
    #[serde(alias = "double_value", deserialize_with = "lenient_f64_opt")]
    double_value: Option<f64>,
    #[serde(alias = "array_value", deserialize_with = "nullable")]
    array_value: Option<ValueList>,
    #[serde(alias = "kvlist_value", deserialize_with = "nullable")]
    kvlist_value: Option<KeyValueList>,
    #[serde(alias = "bytes_value", deserialize_with = "base64_opt")]
    bytes_value: Option<Vec<u8>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ValueList {
    #[serde(deserialize_with = "nullable")]
    values: Vec<AnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KeyValueList {
    #[serde(deserialize_with = "nullable")]
    values: Vec<KeyValue>,
}

// ---- conversion into the prost messages -------------------------------------------

impl From<ExportRequest> for collector::ExportTraceServiceRequest {
    fn from(r: ExportRequest) -> Self {
        Self {
            resource_spans: r.resource_spans.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Resource> for resource::Resource {
    fn from(res: Resource) -> Self {
        Self {
            attributes: key_values(res.attributes),
            dropped_attributes_count: res.dropped_attributes_count,
            entity_refs: Vec::new(),
        }
    }
}

impl From<Scope> for common::InstrumentationScope {
    fn from(scope: Scope) -> Self {
        Self {
            name: scope.name,
            version: scope.version,
            attributes: key_values(scope.attributes),
            dropped_attributes_count: scope.dropped_attributes_count,
        }
    }
}

impl From<ResourceSpans> for trace::ResourceSpans {
    fn from(r: ResourceSpans) -> Self {
        Self {
            resource: r.resource.map(Into::into),
            scope_spans: r.scope_spans.into_iter().map(Into::into).collect(),
            schema_url: r.schema_url,
        }
    }
}

impl From<ScopeSpans> for trace::ScopeSpans {
    fn from(s: ScopeSpans) -> Self {
        Self {
            scope: s.scope.map(Into::into),
            spans: s.spans.into_iter().map(Into::into).collect(),
            schema_url: s.schema_url,
        }
    }
}

impl From<Span> for trace::Span {
    fn from(s: Span) -> Self {
        Self {
            trace_id: s.trace_id,
            span_id: s.span_id,
            trace_state: s.trace_state,
            parent_span_id: s.parent_span_id,
            flags: s.flags,
            name: s.name,
            kind: s.kind,
            start_time_unix_nano: s.start_time_unix_nano,
            end_time_unix_nano: s.end_time_unix_nano,
            attributes: key_values(s.attributes),
            dropped_attributes_count: s.dropped_attributes_count,
            events: s
                .events
                .into_iter()
                .map(|e| trace::span::Event {
                    time_unix_nano: e.time_unix_nano,
                    name: e.name,
                    attributes: key_values(e.attributes),
                    dropped_attributes_count: e.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: s.dropped_events_count,
            links: s
                .links
                .into_iter()
                .map(|l| trace::span::Link {
                    trace_id: l.trace_id,
                    span_id: l.span_id,
                    trace_state: l.trace_state,
                    attributes: key_values(l.attributes),
                    dropped_attributes_count: l.dropped_attributes_count,
                    flags: l.flags,
                })
                .collect(),
            dropped_links_count: s.dropped_links_count,
            status: s.status.map(|st| trace::Status {
                message: st.message,
                code: st.code,
            }),
        }
    }
}

fn key_values(list: Vec<KeyValue>) -> Vec<common::KeyValue> {
    list.into_iter()
        .map(|kv| common::KeyValue {
            key: kv.key,
            value: kv.value.map(Into::into),
            key_strindex: 0,
        })
        .collect()
}

impl From<AnyValue> for common::AnyValue {
    fn from(v: AnyValue) -> Self {
        use common::any_value::Value;
        let value = if let Some(s) = v.string_value {
            Some(Value::StringValue(s))
        } else if let Some(b) = v.bool_value {
            Some(Value::BoolValue(b))
        } else if let Some(i) = v.int_value {
            Some(Value::IntValue(i))
        } else if let Some(d) = v.double_value {
            Some(Value::DoubleValue(d))
        } else if let Some(list) = v.array_value {
            Some(Value::ArrayValue(common::ArrayValue {
                values: list.values.into_iter().map(Into::into).collect(),
            }))
        } else if let Some(kvs) = v.kvlist_value {
            Some(Value::KvlistValue(common::KeyValueList {
                values: key_values(kvs.values),
            }))
        } else {
            v.bytes_value.map(Value::BytesValue)
        };
        Self { value }
    }
}

// ---- field deserializers -----------------------------------------------------------

/// `null` reads as the field's default, as proto3 JSON requires.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Hex ids in either case; `null` and `""` are the empty id.
fn hex_id<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    let text = text.unwrap_or_default();
    hex::decode(&text).map_err(|e| de::Error::custom(format!("id {text:?} is not hex: {e}")))
}

/// An integer that may arrive as a JSON number (integral) or a decimal string.
struct LenientInt<T>(std::marker::PhantomData<T>);

impl<'de, T> Visitor<'de> for LenientInt<T>
where
    T: TryFrom<u64> + TryFrom<i64> + std::str::FromStr + Default,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer or a string of digits")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // 1e3 is a valid JSON spelling of 1000; 1.5 is not an integer.
        if v.fract() == 0.0 && v.abs() < 1.8e19 {
            if v < 0.0 {
                return self.visit_i64(v as i64);
            }
            return self.visit_u64(v as u64);
        }
        Err(E::custom(format!("{v} is not an integer")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.trim()
            .parse()
            .map_err(|_| E::custom(format!("{v:?} is not an integer")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(LenientInt::<u64>(Default::default()))
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    d.deserialize_any(LenientInt::<u32>(Default::default()))
}

/// An `intValue`: `null` means the value is not set, like a missing field.
fn lenient_i64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct Int(i64);
    impl<'de> Deserialize<'de> for Int {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(LenientInt::<i64>(Default::default()))
                .map(Int)
        }
    }
    Ok(Option::<Int>::deserialize(d)?.map(|Int(i)| i))
}

/// Doubles as numbers, or as strings for the values JSON numbers cannot spell; `null`
/// means the value is not set, like a missing field.
fn lenient_f64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct Double(f64);
    impl<'de> Deserialize<'de> for Double {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(F64).map(Double)
        }
    }
    struct F64;
    impl Visitor<'_> for F64 {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            match v {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => other
                    .trim()
                    .parse()
                    .map_err(|_| E::custom(format!("{other:?} is not a number"))),
            }
        }
    }
    Ok(Option::<Double>::deserialize(d)?.map(|Double(v)| v))
}

/// Base64 in any of its common alphabets and paddings.
fn base64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);

    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    STANDARD
        .decode(&text)
        .or_else(|_| URL_SAFE.decode(&text))
        .map(Some)
        .map_err(|e| de::Error::custom(format!("bytesValue is not base64: {e}")))
}

/// Reads an enum given as its number or its name, with or without the name's prefix.
fn enum_value<'de, D: Deserializer<'de>>(
    d: D,
    prefix: &'static str,
    names: &'static [&'static str],
) -> Result<i32, D::Error> {
    struct EnumVisitor {
        prefix: &'static str,
        names: &'static [&'static str],
    }
    impl Visitor<'_> for EnumVisitor {
        type Value = i32;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an enum number or one of {}*", self.prefix)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::custom(format!("enum value {v} is out of range")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::custom(format!("enum value {v} is out of range")))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i32, E> {
            let upper = v.trim().to_ascii_uppercase();
            let bare = upper.strip_prefix(self.prefix).unwrap_or(&upper);
            match self.names.iter().position(|name| *name == bare) {
                Some(i) => Ok(i as i32),
                None => upper
                    .parse()
                    .map_err(|_| E::custom(format!("unknown enum value {v:?}"))),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
            Ok(0)
        }
    }
    d.deserialize_any(EnumVisitor { prefix, names })
}

fn span_kind<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    const NAMES: &[&str] = &[
        "UNSPECIFIED",
        "INTERNAL",
        "SERVER",
        "CLIENT",
        "PRODUCER",
        "CONSUMER",
    ];
    enum_value(d, "SPAN_KIND_", NAMES)
}

fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    const NAMES: &[&str] = &["UNSET", "OK", "ERROR"];
    enum_value(d, "STATUS_CODE_", NAMES)
}
