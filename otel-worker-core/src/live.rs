//! The live feed: how a server tells connected WebSocket clients about new data.
//!
//! The core only announces; each home owns its sockets (a tokio broadcast hub locally,
//! a Durable Object with hibernating WebSockets on Cloudflare). Two rules hold on both:
//! an export never waits for the feed (a home delivers announcements in the background,
//! bounded in time), and a client gets at most one message per [`COALESCE_INTERVAL_MS`],
//! listing everything that arrived since its last one ([`Coalescer`]), so a browser keeps
//! up with any ingest rate.

use crate::models::{LiveLog, LiveMetric, LiveSpan, ServerMessage};

/// The shortest time between two messages to one client: about ten a second.
pub const COALESCE_INTERVAL_MS: u64 = 100;

/// The most spans (log records, metrics) one client's pending message lists. Past it, further spans are counted
/// as missed (and logged by the home) instead of growing the message without bound: the
/// list still updates, and a tail says what it skipped.
pub const MAX_PENDING_SPANS: usize = 10_000;

/// Pushes messages to every connected `/api/ws` client.
pub trait ServerEvents: Send + Sync + 'static {
    /// Hands `message` to the feed and returns at once: the home delivers it after the
    /// export's answer, bounded in time, and drops it when nobody listens. Never fails the
    /// caller: a stored export must still answer 200.
    fn announce(&self, message: ServerMessage);
}

/// What arrived for one client since its last message, merged into one message per kind.
#[derive(Debug, Default)]
pub struct Coalescer {
    new_spans: Vec<(String, String)>,
    spans: Vec<LiveSpan>,
    logs: Vec<LiveLog>,
    /// Points per metric and service.
    metrics: Vec<LiveMetric>,
    /// Where each (metric, service) is in `metrics`.
    metric_index: rustc_hash::FxHashMap<(String, Option<String>), usize>,
    missed: u64,
}

impl Coalescer {
    /// Adds a message; spans or log records past [`MAX_PENDING_SPANS`] are counted as
    /// missed.
    pub fn push(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::SpanAdded { new_spans, spans } => {
                let room = MAX_PENDING_SPANS.saturating_sub(self.new_spans.len());
                let missed = new_spans.len().saturating_sub(room);
                self.missed += missed as u64;
                self.new_spans.extend(new_spans.into_iter().take(room));
                let room = MAX_PENDING_SPANS.saturating_sub(self.spans.len());
                self.spans.extend(spans.into_iter().take(room));
            }
            ServerMessage::LogAdded { logs } => {
                let room = MAX_PENDING_SPANS.saturating_sub(self.logs.len());
                self.missed += logs.len().saturating_sub(room) as u64;
                self.logs.extend(logs.into_iter().take(room));
            }
            ServerMessage::MetricAdded { metrics } => {
                for metric in metrics {
                    let key = (metric.name.clone(), metric.service_name.clone());
                    match self.metric_index.get(&key) {
                        Some(&at) => self.metrics[at].points += metric.points,
                        None if self.metrics.len() >= MAX_PENDING_SPANS => self.missed += 1,
                        None => {
                            self.metric_index.insert(key, self.metrics.len());
                            self.metrics.push(metric);
                        }
                    }
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.new_spans.is_empty()
            && self.spans.is_empty()
            && self.logs.is_empty()
            && self.metrics.is_empty()
    }

    /// The merged messages (spans first, then log records, then metrics; none when nothing arrived)
    /// and how many items did not fit; the coalescer is empty afterwards.
    pub fn take(&mut self) -> (Vec<ServerMessage>, u64) {
        let missed = std::mem::take(&mut self.missed);
        let mut messages = Vec::new();
        if !self.new_spans.is_empty() || !self.spans.is_empty() {
            messages.push(ServerMessage::SpanAdded {
                new_spans: std::mem::take(&mut self.new_spans),
                spans: std::mem::take(&mut self.spans),
            });
        }
        if !self.logs.is_empty() {
            messages.push(ServerMessage::LogAdded {
                logs: std::mem::take(&mut self.logs),
            });
        }
        self.metric_index.clear();
        if !self.metrics.is_empty() {
            messages.push(ServerMessage::MetricAdded {
                metrics: std::mem::take(&mut self.metrics),
            });
        }
        (messages, missed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::StatusCode;

    fn added(n: usize, tag: &str) -> ServerMessage {
        let ids: Vec<(String, String)> = (0..n)
            .map(|i| (format!("{tag}-trace"), format!("{tag}-{i}")))
            .collect();
        let spans = ids
            .iter()
            .map(|(t, s)| LiveSpan {
                trace_id: t.clone(),
                span_id: s.clone(),
                parent_span_id: None,
                name: "op".into(),
                service_name: None,
                start_time_unix_nano: 1,
                duration_ns: 1,
                status: StatusCode::Unset,
            })
            .collect();
        ServerMessage::SpanAdded {
            new_spans: ids,
            spans,
        }
    }

    #[test]
    fn messages_merge_in_arrival_order_and_the_rest_is_counted_as_missed() {
        let mut pending = Coalescer::default();
        assert_eq!(pending.take(), (vec![], 0));
        pending.push(added(2, "a"));
        pending.push(added(1, "b"));
        let (messages, 0) = pending.take() else {
            panic!("nothing missed expected");
        };
        let [ServerMessage::SpanAdded { new_spans, spans }] = &messages[..] else {
            panic!("one merged message expected");
        };
        let ids: Vec<&str> = new_spans.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(ids, ["a-0", "a-1", "b-0"]);
        assert_eq!(spans.len(), 3);
        assert!(pending.is_empty());

        pending.push(added(MAX_PENDING_SPANS - 1, "c"));
        pending.push(added(5, "d"));
        let (messages, missed) = pending.take();
        let [ServerMessage::SpanAdded { new_spans, .. }] = &messages[..] else {
            panic!("one merged message expected");
        };
        assert_eq!(new_spans.len(), MAX_PENDING_SPANS);
        assert_eq!(missed, 4);
    }

    #[test]
    fn log_records_merge_into_their_own_message_after_the_spans() {
        let log = |body: &str| LiveLog {
            time_unix_nano: 1,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: body.into(),
            service_name: None,
            trace_id: None,
            span_id: None,
        };
        let mut pending = Coalescer::default();
        pending.push(ServerMessage::LogAdded {
            logs: vec![log("a")],
        });
        pending.push(added(1, "s"));
        pending.push(ServerMessage::LogAdded {
            logs: vec![log("b")],
        });
        let (messages, 0) = pending.take() else {
            panic!("nothing missed expected");
        };
        let [
            ServerMessage::SpanAdded { .. },
            ServerMessage::LogAdded { logs },
        ] = &messages[..]
        else {
            panic!("a span message, then a log message: {messages:?}");
        };
        let bodies: Vec<&serde_json::Value> = logs.iter().map(|l| &l.body).collect();
        assert_eq!(bodies, ["a", "b"]);
        assert!(pending.is_empty());
    }
}
