//! Helpers shared by the in-process and black-box API tests: OTLP exports with fresh ids,
//! gzip, and a running server to talk to.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as V};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use rand::Rng;

pub const EXAMPLE: &str = include_str!("../../../examples/send-trace/trace.json");
pub const EXAMPLE_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Now, in unix nanoseconds.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub fn random_trace_id() -> Vec<u8> {
    rand::rng().random::<[u8; 16]>().to_vec()
}

pub fn random_span_id() -> Vec<u8> {
    rand::rng().random::<[u8; 8]>().to_vec()
}

pub fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// A span of `trace_id` with a fresh span id.
pub fn span(trace_id: &[u8], parent: Option<&[u8]>, name: &str, start_ns: u64) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: random_span_id(),
        parent_span_id: parent.map(<[u8]>::to_vec).unwrap_or_default(),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: start_ns,
        end_time_unix_nano: start_ns + 1_500_000,
        attributes: vec![
            kv("http.route", V::StringValue("/users/:id".into())),
            kv("big", V::IntValue(4_611_686_018_427_387_905)),
        ],
        status: Some(Status {
            message: String::new(),
            code: 1,
        }),
        ..Default::default()
    }
}

/// An export of `spans` from one service.
pub fn export(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", V::StringValue(service.into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: None,
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// A fresh trace of `n` spans: one root and `n - 1` children.
pub fn trace(n: usize, start_ns: u64) -> (String, ExportTraceServiceRequest) {
    let trace_id = random_trace_id();
    let root = span(&trace_id, None, "root", start_ns);
    let root_id = root.span_id.clone();
    let mut spans = vec![root];
    spans.extend((1..n).map(|i| {
        span(
            &trace_id,
            Some(&root_id),
            &format!("child {i}"),
            start_ns + i as u64,
        )
    }));
    (hex::encode(trace_id), export("blackbox", spans))
}

/// The same export as OTLP/JSON, written the way the specification spells it.
pub fn to_json(request: &ExportTraceServiceRequest) -> String {
    let spans: Vec<_> = request.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|s| {
            serde_json::json!({
                "traceId": hex::encode(&s.trace_id),
                "spanId": hex::encode(&s.span_id),
                "parentSpanId": hex::encode(&s.parent_span_id),
                "name": s.name,
                "kind": s.kind,
                "startTimeUnixNano": s.start_time_unix_nano.to_string(),
                "endTimeUnixNano": s.end_time_unix_nano.to_string(),
                "attributes": [{"key": "big", "value": {"intValue": "4611686018427387905"}}],
            })
        })
        .collect();
    let service = match request.resource_spans[0]
        .resource
        .as_ref()
        .and_then(|r| r.attributes[0].value.as_ref())
    {
        Some(AnyValue {
            value: Some(V::StringValue(s)),
        }) => s.clone(),
        _ => String::new(),
    };
    serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{"spans": spans}]
        }]
    })
    .to_string()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// 100 MiB of zeros in about 100 KiB.
pub fn gzip_bomb() -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let chunk = vec![0u8; 1024 * 1024];
    for _ in 0..100 {
        encoder.write_all(&chunk).expect("gzip into memory");
    }
    encoder.finish().expect("gzip into memory")
}

/// A server under test: the real `otel-worker-cli dev` binary on a free port with its own
/// database, or whatever `OTEL_WORKER_TEST_URL` + `OTEL_WORKER_TEST_TOKEN` point at (the
/// Worker under `wrangler dev`, for instance).
pub struct TestServer {
    pub base_url: String,
    pub token: String,
    /// Which server this is, for the test log.
    pub label: String,
    /// Where OTLP/gRPC is served (`127.0.0.1:port`); `None` for a server without it.
    pub grpc_address: Option<String>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub fn start() -> Self {
        if let Ok(base_url) = std::env::var("OTEL_WORKER_TEST_URL") {
            let token = std::env::var("OTEL_WORKER_TEST_TOKEN")
                .expect("OTEL_WORKER_TEST_TOKEN must accompany OTEL_WORKER_TEST_URL");
            let label = format!("external server at {base_url}");
            eprintln!("testing against the {label}");
            return Self {
                base_url: base_url.trim_end_matches('/').into(),
                token,
                label,
                grpc_address: None,
                child: None,
                _dir: None,
            };
        }
        // `OTEL_WORKER_TEST_ARCHIVE_AFTER=0s`: the suite again with every trace archived
        // as soon as the server looks (scripts/test.sh runs it so).
        match std::env::var("OTEL_WORKER_TEST_ARCHIVE_AFTER") {
            Ok(after) => Self::local(&["--archive-after", &after]),
            Err(_) => Self::local(&[]),
        }
    }

