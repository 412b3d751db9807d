//! The HTTP listener: accepts connections with a cap on how many are open, closes connections
//! that send their headers too slowly (slowloris) or sit idle between requests, and on
//! shutdown stops accepting and lets requests in flight finish.
//!
//! A service gets 1,024 file descriptors by default; without a cap, idle connections alone
//! exhaust them and the API stops answering.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// A client must send a request's headers within this time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the polite refusal of a connection beyond the cap may take to write.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// Header bytes accepted per request; more is refused by the HTTP parser.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The answer to a connection beyond the cap: the same JSON error body as every other answer.
fn refusal() -> Vec<u8> {
    let body = r#"{"success":false,"error":"too many connections; retry in a moment"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Limits of the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    pub max_connections: usize,
    /// A new connection, and a kept-alive one between two requests, must send complete
    /// request headers within this time: it is the slowloris limit and the idle limit.
    pub header_read_timeout: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// Serves `router` until `shutdown` is cancelled, then stops accepting, lets each connection
/// finish the request it is serving and returns once every connection is closed (or after
/// `drain_limit`). Requests see the client's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: CancellationToken,
    drain_limit: Duration,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    loop {
        let (stream, remote) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_per_connection_error(&error) => {
                    tracing::debug!(%error, "accept failed for one connection");
                    continue;
                }
                Err(error) if is_resource_exhaustion(&error) => {
                    // Out of descriptors: wait for connections to close instead of spinning.
                    tracing::warn!(%error, "cannot accept connections right now");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(error) => return Err(error),
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            connections.spawn(refuse(stream));
            continue;
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            serve_connection(stream, remote, router, limits, shutdown).await;
            drop(permit);
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(drain_limit, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "HTTP connections still open at the end of the shutdown limit"
        );
    }
    Ok(())
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        let _ = stream.write_all(&refusal()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    limits: ListenerLimits,
    shutdown: CancellationToken,
) {
    // Answers go out as soon as they are written, not held back for the client's ACK of
    // the previous segment (Nagle), which stalls keep-alive clients on every larger body.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%remote, %error, "cannot disable Nagle's algorithm");
    }
    let io = TokioIo::new(JsonRefusals {
        inner: stream,
        replacing: None,
    });
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // hyper arms this timer whenever it waits for a request head: on a new connection
        // and between two requests of a kept-alive one.
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES.max(8192))
        .keep_alive(true);
    let mut connection = pin!(builder.serve_connection(io, service));
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%remote, %error, "HTTP connection ended with an error");
    }
}

/// A stream that gives the HTTP parser's own refusals (400 for a malformed request, 414,
/// 431) the JSON error body every other answer has: the parser writes those before any of
/// our code runs, with an empty body.
struct JsonRefusals {
    inner: TcpStream,
    /// A refusal being written in place of the parser's bare one: the bytes, how many are
    /// written, and the length of the bare answer it stands for.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

/// The JSON version of a bare parser refusal, if `written` is one.
fn with_json_body(written: &[u8]) -> Option<Vec<u8>> {
    let head = written.strip_suffix(b"\r\n\r\n")?;
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    if !matches!(status, 400 | 414 | 431) {
        return None;
    }
    let headers: Vec<&str> = lines.collect();
    let bare = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"))
        && !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("content-type"));
    if !bare {
        return None;
    }
    let reason = status_line
        .get(13..)
        .unwrap_or("bad request")
        .to_ascii_lowercase();
    let body = serde_json::json!({ "success": false, "error": reason }).to_string();
    let mut answer = format!("{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for header in headers
        .iter()
        .filter(|h| !h.eq_ignore_ascii_case("content-length: 0"))
    {
        answer.push_str(header);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    Some(answer.into_bytes())
}

impl AsyncRead for JsonRefusals {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for JsonRefusals {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.replacing.is_none() {
            if let Some(answer) = with_json_body(data) {
                self.replacing = Some((answer, 0, data.len()));
            }
        }
        if let Some((answer, mut written, stands_for)) = self.replacing.take() {
            while written < answer.len() {
                match std::pin::Pin::new(&mut self.inner).poll_write(cx, &answer[written..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Ok(0)),
                    Poll::Ready(Ok(count)) => written += count,
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => {
                        self.replacing = Some((answer, written, stands_for));
                        return Poll::Pending;
                    }
                }
            }
            return Poll::Ready(Ok(stands_for));
        }
        std::pin::Pin::new(&mut self.inner).poll_write(cx, data)
    }

    /// Vectored writes spare hyper copying every response body into its own buffer first.
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let mut filled = buffers.iter().filter(|buffer| !buffer.is_empty());
        // A refusal of the parser is a head alone, in one buffer.
        if let (Some(only), None) = (filled.next(), filled.next()) {
            if self.replacing.is_some() || with_json_body(only).is_some() {
                return self.poll_write(cx, only);
            }
        }
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn is_per_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    )
}

fn is_resource_exhaustion(error: &std::io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the process or system is out of something for now.
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_parser_refusal_gets_the_json_body() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 30 Nov 2026 04:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(with_json_body(bare).expect("replaced")).expect("text");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains("date: Mon, 30 Nov 2026 04:00:00 GMT"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"], "request header fields too large");
    }

    #[test]
    fn answers_of_our_own_are_left_alone() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(with_json_body(ours), None);
        let success = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(with_json_body(success), None);
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(with_json_body(with_body), None);
    }
}
