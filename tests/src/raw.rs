//! HTTP/1.1 spoken by hand over a `TcpStream`, for the hostile-client tests: what no
//! well-behaved client library would send (a trickled body, both `Content-Length` and
//! `Transfer-Encoding`), and reads that say exactly when the gateway answered and when it
//! closed the connection.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 answer read off a raw connection.
#[derive(Debug)]
pub struct Answer {
    /// Its status code.
    pub status: u16,
    /// The status line and headers, lowercased.
    pub head: String,
    /// The body, parsed as JSON.
    pub body: Value,
}

/// Connects to `addr` (`host:port`) without Nagle, so that each write leaves at once.
pub async fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Reads (a stream or its read half) until the peer closes the connection (or resets it), for at
/// most `within`; what it sent.
pub async fn read_to_close(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut piece = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut piece)).await {
            Err(_) => panic!("the gateway did not close the connection within {within:?}"),
            Ok(Ok(0) | Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&piece[..n]),
        }
    }
}

/// Reads one answer (`content-length` framed, JSON body) within `within`.
pub async fn read_response(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> Answer {
    let mut buffer = Vec::new();
    let mut piece = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + within;
    let mut read = async |buffer: &mut Vec<u8>| {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut piece))
            .await
            .unwrap_or_else(|_| panic!("no answer within {within:?}"))
            .expect("read");
        assert!(n > 0, "the connection closed before the answer ended");
        buffer.extend_from_slice(&piece[..n]);
    };
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        read(&mut buffer).await;
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a content-length");
    while buffer.len() < head_end + length {
        read(&mut buffer).await;
    }
    let body = serde_json::from_slice(&buffer[head_end..head_end + length]).expect("JSON body");
    Answer { status, head, body }
}

/// [`read_response`]'s status and body.
pub async fn read_answer(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> (u16, Value) {
    let answer = read_response(stream, within).await;
    (answer.status, answer.body)
}
