//! `otel-worker-cli import FILE...`: OTLP files into any otel-worker, through its normal
//! export routes (so limits, retries, idempotency and partial success apply).
//!
//! Every form a file of telemetry takes: JSON Lines as the Collector's file exporter
//! writes them (one `Export*ServiceRequest` a line, signals mixed), one OTLP/JSON
//! document, the exporter's length-prefixed frames (`format: proto`, or any format with
//! `compression`: each frame a 4-byte big-endian length and a message, itself compressed),
//! and all of it gzip or zstd compressed; a directory (its files in name order) or `-`
//! (standard input). Files are read as a stream, a message at a time.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_worker_core::ingest::{Encoding, Export, ExportReply, Signal};
use prost::Message;

use crate::client::Connection;

/// The largest decompressed message read (the server's export limit is 10 MiB; a larger
/// message is split by resource before it is sent).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// The largest body sent: a message over it is sent in parts, a resource at a time.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// Tries of one request that gets 429, 502, 503 or 504, as an OTLP exporter retries.
pub const MAX_TRIES: u32 = 10;

/// `otel-worker-cli import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// OTLP files (JSON Lines, JSON, length-prefixed protobuf; gzip or zstd), directories,
    /// or `-` for standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What an import did.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub files: u64,
    pub messages: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
    /// Items the server refused (partial success), with its messages.
    pub rejected: u64,
    /// Messages that could not be read or sent, with where they were.
    pub problems: Vec<String>,
}

/// One message of a file, and where it was.
struct Piece {
    bytes: Vec<u8>,
    json: bool,
    at: String,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let client = args.connection.client();
    let started = Instant::now();
    let report = import_files(&client, &args.files, !args.json).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "imported {} files ({} messages) into {} in {:.1} s: {} spans, {} log records, {} data points stored; {} rejected",
            report.files,
            report.messages,
            client.base_url(),
            started.elapsed().as_secs_f64(),
            report.spans,
            report.log_records,
            report.data_points,
            report.rejected
        );
        for problem in &report.problems {
            println!("  {problem}");
        }
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} messages could not be imported", report.problems.len())
    }
}

/// Imports `paths` into the server `client` reaches; `progress` shows how far each file
/// has come on standard error (a bar on a terminal, else a line a second). Only a path that cannot be listed is an error: everything else is
/// reported.
pub async fn import_files(
    client: &otel_worker_core::client::Client,
    paths: &[PathBuf],
    progress: bool,
) -> anyhow::Result<Report> {
    let http = reqwest::Client::new();
    let mut report = Report::default();
    let mut files = Vec::new();
    for path in paths {
        expand(path, &mut files)?;
    }
    for file in files {
        report.files += 1;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<Piece>>(4);
        let reading = file.clone();
        let read = Arc::new(AtomicU64::new(0));
        let counter = read.clone();
        let mut shown = progress.then(|| Progress::new(&file));
        // Files are read on a blocking thread, a message at a time, while the last is sent.
        let reader = tokio::task::spawn_blocking(move || read_file(&reading, &tx, counter));
        while let Some(piece) = rx.recv().await {
            match piece {
                Ok(piece) => {
                    report.messages += 1;
                    if let Err(e) = send(&http, client, &piece, &mut report).await {
                        report.problems.push(format!("{}: {e:#}", piece.at));
                    }
                }
                Err(e) => report.problems.push(format!("{e:#}")),
            }
            if let Some(shown) = &mut shown {
                shown.update(read.load(Ordering::Relaxed), &report);
            }
        }
        if let Some(shown) = shown {
            shown.finish();
        }
        if let Err(e) = reader.await? {
            report.problems.push(format!("{e:#}"));
        }
    }
    Ok(report)
}

/// How far a file's import has come, on standard error: a bar of the file's bytes on a
/// terminal, else a line a second (a log keeps it).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    name: String,
    size: Option<u64>,
    last_line: Instant,
}

