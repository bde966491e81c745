//! The live feed on Cloudflare: one [`LiveFeed`] Durable Object holds every `/api/ws`
//! socket with the hibernation API, so idle sockets cost nothing; the Worker hands it
//! each announcement with a `POST /broadcast` after the export has been answered
//! (`Context::wait_until`), bounded by [`ANNOUNCE_TIMEOUT`], and not at all while the
//! object has said that nobody listens.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Response;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get};
use futures_util::future::{Either, select};
use otel_worker_core::api::ApiError;
use otel_worker_core::api::auth::WEBSOCKET_PROTOCOL;
use otel_worker_core::api::mcp::http::McpHost;
use otel_worker_core::live::{COALESCE_INTERVAL_MS, Coalescer, ServerEvents};
use otel_worker_core::models::ServerMessage;
use worker::send::SendFuture;
use worker::{
    Context, Date, Delay, DurableObject, Env, Method, ObjectNamespace, Request as WorkerRequest,
    RequestInit, Response as WorkerResponse, State as ObjectState, WebSocket,
    WebSocketIncomingMessage, WebSocketPair, console_error, console_warn, durable_object,
};

/// Every socket lives in one instance, so one broadcast reaches them all.
pub const LIVE_OBJECT_NAME: &str = "live";
/// The path the Worker posts broadcasts to; never reachable from outside.
const BROADCAST_PATH: &str = "/broadcast";
/// The longest the Worker waits, after answering the export, for the object to take an
/// announcement; a slower object misses it (and it is logged).
pub const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(2);
/// After the object answers that nobody listens, this isolate skips announcing for this
/// long. A client that connects through another isolate may miss up to this much.
pub const NOBODY_LISTENS_FOR_MS: f64 = 1_000.0;
/// Test-only var: the object waits this many milliseconds before taking each broadcast,
/// so a test can prove that exports never wait for it. Unset in real deployments.
pub const TEST_DELAY_VAR: &str = "LIVE_FEED_TEST_DELAY_MS";

thread_local! {
    /// Until when (ms since the epoch) this isolate believes nobody listens.
    static NOBODY_LISTENS_UNTIL: Cell<f64> = const { Cell::new(0.0) };
}

/// The Worker's side of the live feed, for one request: forwards upgrades, and hands
/// announcements to the object after the response.
#[derive(Clone)]
pub struct LiveEvents {
    namespace: Arc<ObjectNamespace>,
    context: Arc<Context>,
}

impl LiveEvents {
    pub fn new(namespace: ObjectNamespace, context: Arc<Context>) -> Self {
        Self {
            namespace: Arc::new(namespace),
            context,
        }
    }

    /// The `/api/ws` handler. The token was checked before it runs.
    pub fn route(&self) -> MethodRouter {
        get(upgrade).with_state(self.clone())
    }

    async fn forward(&self, request: WorkerRequest) -> worker::Result<WorkerResponse> {
        self.namespace
            .get_by_name(LIVE_OBJECT_NAME)?
            .fetch_with_request(request)
            .await
    }

    /// Posts `message` to the object; returns how many sockets it holds.
    async fn post(&self, message: &ServerMessage) -> worker::Result<usize> {
        let text = serde_json::to_string(message)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(wasm_bindgen::JsValue::from_str(&text)));
        let request =
            WorkerRequest::new_with_init(&format!("https://live{BROADCAST_PATH}"), &init)?;
        let mut response = self.forward(request).await?;
        Ok(response.text().await?.trim().parse().unwrap_or(0))
    }
}

#[worker::send]
async fn upgrade(State(live): State<LiveEvents>, request: Request) -> Response<Body> {
    let forwarded = async {
        let request = WorkerRequest::try_from(request)?;
        live.forward(request).await
    };
    match forwarded.await {
        Ok(response) => {
            // Somebody listens now: this isolate announces again at once.
            NOBODY_LISTENS_UNTIL.set(0.0);
            response.into()
        }
        Err(e) => ApiError::LiveFeedUnavailable(e.to_string()).into_response(),
    }
}

/// What `/mcp` needs on Cloudflare: the clock, and a pause between two looks of
/// `wait_for_traces` (the feed lives in the Durable Object, out of this request's reach,
/// so the tool looks again at most a second later).
pub struct McpClock;

#[async_trait::async_trait]
impl McpHost for McpClock {
    fn now_ns(&self) -> u64 {
        (Date::now().as_millis()).saturating_mul(1_000_000)
    }

    async fn news(&self, at_most: Duration) {
        SendFuture::new(Delay::from(at_most)).await
    }
}

