//! What the local server spends on its clients, and where: exports decoded on the
//! blocking pool, a bound on exports in flight (each holds up to `--max-body-bytes` of
//! body and what it decodes into), and a bound on open connections.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use otel_worker_core::api::compute::Compute;
use otel_worker_core::api::{ApiError, EXPORT_PATHS, refusal_for};
use otel_worker_core::store::StoreError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
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

/// A listener that holds at most `max` connections open: past it, `accept` waits.
pub struct CappedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

impl CappedListener {
    pub fn new(inner: TcpListener, max: usize) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

impl axum::serve::Listener for CappedListener {
    type Io = Counted;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Counted, std::net::SocketAddr) {
        // The semaphore is never closed; were it, serving on beats stopping.
        let permit = self.permits.clone().acquire_owned().await.ok();
        let (stream, address) = axum::serve::Listener::accept(&mut self.inner).await;
        (
            Counted {
                stream,
                _permit: permit,
            },
            address,
        )
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection, counted until it closes.
pub struct Counted {
    stream: TcpStream,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
