//! A block's spans as search sees them: their attributes parsed from the block's
//! dictionaries, the terms of its filter ([`summary::span_terms`], the same terms the
//! search blocks hold, so [`summary::Plan`] rules blocks out alike), and a span filter
//! checked in Rust with the meaning the SQL of `store::search::span_conditions` gives it.

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::block::{BlockError, Dictionaries};
use crate::store::bloom::{Bloom, Term};
use crate::store::logs::{LogBody, LogQuery, LogRecord};
use crate::store::summary::{self, AttributeCounts, LogView, SpanView};
use crate::store::{SpanFilter, SpanRecord, row};

/// A resource as matching needs it.
#[derive(Debug, Default)]
struct Resource {
    service: Option<String>,
    attributes: Vec<(String, Value)>,
}

impl Resource {
    /// Its attributes as the term functions take them.
    fn pairs(&self) -> Vec<(&str, &Value)> {
        self.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect()
    }
}

/// A block's resources and key sets, parsed once.
#[derive(Debug, Default)]
pub struct Parsed {
    resources: FxHashMap<i64, Resource>,
    shapes: FxHashMap<i64, Vec<String>>,
}

impl Parsed {
    pub fn of(dictionaries: &Dictionaries) -> Self {
        let resources = dictionaries
            .resources
            .iter()
            .map(|r| {
                let parsed: Value = serde_json::from_str(&r.resource).unwrap_or_default();
                let attributes = match parsed.get("attributes") {
                    Some(Value::Object(map)) => {
                        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                    }
                    _ => Vec::new(),
                };
                let resource = Resource {
                    service: r.service_name.clone(),
                    attributes,
                };
                (r.id, resource)
            })
            .collect();
        let shapes = dictionaries
            .shapes
            .iter()
            .map(|s| (s.id, serde_json::from_str(&s.keys).unwrap_or_default()))
            .collect();
        Self { resources, shapes }
    }

    /// The span's attributes, keys with their values.
    fn attributes(&self, span: &SpanRecord) -> Result<Vec<(String, Value)>, BlockError> {
        let values = row::attribute_values(&span.body)
            .map_err(|e| BlockError::Corrupt(format!("span {}: body: {e}", span.span_id)))?;
        let no_keys = Vec::new();
        let keys = span
            .shape_id
            .and_then(|id| self.shapes.get(&id))
            .unwrap_or(&no_keys);
        if keys.len() != values.len() {
            return Err(BlockError::Corrupt(format!(
                "span {}: {} attribute keys for {} values",
                span.span_id,
                keys.len(),
                values.len()
            )));
        }
        Ok(keys.iter().cloned().zip(values).collect())
    }

    fn resource(&self, span: &SpanRecord) -> Option<&Resource> {
        self.resources.get(&span.resource_id)
    }

    fn service<'a>(&'a self, span: &'a SpanRecord) -> Option<&'a str> {
        self.resource(span)
            .and_then(|r| r.service.as_deref())
            .or(span.service_name.as_deref())
    }
}

/// The search filter of `spans` (whose dictionaries `parsed` holds), every term of every
/// span in a filter sized to their number, and the counts of the attribute keys and
/// values of those `counted` accepts (for attribute discovery) under `counts`.
pub fn summarize(
    spans: &[SpanRecord],
    parsed: &Parsed,
    counts: &mut AttributeCounts,
    counted: impl Fn(&SpanRecord) -> bool,
) -> Result<Bloom, BlockError> {
    let mut terms = rustc_hash::FxHashSet::default();
    let mut per_resource: FxHashMap<i64, i64> = FxHashMap::default();
    for span in spans {
        let attributes = parsed.attributes(span)?;
        let pairs: Vec<(&str, &Value)> = attributes.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let service = parsed.service(span);
        let view = SpanView {
            service,
            name: &span.name,
            root: span.parent_span_id.is_none(),
            status_code: span.status_code,
            duration_ns: span.end_ns.saturating_sub(span.start_ns),
            attributes: &pairs,
            resource_attributes: &[],
        };
        summary::span_terms(&view, &mut |term: Term| {
            terms.insert(term);
        });
        if counted(span) {
            counts.span(service, &pairs);
            *per_resource.entry(span.resource_id).or_default() += 1;
        }
    }
    let mut resources_seen = rustc_hash::FxHashSet::default();
    for span in spans {
        if !resources_seen.insert(span.resource_id) {
            continue;
        }
        let Some(resource) = parsed.resources.get(&span.resource_id) else {
            continue;
        };
        let counted_spans = per_resource.get(&span.resource_id).copied().unwrap_or(0);
        let pairs = resource.pairs();
        summary::attribute_terms(&pairs, &mut |term: Term| {
            terms.insert(term);
        });
        if counted_spans > 0 {
            counts.resource(resource.service.as_deref(), &pairs, counted_spans);
        }
    }
    Ok(bloom_of(terms))
}

