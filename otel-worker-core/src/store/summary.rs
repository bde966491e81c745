//! Search blocks: consecutive runs of span rows in arrival order, each summarized by a
//! [`Bloom`] filter of its spans, the latest start of one of its spans, and
//! counts of attribute keys and values.
//!
//! The summarizer folds new span rows (those above the summary mark) into the newest
//! block, in bounded steps, off the ingest path: a background thread locally, the cron
//! trigger and idle moments on the Worker. A block closes at [`BLOCK_SPANS`] spans (or a
//! [`bloom::FULL`] filter) and the next row starts a new one, so probing a block costs
//! at most that many spans however out of order trace starts arrive. A search must still
//! probe the rows not yet folded; it learns them from the mark.
//!
//! What a filter holds for each span ([`span_terms`]), and what a search tests
//! ([`Plan`]), are defined together here, so they cannot disagree:
//! - every combination of service, name, root and status, with and without the span's
//!   duration bucket (its bit length in nanoseconds);
//! - every scalar attribute of the span and its resource, as key and value text (the
//!   text a user would type: strings, integers and bools as they read, doubles as
//!   `#` and Rust's shortest form);
//! - every 3-byte window of the lower-cased name and string values, for text search.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use serde::Deserialize;
use serde_json::Value;

use super::bloom::{self, Bloom, Term};
use super::{Param, SpanFilter, Statement, Store, StoreError, row, sql};
use crate::models::Attributes;

/// The signal of span blocks in `search_blocks` (logs and metrics get their own).
pub const SPANS: i64 = 1;

/// A block closes at this many spans (or once its filter is [`bloom::FULL`]): probing
/// one block costs at most this many spans.
pub const BLOCK_SPANS: i64 = 16_384;

/// Rows folded per summarizer step unless the store says otherwise
/// ([`Store::with_summary_step`]): what one Worker invocation reads from D1 in a step.
pub const STEP_ROWS: u32 = 4_096;

/// How long one summarizer may hold the lease before another may take over.
pub const LEASE_MS: u64 = 60_000;

/// Values longer than this are not counted for attribute discovery.
const MAX_VALUE_CHARS: usize = 128;

/// What the filter needs of one span.
#[derive(Debug)]
pub struct SpanView<'a> {
    pub service: Option<&'a str>,
    pub name: &'a str,
    pub root: bool,
    pub status_code: i32,
    pub duration_ns: u64,
    pub attributes: &'a [(&'a str, &'a Value)],
    pub resource_attributes: &'a [(&'a str, &'a Value)],
}

/// The bit length of a duration: spans whose durations fall in `[2^(b-1), 2^b)` share it.
fn duration_bucket(ns: u64) -> u8 {
    (64 - ns.leading_zeros()) as u8
}

/// The fields of an operation term, in this order, by bit of its mask.
const SERVICE: u8 = 1;
const NAME: u8 = 2;
const ROOT: u8 = 4;
const STATUS: u8 = 8;

fn operation_term(mask: u8, service: &str, name: &str, status: i32, bucket: Option<u8>) -> Term {
    let mut bytes = Vec::with_capacity(8 + service.len() + name.len());
    bytes.extend_from_slice(&[b'o', mask]);
    if mask & SERVICE != 0 {
        bytes.extend_from_slice(service.as_bytes());
        bytes.push(0xff);
    }
    if mask & NAME != 0 {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0xff);
    }
    if mask & STATUS != 0 {
        bytes.push(status as u8);
    }
    if let Some(bucket) = bucket {
        bytes.extend_from_slice(&[b'd', bucket]);
    }
    Term::of(&bytes)
}

fn attribute_term(key: &str, text: &str) -> Term {
    let mut bytes = Vec::with_capacity(2 + key.len() + text.len());
    attribute_bytes(key, text, &mut bytes);
    Term::of(&bytes)
}

/// What an attribute's term is the hash of.
fn attribute_bytes(key: &str, text: &str, into: &mut Vec<u8>) {
    into.clear();
    into.push(b'a');
    into.extend_from_slice(key.as_bytes());
    into.push(0xff);
    into.extend_from_slice(text.as_bytes());
}

fn trigram_term(window: &[u8]) -> Term {
    Term::of(&[b't', window[0], window[1], window[2]])
}

/// The text an attribute value matches, as filters and discovery spell it: `None` for
/// arrays and maps, which no filter matches.
pub fn value_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(text) => Some(Cow::Borrowed(text)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) if n.is_f64() => n.as_f64().map(|d| Cow::Owned(format!("#{d}"))),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// Calls `add` with every term of one span (see the module doc). The summarizer calls
/// the three parts itself, the resource's once per block, to the same effect.
pub fn span_terms(span: &SpanView, add: &mut impl FnMut(Term)) {
    operation_terms(span, add);
    attribute_terms(span.attributes, add);
    attribute_terms(span.resource_attributes, add);
}

