//! Writing OTLP files: the API's export lines (OTLP/JSON, one request a line) as JSON
//! Lines, or as the Collector's file exporter writes protobuf (`format: proto`): each
//! message a 4-byte big-endian length, then its bytes. `import` reads both back.

use std::io::Write;

use otel_worker_core::client::Client;
use otel_worker_core::ingest::{Encoding, Export, decode_export};
use prost::Message;

/// How an export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// OTLP/JSON, one request a line: what the Collector's file exporter writes by default.
    Json,
    /// Length-prefixed protobuf messages, as the file exporter writes with `format: proto`.
    Proto,
}

/// Writes `lines` (OTLP/JSON requests of one signal, one a line) to `out` in `format`.
pub fn write<T: Export + Message>(
    lines: &str,
    format: Format,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    for line in lines.lines().filter(|line| !line.trim().is_empty()) {
        match format {
            Format::Json => writeln!(out, "{line}")?,
            Format::Proto => {
                let message: T = decode_export(Encoding::Json, line.as_bytes())
                    .map_err(|e| anyhow::anyhow!("the server sent a line that is not OTLP: {e}"))?;
                let bytes = message.encode_to_vec();
                let length = u32::try_from(bytes.len()).map_err(|_| {
                    anyhow::anyhow!(
                        "a message of {} bytes is too large for a frame",
                        bytes.len()
                    )
                })?;
                out.write_all(&length.to_be_bytes())?;
                out.write_all(&bytes)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Writes what the export route `path` answers to standard output in `format`; when the
/// server stopped short of everything that matched, says so on standard error with `hint`.
pub async fn download<T: Export + Message>(
    client: &Client,
    path: &str,
    format: Format,
    hint: &str,
) -> anyhow::Result<()> {
    let (lines, truncated) = client.get_lines(path).await?;
    write::<T>(&lines, format, &mut std::io::stdout().lock())?;
    if truncated {
        eprintln!("{hint}");
    }
    Ok(())
}
