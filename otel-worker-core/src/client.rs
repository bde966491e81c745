//! A typed client for the otel-worker API, for the CLI and for scripts written in Rust.
//! Its errors are sentences a person can act on.

use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::ingest::{Encoding, ExportReply, Signal};
use crate::models::{
    AttributeList, AttributeValues, ErrorBody, Log, LogList, ServiceList, Share, Span, Stats,
    TraceDetail, TraceList,
};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not reach {url} — is `otel-worker-cli dev` running? ({source})")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("401: the server wants a token: pass --auth-token or set AUTH_TOKEN")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{status}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected answer from {url}: {detail}")]
    Protocol { url: String, detail: String },
}

/// A connection to one otel-worker server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bearer token, for connections this client does not make itself (WebSockets).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `GET /v1/traces` with the search's parameters.
    pub async fn list_traces(&self, search: &TraceSearch) -> Result<TraceList, ClientError> {
        self.get(&search.path()).await
    }

    /// `GET /v1/services`.
    pub async fn services(&self) -> Result<ServiceList, ClientError> {
        self.get("/v1/services").await
    }

    /// `GET /v1/stats`.
    pub async fn stats(&self) -> Result<Stats, ClientError> {
        self.get("/v1/stats").await
    }

    /// `GET /v1/attributes`, optionally of one service's spans.
    pub async fn attributes(&self, service: Option<&str>) -> Result<AttributeList, ClientError> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(service) = service {
            query.append_pair("service", service);
        }
        self.get(&format!("/v1/attributes?{}", query.finish()))
            .await
    }

    /// `GET /v1/attributes/{key}/values`: the most frequent values of `key`.
    pub async fn attribute_values(
        &self,
        key: &str,
        service: Option<&str>,
        prefix: Option<&str>,
    ) -> Result<AttributeValues, ClientError> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [("service", service), ("prefix", prefix)] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        let key = percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC);
        self.get(&format!("/v1/attributes/{key}/values?{}", query.finish()))
            .await
    }

    /// `GET /v1/traces/{id}`, with every page of a large trace's spans.
    pub async fn trace(&self, trace_id: &str) -> Result<TraceDetail, ClientError> {
        let path = format!("/v1/traces/{trace_id}");
        let mut trace: TraceDetail = self.get(&path).await?;
        while let Some(cursor) = trace.next_spans_cursor.take() {
            let page: TraceDetail = self
                .get(&format!(
                    "{path}?spansLimit={}&spansCursor={cursor}",
                    crate::query::MAX_SPAN_PAGE
                ))
                .await?;
            trace.spans.extend(page.spans);
            trace.next_spans_cursor = page.next_spans_cursor;
        }
        Ok(trace)
    }

    /// `GET /v1/traces/{id}/otlp`: the trace as an OTLP/JSON export request.
    pub async fn export_trace(&self, trace_id: &str) -> Result<serde_json::Value, ClientError> {
        self.get(&format!("/v1/traces/{trace_id}/otlp")).await
    }

    /// `GET /v1/compare/traces`: trace `b` against trace `a`, span by span.
    pub async fn compare_traces(
        &self,
        a: &str,
        b: &str,
    ) -> Result<crate::compare::TraceComparison, ClientError> {
        self.get(&format!("/v1/compare/traces?a={a}&b={b}")).await
    }

    /// `GET /v1/compare/groups`: the traces `candidate` finds against those `baseline`
    /// finds (each the query string of `GET /v1/traces`), operation by operation.
    pub async fn compare_groups(
        &self,
        baseline: &str,
        candidate: &str,
        max_traces: Option<u32>,
        min_samples: Option<u64>,
    ) -> Result<crate::compare::groups::GroupComparison, ClientError> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("baseline", baseline);
        query.append_pair("candidate", candidate);
        if let Some(n) = max_traces {
            query.append_pair("maxTraces", &n.to_string());
        }
        if let Some(n) = min_samples {
            query.append_pair("minSamples", &n.to_string());
        }
        self.get(&format!("/v1/compare/groups?{}", query.finish()))
            .await
    }

    /// Every span of a trace, in start order (all pages).
    pub async fn trace_spans(&self, trace_id: &str) -> Result<Vec<Span>, ClientError> {
        Ok(self.trace(trace_id).await?.spans)
    }

    /// `GET /v1/logs` with a search.
    pub async fn logs(&self, search: &LogSearch) -> Result<LogList, ClientError> {
        self.get(&search.path()).await
    }

    /// Every log record of a trace, in time order (all pages).
    pub async fn trace_logs(&self, trace_id: &str) -> Result<Vec<Log>, ClientError> {
        let path = format!("/v1/traces/{trace_id}/logs");
        let mut page: LogList = self.get(&path).await?;
        let mut logs = std::mem::take(&mut page.logs);
        while let Some(cursor) = page.next_cursor.take() {
            page = self
                .get(&format!(
                    "{path}?limit={}&cursor={cursor}",
                    crate::query::MAX_SPAN_PAGE
                ))
                .await?;
            logs.append(&mut page.logs);
        }
        Ok(logs)
    }

    /// `GET /v1/traces/{id}/spans/{id}`.
    pub async fn span(&self, trace_id: &str, span_id: &str) -> Result<Span, ClientError> {
        self.get(&format!("/v1/traces/{trace_id}/spans/{span_id}"))
            .await
    }

    /// `DELETE /v1/traces/{id}`.
    pub async fn delete_trace(&self, trace_id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/traces/{trace_id}")).await
    }

    /// `DELETE /v1/traces/{id}/spans/{id}`.
    pub async fn delete_span(&self, trace_id: &str, span_id: &str) -> Result<(), ClientError> {
        self.delete(&format!("/v1/traces/{trace_id}/spans/{span_id}"))
            .await
    }

    /// `POST /v1/traces/{id}/share[?expires=...]`: a read-only link to one trace.
    pub async fn share_trace(
        &self,
        trace_id: &str,
        expires: Option<&str>,
    ) -> Result<Share, ClientError> {
        let mut path = format!("/v1/traces/{trace_id}/share");
        if let Some(expires) = expires {
            path.push_str("?expires=");
            path.extend(form_urlencoded::byte_serialize(expires.as_bytes()));
        }
        let text = self.send(Method::POST, &path, None).await?;
        self.parse(&path, &text)
    }

    /// `DELETE /v1/shares/{token}`: the link stops working.
    pub async fn revoke_share(&self, token: &str) -> Result<(), ClientError> {
        let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
        self.delete(&format!("/v1/shares/{token}")).await
    }

    /// `DELETE` any API path.
    pub async fn delete(&self, path: &str) -> Result<(), ClientError> {
        self.send(Method::DELETE, path, None).await.map(drop)
    }

    /// `POST /v1/traces` with an OTLP/JSON body.
    pub async fn send_otlp_json(&self, body: Vec<u8>) -> Result<ExportReply, ClientError> {
        let text = self.send(Method::POST, "/v1/traces", Some(body)).await?;
        ExportReply::decode(Signal::Traces, Encoding::Json, text.as_bytes()).map_err(|detail| {
            ClientError::Protocol {
                url: format!("{}/v1/traces", self.base_url),
                detail,
            }
        })
    }

    /// `GET` an export route's JSON Lines, and whether the server said it stopped short
    /// (`Otel-Worker-Truncated: true`).
    pub async fn get_lines(&self, path: &str) -> Result<(String, bool), ClientError> {
        let (text, headers) = self.send_for_headers(Method::GET, path, None).await?;
        let truncated = headers
            .get("otel-worker-truncated")
            .is_some_and(|v| v.as_bytes() == b"true");
        Ok((text, truncated))
    }

    /// `GET` any API path and decode its JSON (use `serde_json::Value` to keep it raw).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let text = self.send(Method::GET, path, None).await?;
        self.parse(path, &text)
    }

    fn parse<T: DeserializeOwned>(&self, path: &str, text: &str) -> Result<T, ClientError> {
        serde_json::from_str(text).map_err(|e| ClientError::Protocol {
            url: format!("{}{path}", self.base_url),
            detail: e.to_string(),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<String, ClientError> {
        Ok(self.send_for_headers(method, path, json_body).await?.0)
    }

    async fn send_for_headers(
        &self,
        method: Method,
        path: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<(String, header::HeaderMap), ClientError> {
        let url = format!("{}{path}", self.base_url);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = json_body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: self.base_url.clone(),
                source,
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| ClientError::Protocol {
            url: url.clone(),
            detail: e.to_string(),
        })?;
        if status.is_success() {
            return Ok((text, headers));
        }
        let body: Option<ErrorBody> = serde_json::from_str(&text).ok();
        Err(match status {
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized,
            StatusCode::NOT_FOUND => ClientError::NotFound(
                body.map(|b| b.message)
                    .unwrap_or_else(|| format!("{url} not found")),
            ),
            _ => {
                let (code, message) = body
                    .map(|b| (b.error, b.message))
                    .unwrap_or_else(|| (String::new(), text));
                ClientError::Api {
                    status: status.as_u16(),
                    code,
                    message,
                }
            }
        })
    }
}

/// A trace search as `GET /v1/traces` takes it; values are sent as written, so the
/// server's errors name them exactly (see `docs/api.md` for each parameter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceSearch {
    pub limit: Option<u32>,
    pub before: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub service: Option<String>,
    pub name: Option<String>,
    pub root: bool,
    pub status: Option<String>,
    pub min_duration: Option<String>,
    pub max_duration: Option<String>,
    /// `key=value` each.
    pub attributes: Vec<String>,
    pub text: Option<String>,
}

impl TraceSearch {
    /// The path with its query string.
    pub fn path(&self) -> String {
        let limit = self.limit.map(|n| n.to_string());
        let root = self.root.then(|| "true".to_owned());
        let pairs = [
            ("limit", &limit),
            ("before", &self.before),
            ("start", &self.start),
            ("end", &self.end),
            ("service", &self.service),
            ("name", &self.name),
            ("root", &root),
            ("status", &self.status),
            ("minDuration", &self.min_duration),
            ("maxDuration", &self.max_duration),
            ("q", &self.text),
        ];
        path_with_query("/v1/traces", &pairs, &self.attributes)
    }
}

/// `path` with the given parameters (those set) and one `attr` per attribute.
fn path_with_query(path: &str, pairs: &[(&str, &Option<String>)], attributes: &[String]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if let Some(value) = value {
            query.append_pair(key, value);
        }
    }
    for attribute in attributes {
        query.append_pair("attr", attribute);
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// A log search as `GET /v1/logs` takes it; values are sent as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSearch {
    pub limit: Option<u32>,
    pub before: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub service: Option<String>,
    pub severity: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// `key=value` each.
    pub attributes: Vec<String>,
    pub text: Option<String>,
}

impl LogSearch {
    /// The path with its query string.
    pub fn path(&self) -> String {
        let limit = self.limit.map(|n| n.to_string());
        let pairs = [
            ("limit", &limit),
            ("before", &self.before),
            ("start", &self.start),
            ("end", &self.end),
            ("service", &self.service),
            ("severity", &self.severity),
            ("traceId", &self.trace_id),
            ("spanId", &self.span_id),
            ("q", &self.text),
        ];
        path_with_query("/v1/logs", &pairs, &self.attributes)
    }
}