/// The terms of a span's service, name, root, status and duration.
fn operation_terms(span: &SpanView, add: &mut impl FnMut(Term)) {
    let bucket = duration_bucket(span.duration_ns);
    let service = span.service.unwrap_or("");
    for mask in 0..16u8 {
        if (mask & SERVICE != 0 && span.service.is_none()) || (mask & ROOT != 0 && !span.root) {
            continue;
        }
        add(operation_term(
            mask,
            service,
            span.name,
            span.status_code,
            None,
        ));
        add(operation_term(
            mask,
            service,
            span.name,
            span.status_code,
            Some(bucket),
        ));
    }
    trigrams(span.name, add);
}

/// The terms of some attributes: key and value, and the value's trigrams.
pub fn attribute_terms(attributes: &[(&str, &Value)], add: &mut impl FnMut(Term)) {
    let mut bytes = Vec::new();
    for (key, value) in attributes {
        if let Some(text) = value_text(value) {
            attribute_bytes(key, &text, &mut bytes);
            pair_terms(&bytes, value, &text, add);
        }
    }
}

/// The terms of one attribute whose [`value_text`] is `text`, `bytes` being its
/// [`attribute_bytes`]: the pair, and a string's trigrams (arrays and maps have none).
fn pair_terms(bytes: &[u8], value: &Value, text: &str, add: &mut impl FnMut(Term)) {
    add(Term::of(bytes));
    if value.is_string() {
        trigrams(text, add);
    }
}

/// What a span's operation terms depend on, as one key: a block adds them once.
fn operation_key(span: &SpanView, into: &mut Vec<u8>) {
    into.clear();
    into.extend_from_slice(span.service.unwrap_or("").as_bytes());
    into.push(0xff);
    into.extend_from_slice(span.name.as_bytes());
    into.push(0xff);
    into.push(u8::from(span.service.is_some()));
    into.push(u8::from(span.root));
    into.extend_from_slice(&span.status_code.to_le_bytes());
    into.push(duration_bucket(span.duration_ns));
}

fn trigrams(text: &str, add: &mut impl FnMut(Term)) {
    let lower = text.as_bytes().to_ascii_lowercase();
    for window in lower.windows(3) {
        add(trigram_term(window));
    }
}

/// Severities above OTLP's 24 (FATAL4) share one class in a filter.
const MAX_SEVERITY_CLASS: u8 = 25;

fn severity_class(severity: i32) -> u8 {
    severity.clamp(0, i32::from(MAX_SEVERITY_CLASS)) as u8
}

fn log_term(kind: u8, bytes: &[u8]) -> Term {
    let mut term = Vec::with_capacity(2 + bytes.len());
    term.extend_from_slice(&[b'l', kind]);
    term.extend_from_slice(bytes);
    Term::of(&term)
}

/// One log record as a block's filter sees it.
pub struct LogView<'a> {
    pub service: Option<&'a str>,
    pub severity: i32,
    pub trace_id: Option<&'a str>,
    pub span_id: Option<&'a str>,
    pub attributes: &'a [(&'a str, &'a Value)],
    pub message: Option<&'a str>,
    /// The stored body JSON (what a text search looks in besides the message).
    pub body: &'a str,
}

/// Calls `add` with every term of one log record but its resource's attributes (a block
/// adds those once per resource, with [`attribute_terms`]): service, severity, trace and
/// span ids, attributes, and the trigrams of its message and body, so a list's filters
/// ([`Plan::of_logs`]) rule blocks of records out as they rule blocks of spans out.
pub fn log_terms(record: &LogView, add: &mut impl FnMut(Term)) {
    if let Some(service) = record.service {
        add(log_term(b's', service.as_bytes()));
    }
    add(log_term(b'v', &[severity_class(record.severity)]));
    if let Some(trace_id) = record.trace_id {
        add(log_term(b't', trace_id.as_bytes()));
    }
    if let Some(span_id) = record.span_id {
        add(log_term(b'p', span_id.as_bytes()));
    }
    attribute_terms(record.attributes, add);
    if let Some(message) = record.message {
        trigrams(message, add);
    }
    trigrams(record.body, add);
}

/// What a search tests against a block's filter: every group must have a term the
/// filter may contain. An empty plan matches every block.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    groups: Vec<Vec<Term>>,
}

