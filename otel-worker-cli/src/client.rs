//! `otel-worker-cli client ...`: the API from the terminal.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_worker_core::client::{Client, LogSearch, TraceSearch};
use otel_worker_core::models::StatusCode;
use otel_worker_core::query;
use serde_json::Value;

use crate::{tail, view};

/// `otel-worker-cli client ...`: where the server is, how to print, and what to do.
#[derive(clap::Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Print the API's JSON instead of tables and trees.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// The server to talk to and the token to show it.
#[derive(clap::Args)]
pub struct Connection {
    /// Base URL of the otel-worker server.
    #[arg(long, global = true, env = "OTEL_WORKER_URL", default_value = otel_worker_core::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Bearer token (else `AUTH_TOKEN`, else `.dev.vars`).
    #[arg(long, global = true, env = "AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
}

impl Connection {
    pub fn client(&self) -> Client {
        Client::new(
            &self.base_url,
            crate::token::resolve(self.auth_token.clone()),
        )
    }
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Traces: list, show, delete.
    Traces {
        #[command(subcommand)]
        command: TracesCommand,
    },
    /// Spans of one trace: list, show, delete.
    Spans {
        #[command(subcommand)]
        command: SpansCommand,
    },
    /// Log records: list with filters, or follow as they arrive.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// Metrics: list them, or show one metric's series with their latest values and a
    /// trend.
    Metrics {
        #[command(subcommand)]
        command: MetricsCommand,
    },
    /// Services seen, with span counts and when each was last seen.
    Services,
    /// What the server holds: spans, traces, bytes against the storage budget, what was
    /// pruned or sampled out.
    Stats,
    /// Attribute keys seen (with their types and how many spans carry them), or with a
    /// KEY its most frequent values: what a search can filter on.
    Attributes(AttributesArgs),
    /// Post an OTLP/JSON export file (e.g. examples/send-trace/trace.json).
    Send { file: PathBuf },
    /// Two groups of traces, operation by operation: calls, error rate, duration and
    /// self-time percentiles, the changes, and which are more than chance.
    Compare(CompareArgs),
}

/// `client compare` (and `check`): two searches, each written as the query string of
/// `GET /v1/traces` (`'service=shop&attr=service.version=1.4.0'`, `'start=...&end=...'`).
#[derive(clap::Args, Clone)]
pub struct CompareArgs {
    /// The traces to compare against.
    #[arg(long)]
    pub baseline: String,
    /// The traces that may have changed.
    #[arg(long)]
    pub candidate: String,
    /// Traces read per group at most (the server caps it; spread evenly over those found).
    #[arg(long)]
    pub max_traces: Option<u32>,
    /// Calls an operation needs in each group to be tested.
    #[arg(long)]
    pub min_samples: Option<u64>,
}

impl CompareArgs {
    pub async fn compare(
        &self,
        client: &Client,
    ) -> anyhow::Result<otel_worker_core::compare::groups::GroupComparison> {
        Ok(client
            .compare_groups(
                &self.baseline,
                &self.candidate,
                self.max_traces,
                self.min_samples,
            )
            .await?)
    }
}

/// `client attributes [KEY]`.
#[derive(clap::Args)]
pub struct AttributesArgs {
    /// List this key's most frequent values instead of the keys.
    pub key: Option<String>,
    /// Only spans of this service.
    #[arg(long)]
    pub service: Option<String>,
    /// Only values starting with this text (with KEY).
    #[arg(long, requires = "key")]
    pub prefix: Option<String>,
}

