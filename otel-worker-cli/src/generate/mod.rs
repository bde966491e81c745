//! `generate`: realistic synthetic traces (or log records) for load tests and demo data,
//! in the spirit of the OpenTelemetry Collector's telemetrygen.
//!
//! Built to drive 100,000+ spans/s from one core: each request is encoded once
//! ([`Template`]) and every send only patches fresh ids and timestamps into a copy.
//! Counting is strict: a span is accepted only when its request got a 200 without a
//! partial rejection. Like an OTLP exporter, it sends an export again after an answer that
//! asks for it (429, 502, 503, 504) or none at all, waiting what `Retry-After` says.

mod grpc;
mod scenario;
mod template;

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use flate2::Compression;
use flate2::write::GzEncoder;
use otel_worker_core::ingest::{Encoding, ExportReply, Signal};
use rand::SeedableRng;
use serde::Serialize;

pub use scenario::Shape;
pub use template::Template;

/// Requests in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Spans in each synthetic trace.
pub const DEFAULT_SPANS_PER_TRACE: usize = 10;
/// Spans in each request, about what an SDK's batch processor sends under load.
pub const DEFAULT_SPANS_PER_REQUEST: usize = 100;
/// Attributes on each span.
pub const DEFAULT_ATTRIBUTES: usize = 10;
/// Tries after the first for an export answered 429, 502, 503 or 504, or not answered.
pub const MAX_RETRIES: u32 = 5;
/// The wait before the first retry when the answer gives no `Retry-After`; doubled after
/// each try.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between tries (a longer `Retry-After` is cut to this).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// `otel-worker-cli generate`: what to send and how hard.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Where to send: the OTLP/HTTP base URL (exports go to `<endpoint>/v1/traces`;
    /// default http://127.0.0.1:4318), or the OTLP/gRPC server (default
    /// http://127.0.0.1:4317).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The OTLP transport, spelled as OTEL_EXPORTER_OTLP_PROTOCOL spells it.
    #[arg(long, value_enum, default_value = "http/protobuf")]
    pub protocol: Protocol,
    /// What to send: traces, log records (one per span position of each synthetic trace,
    /// with its trace and span ids), or metric points (delta request counters and latency
    /// histograms and a memory gauge per service and route); records and points are
    /// counted as spans in the report.
    #[arg(long, value_enum, default_value = "traces")]
    pub signal: SignalArg,
    /// Bearer token (else `AUTH_TOKEN`, else `.dev.vars`).
    #[arg(long, env = "AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Stop after this many traces.
    #[arg(long)]
    pub traces: Option<u64>,
    /// Stop after this long (`30s`, `5m`). Without this or --traces, runs until Ctrl-C.
    #[arg(long, value_parser = otel_worker_core::duration::parse)]
    pub duration: Option<Duration>,
    /// Spans per second to aim for. Omit to send as fast as the server answers.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Spans in each trace (nested as a tree over several services).
    #[arg(long, default_value_t = DEFAULT_SPANS_PER_TRACE)]
    pub spans_per_trace: usize,
    /// Spans in each request.
    #[arg(long, default_value_t = DEFAULT_SPANS_PER_REQUEST)]
    pub spans_per_request: usize,
    /// Attributes on each span, of mixed types.
    #[arg(long, default_value_t = DEFAULT_ATTRIBUTES)]
    pub attributes: usize,
    /// Compress each request with gzip.
    #[arg(long)]
    pub gzip: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The signals `generate` can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignalArg {
    Traces,
    Logs,
    Metrics,
}

impl SignalArg {
    fn signal(self) -> Signal {
        match self {
            Self::Traces => Signal::Traces,
            Self::Logs => Signal::Logs,
            Self::Metrics => Signal::Metrics,
        }
    }

    /// The path of its OTLP/HTTP export.
    fn path(self) -> &'static str {
        match self {
            Self::Traces => "/v1/traces",
            Self::Logs => "/v1/logs",
            Self::Metrics => "/v1/metrics",
        }
    }
}

/// How exports travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// OTLP/gRPC.
    #[value(name = "grpc")]
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies.
    #[value(name = "http/json")]
    HttpJson,
}

impl Protocol {
    /// The encoding of the rendered exports.
    fn encoding(self) -> Encoding {
        match self {
            Self::HttpJson => Encoding::Json,
            Self::Grpc | Self::HttpProtobuf => Encoding::Protobuf,
        }
    }

