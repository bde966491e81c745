//! The live feed: how a server tells connected WebSocket clients about new data.
//!
//! The core only announces; each home owns its sockets (a tokio broadcast hub locally,
//! a Durable Object with hibernating WebSockets on Cloudflare). Two rules hold on both:
//! an export never waits for the feed (a home delivers announcements in the background,
//! bounded in time), and a client gets at most one message per [`COALESCE_INTERVAL_MS`],
//! listing everything that arrived since its last one ([`Coalescer`]), so a browser keeps
//! up with any ingest rate.

use crate::models::{LiveSpan, ServerMessage};

/// The shortest time between two messages to one client: about ten a second.
pub const COALESCE_INTERVAL_MS: u64 = 100;

/// The most spans one client's pending message lists. Past it, further spans are counted
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
    missed_spans: u64,
}

impl Coalescer {
    /// Adds a message; spans past [`MAX_PENDING_SPANS`] are counted as missed.
    pub fn push(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::SpanAdded { new_spans, spans } => {
                let room = MAX_PENDING_SPANS.saturating_sub(self.new_spans.len());
                let missed = new_spans.len().saturating_sub(room);
                self.missed_spans += missed as u64;
                self.new_spans.extend(new_spans.into_iter().take(room));
                let room = MAX_PENDING_SPANS.saturating_sub(self.spans.len());
                self.spans.extend(spans.into_iter().take(room));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.new_spans.is_empty() && self.spans.is_empty()
    }

    /// The merged message (`None` when nothing arrived) and how many spans did not fit;
    /// the coalescer is empty afterwards.
    pub fn take(&mut self) -> (Option<ServerMessage>, u64) {
        let missed = std::mem::take(&mut self.missed_spans);
        if self.is_empty() {
            return (None, missed);
        }
        let message = ServerMessage::SpanAdded {
            new_spans: std::mem::take(&mut self.new_spans),
            spans: std::mem::take(&mut self.spans),
        };
        (Some(message), missed)
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
        assert_eq!(pending.take(), (None, 0));
        pending.push(added(2, "a"));
        pending.push(added(1, "b"));
        let (Some(ServerMessage::SpanAdded { new_spans, spans }), 0) = pending.take() else {
            panic!("one merged message expected");
        };
        let ids: Vec<&str> = new_spans.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(ids, ["a-0", "a-1", "b-0"]);
        assert_eq!(spans.len(), 3);
        assert!(pending.is_empty());

        pending.push(added(MAX_PENDING_SPANS - 1, "c"));
        pending.push(added(5, "d"));
        let (Some(ServerMessage::SpanAdded { new_spans, .. }), missed) = pending.take() else {
            panic!("one merged message expected");
        };
        assert_eq!(new_spans.len(), MAX_PENDING_SPANS);
        assert_eq!(missed, 4);
    }
}
