//! The request body's deadline: a client gets `--body-read-timeout` from the end of a
//! request's head to send its body, however it trickles in. A body that does not arrive in
//! time is the client's doing, so it is answered 408 (problem+json), not the 503 of a
//! service too slow, and the connection is closed (the rest of the body is never read).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;

use crate::error::Problem;

/// Marks the answer of a request that ran past the request timeout.
#[derive(Debug, Clone, Copy)]
pub struct TimedOut;

/// How far a request's body got.
#[derive(Debug, Default)]
struct Progress {
    /// The handler began reading it.
    reading: AtomicBool,
    /// It arrived whole.
    finished: AtomicBool,
    /// Its deadline passed first.
    late: AtomicBool,
}

/// Gives the request's body a deadline; answers 408 when it passed, or when the request
/// timed out while the body was still arriving.
pub async fn deadline(timeout: Duration, request: Request, next: Next) -> Response {
    if http_body::Body::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let progress = Arc::new(Progress::default());
    let request = request.map(|body| {
        Body::new(Deadline {
            body,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            progress: progress.clone(),
        })
    });
    let response = next.run(request).await;
    let still_arriving =
        progress.reading.load(Ordering::Acquire) && !progress.finished.load(Ordering::Acquire);
    if progress.late.load(Ordering::Acquire)
        || (still_arriving && response.extensions().get::<TimedOut>().is_some())
    {
        let mut response = Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request's body did not arrive within {} of its head; send it at once",
                humantime::format_duration(timeout)
            ),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    response
}

/// The body's deadline passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct Late;

/// A request body that fails once its deadline has passed.
struct Deadline {
    body: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    progress: Arc<Progress>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        this.progress.reading.store(true, Ordering::Release);
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.progress.late.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(Late))));
        }
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            this.progress.finished.store(true, Ordering::Release);
        } else if frame.is_ready() && this.body.is_end_stream() {
            this.progress.finished.store(true, Ordering::Release);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