impl Parsed {
    /// A log record's attributes, keys with their values.
    fn log_attributes(&self, record: &LogRecord) -> Result<Vec<(String, Value)>, BlockError> {
        let body: LogBody = serde_json::from_str(&record.body)
            .map_err(|e| BlockError::Corrupt(format!("a log record's body: {e}")))?;
        let no_keys = Vec::new();
        let keys = record
            .shape_id
            .and_then(|id| self.shapes.get(&id))
            .unwrap_or(&no_keys);
        if keys.len() != body.values.len() {
            return Err(BlockError::Corrupt(format!(
                "a log record has {} attribute keys for {} values",
                keys.len(),
                body.values.len()
            )));
        }
        Ok(keys.iter().cloned().zip(body.values).collect())
    }
}

/// The search filter of a block of log records (whose dictionaries `parsed` holds):
/// every term of every record ([`summary::log_terms`]) and of their resources.
pub fn summarize_logs(records: &[LogRecord], parsed: &Parsed) -> Result<Bloom, BlockError> {
    let mut terms = rustc_hash::FxHashSet::default();
    let mut resources_seen = rustc_hash::FxHashSet::default();
    for record in records {
        let attributes = parsed.log_attributes(record)?;
        let pairs: Vec<(&str, &Value)> = attributes.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let resource = parsed.resources.get(&record.resource_id);
        let view = LogView {
            service: resource
                .and_then(|r| r.service.as_deref())
                .or(record.service_name.as_deref()),
            severity: record.severity_number,
            trace_id: record.trace_id.as_deref(),
            span_id: record.span_id.as_deref(),
            attributes: &pairs,
            message: record.message.as_deref(),
            body: &record.body,
        };
        summary::log_terms(&view, &mut |term: Term| {
            terms.insert(term);
        });
        if let Some(resource) = resource.filter(|_| resources_seen.insert(record.resource_id)) {
            let pairs = resource.pairs();
            summary::attribute_terms(&pairs, &mut |term: Term| {
                terms.insert(term);
            });
        }
    }
    Ok(bloom_of(terms))
}

/// A filter sized to `terms`, holding them.
fn bloom_of(terms: rustc_hash::FxHashSet<Term>) -> Bloom {
    let mut bloom = Bloom::for_terms(terms.len());
    for term in terms {
        bloom.insert(term);
    }
    bloom
}

/// A [`LogQuery`] ready to check archived records, with the meaning the SQL of
/// `store::logs` gives its conditions.
#[derive(Debug)]
pub struct LogMatcher<'a> {
    query: &'a LogQuery,
    /// The text filter, lower-cased (ASCII, as SQLite's `lower`).
    text: Option<String>,
}

impl<'a> LogMatcher<'a> {
    pub fn new(query: &'a LogQuery) -> Self {
        Self {
            query,
            text: query.text.as_ref().map(|t| t.to_ascii_lowercase()),
        }
    }

