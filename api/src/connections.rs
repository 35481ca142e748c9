//! HTTP/1.1 connections: the accept loop and what bounds each connection.
//!
//! A server that keeps a connection for as long as its client likes is easy to starve: idle
//! sockets, request heads sent a byte per second and idle keep-alive connections pile up
//! until the file limit is reached, and then not even `/health/live` is answered. Here
//! every connection is bounded:
//!
//! - a new connection must begin a request within `--header-read-timeout`, and a request's
//!   head (request line and header fields), once begun, must arrive within it as well;
//! - a keep-alive connection waiting for its next request is closed after
//!   `--keep-alive-timeout`;
//! - at most `--max-connections` are open. One more closes the oldest idle connection (an
//!   idle client simply reconnects, and a health check always finds room) and is refused
//!   only when every connection is serving a request. Running out of file descriptors
//!   closes the oldest idle connection too;
//! - hyper's own answers to a request it cannot read (400, a URL too long: 414, a head too
//!   large: 431) carry a problem document like every other answer.
//!
//! A slow request body is bounded in the router (`--body-read-timeout`, 408), where the
//! answer can be a problem. On shutdown the listener closes, idle connections close at
//! once and busy ones after their running request, within the grace period.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::error::Problem;

/// The largest request head read (request line and header fields together); a larger one
/// is answered 431 (or 414 for the URL alone). Also what a connection may buffer.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long an evicted connection may take to finish writing what it has begun.
const EVICTION_GRACE: Duration = Duration::from_secs(1);

/// What bounds the connections (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time for a request's head, and for a new connection's first request to begin.
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may wait for its next request.
    pub keep_alive_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets running requests
/// finish for up to `grace` and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let registry = Registry::default();
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut last_warning: Option<Instant> = None;
    let mut warn = |message: &'static str| {
        // At most one warning a second: a flood must not turn into a flood of log lines.
        if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            last_warning = Some(Instant::now());
            tracing::warn!(max_connections = limits.max_connections, "{message}");
        }
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => match registry.admit(limits.max_connections) {
                    Some(conn) => {
                        let (router, stopping, registry) = (router.clone(), stopping.clone(), registry.clone());
                        connections.spawn(async move {
                            connection(stream, remote, conn.clone(), router, limits, stopping).await;
                            registry.remove(conn.id);
                        });
                    }
                    None => {
                        drop(stream);
                        warn("every connection is serving a request: a new one was refused");
                    }
                },
                Err(error) if is_connection_error(&error) => {}
                Err(error) => {
                    // Out of file descriptors (or memory): free one and try again shortly.
                    tracing::debug!(%error, "cannot accept a connection");
                    warn("cannot accept connections (out of file descriptors?): closing the oldest idle one");
                    registry.evict_oldest_idle();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    tracing::info!("shutting down: finishing running requests");
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still running after the shutdown timeout; stopping anyway");
        connections.abort_all();
    }
}

/// Errors of one connection that was being accepted, not of the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, outlives its limits, is evicted, or the service
/// stops.
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    conn: Arc<Conn>,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Watched::new(stream, conn.clone()));
    let service = Handler {
        router,
        conn: conn.clone(),
        remote,
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // The limits below replace hyper's timer, which would also cut idle keep-alive
        // connections after the header read timeout.
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES)
        // One buffer per write, so that hyper's own error answers arrive whole in
        // `Watched::poll_write`.
        .writev(false)
        .serve_connection(io, service)
        // A websocket (`/graphql/ws`) takes the connection over once answered 101; from
        // then on its own limits apply.
        .with_upgrades();
    tokio::pin!(connection);
    let mut draining = false;
    let mut evicted = false;
    loop {
        if *stopping.borrow() && !draining {
            draining = true;
            // Closes an idle connection at once, a busy one after its response.
            connection.as_mut().graceful_shutdown();
        }
        if conn.state().closing.is_some() && !evicted {
            evicted = true;
            connection.as_mut().graceful_shutdown();
        }
        let deadline = conn.deadline(&limits);
        if deadline.is_some_and(|at| at <= Instant::now()) {
            tracing::debug!(%remote, "closing a connection past its time limit");
            return;
        }
        let wake = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %remote, "connection ended with an error");
                }
                return;
            }
            () = conn.changed.notified() => {}
            () = tokio::time::sleep_until(wake) => {}
            _ = stopping.changed(), if !draining => {}
        }
    }
}