#[derive(Subcommand)]
pub enum TracesCommand {
    /// The newest traces first, optionally only those with a span matching every filter.
    List(ListArgs),
    /// Print each span as it arrives (time, service, name, duration, status, trace id).
    Tail {
        /// Only spans of this service.
        #[arg(long)]
        service: Option<String>,
        /// Only spans with this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
    },
    /// One trace as a tree of spans.
    Get { trace_id: String },
    /// Delete every span of a trace.
    Delete { trace_id: String },
    /// Traces as OTLP JSON Lines on standard output, a line per trace: what `import` and
    /// the Collector read back.
    Export {
        #[arg(required_unless_present = "search")]
        trace_ids: Vec<String>,
        /// Every trace a search finds (newest first), written as the query string of
        /// `GET /v1/traces`: `'service=shop&status=error'`.
        #[arg(long, conflicts_with = "trace_ids")]
        search: Option<String>,
        /// With --search: at most this many traces.
        #[arg(long, default_value_t = 1_000, requires = "search")]
        max_traces: usize,
        /// JSON Lines, or length-prefixed protobuf as the Collector's file exporter writes
        /// with `format: proto`.
        #[arg(long, value_enum, default_value = "json")]
        format: crate::otlp_file::Format,
    },
    /// A link that shows one trace (its spans and logs) read-only to anyone who has it,
    /// without the token, until it expires or is revoked.
    Share {
        trace_id: String,
        /// How long the link works: from 1m to 90d.
        #[arg(long, default_value = "7d")]
        expires: String,
    },
    /// Revoke a share link (the URL `share` printed, or its token): it stops working.
    Unshare { link: String },
    /// Trace B against trace A, span by span: spans matched by their path of service and
    /// name from the root, each with its change in duration and in self time (the time
    /// no child covers), and the spans only one trace has.
    Diff { a: String, b: String },
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// How many traces (1 to 1000).
    #[arg(long)]
    limit: Option<u32>,
    /// Where to continue: the cursor printed under the previous page, or a time (only
    /// traces that started before it).
    #[arg(long)]
    before: Option<String>,
    /// Only traces that started within this long before now (`30m`, `1h`, `7d`).
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    since: Option<std::time::Duration>,
    /// Only traces with a span of this service.
    #[arg(long)]
    service: Option<String>,
    /// Only traces with a span of this name.
    #[arg(long)]
    name: Option<String>,
    /// With --name: only root spans count.
    #[arg(long)]
    root: bool,
    /// Only traces with a span of this status.
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    /// Only traces with a span at least this long (`250ms`, `1.5s`).
    #[arg(long)]
    min_duration: Option<String>,
    /// Only traces with a span at most this long.
    #[arg(long)]
    max_duration: Option<String>,
    /// `key=value`: a span (or its resource) has this attribute. Repeat for several.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    attributes: Vec<String>,
    /// Text in a span name or string attribute value (ignoring case).
    #[arg(long, short)]
    query: Option<String>,
}

impl ListArgs {
    fn search(self) -> TraceSearch {
        let start = self
            .since
            .map(|since| crate::unix_nanos_ago(since).to_string());
        TraceSearch {
            limit: self.limit,
            before: self.before,
            start,
            end: None,
            service: self.service,
            name: self.name,
            root: self.root,
            status: self.status.map(|s| s.as_str().to_owned()),
            min_duration: self.min_duration,
            max_duration: self.max_duration,
            attributes: self.attributes,
            text: self.query,
        }
    }
}

/// A span status as the flags spell it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum StatusArg {
    Error,
    Ok,
    Unset,
}

impl StatusArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Ok => "ok",
            Self::Unset => "unset",
        }
    }

    fn code(self) -> StatusCode {
        match self {
            Self::Error => StatusCode::Error,
            Self::Ok => StatusCode::Ok,
            Self::Unset => StatusCode::Unset,
        }
    }
}

#[derive(Subcommand)]
pub enum LogsCommand {
    /// The newest log records first, optionally only those matching every filter.
    List(LogListArgs),
    /// Log records as OTLP JSON Lines on standard output (about 1,000 records a line),
    /// newest first: what `import` and the Collector read back.
    Export(LogExportArgs),
    /// Print each log record as it arrives (time, severity, service, body, trace id).
    Tail {
        /// Only records of this service.
        #[arg(long)]
        service: Option<String>,
        /// Only records of this severity and above (trace, debug, info, warn, error,
        /// fatal, or a number from 1 to 24).
        #[arg(long, value_parser = parse_severity)]
        severity: Option<i32>,
    },
}