    /// Whether `record` (of a block whose dictionaries `parsed` holds) is one the query
    /// lists: its time range, trace, service, severity, span, attributes and text. The
    /// cursor is the caller's.
    pub fn matches(&self, record: &LogRecord, parsed: &Parsed) -> Result<bool, BlockError> {
        let q = self.query;
        let same_id = |wanted: &Option<String>, id: &Option<String>| match wanted {
            None => true,
            Some(wanted) => id
                .as_deref()
                .is_some_and(|id| id.eq_ignore_ascii_case(wanted)),
        };
        let resource = parsed.resources.get(&record.resource_id);
        if q.start_ns.is_some_and(|start| record.time_ns < start)
            || q.end_ns.is_some_and(|end| record.time_ns >= end)
            || !same_id(&q.trace_id, &record.trace_id)
            || !same_id(&q.span_id, &record.span_id)
            || q.min_severity
                .is_some_and(|min| record.severity_number < min)
        {
            return Ok(false);
        }
        if let Some(service) = &q.service
            && resource.and_then(|r| r.service.as_deref()) != Some(service.as_str())
        {
            return Ok(false);
        }
        if let Some(text) = &self.text {
            let contains = |haystack: &str| haystack.to_ascii_lowercase().contains(text.as_str());
            if !record.message.as_deref().is_some_and(contains) && !contains(&record.body) {
                return Ok(false);
            }
        }
        if q.attributes.is_empty() {
            return Ok(true);
        }
        let own = parsed.log_attributes(record)?;
        let resource_attributes = resource.map_or(&[][..], |r| r.attributes.as_slice());
        Ok(q.attributes.iter().all(|(key, text)| {
            own.iter()
                .chain(resource_attributes)
                .any(|(k, v)| k == key && same_text(v, text))
        }))
    }
}

/// Whether an attribute value reads as `text`, as the log filters' SQL compares them.
fn same_text(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s == text,
        Value::Number(n) => n.to_string() == text,
        Value::Bool(b) => text == if *b { "true" } else { "false" },
        _ => false,
    }
}

/// One attribute condition of a filter.
#[derive(Debug)]
struct Wanted {
    key: String,
    text: String,
    /// The text as a finite number, if it is one.
    number: Option<f64>,
    /// Text a span's body must contain for the span itself to carry the value, when
    /// there is such a text (the value as JSON writes it); `None`: the body is parsed.
    needle: Option<String>,
}

/// A [`SpanFilter`] ready to check spans.
#[derive(Debug)]
pub struct Matcher {
    filter: SpanFilter,
    attributes: Vec<Wanted>,
    /// The text filter, lower-cased (ASCII, as SQLite's `lower`).
    text: Option<String>,
}

/// What a resource satisfies of a [`Matcher`]'s conditions, worked out once per block.
#[derive(Debug)]
struct ResourceHits {
    service: bool,
    /// Per attribute condition.
    attributes: Vec<bool>,
    text: bool,
}

impl Matcher {
    pub fn new(filter: &SpanFilter) -> Self {
        Self {
            attributes: filter
                .attributes
                .iter()
                .map(|(key, text)| Wanted {
                    key: key.clone(),
                    text: text.clone(),
                    number: text.parse::<f64>().ok().filter(|n| n.is_finite()),
                    needle: needle(text).map(str::to_owned),
                })
                .collect(),
            text: filter.text.as_ref().map(|t| t.to_ascii_lowercase()),
            filter: filter.clone(),
        }
    }

    /// Whether the filter asks anything of a span's attributes or text.
    fn reads_bodies(&self) -> bool {
        !self.attributes.is_empty() || self.text.is_some()
    }

    /// This matcher for the spans of one block.
    pub fn for_block<'a>(&'a self, parsed: &'a Parsed) -> BlockMatcher<'a> {
        BlockMatcher {
            matcher: self,
            parsed,
            resources: FxHashMap::default(),
        }
    }

    fn resource_hits(&self, resource: Option<&Resource>) -> ResourceHits {
        let attributes = resource.map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        ResourceHits {
            service: self.filter.service.as_ref().is_none_or(|service| {
                resource.and_then(|r| r.service.as_deref()) == Some(service.as_str())
            }),
            attributes: self
                .attributes
                .iter()
                .map(|wanted| carries(attributes, wanted))
                .collect(),
            text: self
                .text
                .as_ref()
                .is_some_and(|text| in_strings(attributes, text)),
        }
    }
}

