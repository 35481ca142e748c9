//! What bounds a connection, through the real server on raw sockets: an idle socket, a
//! head trickled in, an idle keep-alive connection and a slow body are cut within their
//! limits; at the connection cap (or out of file descriptors) the oldest idle connection
//! makes room, so `/health/live` keeps answering; requests hyper cannot read are answered
//! with problems; past the concurrent-request limit a request is answered 503 at once
//! while the health checks answer.

use std::time::{Duration, Instant};

use serde_json::Value;
use tests::{Backend, TestApp, TestDb, both_backends};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::process::Process;

/// Reads until the peer closes the connection; how long that took, and what was read.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => panic!(
                "still open after {limit:?}; read {:?}",
                String::from_utf8_lossy(&seen)
            ),
            Ok(Ok(0) | Err(_)) => return (started.elapsed(), seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// One response: its status, its head and its body (by `content-length`).
async fn response(stream: &mut TcpStream) -> (u16, String, String) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().expect("a length"))
        .unwrap_or(0);
    while seen.len() < head_end + length {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("a body in time")
            .expect("read");
        assert!(n > 0, "closed in the body");
        seen.extend_from_slice(&buf[..n]);
    }
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (
        status,
        head,
        String::from_utf8_lossy(&seen[head_end..head_end + length]).into_owned(),
    )
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(1).into()
    })
    .await
    else {
        return;
    };
    let mut idle = connect(&app).await;
    let (after, seen) = until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(3),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_in_a_byte_at_a_time_is_cut_after_the_header_read_timeout() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout = Duration::from_millis(1500).into()
    })
    .await
    else {
        return;
    };
    let stream = connect(&app).await;
    let (mut reader, mut writer) = stream.into_split();
    // Every byte comes well within any idle limit; the head as a whole does not.
    let trickle = tokio::spawn(async move {
        for byte in
            b"GET /health/live HTTP/1.1\r\nhost: leernet\r\nx-slow: aaaaaaaaaaaaaaaa\r\n\r\n"
        {
            if writer.write_all(&[*byte]).await.is_err() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        true
    });
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(6), reader.read(&mut buf))
        .await
        .expect("cut in time");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "no answer, the connection is closed: {read:?}"
    );
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(1300) && after < Duration::from_secs(4),
        "{after:?}"
    );
    assert!(
        !trickle.await.expect("the trickle"),
        "cut before the head was complete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.keep_alive_timeout = Duration::from_secs(1).into();
        c.header_read_timeout = Duration::from_secs(10).into();
    })
    .await
    else {
        return;
    };
    let mut stream = connect(&app).await;
    for _ in 0..2 {
        // Kept alive between requests sent within the limit.
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nhost: leernet\r\n\r\n")
            .await
            .expect("write");
        let (status, _, _) = response(&mut stream).await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (after, seen) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert!(
        after >= Duration::from_millis(500) && after < Duration::from_secs(3),
        "closed after the keep-alive timeout, not the header read timeout: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_the_oldest_idle_connection_makes_room_for_a_health_check() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.max_connections = 8;
        c.header_read_timeout = Duration::from_secs(60).into();
    })
    .await
    else {
        return;
    };
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(connect(&app).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let live = app
        .client
        .get(app.url("/health/live"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("an answer");
    assert_eq!(live.status(), 200);
    let (after, _) = until_closed(&mut idle[0], Duration::from_secs(3)).await;
    assert!(after < Duration::from_secs(3));
    // The others are still open.
    let mut buf = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(200), idle[7].read(&mut buf))
            .await
            .is_err(),
        "the newest idle connection stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_connection_busy_a_new_one_is_refused_until_one_is_free() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.max_connections = 4;
        c.body_read_timeout = Duration::from_secs(5).into();
    })
    .await
    else {
        return;
    };
    // Four requests whose bodies never come: every connection is serving one.
    let mut busy = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&app).await;
        stream.write_all(b"POST /oauth/token HTTP/1.1\r\nhost: leernet\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 40\r\n\r\n").await.expect("write");
        busy.push(stream);
    }
    // Until the server has read every head (a connection whose head it has not read yet is
    // idle, and would make room): time enough on a loaded machine, well within the 5 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let refused = app
        .client
        .get(app.url("/health/live"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(refused.is_err(), "refused at the cap: {refused:?}");
    for stream in &mut busy {
        let (status, _, _) = response(stream).await;
        assert_eq!(status, 408);
    }
    let live = app
        .client
        .get(app.url("/health/live"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("room again");
    assert_eq!(live.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_arrives_too_slowly_is_answered_408() {
    // Whichever strikes first: the body's own deadline, or the request's timeout while the
    // body is still arriving.
    for (body_timeout, request_timeout) in [(1, 30), (30, 1)] {
        let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
            c.body_read_timeout = Duration::from_secs(body_timeout).into();
            c.request_timeout = Duration::from_secs(request_timeout).into();
        })
        .await
        else {
            return;
        };
        let mut stream = connect(&app).await;
        stream.write_all(b"POST /oauth/token HTTP/1.1\r\nhost: leernet\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 29\r\n\r\n").await.expect("write");
        let started = Instant::now();
        let (mut reader, mut writer) = stream.into_split();
        tokio::spawn(async move {
            for byte in b"grant_type=client_credentials" {
                if writer.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let mut seen = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(8), reader.read_to_end(&mut seen))
            .await
            .expect("answered and closed");
        let text = String::from_utf8_lossy(&seen).to_lowercase();
        assert!(
            text.starts_with("http/1.1 408"),
            "body {body_timeout}s, request {request_timeout}s: {text}"
        );
        assert!(
            text.contains("content-type: application/problem+json")
                && text.contains("\"code\":\"request_timeout\""),
            "{text}"
        );
        assert!(text.contains("connection: close"), "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_cannot_read_are_answered_with_problems() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let long = format!(
        "GET /api/v1/themes?q={} HTTP/1.1\r\nhost: leernet\r\n\r\n",
        "a".repeat(200_000)
    );
    for (request, status) in [
        (long.as_bytes(), 431u16),
        (&b"GET /a b c\r\nhost: leernet\r\n\r\n"[..], 400),
        (&b"GET / HTTP/1.1\r\nbad header\r\n\r\n"[..], 400),
    ] {
        let mut stream = connect(&app).await;
        let _ = stream.write_all(request).await;
        let (code, head, body) = response(&mut stream).await;
        assert!(
            code == status || (status == 431 && code == 414),
            "{code}: {head}"
        );
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        let problem: Value = serde_json::from_str(&body).expect("a problem");
        assert_eq!(
            problem["status"].as_u64(),
            Some(u64::from(code)),
            "{problem}"
        );
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{problem}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_service_closes_idle_connections_to_answer_health_checks() {
    let Some(test_db) = TestDb::new(Backend::Sqlite).await else {
        return;
    };
    let mut leernet = Process::start_with_file_limit(
        64,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            &test_db.url,
            "--header-read-timeout",
            "60s",
        ],
    );
    let addr = leernet.wait_for_log("leernet is ready")["addr"]
        .as_str()
        .expect("an address")
        .to_owned();
    let mut idle = Vec::new();
    for _ in 0..120 {
        idle.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    let client = reqwest::Client::new();
    let live = client
        .get(format!("http://{addr}/health/live"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("an answer");
    assert_eq!(live.status(), 200);
    leernet.signal("-TERM");
    let (status, stderr) = leernet.wait();
    assert_eq!(status.code(), Some(0), "{stderr:#?}");
}

both_backends!(
    /// Requests running at once are bounded (`--max-concurrent-requests`): one more is
    /// answered 503 with `Retry-After` at once, not queued, while `/health/live` and
    /// `/health/ready` answer; a request finishing makes room.
    async fn past_the_concurrent_request_limit_a_request_is_refused_at_once(backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| {
            c.max_concurrent_requests = 2;
            c.body_read_timeout = Duration::from_secs(60).into();
        })
        .await
        else {
            return;
        };
        // Two requests whose bodies have not come: both are running.
        async fn running(app: &TestApp) -> TcpStream {
            let mut stream = connect(app).await;
            stream.write_all(b"POST /oauth/token HTTP/1.1\r\nhost: leernet\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 29\r\n\r\ngrant_type=").await.expect("write");
            stream
        }
        let mut busy = vec![running(&app).await, running(&app).await];
        // Until the server has taken both heads in (on a loaded machine, a while).
        let mut refused = None;
        let mut seen = Vec::new();
        for _ in 0..300 {
            // A head that arrived while a probe below was running was itself refused (the
            // probe held the second place): it is sent again.
            for stream in &mut busy {
                let mut first = [0u8; 1];
                if let Ok(Ok(_)) =
                    tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut first)).await
                {
                    *stream = running(&app).await;
                }
            }
            let response = app.client.get(app.url("/api/v1/themes")).send().await.expect("an answer");
            if response.status() == 503 {
                refused = Some(response);
                break;
            }
            seen.push(response.status().as_u16());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let refused = refused.unwrap_or_else(|| panic!("a request past the limit is refused; seen {seen:?}"));
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(refused.headers()["content-type"], "application/problem+json");
        let problem: Value = refused.json().await.expect("a problem");
        assert_eq!(problem["code"], "overloaded", "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("--max-concurrent-requests")), "{problem}");
        for path in ["/health/live", "/health/ready"] {
            let health = app.client.get(app.url(path)).send().await.expect("health");
            assert_eq!(health.status(), 200, "{path}");
        }
        // The two finish (their bodies come): room again.
        for stream in &mut busy {
            stream.write_all(b"client_credentials").await.expect("write");
            let (status, _, _) = response(stream).await;
            assert_ne!(status, 503);
        }
        let again = app.client.get(app.url("/api/v1/themes")).send().await.expect("an answer");
        assert_ne!(again.status(), 503);
    }
);
