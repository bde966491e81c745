//! OTLP/JSON `ExportLogsServiceRequest`, with the same leniencies as traces.

use opentelemetry_proto::tonic::collector::logs::v1 as collector;
use opentelemetry_proto::tonic::logs::v1 as logs;
use serde::{Deserialize, Deserializer};

use super::{
    AnyValue, KeyValue, Resource, Scope, enum_value, hex_id, key_values, lenient_u32, lenient_u64,
    nullable, object,
};

/// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
pub fn decode(body: &[u8]) -> Result<collector::ExportLogsServiceRequest, serde_json::Error> {
    let request: ExportRequest = object(body)?;
    Ok(collector::ExportLogsServiceRequest {
        resource_logs: request
            .resource_logs
            .into_iter()
            .map(|r| logs::ResourceLogs {
                resource: r.resource.map(Into::into),
                scope_logs: r
                    .scope_logs
                    .into_iter()
                    .map(|s| logs::ScopeLogs {
                        scope: s.scope.map(Into::into),
                        log_records: s.log_records.into_iter().map(Into::into).collect(),
                        schema_url: s.schema_url,
                    })
                    .collect(),
                schema_url: r.schema_url,
            })
            .collect(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ExportRequest {
    #[serde(alias = "resource_logs", deserialize_with = "nullable")]
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ResourceLogs {
    #[serde(deserialize_with = "nullable")]
    resource: Option<Resource>,
    #[serde(alias = "scope_logs", deserialize_with = "nullable")]
    scope_logs: Vec<ScopeLogs>,
    #[serde(alias = "schema_url", deserialize_with = "nullable")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ScopeLogs {
    #[serde(deserialize_with = "nullable")]
    scope: Option<Scope>,
    #[serde(alias = "log_records", deserialize_with = "nullable")]
    log_records: Vec<LogRecord>,
    #[serde(alias = "schema_url", deserialize_with = "nullable")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct LogRecord {
    #[serde(alias = "time_unix_nano", deserialize_with = "lenient_u64")]
    time_unix_nano: u64,
    #[serde(alias = "observed_time_unix_nano", deserialize_with = "lenient_u64")]
    observed_time_unix_nano: u64,
    #[serde(alias = "severity_number", deserialize_with = "severity_number")]
    severity_number: i32,
    #[serde(alias = "severity_text", deserialize_with = "nullable")]
    severity_text: String,
    #[serde(deserialize_with = "nullable")]
    body: Option<AnyValue>,
    #[serde(deserialize_with = "nullable")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "lenient_u32")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "lenient_u32")]
    flags: u32,
    #[serde(alias = "trace_id", deserialize_with = "hex_id")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "hex_id")]
    span_id: Vec<u8>,
    #[serde(alias = "event_name", deserialize_with = "nullable")]
    event_name: String,
}

impl From<LogRecord> for logs::LogRecord {
    fn from(l: LogRecord) -> Self {
        Self {
            time_unix_nano: l.time_unix_nano,
            observed_time_unix_nano: l.observed_time_unix_nano,
            severity_number: l.severity_number,
            severity_text: l.severity_text,
            body: l.body.map(Into::into),
            attributes: key_values(l.attributes),
            dropped_attributes_count: l.dropped_attributes_count,
            flags: l.flags,
            trace_id: l.trace_id,
            span_id: l.span_id,
            event_name: l.event_name,
        }
    }
}

/// `SeverityNumber` as a number or a name (`SEVERITY_NUMBER_WARN`, `WARN`).
fn severity_number<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    const NAMES: &[&str] = &[
        "UNSPECIFIED",
        "TRACE",
        "TRACE2",
        "TRACE3",
        "TRACE4",
        "DEBUG",
        "DEBUG2",
        "DEBUG3",
        "DEBUG4",
        "INFO",
        "INFO2",
        "INFO3",
        "INFO4",
        "WARN",
        "WARN2",
        "WARN3",
        "WARN4",
        "ERROR",
        "ERROR2",
        "ERROR3",
        "ERROR4",
        "FATAL",
        "FATAL2",
        "FATAL3",
        "FATAL4",
    ];
    enum_value(d, "SEVERITY_NUMBER_", NAMES)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    #[test]
    fn a_log_record_reads_with_every_leniency_of_traces() {
        let body = br#"{"resource_logs": [{"resource": {"attributes": [
              {"key": "service.name", "value": {"stringValue": "api"}}]},
            "scopeLogs": [{"scope": {"name": "app"}, "logRecords": [
              {"timeUnixNano": "1700000000000000001", "observed_time_unix_nano": 1700000000000000002,
               "severityNumber": "SEVERITY_NUMBER_WARN", "severityText": "Warning",
               "body": {"kvlistValue": {"values": [{"key": "n", "value": {"intValue": "7"}}]}},
               "traceId": "0AF7651916CD43DD8448EB211C80319C", "spanId": "b7ad6b7169203331",
               "flags": "1", "eventName": "user.login", "attributes": null},
              {"severityNumber": 17, "body": {"stringValue": "plain"}, "traceId": null}]}]}]}"#;
        let request = super::decode(body).unwrap();
        let records = &request.resource_logs[0].scope_logs[0].log_records;
        assert_eq!(records[0].time_unix_nano, 1_700_000_000_000_000_001);
        assert_eq!(
            records[0].observed_time_unix_nano,
            1_700_000_000_000_000_002
        );
        assert_eq!(records[0].severity_number, 13);
        assert_eq!(records[0].flags, 1);
        assert_eq!(records[0].trace_id.len(), 16);
        assert_eq!(records[0].event_name, "user.login");
        assert!(matches!(
            records[0].body.as_ref().and_then(|b| b.value.as_ref()),
            Some(Value::KvlistValue(_))
        ));
        assert_eq!(records[1].severity_number, 17);
        assert!(records[1].trace_id.is_empty());
        assert!(super::decode(b"[]").is_err());
    }
}