/// A [`Matcher`] over one block's spans: what each resource satisfies is worked out once.
pub struct BlockMatcher<'a> {
    matcher: &'a Matcher,
    parsed: &'a Parsed,
    resources: FxHashMap<i64, ResourceHits>,
}

impl BlockMatcher<'_> {
    /// Whether `span` meets every condition. Bodies are parsed only when the columns, the
    /// resource and a plain text search of the body leave it open.
    pub fn matches(&mut self, span: &SpanRecord) -> Result<bool, BlockError> {
        let (m, parsed) = (self.matcher, self.parsed);
        let f = &m.filter;
        if f.name.as_ref().is_some_and(|name| *name != span.name)
            || (f.root_only && span.parent_span_id.is_some())
            || f.status_code.is_some_and(|code| code != span.status_code)
        {
            return Ok(false);
        }
        let duration = span.end_ns.saturating_sub(span.start_ns);
        if f.min_duration_ns.is_some_and(|min| duration < min)
            || f.max_duration_ns.is_some_and(|max| duration > max)
        {
            return Ok(false);
        }
        let hits = self
            .resources
            .entry(span.resource_id)
            .or_insert_with(|| m.resource_hits(parsed.resource(span)));
        if !hits.service {
            return Ok(false);
        }
        if !m.reads_bodies() {
            return Ok(true);
        }
        // What the resource leaves to the span itself, ruled out early where the body
        // cannot hold it.
        let open: Vec<&Wanted> = m
            .attributes
            .iter()
            .zip(&hits.attributes)
            .filter(|(_, by_resource)| !**by_resource)
            .map(|(wanted, _)| wanted)
            .collect();
        if open.iter().any(|w| {
            w.needle
                .as_ref()
                .is_some_and(|n| !span.body.contains(n.as_str()))
        }) {
            return Ok(false);
        }
        let text_open = m
            .text
            .as_ref()
            .filter(|text| !hits.text && !span.name.to_ascii_lowercase().contains(text.as_str()));
        if let Some(text) = text_open
            && !span.body.to_ascii_lowercase().contains(text.as_str())
        {
            return Ok(false);
        }
        if open.is_empty() && text_open.is_none() {
            return Ok(true);
        }
        let attributes = parsed.attributes(span)?;
        Ok(open.iter().all(|wanted| carries(&attributes, wanted))
            && text_open.is_none_or(|text| in_strings(&attributes, text)))
    }
}

/// Whether `list` has the attribute `wanted` asks for.
fn carries(list: &[(String, Value)], wanted: &Wanted) -> bool {
    list.iter()
        .any(|(key, value)| *key == wanted.key && value_matches(value, wanted))
}

/// Whether a string value of `list` contains `text` (lower case), ignoring ASCII case.
fn in_strings(list: &[(String, Value)], text: &str) -> bool {
    list.iter().any(|(_, value)| {
        value
            .as_str()
            .is_some_and(|s| s.to_ascii_lowercase().contains(text))
    })
}

/// The text a span's body holds when one of its attributes has the value `text`: the
/// value as JSON writes it (a string without its quotes, an integer or bool as typed).
/// `None` when JSON may spell it otherwise (escapes, a double's other forms) or it is
/// empty.
fn needle(text: &str) -> Option<&str> {
    let escaped = text.chars().any(|c| c == '"' || c == '\\' || c < ' ');
    let other_form = text.parse::<f64>().is_ok() && text.parse::<i64>().is_err();
    (!escaped && !other_form && !text.is_empty()).then_some(text)
}

/// Whether an attribute value reads as the text a user typed: a string with that text,
/// an integer or bool that reads the same, a double equal to the number.
fn value_matches(value: &Value, wanted: &Wanted) -> bool {
    match value {
        Value::String(s) => *s == wanted.text,
        Value::Bool(b) => wanted.text == if *b { "true" } else { "false" },
        Value::Number(n) if n.is_f64() => wanted.number.is_some() && n.as_f64() == wanted.number,
        Value::Number(n) => n.to_string() == wanted.text,
        _ => false,
    }
}