/// `client logs export`.
#[derive(clap::Args)]
pub struct LogExportArgs {
    /// Only the records a search finds, written as the query string of `GET /v1/logs`
    /// without `limit` and `before`: `'service=shop&severity=error'`.
    #[arg(long, default_value = "")]
    search: String,
    /// Only records from within this long before now (`30m`, `1h`, `7d`).
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    since: Option<std::time::Duration>,
    /// At most this many records (the newest).
    #[arg(long, default_value_t = 10_000)]
    max_records: u32,
    /// JSON Lines, or length-prefixed protobuf (the file exporter's `format: proto`).
    #[arg(long, value_enum, default_value = "json")]
    format: crate::otlp_file::Format,
}

fn parse_severity(text: &str) -> Result<i32, String> {
    query::severity(text).map_err(|e| e.to_string())
}

#[derive(clap::Args)]
pub struct LogListArgs {
    /// How many records (1 to 1000).
    #[arg(long)]
    limit: Option<u32>,
    /// Where to continue: the cursor printed under the previous page.
    #[arg(long)]
    before: Option<String>,
    /// Only records from within this long before now (`30m`, `1h`, `7d`).
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    since: Option<std::time::Duration>,
    /// Only records of this service.
    #[arg(long)]
    service: Option<String>,
    /// Only records of this severity and above (trace, debug, info, warn, error, fatal,
    /// or a number from 1 to 24).
    #[arg(long)]
    severity: Option<String>,
    /// Only records of this trace.
    #[arg(long = "trace", value_name = "TRACE_ID")]
    trace_id: Option<String>,
    /// Only records of this span.
    #[arg(long = "span", value_name = "SPAN_ID")]
    span_id: Option<String>,
    /// `key=value`: the record (or its resource) has this attribute. Repeat for several.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    attributes: Vec<String>,
    /// Text in the body or an attribute (ignoring case).
    #[arg(long, short)]
    query: Option<String>,
}

impl LogListArgs {
    fn search(self) -> LogSearch {
        LogSearch {
            limit: self.limit,
            before: self.before,
            start: self
                .since
                .map(|since| crate::unix_nanos_ago(since).to_string()),
            end: None,
            service: self.service,
            severity: self.severity,
            trace_id: self.trace_id,
            span_id: self.span_id,
            attributes: self.attributes,
            text: self.query,
        }
    }
}

#[derive(Subcommand)]
pub enum MetricsCommand {
    /// Every metric: type, unit, services, series, last seen.
    List {
        /// Only metrics of this service.
        #[arg(long)]
        service: Option<String>,
        /// Text in the name (ignoring case).
        #[arg(long, short)]
        query: Option<String>,
    },
    /// One metric: each series' latest value and, over `--since`, a sparkline of its value,
    /// rate (counters) or p50 (histograms).
    Get(MetricGetArgs),
    /// Metric points as OTLP JSON Lines on standard output (a line per metric): what
    /// `import` and the Collector read back.
    Export(MetricExportArgs),
}

/// `client metrics export`.
#[derive(clap::Args)]
pub struct MetricExportArgs {
    /// Only this metric.
    #[arg(long)]
    name: Option<String>,
    /// Only metrics of this service.
    #[arg(long)]
    service: Option<String>,
    /// Only points from within this long before now (`30m`, `1h`, `7d`).
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    since: Option<std::time::Duration>,
    /// At most this many points (the newest of each series).
    #[arg(long, default_value_t = 100_000)]
    max_points: u32,
    /// JSON Lines, or length-prefixed protobuf (the file exporter's `format: proto`).
    #[arg(long, value_enum, default_value = "json")]
    format: crate::otlp_file::Format,
}

/// `client metrics get NAME`.
#[derive(clap::Args)]
pub struct MetricGetArgs {
    name: String,
    /// Only series of this service.
    #[arg(long)]
    service: Option<String>,
    /// `key=value` on the point attributes. Repeat for several.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    attributes: Vec<String>,
    /// How far back the trend reaches (`15m`, `1h`, `7d`).
    #[arg(long, default_value = "1h", value_parser = otel_worker_core::duration::parse)]
    since: std::time::Duration,
}

/// Steps in a trend: the sparkline's width.
const TREND_STEPS: u32 = 30;