impl ServerEvents for LiveEvents {
    fn announce(&self, message: ServerMessage) {
        if Date::now().as_millis() as f64 <= NOBODY_LISTENS_UNTIL.get() {
            return;
        }
        let live = self.clone();
        self.context.wait_until(async move {
            let post = live.post(&message);
            let timeout = Delay::from(ANNOUNCE_TIMEOUT);
            futures_util::pin_mut!(post, timeout);
            // The export is already answered: a failed announcement is only logged.
            match select(post, timeout).await {
                Either::Left((Ok(0), _)) => {
                    NOBODY_LISTENS_UNTIL.set(Date::now().as_millis() as f64 + NOBODY_LISTENS_FOR_MS)
                }
                Either::Left((Ok(_), _)) => {}
                Either::Left((Err(e), _)) => console_error!("live feed broadcast failed: {e}"),
                Either::Right(_) => console_warn!(
                    "the live feed took longer than {} ms; this announcement is dropped",
                    ANNOUNCE_TIMEOUT.as_millis()
                ),
            }
        });
    }
}

/// The Durable Object that owns the live sockets. Broadcasts arriving within one
/// [`COALESCE_INTERVAL_MS`] are merged: the first waits out the interval and sends what
/// gathered meanwhile, so every socket gets at most about ten messages a second.
#[durable_object]
pub struct LiveFeed {
    state: ObjectState,
    env: Env,
    pending: RefCell<Coalescer>,
    /// A broadcast request is waiting out the interval and will send what is pending.
    flushing: Cell<bool>,
}

impl DurableObject for LiveFeed {
    fn new(state: ObjectState, env: Env) -> Self {
        Self {
            state,
            env,
            pending: RefCell::new(Coalescer::default()),
            flushing: Cell::new(false),
        }
    }

    async fn fetch(&self, mut request: WorkerRequest) -> worker::Result<WorkerResponse> {
        if request.method() == Method::Post && request.path() == BROADCAST_PATH {
            let message: ServerMessage = request.json().await?;
            return self.broadcast(message).await;
        }
        let wants_socket = request
            .headers()
            .get("upgrade")?
            .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
        if !wants_socket {
            return WorkerResponse::error("expected a WebSocket upgrade", 426);
        }
        let offered = request
            .headers()
            .get("sec-websocket-protocol")?
            .unwrap_or_default();
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let response = WorkerResponse::from_websocket(pair.client)?;
        // A browser that offered subprotocols needs one selected to complete the handshake.
        if offered
            .split(',')
            .any(|protocol| protocol.trim() == WEBSOCKET_PROTOCOL)
        {
            response
                .headers()
                .set("sec-websocket-protocol", WEBSOCKET_PROTOCOL)?;
        }
        Ok(response)
    }

    async fn websocket_message(
        &self,
        _socket: WebSocket,
        _message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        // The feed is one-way; what clients send is ignored.
        Ok(())
    }

    async fn websocket_close(
        &self,
        socket: WebSocket,
        code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        // Complete the closing handshake; reserved codes (1005, 1006) cannot be echoed.
        let code = u16::try_from(code)
            .ok()
            .filter(|c| *c != 1005 && *c != 1006);
        let _ = socket.close(Some(code.unwrap_or(1000)), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, socket: WebSocket, error: worker::Error) -> worker::Result<()> {
        console_warn!("live client error: {error}");
        let _ = socket.close(Some(1011), Some("error"));
        Ok(())
    }
}

impl LiveFeed {
    /// Takes one announcement; answers with the number of sockets, so the Worker can stop
    /// announcing while there are none.
    async fn broadcast(&self, message: ServerMessage) -> worker::Result<WorkerResponse> {
        if let Some(delay) = self.test_delay() {
            Delay::from(delay).await;
        }
        let listeners = self.state.get_websockets().len();
        if listeners == 0 {
            return WorkerResponse::ok("0");
        }
        self.pending.borrow_mut().push(message);
        if self.flushing.replace(true) {
            // The request already waiting out the interval sends this one too.
            return WorkerResponse::ok(listeners.to_string());
        }
        Delay::from(Duration::from_millis(COALESCE_INTERVAL_MS)).await;
        let (merged, missed) = self.pending.borrow_mut().take();
        self.flushing.set(false);
        if missed > 0 {
            console_warn!("the live feed dropped {missed} spans or log records of a burst");
        }
        // Nothing merged (already sent by another request): the listeners are still there.
        let mut delivered = listeners;
        for message in merged {
            let text = serde_json::to_string(&message)?;
            delivered = 0;
            for socket in self.state.get_websockets() {
                match socket.send_with_str(&text) {
                    Ok(()) => delivered += 1,
                    // One broken client must not keep the message from the others.
                    Err(e) => {
                        console_warn!("dropping a live client that could not be sent to: {e}");
                        let _ = socket.close(Some(1011), Some("send failed"));
                    }
                }
            }
        }
        WorkerResponse::ok(delivered.to_string())
    }

    fn test_delay(&self) -> Option<Duration> {
        let value = self.env.var(TEST_DELAY_VAR).ok()?.to_string();
        value.trim().parse().ok().map(Duration::from_millis)
    }
}
