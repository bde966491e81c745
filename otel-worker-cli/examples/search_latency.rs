//! Measures search latency against a running server: each query of a fixed set (common
//! filters, rare ones, filters that match nothing, the service list) is sent one at a
//! time for a number of rounds, and p50/p99 per query are printed as JSON. The queries
//! fit the data of `otel-worker-cli generate`. Used by `scripts/perf-search.sh`.
//!
//! cargo run --release -p otel-worker-cli --example search_latency -- <base-url> <token> <rounds>

use otel_worker_cli::generate::percentile;
use std::time::Instant;

/// (label, path): what a user of the UI or the CLI asks for. The "only the oldest"
/// searches match nothing but the example trace (examples/send-trace/trace.json), which
/// `scripts/perf-search.sh` sends before the generated load, so they must look through
/// every block back to the first.
const QUERIES: &[(&str, &str)] = &[
    ("newest 20, no filter", "/v1/traces?limit=20"),
    ("service=payments", "/v1/traces?limit=20&service=payments"),
    ("status=error", "/v1/traces?limit=20&status=error"),
    (
        "no match, each part common: name, root, min duration",
        "/v1/traces?limit=20&name=POST%20%2Fcheckout&root=true&minDuration=500ms",
    ),
    (
        "attr int",
        "/v1/traces?limit=20&attr=http.response.status_code%3D500",
    ),
    (
        "attr string (1 user in 97)",
        "/v1/traces?limit=20&attr=enduser.id%3Duser-42",
    ),
    ("q text", "/v1/traces?limit=20&q=stock"),
    (
        "only the oldest: service",
        "/v1/traces?limit=20&service=user-service",
    ),
    (
        "only the oldest: attr",
        "/v1/traces?limit=20&attr=process.pid%3D4242",
    ),
    ("only the oldest: q", "/v1/traces?limit=20&q=redis"),
    ("no match: service", "/v1/traces?limit=20&service=nobody"),
    (
        "no match: name, root, min duration",
        "/v1/traces?limit=20&name=POST%20%2Fnowhere&root=true&minDuration=500ms",
    ),
    (
        "no match: attr",
        "/v1/traces?limit=20&attr=enduser.id%3Dnobody",
    ),
    ("no match: q", "/v1/traces?limit=20&q=no-such-text"),
    ("services", "/v1/services"),
    ("attribute keys", "/v1/attributes"),
    (
        "attribute keys of one service",
        "/v1/attributes?service=payments",
    ),
    ("values of a key", "/v1/attributes/http.route/values"),
    (
        "values by prefix",
        "/v1/attributes/enduser.id/values?prefix=user-4",
    ),
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, rounds] = args.as_slice() else {
        return Err("usage: search_latency <base-url> <token> <rounds>".into());
    };
    let rounds: usize = rounds.parse()?;
    let http = reqwest::Client::new();
    let mut results = serde_json::Map::new();
    for (label, path) in QUERIES {
        let mut times = Vec::with_capacity(rounds);
        let mut found = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            let response = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await?;
            if !response.status().is_success() {
                return Err(format!("{path} answered {}", response.status()).into());
            }
            let body: serde_json::Value = response.json().await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            found = ["traces", "services", "attributes", "values"]
                .iter()
                .find_map(|list| body[*list].as_array())
                .map_or(0, Vec::len);
        }
        times.sort_by(f64::total_cmp);
        results.insert(
            (*label).to_owned(),
            serde_json::json!({
                "p50Ms": percentile(&times, 50.0),
                "p99Ms": percentile(&times, 99.0),
                "results": found,
            }),
        );
    }
    println!("{}", serde_json::Value::Object(results));
    Ok(())
}