impl MetricGetArgs {
    /// The API path for this metric with `extra` parameters.
    fn path(&self, extra: &[(&str, String)]) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(service) = &self.service {
            query.append_pair("service", service);
        }
        for attribute in &self.attributes {
            query.append_pair("attr", attribute);
        }
        for (key, value) in extra {
            query.append_pair(key, value);
        }
        let name: String =
            percent_encoding::utf8_percent_encode(&self.name, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        format!("/v1/metrics/{name}?{}", query.finish())
    }
}

async fn metrics(client: &Client, json: bool, command: MetricsCommand) -> anyhow::Result<()> {
    match command {
        MetricsCommand::List { service, query } => {
            let mut params = form_urlencoded::Serializer::new(String::new());
            if let Some(service) = &service {
                params.append_pair("service", service);
            }
            if let Some(query) = &query {
                params.append_pair("q", query);
            }
            let path = format!("/v1/metrics?{}", params.finish());
            if json {
                return print_json(&client.get(&path).await?);
            }
            let list: otel_worker_core::models::MetricList = client.get(&path).await?;
            println!("{}", view::metric_table(&list.metrics));
            Ok(())
        }
        MetricsCommand::Export(args) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (key, value) in [("name", &args.name), ("service", &args.service)] {
                if let Some(value) = value {
                    query.append_pair(key, value);
                }
            }
            if let Some(since) = args.since {
                query.append_pair("start", &crate::unix_nanos_ago(since).to_string());
            }
            query.append_pair("maxPoints", &args.max_points.to_string());
            crate::otlp_file::download::<ExportMetricsServiceRequest>(
                client,
                &format!("/v1/export/metrics?{}", query.finish()),
                args.format,
                "more points match: the newest of each series were written; raise --max-points or narrow it",
            )
            .await
        }
        MetricsCommand::Get(args) => {
            let since_ns = u64::try_from(args.since.as_nanos()).unwrap_or(u64::MAX);
            let step_ns = (since_ns / u64::from(TREND_STEPS)).max(1_000_000_000);
            let start = crate::unix_nanos_ago(args.since);
            let latest: otel_worker_core::models::MetricDetail =
                client.get(&args.path(&[("limit", "1".into())])).await?;
            let trend: otel_worker_core::models::MetricDetail = client
                .get(&args.path(&[
                    ("start", start.to_string()),
                    ("step", format!("{}ms", step_ns / 1_000_000)),
                ]))
                .await?;
            if json {
                return print_json(&serde_json::to_value(&trend)?);
            }
            print!(
                "{}",
                view::metric_detail(&latest, &trend, start, step_ns, TREND_STEPS)
            );
            Ok(())
        }
    }
}

#[derive(Subcommand)]
pub enum SpansCommand {
    /// Every span of a trace.
    List { trace_id: String },
    /// One span with its attributes, events and links.
    Get { trace_id: String, span_id: String },
    /// Delete one span.
    Delete { trace_id: String, span_id: String },
}

pub async fn run(args: ClientArgs) -> anyhow::Result<()> {
    let (client, json) = (args.connection.client(), args.json);
    match args.command {
        ClientCommand::Traces { command } => traces(&client, json, command).await,
        ClientCommand::Spans { command } => spans(&client, json, command).await,
        ClientCommand::Logs { command } => logs(&client, json, command).await,
        ClientCommand::Metrics { command } => metrics(&client, json, command).await,
        ClientCommand::Services => {
            if json {
                print_json(&client.get("/v1/services").await?)
            } else {
                println!(
                    "{}",
                    view::service_table(&client.services().await?.services)
                );
                Ok(())
            }
        }
        ClientCommand::Stats => {
            let stats = client.stats().await?;
            if json {
                print_json(&serde_json::to_value(&stats)?)
            } else {
                println!("{}", view::stats(&stats));
                Ok(())
            }
        }
        ClientCommand::Attributes(args) => attributes(&client, json, args).await,
        ClientCommand::Send { file } => send(&client, json, &file).await,
        ClientCommand::Compare(args) => {
            let report = args.compare(&client).await?;
            if json {
                print_json(&serde_json::to_value(report)?)
            } else {
                print!("{}", view::group_comparison(&report));
                Ok(())
            }
        }
    }
}

