//! Measures read latency against a running server: `GET /v1/traces` (20 summaries) and
//! `GET /v1/traces/{id}` for traces picked from the list, one request at a time, and
//! prints p50/p99 as JSON. Run it alone for the idle numbers, or beside
//! `otel-worker-cli generate` for latency during ingest.
//!
//! cargo run --release -p otel-worker-cli --example query_latency -- <base-url> <token> <seconds>

use otel_worker_cli::generate::percentile;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, seconds] = args.as_slice() else {
        return Err("usage: query_latency <base-url> <token> <seconds>".into());
    };
    let seconds: f64 = seconds.parse()?;
    let http = reqwest::Client::new();
    let get = |path: String| http.get(format!("{base}{path}")).bearer_auth(token).send();
    let (mut list, mut detail) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline {
        let started = Instant::now();
        let response = get("/v1/traces?limit=20".into()).await?;
        if !response.status().is_success() {
            return Err(format!("list answered {}", response.status()).into());
        }
        let page: serde_json::Value = response.json().await?;
        list.push(started.elapsed().as_secs_f64() * 1000.0);
        let ids: Vec<String> = page["traces"]
            .as_array()
            .map(|traces| {
                traces
                    .iter()
                    .filter_map(|t| t["traceId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for id in ids.iter().take(5) {
            let started = Instant::now();
            let response = get(format!("/v1/traces/{id}")).await?;
            if !response.status().is_success() {
                return Err(format!("trace {id} answered {}", response.status()).into());
            }
            let _ = response.bytes().await?;
            detail.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    list.sort_by(f64::total_cmp);
    detail.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "listRequests": list.len(),
            "listP50Ms": percentile(&list, 50.0),
            "listP99Ms": percentile(&list, 99.0),
            "traceRequests": detail.len(),
            "traceP50Ms": percentile(&detail, 50.0),
            "traceP99Ms": percentile(&detail, 99.0),
        })
    );
    Ok(())
}