    fn default_endpoint(self) -> &'static str {
        match self {
            Self::Grpc => "http://127.0.0.1:4317",
            Self::HttpProtobuf | Self::HttpJson => otel_worker_core::DEFAULT_BASE_URL,
        }
    }
}

/// The outcome of a run, as `--json` prints it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Spans of requests answered 200 with nothing rejected.
    pub spans_accepted: u64,
    /// Spans the server said it rejected (`partial_success`).
    pub spans_rejected: u64,
    /// Spans of requests that failed outright (non-200 or no answer).
    pub spans_failed: u64,
    pub requests: u64,
    /// Requests that did not get a 200, after their retries.
    pub errors: u64,
    /// Tries sent again after a retryable answer (or none).
    pub retries: u64,
    pub seconds: f64,
    pub spans_per_second: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Average request body as sent (after gzip), in bytes.
    pub bytes_per_request: u64,
    /// The first failure, to tell the user what went wrong.
    pub first_error: Option<String>,
}

/// Running totals shared by the senders and the progress line.
#[derive(Default)]
struct Totals {
    accepted: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    retries: AtomicU64,
    bytes: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Totals {
    fn error(&self, spans: usize, message: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.failed.fetch_add(spans as u64, Ordering::Relaxed);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        first.get_or_insert(message);
    }
}

/// Hands out request numbers: the count limit, the deadline and the pace in one place.
struct Schedule {
    next: AtomicU64,
    /// Requests to send in all, when `--traces` is given.
    requests: Option<u64>,
    deadline: Option<Instant>,
    /// Time between request starts when `--rate` is given.
    interval: Option<Duration>,
    start: Instant,
    stop: AtomicBool,
}

impl Schedule {
    /// The next request to send and when to send it, or `None` when the run is over.
    fn take(&self) -> Option<(u64, Option<Instant>)> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if self.requests.is_some_and(|total| n >= total) {
            return None;
        }
        let at = self
            .interval
            .map(|interval| self.start + interval.mul_f64(n as f64));
        let due = at.unwrap_or_else(Instant::now);
        if self.deadline.is_some_and(|deadline| due >= deadline) {
            return None;
        }
        Some((n, at))
    }
}

/// Runs the generator and prints its report (a summary, or JSON with `json`). Fails when
/// any request failed, so scripts notice.
pub async fn run(mut options: Options) -> anyhow::Result<()> {
    options.auth_token = crate::token::resolve(options.auth_token.take());
    let json = options.json;
    let report = generate(options, std::io::stderr().is_terminal()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report);
    }
    if report.errors > 0 {
        bail!(
            "{} of {} requests failed; first: {}",
            report.errors,
            report.requests,
            report.first_error.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

/// Sends the load described by `options` and measures it; Ctrl-C ends the run early with
/// a report of what was sent.
pub async fn generate(options: Options, progress: bool) -> anyhow::Result<Report> {
    if options.spans_per_trace == 0 || options.spans_per_request == 0 || options.concurrency == 0 {
        bail!("--spans-per-trace, --spans-per-request and --concurrency must be at least 1");
    }
    if options
        .rate
        .is_some_and(|rate| !(rate > 0.0 && rate.is_finite()))
    {
        bail!("--rate must be a positive number of spans per second");
    }
    let traces_per_request = options.spans_per_request.div_ceil(options.spans_per_trace);
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let shape = |traces| Shape {
        traces,
        spans_per_trace: options.spans_per_trace,
        attributes: options.attributes,
    };
    let encoding = options.protocol.encoding();
    let signal = options.signal.signal();
    let full = Arc::new(Template::new(
        shape(traces_per_request),
        signal,
        encoding,
        &mut rng,
    )?);
    // With --traces, the last request carries the remainder.
    let (requests, last) = match options.traces {
        Some(traces) => {
            let per = traces_per_request as u64;
            let remainder = (traces % per) as usize;
            let last = if remainder > 0 {
                Some(Arc::new(Template::new(
                    shape(remainder),
                    signal,
                    encoding,
                    &mut rng,
                )?))
            } else {
                None
            };
            (Some(traces.div_ceil(per)), last)
        }
        None => (None, None),
    };
    let start = Instant::now();
    let schedule = Arc::new(Schedule {
        next: AtomicU64::new(0),
        requests,
        deadline: options.duration.map(|d| start + d),
        interval: options
            .rate
            .map(|rate| Duration::from_secs_f64(full.spans as f64 / rate)),
        start,
        stop: AtomicBool::new(false),
    });
    let totals = Arc::new(Totals::default());
    let endpoint = options
        .endpoint
        .clone()
        .unwrap_or_else(|| options.protocol.default_endpoint().to_owned());
    let transport = match options.protocol {
        Protocol::Grpc => Transport::Grpc(grpc::GrpcSender::new(
            &endpoint,
            signal,
            options.auth_token.as_deref(),
            options.gzip,
        )?),
        Protocol::HttpProtobuf | Protocol::HttpJson => Transport::Http {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(options.concurrency)
                .tcp_nodelay(true)
                .build()
                .context("cannot build the HTTP client")?,
            url: format!(
                "{}{}",
                endpoint.trim_end_matches('/'),
                options.signal.path()
            ),
            token: options.auth_token.clone(),
            encoding,
            signal,
        },
    };

    let mut senders = Vec::new();
    for _ in 0..options.concurrency {
        let sender = Sender {
            transport: transport.clone(),
            gzip: options.gzip,
            full: full.clone(),
            last: last.clone(),
            schedule: schedule.clone(),
            totals: totals.clone(),
        };
        senders.push(tokio::spawn(sender.run()));
    }
    let ticker = progress.then(|| tokio::spawn(show_progress(totals.clone(), start)));
    let interrupt = {
        let schedule = schedule.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                schedule.stop.store(true, Ordering::Relaxed);
            }
        })
    };
    let mut latencies = Vec::new();
    for sender in senders {
        latencies.extend(sender.await.context("a sender task failed")?);
    }
    let seconds = start.elapsed().as_secs_f64();
    interrupt.abort();
    if let Some(ticker) = ticker {
        ticker.abort();
        eprint!("\r\x1b[2K");
    }
    Ok(report(&totals, latencies, seconds))
}