async fn attributes(client: &Client, json: bool, args: AttributesArgs) -> anyhow::Result<()> {
    let service = args.service.as_deref();
    let Some(key) = args.key else {
        let keys = client.attributes(service).await?;
        if json {
            return print_json(&serde_json::to_value(&keys)?);
        }
        println!("{}", view::attribute_table(&keys.attributes));
        return Ok(());
    };
    let values = client
        .attribute_values(&key, service, args.prefix.as_deref())
        .await?;
    if json {
        return print_json(&serde_json::to_value(&values)?);
    }
    println!("{}", view::value_table(&key, &values.values));
    Ok(())
}

/// The ids of the traces `search` (the query string of `GET /v1/traces`) finds, newest
/// first, at most `max`, following the pages.
async fn searched(client: &Client, search: &str, max: usize) -> anyhow::Result<Vec<String>> {
    // Read here first, so a mistake is said before anything is asked of the server.
    query::trace_list(Some(search))?;
    if form_urlencoded::parse(search.as_bytes()).any(|(k, _)| k == "limit" || k == "before") {
        anyhow::bail!("--search takes filters only: --max-traces bounds how many traces");
    }
    let mut ids = Vec::new();
    let mut before: Option<String> = None;
    while ids.len() < max {
        let mut path = format!("/v1/traces?{search}&limit={}", (max - ids.len()).min(1_000));
        if let Some(cursor) = &before {
            path.push_str(&format!("&before={cursor}"));
        }
        let page: otel_worker_core::models::TraceList = client.get(&path).await?;
        ids.extend(page.traces.into_iter().map(|t| t.trace_id));
        match page.next_cursor {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    ids.truncate(max);
    Ok(ids)
}

/// Checks an id locally so a typo gets a precise message without a round trip.
fn trace_id(text: &str) -> anyhow::Result<String> {
    Ok(query::trace_id(text)?)
}

fn span_id(text: &str) -> anyhow::Result<String> {
    Ok(query::span_id(text)?)
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn traces(client: &Client, json: bool, command: TracesCommand) -> anyhow::Result<()> {
    match command {
        TracesCommand::List(args) => {
            let search = args.search();
            if json {
                print_json(&client.get(&search.path()).await?)
            } else {
                let list = client.list_traces(&search).await?;
                println!("{}", view::trace_table(&list.traces));
                if let Some(cursor) = list.next_cursor {
                    println!("more: add --before {cursor}");
                }
                Ok(())
            }
        }
        TracesCommand::Tail { service, status } => {
            let follow = tail::Follow::Spans {
                service,
                status: status.map(StatusArg::code),
            };
            tail::run(
                client.base_url(),
                client.token().map(str::to_owned),
                follow,
                json,
            )
            .await
        }
        TracesCommand::Get { trace_id: id } => {
            let id = trace_id(&id)?;
            let trace = client.trace(&id).await?;
            let logs = client.trace_logs(&id).await?;
            if json {
                let mut value = serde_json::to_value(trace)?;
                value["logs"] = serde_json::to_value(logs)?;
                print_json(&value)
            } else {
                print!("{}", view::trace_tree(&trace, &logs));
                Ok(())
            }
        }
        TracesCommand::Diff { a, b } => {
            let comparison = client
                .compare_traces(&trace_id(&a)?, &trace_id(&b)?)
                .await?;
            if json {
                print_json(&serde_json::to_value(comparison)?)
            } else {
                print!("{}", view::trace_diff(&comparison));
                Ok(())
            }
        }
        TracesCommand::Export {
            trace_ids,
            search,
            max_traces,
            format,
        } => {
            let ids = match search {
                Some(search) => searched(client, &search, max_traces).await?,
                None => trace_ids
                    .iter()
                    .map(|id| trace_id(id))
                    .collect::<anyhow::Result<_>>()?,
            };
            let mut out = std::io::stdout().lock();
            for id in ids {
                let line = serde_json::to_string(&client.export_trace(&id).await?)?;
                crate::otlp_file::write::<ExportTraceServiceRequest>(&line, format, &mut out)?;
            }
            Ok(())
        }
        TracesCommand::Share {
            trace_id: id,
            expires,
        } => {
            let share = client.share_trace(&trace_id(&id)?, Some(&expires)).await?;
            if json {
                print_json(&serde_json::to_value(share)?)
            } else {
                println!("{}", share.url);
                println!("works without the token until {}", share.expires_at);
                Ok(())
            }
        }
        TracesCommand::Unshare { link } => {
            // The token is what follows `#share=` in a link, or the whole argument.
            let token = link
                .rsplit_once("#share=")
                .map_or(link.as_str(), |(_, t)| t);
            client.revoke_share(token.trim()).await?;
            if !json {
                println!("revoked: the link no longer opens the trace");
            }
            Ok(())
        }
        TracesCommand::Delete { trace_id: id } => {
            let id = trace_id(&id)?;
            client.delete_trace(&id).await?;
            if !json {
                println!("deleted trace {id}");
            }
            Ok(())
        }
    }
}

async fn spans(client: &Client, json: bool, command: SpansCommand) -> anyhow::Result<()> {
    match command {
        SpansCommand::List { trace_id: id } => {
            let id = trace_id(&id)?;
            if json {
                print_json(&serde_json::to_value(client.trace_spans(&id).await?)?)
            } else {
                println!("{}", view::span_table(&client.trace_spans(&id).await?));
                Ok(())
            }
        }
        SpansCommand::Get {
            trace_id: t,
            span_id: s,
        } => {
            let (t, s) = (trace_id(&t)?, span_id(&s)?);
            if json {
                print_json(&client.get(&format!("/v1/traces/{t}/spans/{s}")).await?)
            } else {
                print!("{}", view::span_detail(&client.span(&t, &s).await?));
                Ok(())
            }
        }
        SpansCommand::Delete {
            trace_id: t,
            span_id: s,
        } => {
            let (t, s) = (trace_id(&t)?, span_id(&s)?);
            client.delete_span(&t, &s).await?;
            if !json {
                println!("deleted span {s} of trace {t}");
            }
            Ok(())
        }
    }
}

async fn send(client: &Client, json: bool, file: &std::path::Path) -> anyhow::Result<()> {
    let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let spans = otel_worker_core::ingest::json::decode(&body)
        .with_context(|| format!("{} is not an OTLP/JSON trace export", file.display()))?
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum::<usize>();
    let outcome = client.send_otlp_json(body).await?;
    let accepted = spans as u64 - outcome.rejected.min(spans as u64);
    if json {
        print_json(&serde_json::json!({
            "acceptedSpans": accepted,
            "rejectedSpans": outcome.rejected,
            "errorMessage": outcome.error_message,
        }))?;
    } else {
        println!(
            "sent {} to {}: {accepted} spans stored",
            file.display(),
            client.base_url()
        );
        if outcome.rejected > 0 {
            println!(
                "{} spans rejected: {}",
                outcome.rejected,
                outcome.error_message.unwrap_or_default()
            );
        }
    }
    Ok(())
}

async fn logs(client: &Client, json: bool, command: LogsCommand) -> anyhow::Result<()> {
    match command {
        LogsCommand::List(args) => {
            let search = args.search();
            if json {
                return print_json(&client.get(&search.path()).await?);
            }
            let list = client.logs(&search).await?;
            println!("{}", view::log_table(&list.logs));
            if let Some(cursor) = list.next_cursor {
                println!("more: add --before {cursor}");
            }
            Ok(())
        }
        LogsCommand::Export(args) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(form_urlencoded::parse(args.search.as_bytes()));
            if let Some(since) = args.since {
                query.append_pair("start", &crate::unix_nanos_ago(since).to_string());
            }
            query.append_pair("maxRecords", &args.max_records.to_string());
            crate::otlp_file::download::<ExportLogsServiceRequest>(
                client,
                &format!("/v1/export/logs?{}", query.finish()),
                args.format,
                "more records match: raise --max-records or narrow the search",
            )
            .await
        }
        LogsCommand::Tail { service, severity } => {
            let follow = tail::Follow::Logs {
                service,
                min_severity: severity,
            };
            tail::run(
                client.base_url(),
                client.token().map(str::to_owned),
                follow,
                json,
            )
            .await
        }
    }
}