impl Progress {
    fn new(file: &Path) -> Self {
        let size = (file.as_os_str() != "-")
            .then(|| std::fs::metadata(file).ok().map(|m| m.len()))
            .flatten();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match size {
                Some(size) => indicatif::ProgressBar::new(size),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let template = if size.is_some() {
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left: {msg}"
            } else {
                "{prefix} {spinner} {bytes} {bytes_per_sec}: {msg}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(file.display().to_string());
            bar
        });
        Self {
            bar,
            name: file.display().to_string(),
            size,
            last_line: Instant::now(),
        }
    }

    fn update(&mut self, read: u64, report: &Report) {
        let stored = format!(
            "{} spans, {} log records, {} data points",
            report.spans, report.log_records, report.data_points
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(read);
                bar.set_message(stored);
            }
            None if self.last_line.elapsed() >= Duration::from_secs(1) => {
                self.last_line = Instant::now();
                let share = self
                    .size
                    .filter(|size| *size > 0)
                    .map(|size| format!(" ({:.0}%)", read as f64 * 100.0 / size as f64))
                    .unwrap_or_default();
                eprintln!("{}: {read} bytes read{share}, {stored} so far", self.name);
            }
            None => {}
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Counts the bytes read through it, for the progress bar (of the file as it is on disk,
/// compressed or not).
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// `path`, or a directory's files (in name order, recursively).
fn expand(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.as_os_str() == "-" || !path.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        expand(&entry, out)?;
    }
    Ok(())
}

/// Reads every message of `path` into `tx`; the error is the file's own (cannot open it).
fn read_file(
    path: &Path,
    tx: &tokio::sync::mpsc::Sender<anyhow::Result<Piece>>,
    read: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let name = path.display().to_string();
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(Counted {
            inner: std::io::stdin(),
            read,
        })
    } else {
        Box::new(Counted {
            inner: std::fs::File::open(path).with_context(|| format!("cannot open {name}"))?,
            read,
        })
    };
    let mut input = decompressed(BufReader::new(raw))?;
    let send = |piece: anyhow::Result<Piece>| tx.blocking_send(piece).is_ok();
    let first = first_byte(&mut input)?;
    match first {
        None => Ok(()),
        Some(b'{') | Some(b'[') => {
            read_json(input, &name, send);
            Ok(())
        }
        Some(_) => {
            read_frames(input, &name, send);
            Ok(())
        }
    }
}

/// The stream without its gzip or zstd compression, told by its first bytes.
fn decompressed(
    mut input: BufReader<Box<dyn Read + Send>>,
) -> anyhow::Result<Box<dyn BufRead + Send>> {
    let head = input.fill_buf()?.to_vec();
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            input,
        ))));
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let decoder = ruzstd::decoding::StreamingDecoder::new(input)
            .map_err(|e| anyhow::anyhow!("not valid zstd: {e}"))?;
        return Ok(Box::new(BufReader::new(decoder)));
    }
    Ok(Box::new(input))
}

/// The first byte that is not white space, left unread.
fn first_byte(input: &mut Box<dyn BufRead + Send>) -> anyhow::Result<Option<u8>> {
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(None);
        }
        match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let byte = buffer[i];
                input.consume(i);
                return Ok(Some(byte));
            }
            None => {
                let n = buffer.len();
                input.consume(n);
            }
        }
    }
}

/// JSON Lines, or one JSON document over several lines: a line that is not a whole JSON
/// value starts a document read to the end.
fn read_json(
    mut input: Box<dyn BufRead + Send>,
    name: &str,
    send: impl Fn(anyhow::Result<Piece>) -> bool,
) {
    let mut number = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut input)
            .take(MAX_MESSAGE_BYTES as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => return,
            Ok(_) if line.len() >= MAX_MESSAGE_BYTES && line.last() != Some(&b'\n') => {
                send(Err(anyhow::anyhow!(
                    "{name}:{}: a line over {MAX_MESSAGE_BYTES} bytes",
                    number + 1
                )));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                send(Err(anyhow::anyhow!(
                    "{name}: reading line {}: {e}",
                    number + 1
                )));
                return;
            }
        }
        number += 1;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(text).is_err() && number == 1 {
            // Not a line of JSON Lines: the whole file is one document.
            let mut document = line.clone();
            if let Err(e) = (&mut input)
                .take(MAX_MESSAGE_BYTES as u64)
                .read_to_end(&mut document)
            {
                send(Err(anyhow::anyhow!("{name}: {e}")));
                return;
            }
            if document.len() >= MAX_MESSAGE_BYTES {
                send(Err(anyhow::anyhow!(
                    "{name}: a JSON document over {MAX_MESSAGE_BYTES} bytes; the Collector's JSON Lines are read a line at a time"
                )));
                return;
            }
            send(Ok(Piece {
                bytes: document,
                json: true,
                at: name.to_owned(),
            }));
            return;
        }
        if !send(Ok(Piece {
            bytes: text.to_vec(),
            json: true,
            at: format!("{name}:{number}"),
        })) {
            return;
        }
    }
}