impl Plan {
    pub fn of(filter: &SpanFilter) -> Self {
        let mut groups = Vec::new();
        let mut mask = 0;
        if filter.service.is_some() {
            mask |= SERVICE;
        }
        if filter.name.is_some() {
            mask |= NAME;
        }
        if filter.root_only {
            mask |= ROOT;
        }
        if filter.status_code.is_some() {
            mask |= STATUS;
        }
        let service = filter.service.as_deref().unwrap_or("");
        let name = filter.name.as_deref().unwrap_or("");
        let status = filter.status_code.unwrap_or(0);
        if filter.min_duration_ns.is_some() || filter.max_duration_ns.is_some() {
            let low = filter.min_duration_ns.map_or(0, duration_bucket);
            let high = filter.max_duration_ns.map_or(64, duration_bucket);
            groups.push(
                (low..=high)
                    .map(|bucket| operation_term(mask, service, name, status, Some(bucket)))
                    .collect(),
            );
        } else if mask != 0 {
            groups.push(vec![operation_term(mask, service, name, status, None)]);
        }
        for (key, text) in &filter.attributes {
            let mut group = vec![attribute_term(key, text)];
            if let Some(d) = text.parse::<f64>().ok().filter(|d| d.is_finite()) {
                group.push(attribute_term(key, &format!("#{d}")));
            }
            groups.push(group);
        }
        if let Some(text) = &filter.text {
            let lower = text.as_bytes().to_ascii_lowercase();
            for window in lower.windows(3) {
                groups.push(vec![trigram_term(window)]);
            }
        }
        Self { groups }
    }

    /// The plan of a log list: what a block of records must hold for one of them to
    /// match `query` (see [`log_terms`]).
    pub fn of_logs(query: &super::logs::LogQuery) -> Self {
        let mut groups = Vec::new();
        if let Some(service) = &query.service {
            groups.push(vec![log_term(b's', service.as_bytes())]);
        }
        if let Some(min) = query.min_severity {
            groups.push(
                (severity_class(min)..=MAX_SEVERITY_CLASS)
                    .map(|class| log_term(b'v', &[class]))
                    .collect(),
            );
        }
        if let Some(trace_id) = &query.trace_id {
            groups.push(vec![log_term(
                b't',
                trace_id.to_ascii_lowercase().as_bytes(),
            )]);
        }
        if let Some(span_id) = &query.span_id {
            groups.push(vec![log_term(
                b'p',
                span_id.to_ascii_lowercase().as_bytes(),
            )]);
        }
        for (key, text) in &query.attributes {
            let mut group = vec![attribute_term(key, text)];
            if let Some(d) = text.parse::<f64>().ok().filter(|d| d.is_finite()) {
                group.push(attribute_term(key, &format!("#{d}")));
            }
            groups.push(group);
        }
        if let Some(text) = &query.text {
            let lower = text.as_bytes().to_ascii_lowercase();
            for window in lower.windows(3) {
                groups.push(vec![trigram_term(window)]);
            }
        }
        Self { groups }
    }

    /// Whether a span that matches could be among those `bloom` summarizes.
    pub fn may_match(&self, bloom: &Bloom) -> bool {
        self.groups
            .iter()
            .all(|group| group.iter().any(|term| bloom.may_contain(*term)))
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// One block as [`sql::NEWEST_BLOCK`] and [`sql::SEARCH_BLOCKS_AND_MARK`] list it.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockRow {
    pub block_id: i64,
    /// Its span rows, `first_row..=last_row`.
    pub first_row: i64,
    pub last_row: i64,
    pub spans: i64,
    /// The latest start of a span in the block: no trace with a span in it started later,
    /// whatever is later added to or deleted from the trace.
    pub max_start: String,
}

impl BlockRow {
    pub fn max_start(&self) -> u64 {
        self.max_start.parse().unwrap_or(0)
    }
}

#[derive(Debug, Deserialize)]
struct BloomRow {
    block_id: i64,
    bloom: String,
}

/// One row of [`sql::ROWS_TO_SUMMARIZE`].
#[derive(Debug, Clone, Deserialize)]
struct RowToFold {
    span_row: i64,
    name: String,
    root: i64,
    status_code: i32,
    start_ns: String,
    end_ns: String,
    resource_id: Option<String>,
    shape_id: Option<String>,
    body: String,
}

#[derive(Debug, Deserialize)]
struct ResourceRow {
    resource_id: String,
    resource: String,
    service_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ShapeRow {
    shape_id: String,
    keys: String,
}

/// A resource as the summarizer needs it.
#[derive(Debug, Default)]
struct Resource {
    service: Option<String>,
    attributes: Attributes,
}

impl Resource {
    fn pairs(&self) -> Vec<(&str, &Value)> {
        self.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect()
    }
}

/// A block being updated by one step.
#[derive(Debug)]
struct Folding {
    row: BlockRow,
    bloom: Bloom,
    added: i64,
    max_start: u64,
    /// Operations whose terms are in the filter already.
    operations: FxHashSet<Vec<u8>>,
    /// Attribute key and value pairs (as [`attribute_bytes`]) whose terms are in the
    /// filter already: most values repeat, and their trigrams are the bulk of the work.
    pairs: FxHashSet<Vec<u8>>,
    /// Spans folded per resource id: a resource's terms and counts are added once.
    resources: HashMap<String, i64>,
}

/// Strings numbered once, so counting looks them up without allocating.
#[derive(Debug, Default)]
struct Strings {
    ids: HashMap<String, u32>,
    texts: Vec<String>,
}

impl Strings {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(text.to_owned());
        self.ids.insert(text.to_owned(), id);
        id
    }