/// What a connection is doing, for its limits and for eviction.
#[derive(Debug)]
struct State {
    /// Requests handed to the router whose response is not ready yet.
    in_flight: usize,
    /// Responses whose body hyper has not finished with.
    responses: usize,
    /// Requests served so far.
    served: u64,
    /// Since when nothing has been running (the connection's start at first).
    idle_since: Instant,
    /// When the first byte of the next request's head arrived.
    head_started: Option<Instant>,
    /// Evicted: to be closed (after [`EVICTION_GRACE`] at most).
    closing: Option<Instant>,
}

/// One open connection.
struct Conn {
    id: u64,
    state: Mutex<State>,
    /// Woken on every change of state that moves a deadline.
    changed: Notify,
}

impl Conn {
    fn new(id: u64) -> Self {
        Self {
            id,
            state: Mutex::new(State {
                in_flight: 0,
                responses: 0,
                served: 0,
                idle_since: Instant::now(),
                head_started: None,
                closing: None,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state());
        self.changed.notify_one();
    }

    /// Neither running a request nor writing a response: closing it loses nothing.
    fn idle(&self) -> bool {
        let state = self.state();
        state.in_flight == 0 && state.responses == 0
    }

    /// When the connection is to be closed unless something happens first; `None` while a
    /// request runs (the request and body timeouts bound that).
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let state = self.state();
        let limit = if state.in_flight > 0 {
            None
        } else if let Some(started) = state.head_started {
            Some(started + limits.header_read_timeout)
        } else if state.served == 0 {
            Some(state.idle_since + limits.header_read_timeout)
        } else {
            Some(state.idle_since + limits.keep_alive_timeout)
        };
        match state.closing {
            Some(since) => {
                let forced = since + EVICTION_GRACE;
                Some(limit.map_or(forced, |at| at.min(forced)))
            }
            None => limit,
        }
    }

    /// Bytes arrived: with nothing running, they begin a request's head.
    fn bytes_read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }
}

/// The open connections, oldest first.
#[derive(Clone, Default)]
struct Registry {
    open: Arc<Mutex<BTreeMap<u64, Arc<Conn>>>>,
    next_id: Arc<AtomicU64>,
}

impl Registry {
    fn open(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Room for a new connection: evicts the oldest idle one when all `max` are open;
    /// `None` when none is idle.
    fn admit(&self, max: usize) -> Option<Arc<Conn>> {
        let mut open = self.open();
        if open.len() >= max && !Self::evict(&mut open) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(id));
        open.insert(id, conn.clone());
        Some(conn)
    }

    fn evict_oldest_idle(&self) -> bool {
        Self::evict(&mut self.open())
    }

    fn evict(open: &mut BTreeMap<u64, Arc<Conn>>) -> bool {
        let Some(id) = open.iter().find(|(_, c)| c.idle()).map(|(id, _)| *id) else {
            return false;
        };
        if let Some(conn) = open.remove(&id) {
            conn.update(|state| state.closing = Some(Instant::now()));
        }
        true
    }

    fn remove(&self, id: u64) {
        self.open().remove(&id);
    }
}

/// The router as one connection's hyper service: it hands every request the peer's
/// address (`ConnectInfo`, which the token endpoint's limits use) and keeps the
/// connection's state.
struct Handler {
    router: Router,
    conn: Arc<Conn>,
    remote: SocketAddr,
}

impl hyper::service::Service<Request<Incoming>> for Handler {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let running = Running::start(self.conn.clone());
        let mut router = self.router.clone();
        Box::pin(async move {
            let Ok(response) = tower::Service::call(&mut router, request).await;
            let writing = running.finish();
            Ok(response.map(|body| {
                Body::new(Tracked {
                    body,
                    _writing: writing,
                })
            }))
        })
    }
}

/// A request running in the router; dropped unfinished when its connection is lost.
struct Running(Option<Arc<Conn>>);

impl Running {
    fn start(conn: Arc<Conn>) -> Self {
        conn.update(|state| {
            state.in_flight += 1;
            state.served += 1;
            state.head_started = None;
        });
        Self(Some(conn))
    }