/// The file exporter's frames: a 4-byte big-endian length, then the message.
fn read_frames(
    mut input: Box<dyn BufRead + Send>,
    name: &str,
    send: impl Fn(anyhow::Result<Piece>) -> bool,
) {
    let mut number = 0u64;
    loop {
        let mut length = [0u8; 4];
        match input.read_exact(&mut length) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return,
            Err(e) => {
                send(Err(anyhow::anyhow!(
                    "{name}: reading frame {}: {e}",
                    number + 1
                )));
                return;
            }
        }
        number += 1;
        let at = format!("{name}, frame {number}");
        let length = u32::from_be_bytes(length) as usize;
        if length > MAX_MESSAGE_BYTES {
            send(Err(anyhow::anyhow!(
                "{at}: a frame of {length} bytes: not an OTLP file of length-prefixed messages"
            )));
            return;
        }
        let mut frame = vec![0u8; length];
        if let Err(e) = input.read_exact(&mut frame) {
            send(Err(anyhow::anyhow!("{at}: cut short: {e}")));
            return;
        }
        let bytes = if frame.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            otel_worker_core::ingest::unzstd(&frame, MAX_MESSAGE_BYTES)
        } else if frame.starts_with(&[0x1f, 0x8b]) {
            otel_worker_core::ingest::gunzip(&frame, MAX_MESSAGE_BYTES)
        } else {
            Ok(frame)
        };
        let piece = bytes
            .map(|bytes| Piece {
                json: bytes.trim_ascii_start().first() == Some(&b'{'),
                bytes,
                at: at.clone(),
            })
            .map_err(|e| anyhow::anyhow!("{at}: {e}"));
        if !send(piece) {
            return;
        }
    }
}

/// The signal of a JSON message: the first of its signals' member names.
fn json_signal(bytes: &[u8]) -> Option<Signal> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    [
        (Signal::Traces, ["\"resourceSpans\"", "\"resource_spans\""]),
        (Signal::Logs, ["\"resourceLogs\"", "\"resource_logs\""]),
        (
            Signal::Metrics,
            ["\"resourceMetrics\"", "\"resource_metrics\""],
        ),
    ]
    .into_iter()
    .filter_map(|(signal, names)| {
        names
            .iter()
            .filter_map(|n| text.find(n))
            .min()
            .map(|at| (at, signal))
    })
    .min_by_key(|(at, _)| *at)
    .map(|(_, signal)| signal)
}