    /// `otel-worker-cli dev` with a fresh database, a token, and `extra` arguments,
    /// whatever `OTEL_WORKER_TEST_URL` says (for tests of the local server's options).
    pub fn local(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let token = format!("token-{}", hex::encode(random_span_id()));
        let db = dir.path().join("blackbox.db");
        let mut args: Vec<&OsStr> = vec![
            "--auth-token".as_ref(),
            token.as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
        ];
        args.extend(extra.iter().map(|a| OsStr::new(*a)));
        let (child, base_url, mut lines) = spawn_dev(&args);
        let grpc_address = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let rest = line.split("OTLP/gRPC on ").nth(1)?;
            rest.split_whitespace().next().map(str::to_owned)
        });
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let label = format!("otel-worker-cli dev at {base_url}");
        eprintln!("testing against {label}");
        Self {
            base_url,
            token,
            label,
            grpc_address,
            child: Some(child),
            _dir: Some(dir),
        }
    }

    /// The server's process id, when this test started it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("{}/api/ws{query}", self.base_url.replacen("http", "ws", 1))
    }

    /// A WebSocket handshake for `/api/ws` offering `protocols` (`Sec-WebSocket-Protocol`),
    /// as a browser sends it.
    pub fn ws_request(
        &self,
        protocols: &str,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                self.ws_url(""),
            )
            .expect("a websocket request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            protocols.parse().expect("a header value"),
        );
        request
    }

    /// The subprotocols a browser offers to open the live feed with this server's token.
    pub fn ws_protocols(&self) -> String {
        format!(
            "otel-worker, {}",
            otel_worker_core::api::auth::bearer_protocol(&self.token)
        )
    }

    /// An HTTP client that does not retry or follow anything on its own.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client")
    }

    pub fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// How `wrangler dev`'s own proxy answers a request it lost in the race between its two
/// 5-second keep-alive timers (cloudflare/workers-sdk#14641), before the Worker sees it.
/// The proxy sends GET and HEAD again itself, not the rest. The Worker's own errors are
/// JSON, so this text is never ours.
const DEV_PROXY_LOST_REQUEST: &str = "Your worker restarted mid-request.";

/// Sends `request`, and sends it again (twice at most) when `wrangler dev`'s proxy lost
/// it ([`DEV_PROXY_LOST_REQUEST`]), as an exporter sends a `503` again. Any other answer
/// is returned as it came.
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    let mut tries = 0;
    loop {
        let again = request
            .try_clone()
            .expect("a request whose body can be sent again");
        let response = again.send().await.expect("the server answers");
        if response.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE || tries == 2 {
            return response;
        }
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await.expect("the answer's body");
        if !body.starts_with(DEV_PROXY_LOST_REQUEST.as_bytes()) {
            let mut rebuilt = axum::http::Response::new(body);
            *rebuilt.status_mut() = status;
            *rebuilt.headers_mut() = headers;
            return reqwest::Response::from(rebuilt);
        }
        tries += 1;
        eprintln!("wrangler dev's proxy lost a request (its keep-alive race); sending it again");
    }
}

/// `POST /v1/traces` of a protobuf export with the token.
pub async fn post_protobuf(server: &TestServer, body: Vec<u8>) -> reqwest::Response {
    send(
        server
            .http()
            .post(server.url("/v1/traces"))
            .header("authorization", server.auth())
            .header("content-type", "application/x-protobuf")
            .body(body),
    )
    .await
}

/// `POST path` with the token, a content type and maybe a content encoding.
pub async fn post_to(
    server: &TestServer,
    path: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = server
        .http()
        .post(server.url(path))
        .header("authorization", server.auth())
        .header("content-type", content_type)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    send(request).await
}

/// `GET path` with the token.
pub async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    server
        .http()
        .get(server.url(path))
        .header("authorization", server.auth())
        .send()
        .await
        .expect("the server answers")
}

/// `DELETE path` with the token.
pub async fn delete(server: &TestServer, path: &str) -> reqwest::Response {
    send(
        server
            .http()
            .delete(server.url(path))
            .header("authorization", server.auth()),
    )
    .await
}

/// `GET path` with the token: the status and the JSON body (`null` if it is not JSON).
pub async fn get_json(server: &TestServer, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let response = get(server, path).await;
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Starts `otel-worker-cli dev` on a free loopback port with `args` added; returns the
/// process, its base URL (read from its "listening on" log line) and the rest of its log.
pub fn spawn_dev(args: &[&OsStr]) -> (Child, String, Lines<BufReader<ChildStderr>>) {
    spawn_dev_logging(args, "info")
}

/// [`spawn_dev`] with the server's `RUST_LOG` level.
pub fn spawn_dev_logging(
    args: &[&OsStr],
    level: &str,
) -> (Child, String, Lines<BufReader<ChildStderr>>) {
    // OTLP/gRPC on a free port too, unless the test chooses: 4317 is one per machine.
    let grpc: &[&str] = if args.iter().any(|a| a.to_str() == Some("--grpc-listen")) {
        &[]
    } else {
        &["--grpc-listen", "127.0.0.1:0"]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_otel-worker-cli"))
        .args(["dev", "--listen", "127.0.0.1:0"])
        .args(grpc)
        .args(args)
        .env("RUST_LOG", level)
        .env_remove("AUTH_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start otel-worker-cli dev");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let base_url = loop {
        let line = lines
            .next()
            .expect("the server exited before it listened")
            .expect("read server log");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    (child, base_url, lines)
}

/// `google.rpc.Status`, as OTLP error bodies carry it.
#[derive(prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether an export route's answer says it stopped before everything that matched.
pub fn says_truncated(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("otel-worker-truncated")
        .is_some_and(|v| v.as_bytes() == b"true")
}