    /// The response is ready: hyper writes it now.
    fn finish(mut self) -> Writing {
        let conn = self.0.take();
        if let Some(conn) = &conn {
            conn.update(|state| {
                state.in_flight = state.in_flight.saturating_sub(1);
                state.responses += 1;
                state.idle_since = Instant::now();
            });
        }
        Writing(conn)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            conn.update(|state| {
                state.in_flight = state.in_flight.saturating_sub(1);
                state.idle_since = Instant::now();
            });
        }
    }
}

/// A response hyper is writing; dropped when it is done with the body.
struct Writing(Option<Arc<Conn>>);

impl Drop for Writing {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            conn.update(|state| {
                state.responses = state.responses.saturating_sub(1);
                state.idle_since = Instant::now();
            });
        }
    }
}

/// A response body that tells its connection when hyper is done with it.
struct Tracked {
    body: Body,
    /// Held for its drop.
    _writing: Writing,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, noting when a request's head begins, and giving hyper's own error answers
/// a problem document.
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
    /// Bytes written in place of what hyper wrote, and how many of them are out.
    replacement: Vec<u8>,
    sent: usize,
}

impl Watched {
    fn new(stream: TcpStream, conn: Arc<Conn>) -> Self {
        Self {
            stream,
            conn,
            replacement: Vec::new(),
            sent: 0,
        }
    }

    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.replacement.len() {
            let n =
                ready!(Pin::new(&mut self.stream).poll_write(cx, &self.replacement[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.replacement.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.bytes_read();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        // With no request running and no response being written, what hyper writes is its
        // own answer to a request it could not read.
        if this.conn.idle()
            && let Some(answer) = problem_answer(buf)
        {
            this.replacement = answer;
            this.sent = 0;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

/// hyper's answer to a request it could not read (`head`: a status line and header fields
/// with `content-length: 0` and none of the router's headers) with a problem document as
/// its body; `None` for anything else.
fn problem_answer(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?
        .get(..3)?
        .parse::<u16>()
        .ok()?;
    let fields: Vec<&str> = lines.collect();
    let named = |field: &str, name: &str| {
        field
            .split_once(':')
            .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
    };
    let empty = fields.iter().any(|f| {
        named(f, "content-length") && f.split_once(':').is_some_and(|(_, v)| v.trim() == "0")
    });
    if !empty
        || fields
            .iter()
            .any(|f| named(f, "api-version") || named(f, "content-type"))
    {
        return None;
    }
    let limit = MAX_HEAD_BYTES / 1024;
    let (code, detail) = match status {
        400 => (
            "bad_request",
            "the request could not be read: its request line, method, URL or a header field is malformed".to_owned(),
        ),
        414 => (
            "uri_too_long",
            format!("the URL is too long: the URL and header fields may take {limit} KiB together"),
        ),
        431 => (
            "request_header_fields_too_large",
            format!("the request's head is too large: the URL and header fields may take {limit} KiB together"),
        ),
        _ => return None,
    };
    let body = serde_json::to_vec(&Problem::new(
        StatusCode::from_u16(status).ok()?,
        code,
        detail,
    ))
    .ok()?;
    let mut answer = format!("{status_line}\r\n");
    for field in fields
        .iter()
        .filter(|f| !named(f, "content-length") && !named(f, "connection"))
    {
        answer.push_str(field);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!(
        "content-type: application/problem+json\r\ncontent-length: {}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::problem_answer;

    #[test]
    fn only_hypers_empty_error_answers_get_a_problem_body() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(problem_answer(hyper).expect("an answer")).expect("text");
        assert!(
            answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"),
            "{answer}"
        );
        assert!(
            answer.contains("content-type: application/problem+json"),
            "{answer}"
        );
        assert!(!answer.contains("content-length: 0\r\n"), "{answer}");
        let body = answer.split_once("\r\n\r\n").expect("a body").1;
        let problem: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(
            (problem["status"].as_u64(), problem["code"].as_str()),
            (Some(414), Some("uri_too_long"))
        );
        for other in [
            &b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\napi-version: 0.1.0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n{}",
            b"0\r\n\r\n",
        ] {
            assert!(problem_answer(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
    }
}