/// A decoded message of any signal.
enum Decoded {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

/// Decodes a message. A protobuf message does not say its signal: the three requests
/// differ in their innermost fields' wire types, so decoding as a wrong one fails; the
/// first that decodes with items is it.
fn decode(piece: &Piece) -> anyhow::Result<Decoded> {
    fn json<T: Export>(bytes: &[u8]) -> anyhow::Result<T> {
        T::from_json(bytes)
            .map_err(|e| anyhow::anyhow!("not a valid OTLP/JSON {}: {e}", T::SIGNAL.request_name()))
    }
    if piece.json {
        return match json_signal(&piece.bytes) {
            Some(Signal::Traces) => json(&piece.bytes).map(Decoded::Traces),
            Some(Signal::Logs) => json(&piece.bytes).map(Decoded::Logs),
            Some(Signal::Metrics) => json(&piece.bytes).map(Decoded::Metrics),
            None => anyhow::bail!("JSON without resourceSpans, resourceLogs or resourceMetrics"),
        };
    }
    if let Ok(traces) = ExportTraceServiceRequest::from_protobuf(&piece.bytes)
        && traces.items() > 0
    {
        return Ok(Decoded::Traces(traces));
    }
    if let Ok(logs) = ExportLogsServiceRequest::from_protobuf(&piece.bytes)
        && logs.items() > 0
    {
        return Ok(Decoded::Logs(logs));
    }
    if let Ok(metrics) = ExportMetricsServiceRequest::from_protobuf(&piece.bytes)
        && metrics.items() > 0
    {
        return Ok(Decoded::Metrics(metrics));
    }
    anyhow::bail!("not an OTLP protobuf request of traces, logs or metrics with any item")
}

/// Sends one message, in parts of whole resources when it is larger than a request may be.
async fn send(
    http: &reqwest::Client,
    client: &otel_worker_core::client::Client,
    piece: &Piece,
    report: &mut Report,
) -> anyhow::Result<()> {
    match decode(piece)? {
        Decoded::Traces(request) => {
            for part in parts(request.resource_spans, |r| ExportTraceServiceRequest {
                resource_spans: r,
            }) {
                let stored = post(http, client, "traces", &part, report).await?;
                report.spans += stored;
            }
        }
        Decoded::Logs(request) => {
            for part in parts(request.resource_logs, |r| ExportLogsServiceRequest {
                resource_logs: r,
            }) {
                let stored = post(http, client, "logs", &part, report).await?;
                report.log_records += stored;
            }
        }
        Decoded::Metrics(request) => {
            for part in parts(request.resource_metrics, |r| ExportMetricsServiceRequest {
                resource_metrics: r,
            }) {
                let stored = post(http, client, "metrics", &part, report).await?;
                report.data_points += stored;
            }
        }
    }
    Ok(())
}

/// The resources in requests of at most [`MAX_REQUEST_BYTES`] (a single larger resource
/// goes alone, for the server to refuse or take).
fn parts<R: Message, T: Message>(resources: Vec<R>, wrap: impl Fn(Vec<R>) -> T) -> Vec<T> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut size = 0;
    for resource in resources {
        let len = resource.encoded_len();
        if !current.is_empty() && size + len > MAX_REQUEST_BYTES {
            out.push(wrap(std::mem::take(&mut current)));
            size = 0;
        }
        size += len;
        current.push(resource);
    }
    if !current.is_empty() {
        out.push(wrap(current));
    }
    out
}

/// POSTs one request as protobuf, again while the server asks to retry; returns the
/// items stored, adding the rejected ones to the report.
async fn post<T: Message + Export>(
    http: &reqwest::Client,
    client: &otel_worker_core::client::Client,
    path: &str,
    request: &T,
    report: &mut Report,
) -> anyhow::Result<u64> {
    let url = format!("{}/v1/{path}", client.base_url());
    let body = request.encode_to_vec();
    let items = request.items() as u64;
    let mut wait = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut call = http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body.clone());
        if let Some(token) = client.token() {
            call = call.bearer_auth(token);
        }
        let response = call
            .send()
            .await
            .with_context(|| format!("could not reach {url}"))?;
        let status = response.status();
        let retry_after = crate::retry::retry_after(response.headers());
        let answer = response.bytes().await?;
        if status == reqwest::StatusCode::OK {
            let reply = ExportReply::decode(T::SIGNAL, Encoding::Protobuf, &answer)
                .map_err(|e| anyhow::anyhow!("the 200 answer is unreadable: {e}"))?;
            if reply.rejected > 0 {
                report.rejected += reply.rejected;
                report.problems.push(format!(
                    "{} of {items} rejected by the server: {}",
                    reply.rejected,
                    reply.error_message.unwrap_or_default()
                ));
            }
            return Ok(items.saturating_sub(reply.rejected));
        }
        let retryable = crate::retry::is_retryable(status);
        if !retryable || attempt == MAX_TRIES {
            let text = String::from_utf8_lossy(&answer[..answer.len().min(300)]).into_owned();
            anyhow::bail!("{status}: {text}");
        }
        tokio::time::sleep(retry_after.unwrap_or(wait).min(Duration::from_secs(30))).await;
        wait *= 2;
    }
}
