//! What the local server spends on its clients, and where: exports decoded on the
//! blocking pool, a bound on exports in flight (each holds up to `--max-body-bytes` of
//! body and what it decodes into), and the HTTP accept loop, which bounds open
//! connections and the time to send a request's headers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use otel_worker_core::api::compute::Compute;
use otel_worker_core::api::{ApiError, EXPORT_PATHS, refusal_for};
use otel_worker_core::store::StoreError;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Exports read, decoded and stored at once, HTTP and gRPC together. The writer commits
/// one group at a time, so more in flight only holds more memory.
pub const DEFAULT_MAX_EXPORTS_IN_FLIGHT: usize = 16;

/// How long an export waits for its turn before it is answered 503 / `UNAVAILABLE` with
/// a retry delay, which exporters retry.
pub const EXPORT_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Open HTTP connections; past it, new ones wait in the kernel's backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The longest a request may take, body included, before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// HTTP/2 streams one gRPC connection may have open at once.
pub const GRPC_MAX_CONCURRENT_STREAMS: u32 = 32;

/// Runs exports' decoding and conversion on tokio's blocking pool.
pub struct BlockingPool;

impl Compute for BlockingPool {
    fn run(&self, job: Box<dyn FnOnce() + Send>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Err(e) = tokio::task::spawn_blocking(job).await {
                tracing::error!("an export's conversion failed: {e}");
            }
        })
    }
}

/// The turns exports take, shared by OTLP/HTTP and OTLP/gRPC.
#[derive(Clone)]
pub struct Exports {
    permits: Arc<Semaphore>,
}

impl Exports {
    pub fn new(in_flight: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(in_flight.max(1))),
        }
    }

    /// A turn, or `None` after waiting [`EXPORT_QUEUE_WAIT`].
    async fn turn(&self) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(EXPORT_QUEUE_WAIT, self.permits.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

const BUSY: &str = "the server is busy storing other exports; retry after the delay given";

/// Middleware for the HTTP router: an export waits for its turn before its body is read.
pub async fn http_turn(State(exports): State<Exports>, request: Request, next: Next) -> Response {
    let is_export = request.method() == axum::http::Method::POST
        && EXPORT_PATHS.contains(&request.uri().path());
    if !is_export {
        return next.run(request).await;
    }
    match exports.turn().await {
        Some(_turn) => next.run(request).await,
        None => {
            refusal_for(&request, ApiError::Store(StoreError::Busy(BUSY.into()))).into_response()
        }
    }
}

/// Middleware for the gRPC router: the same turns as [`http_turn`].
pub async fn grpc_turn(State(exports): State<Exports>, request: Request, next: Next) -> Response {
    match exports.turn().await {
        Some(_turn) => next.run(request).await,
        None => otel_worker_core::api::grpc::retry_later(BUSY.into()).into_http(),
    }
}

/// How long a connection may take to send a request's headers, counted from when it
/// opens or finished its last request (an idle keep-alive connection is closed then too;
/// clients open a new one).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` over HTTP/1.1 (with WebSocket upgrades) on `listener` until `stop`
/// ends, then finishes the requests in flight. Unlike `axum::serve`, it bounds what a
/// client can hold: [`DEFAULT_MAX_CONNECTIONS`] open connections (past it, new ones wait
/// in the kernel's backlog), and [`HEADER_READ_TIMEOUT`] to send the headers, from the
/// first byte on (a connection that sends nothing at all is closed after as long).
pub async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    stop: impl std::future::Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(DEFAULT_MAX_CONNECTIONS));
    let (closing, closed) = tokio::sync::watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (stream, permit) = tokio::select! {
            next = accept(&listener, &permits) => match next {
                Some(next) => next,
                None => break,
            },
            () = &mut stop => break,
        };
        let app = app.clone();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if !first_byte_in_time(&stream).await {
                return;
            }
            let service = hyper_util::service::TowerToHyperService::new(app);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("a connection ended: {e}");
                    }
                    return;
                }
                _ = closed.wait_for(|closing| *closing) => {}
            }
            connection.as_mut().graceful_shutdown();
            if let Err(e) = connection.await {
                tracing::debug!("a connection ended while stopping: {e}");
            }
        });
    }
    let _ = closing.send(true);
    // Every connection holds a permit until it ends: all of them back means all ended.
    let _ = permits.acquire_many(DEFAULT_MAX_CONNECTIONS as u32).await;
}

/// The next connection, once `permits` has room for it (`None`: never again). An accept
/// that fails (out of file descriptors, a connection reset before it was taken) is
/// logged and tried again a moment later rather than in a spin.
async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> Option<(tokio::net::TcpStream, OwnedSemaphorePermit)> {
    let permit = permits.clone().acquire_owned().await.ok()?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return Some((stream, permit)),
            Err(e) => {
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Whether the peer sent its first byte within [`HEADER_READ_TIMEOUT`]. hyper's header
/// timer starts with the first byte; a peer that sends none is bounded here.
async fn first_byte_in_time(stream: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first)).await,
        Ok(Ok(1..))
    )
}

/// Open OTLP/gRPC connections; past it, new ones wait in the kernel's backlog.
pub const DEFAULT_MAX_GRPC_CONNECTIONS: usize = 256;

/// The OTLP/gRPC server's connections: at most `max` open, each handed to tonic once its
/// first byte arrived (within [`HEADER_READ_TIMEOUT`], else it is closed), with
/// `TCP_NODELAY` (without it a small answer waits for the client's delayed ACK: 44 ms per
/// export was measured). Ends when tonic stops taking connections.
pub fn grpc_incoming(
    listener: TcpListener,
    max: usize,
) -> impl futures_util::Stream<Item = std::io::Result<Counted>> {
    let (ready, incoming) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(max.max(1)));
        while !ready.is_closed() {
            let Some((stream, permit)) = accept(&listener, &permits).await else {
                break;
            };
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY could not be set: {e}");
            }
            let ready = ready.clone();
            tokio::spawn(async move {
                if first_byte_in_time(&stream).await {
                    let counted = Counted {
                        stream,
                        _permit: permit,
                    };
                    let _ = ready.send(Ok(counted)).await;
                }
            });
        }
    });
    futures_util::stream::unfold(incoming, |mut incoming| async move {
        incoming
            .recv()
            .await
            .map(|connection| (connection, incoming))
    })
}

/// An accepted connection, counted until it closes.
pub struct Counted {
    stream: tokio::net::TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl tonic::transport::server::Connected for Counted {
    type ConnectInfo = ();

    fn connect_info(&self) {}
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