/// Where a sender's exports go.
#[derive(Clone)]
enum Transport {
    Http {
        http: reqwest::Client,
        url: String,
        token: Option<String>,
        encoding: Encoding,
        signal: Signal,
    },
    Grpc(grpc::GrpcSender),
}

struct Sender {
    transport: Transport,
    /// Compress each export (over gRPC, tonic compresses the message).
    gzip: bool,
    full: Arc<Template>,
    last: Option<Arc<Template>>,
    schedule: Arc<Schedule>,
    totals: Arc<Totals>,
}

impl Sender {
    /// Sends requests until the schedule runs out; returns each request's latency in µs.
    async fn run(self) -> Vec<u32> {
        let mut rng = rand::rngs::SmallRng::from_os_rng();
        let mut latencies = Vec::new();
        while let Some((n, at)) = self.schedule.take() {
            if let Some(at) = at {
                tokio::time::sleep_until(at.into()).await;
            }
            let template = match (&self.last, self.schedule.requests) {
                (Some(last), Some(total)) if n + 1 == total => last,
                _ => &self.full,
            };
            let mut body = Vec::new();
            template.render(&mut rng, now_ns(), &mut body);
            let http_gzip = self.gzip && matches!(self.transport, Transport::Http { .. });
            let payload = if http_gzip {
                let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
                match encoder.write_all(&body).and_then(|()| encoder.finish()) {
                    Ok(compressed) => compressed,
                    Err(e) => {
                        self.totals
                            .error(template.spans, format!("gzip failed: {e}"));
                        continue;
                    }
                }
            } else {
                body
            };
            self.totals
                .bytes
                .fetch_add(payload.len() as u64, Ordering::Relaxed);
            let started = Instant::now();
            let outcome = self.send_until_answered(&payload).await;
            latencies.push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
            self.totals.requests.fetch_add(1, Ordering::Relaxed);
            match outcome {
                Ok(0) => {
                    self.totals
                        .accepted
                        .fetch_add(template.spans as u64, Ordering::Relaxed);
                }
                Ok(rejected) => {
                    self.totals.rejected.fetch_add(rejected, Ordering::Relaxed);
                }
                Err(failure) => {
                    self.totals.error(template.spans, failure.message);
                    if failure.unreachable {
                        // Don't spin while the server is down or restarting.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
        latencies
    }

    /// Sends one export, again after each retryable failure, at most [`MAX_RETRIES`]
    /// times; `Ok(rejected spans)` on a 200.
    async fn send_until_answered(&self, payload: &[u8]) -> Result<u64, Failure> {
        let mut backoff = FIRST_BACKOFF;
        let mut tries = 0;
        loop {
            match self.send(payload).await {
                Err(failure) if failure.retryable && tries < MAX_RETRIES => {
                    tries += 1;
                    self.totals.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(failure.retry_after.unwrap_or(backoff).min(MAX_BACKOFF))
                        .await;
                    backoff *= 2;
                }
                outcome => return outcome,
            }
        }
    }

    /// Sends one export once; `Ok(rejected spans)` on success.
    async fn send(&self, payload: &[u8]) -> Result<u64, Failure> {
        let (http, url, token, encoding, signal) = match &self.transport {
            Transport::Grpc(grpc) => return grpc.send(payload).await,
            Transport::Http {
                http,
                url,
                token,
                encoding,
                signal,
            } => (http, url, token, *encoding, *signal),
        };
        let mut request = http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, encoding.content_type())
            .body(payload.to_vec());
        if self.gzip {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::unreachable(format!("could not reach {url}: {e}")))?;
        let status = response.status();
        let retry_after = crate::retry::retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| Failure::unreachable(format!("reading the answer failed: {e}")))?;
        if status != reqwest::StatusCode::OK {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(Failure {
                message: format!("{status}: {text}"),
                unreachable: false,
                retryable: crate::retry::is_retryable(status),
                retry_after,
            });
        }
        ExportReply::decode(signal, encoding, &body)
            .map(|reply| reply.rejected)
            .map_err(|e| Failure {
                message: format!("the 200 answer is unreadable: {e}"),
                unreachable: false,
                retryable: false,
                retry_after: None,
            })
    }
}

/// Why an export did not get its 200.
pub(crate) struct Failure {
    message: String,
    /// No answer at all: the server is down or restarting.
    unreachable: bool,
    /// Worth sending again, as an OTLP exporter would.
    retryable: bool,
    /// What the answer's `Retry-After` asked for.
    retry_after: Option<Duration>,
}

impl Failure {
    fn unreachable(message: String) -> Self {
        Self {
            message,
            unreachable: true,
            retryable: true,
            retry_after: None,
        }
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

async fn show_progress(totals: Arc<Totals>, start: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let seconds = start.elapsed().as_secs_f64();
        let spans = totals.accepted.load(Ordering::Relaxed);
        eprint!(
            "\r\x1b[2K{seconds:6.1} s  {} spans accepted  {} spans/s  {} errors",
            thousands(spans),
            thousands((spans as f64 / seconds) as u64),
            thousands(totals.errors.load(Ordering::Relaxed)),
        );
    }
}

/// The nearest-rank percentile `p` (0 to 100) of sorted values; 0 when there are none.
/// Shared with the latency examples so every reported p99 means the same.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(totals: &Totals, mut latencies: Vec<u32>, seconds: f64) -> Report {
    latencies.sort_unstable();
    let millis: Vec<f64> = latencies.iter().map(|&us| f64::from(us) / 1000.0).collect();
    let percentile = |p: f64| percentile(&millis, p);
    let requests = totals.requests.load(Ordering::Relaxed);
    let accepted = totals.accepted.load(Ordering::Relaxed);
    let seconds = seconds.max(f64::EPSILON);
    Report {
        spans_accepted: accepted,
        spans_rejected: totals.rejected.load(Ordering::Relaxed),
        spans_failed: totals.failed.load(Ordering::Relaxed),
        requests,
        errors: totals.errors.load(Ordering::Relaxed),
        retries: totals.retries.load(Ordering::Relaxed),
        seconds,
        spans_per_second: accepted as f64 / seconds,
        requests_per_second: requests as f64 / seconds,
        p50_ms: percentile(50.0),
        p90_ms: percentile(90.0),
        p99_ms: percentile(99.0),
        max_ms: percentile(100.0),
        bytes_per_request: totals
            .bytes
            .load(Ordering::Relaxed)
            .checked_div(requests)
            .unwrap_or(0),
        first_error: totals
            .first_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone(),
    }
}

fn print_summary(r: &Report) {
    println!(
        "{} spans accepted, {} rejected, {} in failed requests",
        thousands(r.spans_accepted),
        thousands(r.spans_rejected),
        thousands(r.spans_failed)
    );
    println!(
        "{} requests in {:.1} s ({} failed, {} retries), {} bytes each",
        thousands(r.requests),
        r.seconds,
        thousands(r.errors),
        thousands(r.retries),
        thousands(r.bytes_per_request)
    );
    println!(
        "{} spans/s, {} requests/s",
        thousands(r.spans_per_second as u64),
        thousands(r.requests_per_second as u64)
    );
    println!(
        "latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms
    );
    if let Some(error) = &r.first_error {
        println!("first error: {error}");
    }
}

/// 1234567 -> "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