    fn find(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
}

/// The scopes of `block_attributes`.
const SCOPES: [&str; 2] = ["span", "resource"];

/// Counts of one step's attribute keys and values, by block and service; services, keys
/// and values are [`Strings`] ids.
#[derive(Debug, Default)]
struct Statistics {
    strings: Strings,
    /// (block, service, scope, key) → (types, count)
    keys: HashMap<(i64, u32, u8, u32), (i64, i64)>,
    /// (block, service, key, value) → count
    values: HashMap<(i64, u32, u32, u32), i64>,
    /// (block, service, key) → distinct values kept, stored before and added now
    distinct: HashMap<(i64, u32, u32), usize>,
}

/// The type bit of a value, as `block_attributes.types` ORs them.
fn type_bit(value: &Value) -> i64 {
    match value {
        Value::String(_) => 1,
        Value::Number(n) if n.is_f64() => 4,
        Value::Number(_) => 2,
        Value::Bool(_) => 8,
        Value::Array(_) => 16,
        Value::Object(_) => 32,
        Value::Null => 64,
    }
}

/// The type names of `types` bits, as `GET /v1/attributes` writes them.
pub fn type_names(types: i64) -> Vec<&'static str> {
    [
        (1, "string"),
        (2, "int"),
        (4, "double"),
        (8, "bool"),
        (16, "array"),
        (32, "map"),
        (64, "empty"),
    ]
    .into_iter()
    .filter(|(bit, _)| types & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

impl Statistics {
    /// Counts `attributes` as seen on `times` spans of `block`.
    fn count(
        &mut self,
        block: i64,
        service: &str,
        scope: u8,
        attributes: &[(&str, &Value)],
        times: i64,
    ) {
        let service = self.strings.id(service);
        for (key, value) in attributes {
            self.count_one(block, service, scope, key, value, value_text(value), times);
        }
    }

    /// Counts one attribute, `text` being its [`value_text`]; `service` is a string id.
    #[allow(clippy::too_many_arguments)]
    fn count_one(
        &mut self,
        block: i64,
        service: u32,
        scope: u8,
        key: &str,
        value: &Value,
        text: Option<Cow<'_, str>>,
        times: i64,
    ) {
        let key = self.strings.id(key);
        self.add_key((block, service, scope, key), type_bit(value), times);
        let Some(text) = text.filter(|t| t.chars().count() <= MAX_VALUE_CHARS) else {
            return;
        };
        self.add_value((block, service, key), &text, times, usize::MAX);
    }

    /// Adds `count` spans of key `(block, service, scope, key)` with `types`.
    fn add_key(&mut self, at: (i64, u32, u8, u32), types: i64, count: i64) {
        let entry = self.keys.entry(at).or_default();
        entry.0 |= types;
        entry.1 += count;
    }

    /// Adds `count` spans of value `text` of key `(block, service, key)`: a value not kept
    /// yet is kept while the key has fewer than [`sql::MAX_VALUES_PER_KEY`] and all keys
    /// fewer than `max_values`.
    fn add_value(
        &mut self,
        (block, service, key): (i64, u32, u32),
        text: &str,
        count: i64,
        max_values: usize,
    ) {
        if let Some(known) = self
            .strings
            .find(text)
            .and_then(|value| self.values.get_mut(&(block, service, key, value)))
        {
            *known += count;
            return;
        }
        let distinct = self.distinct.entry((block, service, key)).or_default();
        if *distinct < sql::MAX_VALUES_PER_KEY && self.values.len() < max_values {
            *distinct += 1;
            let value = self.strings.id(text);
            self.values.insert((block, service, key, value), count);
        }
    }

    /// The counts as rows: keys `[block, service, scope, key, types, count]` and values
    /// `[block, service, key, value, count]`.
    fn rows(&self) -> (Vec<Value>, Vec<Value>) {
        let text = |id: u32| self.strings.text(id);
        let keys = self
            .keys
            .iter()
            .map(|((block, service, scope, key), (types, count))| {
                serde_json::json!([
                    block,
                    text(*service),
                    SCOPES[usize::from(*scope)],
                    text(*key),
                    types,
                    count
                ])
            })
            .collect();
        let values = self
            .values
            .iter()
            .map(|((block, service, key, value), count)| {
                serde_json::json!([block, text(*service), text(*key), text(*value), count])
            })
            .collect();
        (keys, values)
    }

    fn statements(&self) -> Vec<Statement> {
        let (keys, values) = self.rows();
        let mut statements = Vec::new();
        for chunk in keys.chunks(2_000) {
            statements.push(Statement::new(
                sql::ADD_BLOCK_ATTRIBUTES,
                vec![Param::Text(Value::from(chunk.to_vec()).to_string())],
            ));
        }
        for chunk in values.chunks(2_000) {
            statements.push(Statement::new(
                sql::ADD_BLOCK_VALUES,
                vec![Param::Text(Value::from(chunk.to_vec()).to_string())],
            ));
        }
        statements
    }
}

/// The attribute key and value counts of one block that is not a search block (an
/// archive block, under a negative id): what `GET /v1/attributes` adds up.
#[derive(Debug)]
pub struct AttributeCounts {
    block_id: i64,
    statistics: Statistics,
}

impl AttributeCounts {
    pub fn new(block_id: i64) -> Self {
        Self {
            block_id,
            statistics: Statistics::default(),
        }
    }

    /// Counts one span's attributes.
    pub fn span(&mut self, service: Option<&str>, attributes: &[(&str, &Value)]) {
        self.statistics
            .count(self.block_id, service.unwrap_or(""), 0, attributes, 1);
    }

    /// Counts a resource's attributes for `spans` spans.
    pub fn resource(&mut self, service: Option<&str>, attributes: &[(&str, &Value)], spans: i64) {
        self.statistics
            .count(self.block_id, service.unwrap_or(""), 1, attributes, spans);
    }

    /// The statements that store the counts.
    pub fn statements(&self) -> Vec<Statement> {
        self.statistics.statements()
    }

    /// The counts as one JSON object, `{"k": keys, "v": values}` (rows as
    /// `block_attributes` and `block_values` take them): how a segment of the hot tier
    /// carries them, for attribute discovery to add up.
    pub fn json(&self) -> String {
        let (keys, values) = self.statistics.rows();
        serde_json::json!({"k": keys, "v": values}).to_string()
    }

    /// Adds counts written by [`AttributeCounts::json`] (of any block) to these, keeping
    /// at most [`sql::MAX_VALUES_PER_KEY`] values per service and key, and `max_values`
    /// in all (past them, new values are not kept: their keys still count).
    pub fn add_json(&mut self, json: &str, max_values: usize) -> Result<(), StoreError> {
        #[derive(Deserialize)]
        struct Rows {
            #[serde(default)]
            k: Vec<(Value, String, String, String, i64, i64)>,
            #[serde(default)]
            v: Vec<(Value, String, String, String, i64)>,
        }
        let rows: Rows = serde_json::from_str(json)
            .map_err(|e| StoreError::Other(format!("stored attribute counts do not read: {e}")))?;
        for (_, service, scope, key, types, count) in &rows.k {
            let scope = SCOPES.iter().position(|s| s == scope).unwrap_or(0) as u8;
            self.add_key(service, scope, key, *types, *count);
        }
        for (_, service, key, value, count) in &rows.v {
            self.add_value(service, key, value, *count, max_values);
        }
        Ok(())
    }

    /// Adds `other`'s counts (of any block) to these, as [`AttributeCounts::add_json`]
    /// does.
    pub fn add(&mut self, other: &AttributeCounts, max_values: usize) {
        let text = |id: u32| other.statistics.strings.text(id);
        for ((_, service, scope, key), (types, count)) in &other.statistics.keys {
            self.add_key(text(*service), *scope, text(*key), *types, *count);
        }
        for ((_, service, key, value), count) in &other.statistics.values {
            self.add_value(text(*service), text(*key), text(*value), *count, max_values);
        }
    }

    fn add_key(&mut self, service: &str, scope: u8, key: &str, types: i64, count: i64) {
        let stats = &mut self.statistics;
        let at = (
            self.block_id,
            stats.strings.id(service),
            scope,
            stats.strings.id(key),
        );
        stats.add_key(at, types, count);
    }

    fn add_value(&mut self, service: &str, key: &str, value: &str, count: i64, max_values: usize) {
        let stats = &mut self.statistics;
        let at = (
            self.block_id,
            stats.strings.id(service),
            stats.strings.id(key),
        );
        stats.add_value(at, value, count, max_values);
    }
}

/// Resources and attribute key sets already read, by id: they never change.
#[derive(Debug, Default)]
pub struct Dictionary {
    resources: std::sync::Mutex<HashMap<String, Arc<Resource>>>,
    shapes: std::sync::Mutex<HashMap<String, Arc<Vec<String>>>>,
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store {
    /// Folds up to [`Store::with_summary_step`] new span rows into the search blocks. Returns how many
    /// rows it folded (0: the summaries are up to date), or `None` when another
    /// summarizer holds the lease. `now_ms` is the wall clock, for the lease.
    pub async fn summarize_step(&self, now_ms: u64) -> Result<Option<u64>, StoreError> {
        let until = now_ms + LEASE_MS;
        let taken = self
            .db
            .transaction(vec![Statement::new(
                sql::TAKE_SUMMARY_LEASE,
                vec![now_ms.to_string().into(), until.to_string().into()],
            )])
            .await?;
        if taken.first().copied() != Some(1) {
            return Ok(None);
        }
        let result = self.fold(until).await;
        if result.is_err() {
            // Let the next step (here or elsewhere) try again at once.
            let _ = self
                .db
                .transaction(vec![Statement::new(
                    sql::RETURN_SUMMARY_LEASE,
                    vec![until.to_string().into()],
                )])
                .await;
        }
        result.map(Some)
    }

    /// Folds what there is to fold, step after step, until up to date or `max_steps`
    /// ran. Returns the rows folded.
    pub async fn summarize(&self, now_ms: u64, max_steps: u32) -> Result<u64, StoreError> {
        let mut total = 0;
        for _ in 0..max_steps {
            match self.summarize_step(now_ms).await? {
                Some(0) | None => break,
                Some(rows) => total += rows,
            }
        }
        Ok(total)
    }

    async fn fold(&self, lease: u64) -> Result<u64, StoreError> {
        let mark = self.counter(sql::SUMMARY_MARK).await?;
        let rows: Vec<RowToFold> = self
            .rows(Statement::new(
                sql::ROWS_TO_SUMMARIZE,
                vec![
                    mark.to_string().into(),
                    Param::Int(i64::from(self.summary_step_rows)),
                ],
            ))
            .await?;
        let release = Statement::new(sql::RETURN_SUMMARY_LEASE, vec![lease.to_string().into()]);
        let Some(last_row) = rows.last().map(|r| r.span_row) else {
            self.db.transaction(vec![release]).await?;
            return Ok(0);
        };
        let newest: Option<BlockRow> = self
            .rows(Statement::new(sql::NEWEST_BLOCK, vec![Param::Int(SPANS)]))
            .await?
            .pop();
        // Block ids are never reused (a cached filter is known by its block's id).
        let mut next_id = self.counter(sql::LAST_BLOCK_ID).await? as i64 + 1;
        let mut blocks: Vec<Folding> = Vec::new();
        if let Some(newest) = newest {
            let bloom = self.blooms(&[newest.block_id]).await?.pop();
            let open = Folding::new(newest, bloom);
            if !open.is_full() {
                blocks.push(open);
            }
        }
        self.learn_dictionary(&rows).await?;
        let mut statistics = Statistics::default();
        #[derive(Deserialize)]
        struct Kept {
            block_id: i64,
            service_name: String,
            key: String,
            kept: i64,
        }
        let ids: Vec<i64> = blocks.iter().map(|b| b.row.block_id).collect();
        let kept: Vec<Kept> = self
            .rows(Statement::new(
                sql::VALUES_KEPT,
                vec![serde_json::to_string(&ids).unwrap_or_default().into()],
            ))
            .await?;
        for k in kept {
            let service = statistics.strings.id(&k.service_name);
            let key = statistics.strings.id(&k.key);
            statistics
                .distinct
                .insert((k.block_id, service, key), k.kept as usize);
        }
        let mut scratch = Vec::new();
        for row in &rows {
            let open = match blocks.last_mut() {
                Some(block) if !block.is_full() => block,
                _ => {
                    blocks.push(Folding::new(
                        BlockRow {
                            block_id: next_id,
                            first_row: row.span_row,
                            last_row: row.span_row,
                            spans: 0,
                            max_start: "0".into(),
                        },
                        None,
                    ));
                    next_id += 1;
                    let Some(block) = blocks.last_mut() else {
                        unreachable!("a block was just pushed")
                    };
                    block
                }
            };
            let block_id = open.row.block_id;
            self.fold_row(row, open, block_id, &mut statistics, &mut scratch)?;
        }
        let mut statements = Vec::new();
        for block in &mut blocks {
            let block_id = block.row.block_id;
            self.fold_resources(block, block_id, &mut statistics);
            statements.push(Statement::new(
                sql::WRITE_BLOCK,
                vec![
                    block_id.to_string().into(),
                    Param::Int(SPANS),
                    block.row.first_row.to_string().into(),
                    block.row.last_row.to_string().into(),
                    (block.row.spans + block.added).to_string().into(),
                    block.max_start.to_string().into(),
                    block.bloom.to_hex().into(),
                ],
            ));
        }
        statements.extend(statistics.statements());
        statements.push(Statement::new(
            sql::SET_COUNTER,
            vec![sql::SUMMARY_MARK.into(), last_row.to_string().into()],
        ));
        statements.push(Statement::new(
            sql::SET_COUNTER,
            vec![sql::LAST_BLOCK_ID.into(), (next_id - 1).to_string().into()],
        ));
        statements.push(release);
        self.db.transaction(statements).await?;
        // Searches here need not read back what was just written.
        for block in blocks {
            let spans = block.row.spans + block.added;
            self.cache
                .put(block.row.block_id, spans, Arc::new(block.bloom));
        }
        Ok(rows.len() as u64)
    }

    fn fold_row(
        &self,
        row: &RowToFold,
        block: &mut Folding,
        block_id: i64,
        statistics: &mut Statistics,
        scratch: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        let resource = row
            .resource_id
            .as_ref()
            .and_then(|id| lock(&self.dictionary.resources).get(id).cloned());
        let values = row::attribute_values(&row.body).map_err(|e| {
            StoreError::Other(format!(
                "stored span row {} has a broken body: {e}",
                row.span_row
            ))
        })?;
        let shape = match &row.shape_id {
            Some(id) => lock(&self.dictionary.shapes).get(id).cloned(),
            None => None,
        };
        let keys = shape.as_deref().map(Vec::as_slice).unwrap_or_default();
        if keys.len() != values.len() {
            return Err(StoreError::Other(format!(
                "stored span row {} has {} attribute keys for {} values",
                row.span_row,
                keys.len(),
                values.len()
            )));
        }
        let attributes: Vec<(&str, &Value)> =
            keys.iter().map(String::as_str).zip(&values).collect();
        let start: u64 = row.start_ns.parse().unwrap_or(0);
        let end: u64 = row.end_ns.parse().unwrap_or(0);
        let service = resource.as_ref().and_then(|r| r.service.as_deref());
        let view = SpanView {
            service,
            name: &row.name,
            root: row.root != 0,
            status_code: row.status_code,
            duration_ns: end.saturating_sub(start),
            attributes: &attributes,
            resource_attributes: &[],
        };
        operation_key(&view, scratch);
        if !block.operations.contains(scratch.as_slice()) {
            operation_terms(&view, &mut |term| block.bloom.insert(term));
            block.operations.insert(scratch.clone());
        }
        // The terms of `attribute_terms`, added once per distinct pair in the block.
        let service_id = statistics.strings.id(service.unwrap_or(""));
        for (key, value) in &attributes {
            let text = value_text(value);
            if let Some(text) = &text {
                attribute_bytes(key, text, scratch);
                if !block.pairs.contains(scratch.as_slice()) {
                    pair_terms(scratch, value, text, &mut |term| block.bloom.insert(term));
                    block.pairs.insert(scratch.clone());
                }
            }
            statistics.count_one(block_id, service_id, 0, key, value, text, 1);
        }
        if let Some(id) = &row.resource_id {
            match block.resources.get_mut(id) {
                Some(spans) => *spans += 1,
                None => {
                    block.resources.insert(id.clone(), 1);
                }
            }
        }
        block.added += 1;
        block.row.last_row = row.span_row;
        // A trace's start is never later than any of its spans', whatever is added to or
        // deleted from it later: the latest span start bounds every trace in the block.
        block.max_start = block.max_start.max(row.start_ns.parse().unwrap_or(0));
        Ok(())
    }

    /// Adds the terms and counts of the resources `block` folded spans of.
    fn fold_resources(&self, block: &mut Folding, block_id: i64, statistics: &mut Statistics) {
        let known = lock(&self.dictionary.resources);
        for (id, spans) in &block.resources {
            let Some(resource) = known.get(id) else {
                continue;
            };
            let pairs = resource.pairs();
            attribute_terms(&pairs, &mut |term| block.bloom.insert(term));
            let service = resource.service.as_deref().unwrap_or("");
            statistics.count(block_id, service, 1, &pairs, *spans);
        }
    }

    /// Reads the resources and shapes of `rows` that are not known yet.
    async fn learn_dictionary(&self, rows: &[RowToFold]) -> Result<(), StoreError> {
        let unknown_resources: HashSet<&String> = {
            let known = lock(&self.dictionary.resources);
            rows.iter()
                .filter_map(|r| r.resource_id.as_ref())
                .filter(|id| !known.contains_key(*id))
                .collect()
        };
        if !unknown_resources.is_empty() {
            let found: Vec<ResourceRow> = self
                .rows(Statement::new(
                    sql::RESOURCES_BY_ID,
                    vec![
                        serde_json::to_string(&unknown_resources)
                            .unwrap_or_default()
                            .into(),
                    ],
                ))
                .await?;
            let mut known = lock(&self.dictionary.resources);
            for row in found {
                let parsed: Value = serde_json::from_str(&row.resource).unwrap_or_default();
                let attributes = parsed
                    .get("attributes")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                known.insert(
                    row.resource_id,
                    Arc::new(Resource {
                        service: row.service_name,
                        attributes,
                    }),
                );
            }
        }
        let unknown_shapes: HashSet<&String> = {
            let known = lock(&self.dictionary.shapes);
            rows.iter()
                .filter_map(|r| r.shape_id.as_ref())
                .filter(|id| !known.contains_key(*id))
                .collect()
        };
        if !unknown_shapes.is_empty() {
            let found: Vec<ShapeRow> = self
                .rows(Statement::new(
                    sql::SHAPES_BY_ID,
                    vec![
                        serde_json::to_string(&unknown_shapes)
                            .unwrap_or_default()
                            .into(),
                    ],
                ))
                .await?;
            let mut known = lock(&self.dictionary.shapes);
            for row in found {
                let keys: Vec<String> = serde_json::from_str(&row.keys).unwrap_or_default();
                known.insert(row.shape_id, Arc::new(keys));
            }
        }
        Ok(())
    }

    /// The filters of some blocks, in the order of `ids` (an empty filter for one that
    /// has none stored).
    pub async fn blooms(&self, ids: &[i64]) -> Result<Vec<Bloom>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<BloomRow> = self
            .rows(Statement::new(
                sql::BLOCK_BLOOMS,
                vec![serde_json::to_string(ids).unwrap_or_default().into()],
            ))
            .await?;
        let mut by_id: HashMap<i64, Bloom> = rows
            .into_iter()
            .filter_map(|r| Bloom::from_hex(&r.bloom).map(|b| (r.block_id, b)))
            .collect();
        Ok(ids
            .iter()
            .map(|id| by_id.remove(id).unwrap_or_default())
            .collect())
    }
}

impl Folding {
    fn new(row: BlockRow, bloom: Option<Bloom>) -> Self {
        let max_start = row.max_start();
        Self {
            row,
            bloom: bloom.unwrap_or_default(),
            added: 0,
            max_start,
            operations: FxHashSet::default(),
            pairs: FxHashSet::default(),
            resources: HashMap::default(),
        }
    }

    /// Whether the block takes no more spans.
    fn is_full(&self) -> bool {
        self.row.spans + self.added >= BLOCK_SPANS || self.bloom.fill() >= bloom::FULL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes<'a>(pairs: &'a [(&'a str, Value)]) -> Vec<(&'a str, &'a Value)> {
        pairs.iter().map(|(k, v)| (*k, v)).collect()
    }

    fn filter_of(f: impl FnOnce(&mut SpanFilter)) -> SpanFilter {
        let mut filter = SpanFilter::default();
        f(&mut filter);
        filter
    }

    #[test]
    fn a_block_holding_a_span_may_match_every_filter_that_span_matches() {
        let span_attributes = [
            ("http.route", Value::from("/users/:id")),
            ("http.response.status_code", Value::from(500)),
            ("ratio", Value::from(1.5)),
            ("cached", Value::from(true)),
        ];
        let span_attributes = attributes(&span_attributes);
        let resource = [("host.name", Value::from("Web-7"))];
        let resource = attributes(&resource);
        let span = SpanView {
            service: Some("checkout"),
            name: "GET /users/:id",
            root: true,
            status_code: 2,
            duration_ns: 300_000_000,
            attributes: &span_attributes,
            resource_attributes: &resource,
        };
        let mut bloom = Bloom::default();
        span_terms(&span, &mut |t| bloom.insert(t));
        let matching = [
            filter_of(|f| f.service = Some("checkout".into())),
            filter_of(|f| {
                f.name = Some("GET /users/:id".into());
                f.root_only = true;
                f.min_duration_ns = Some(250_000_000);
            }),
            filter_of(|f| {
                f.service = Some("checkout".into());
                f.status_code = Some(2);
                f.max_duration_ns = Some(1_000_000_000);
            }),
            filter_of(|f| f.attributes = vec![("http.response.status_code".into(), "500".into())]),
            filter_of(|f| f.attributes = vec![("ratio".into(), "1.50".into())]),
            filter_of(|f| f.attributes = vec![("cached".into(), "true".into())]),
            filter_of(|f| f.attributes = vec![("host.name".into(), "Web-7".into())]),
            filter_of(|f| f.text = Some("USERS".into())),
            filter_of(|f| f.text = Some("web-7".into())),
            filter_of(|f| f.text = Some("x".into())),
            SpanFilter::default(),
        ];
        for filter in &matching {
            assert!(Plan::of(filter).may_match(&bloom), "{filter:?}");
        }
        let missing = [
            filter_of(|f| f.service = Some("payments".into())),
            filter_of(|f| {
                f.name = Some("GET /users/:id".into());
                f.min_duration_ns = Some(2_000_000_000);
            }),
            filter_of(|f| {
                f.service = Some("checkout".into());
                f.status_code = Some(1);
            }),
            filter_of(|f| f.attributes = vec![("http.response.status_code".into(), "404".into())]),
            filter_of(|f| f.text = Some("no-such-text".into())),
        ];
        for filter in &missing {
            assert!(!Plan::of(filter).may_match(&bloom), "{filter:?}");
        }
    }
}
