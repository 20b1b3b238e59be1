//! Requests framed two ways: an HTTP/1.1 head with both `Content-Length` and
//! `Transfer-Encoding`, the shape of request smuggling (a proxy in front that believes the
//! length and a server that believes the chunks disagree on where the next request starts).
//! RFC 9112 §6.1 lets a server refuse such a request and requires it to close the connection.
//!
//! hyper follows `Transfer-Encoding` and closes the connection afterwards, but it drops the
//! `Content-Length` header before the request reaches the app, so the app cannot see that the
//! request was ambiguous. [`Scanned`] therefore reads the bytes hyper reads and [`HeadScan`]
//! looks for heads in them: from the end of a request line (`HTTP/1.x` and a line end) to the
//! empty line, noting the header names. It does not follow bodies: a body that itself holds a
//! request line and both headers (a smuggled request, in practice) counts as a head, which
//! errs on the side of refusing. Once a connection has sent such a head, every HTTP/1 request
//! on it carries [`AmbiguousFraming`] and the connection closes after answering it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::activity::Activity;

/// Marks a request that came on a connection whose client sent a head with both
/// `Content-Length` and `Transfer-Encoding`; the app refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmbiguousFraming;

/// The longest header name the scan needs to recognise (`transfer-encoding`).
const NAME_MAX: usize = 17;
/// The most bytes of a line the scan keeps to recognise `HTTP/1.1` at its end.
const MARKER_MAX: usize = 9;

/// Looks for request heads in a connection's bytes, read after read.
#[derive(Debug)]
pub(super) struct HeadScan {
    state: State,
    /// The last bytes of the current line, when a read ends inside it.
    tail: [u8; MARKER_MAX],
    tail_len: usize,
    /// Whether the head being read has named `Content-Length` and `Transfer-Encoding`.
    length: bool,
    chunked: bool,
    /// A head with both was seen on this connection.
    ambiguous: bool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// The first bytes: HTTP/2's preface (`PRI * HTTP/2.0`) ends the scan.
    Preface { matched: usize },
    /// Between heads: looking for the end of a request line.
    Searching,
    /// In a head, in a header line: its name so far (`name_len` bytes of `name`, while
    /// `in_name`) and whether the line is empty so far.
    Head {
        name: [u8; NAME_MAX],
        name_len: usize,
        in_name: bool,
        empty: bool,
    },
    /// HTTP/2: nothing to look for.
    Off,
}

const PREFACE: &[u8] = b"PRI ";

impl Default for HeadScan {
    fn default() -> Self {
        Self {
            state: State::Preface { matched: 0 },
            tail: [0; MARKER_MAX],
            tail_len: 0,
            length: false,
            chunked: false,
            ambiguous: false,
        }
    }
}

impl HeadScan {
    /// Scans the next bytes the connection received; answers whether a head with both
    /// `Content-Length` and `Transfer-Encoding` has been seen so far.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            bytes = match self.state {
                State::Off => return self.ambiguous,
                State::Preface { matched } => self.preface(matched, bytes),
                State::Searching => self.search(bytes),
                State::Head { .. } => self.head(bytes),
            };
        }
        self.ambiguous
    }

    fn preface<'a>(&mut self, matched: usize, bytes: &'a [u8]) -> &'a [u8] {
        let want = &PREFACE[matched..];
        let n = want.len().min(bytes.len());
        if bytes[..n] != want[..n] {
            // HTTP/1: the bytes matched so far start its request line; none is a line end.
            self.remember(&PREFACE[..matched]);
            self.state = State::Searching;
            return bytes;
        }
        self.state = if matched + n == PREFACE.len() {
            State::Off
        } else {
            State::Preface {
                matched: matched + n,
            }
        };
        &bytes[n..]
    }

    fn search<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some(at) = memchr::memchr(b'\n', bytes) else {
            self.remember(bytes);
            return &[];
        };
        self.remember(&bytes[..at]);
        let line = &self.tail[..self.tail_len];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let [.., b'H', b'T', b'T', b'P', b'/', b'1', b'.', digit] = line
            && digit.is_ascii_digit()
        {
            self.state = State::Head {
                name: [0; NAME_MAX],
                name_len: 0,
                in_name: true,
                empty: true,
            };
            self.length = false;
            self.chunked = false;
        }
        self.tail_len = 0;
        &bytes[at + 1..]
    }

    fn head<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let State::Head {
            mut name,
            mut name_len,
            mut in_name,
            mut empty,
        } = self.state
        else {
            return bytes;
        };
        let mut i = 0;
        while i < bytes.len() {
            if !in_name {
                // A value, or a name longer than any of interest (so the line is not empty):
                // nothing in it matters up to the line end, found a word at a time.
                let Some(end) = memchr::memchr(b'\n', &bytes[i..]) else {
                    break;
                };
                (name_len, in_name, empty) = (0, true, true);
                i += end + 1;
                continue;
            }
            let byte = bytes[i];
            i += 1;
            match byte {
                b'\n' if empty => {
                    // The empty line: the head is complete.
                    self.ambiguous |= self.length && self.chunked;
                    self.state = State::Searching;
                    self.tail_len = 0;
                    return &bytes[i..];
                }
                b'\n' => (name_len, in_name, empty) = (0, true, true),
                b'\r' => {}
                b':' => {
                    let header = &name[..name_len];
                    self.length |= header.eq_ignore_ascii_case(b"content-length");
                    self.chunked |= header.eq_ignore_ascii_case(b"transfer-encoding");
                    (in_name, empty) = (false, false);
                }
                _ => {
                    empty = false;
                    if name_len < NAME_MAX {
                        name[name_len] = byte;
                        name_len += 1;
                    } else {
                        // Longer than any name of interest: skip to the line end.
                        in_name = false;
                    }
                }
            }
        }
        self.state = State::Head {
            name,
            name_len,
            in_name,
            empty,
        };
        &[]
    }

    /// Keeps the last [`MARKER_MAX`] bytes of the current line, `bytes` appended.
    fn remember(&mut self, bytes: &[u8]) {
        if bytes.len() >= MARKER_MAX {
            self.tail
                .copy_from_slice(&bytes[bytes.len() - MARKER_MAX..]);
            self.tail_len = MARKER_MAX;
            return;
        }
        let keep = (MARKER_MAX - bytes.len()).min(self.tail_len);
        self.tail
            .copy_within(self.tail_len - keep..self.tail_len, 0);
        self.tail[keep..keep + bytes.len()].copy_from_slice(bytes);
        self.tail_len = keep + bytes.len();
    }
}

/// A connection's transport, with what it receives scanned for heads framed two ways; the
/// connection's [`Activity`] learns of one as soon as it has been read, before hyper parses it.
#[derive(Debug)]
pub(super) struct Scanned<I> {
    inner: I,
    scan: HeadScan,
    activity: Arc<Activity>,
}

impl<I> Scanned<I> {
    pub(super) fn new(inner: I, activity: Arc<Activity>) -> Self {
        Self {
            inner,
            scan: HeadScan::default(),
            activity,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Scanned<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && this.scan.feed(&buf.filled()[before..])
        {
            this.activity.framing_was_ambiguous();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Scanned<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `size`; whether the scan found a head framed two ways.
    fn scan_in_pieces(bytes: &[u8], size: usize) -> bool {
        let mut scan = HeadScan::default();
        let mut found = false;
        for piece in bytes.chunks(size) {
            found = scan.feed(piece);
        }
        found
    }

    fn scan(bytes: &[u8]) -> bool {
        let whole = scan_in_pieces(bytes, bytes.len().max(1));
        // However the reads split it, the answer is the same.
        for size in [1, 2, 3, 5, 7, 9, 10, 64] {
            assert_eq!(
                scan_in_pieces(bytes, size),
                whole,
                "pieces of {size}: {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        whole
    }

    const CL_TE: &[u8] = b"POST /v1/chat/completions HTTP/1.1\r\nHost: g\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";

    #[test]
    fn a_head_with_both_lengths_is_found_in_either_order_and_case() {
        assert!(scan(CL_TE));
        assert!(scan(
            b"POST / HTTP/1.1\nTRANSFER-ENCODING: chunked\ncontent-length: 3\n\n0\n\n"
        ));
        assert!(scan(
            b"POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\nx: y\r\ncontent-length:0\r\n\r\n"
        ));
    }

    #[test]
    fn heads_framed_one_way_pass() {
        assert!(!scan(
            b"POST / HTTP/1.1\r\nhost: g\r\ncontent-length: 2\r\n\r\n{}"
        ));
        assert!(!scan(
            b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        ));
        assert!(!scan(b"GET /v1/models HTTP/1.1\r\nhost: g\r\n\r\n"));
        // Names that only start or end like the two.
        assert!(!scan(
            b"POST / HTTP/1.1\r\ncontent-length-x: 1\r\nx-transfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n{}"
        ));
        // A name in a value, and a name longer than any of interest, skipped to the line end.
        assert!(!scan(
            b"POST / HTTP/1.1\r\nx-note: transfer-encoding: chunked\r\nx-a-rather-long-header-name: transfer-encoding\r\ncontent-length: 2\r\n\r\n{}"
        ));
        // The two in different heads, one after the other on a keep-alive connection.
        assert!(!scan(
            b"POST / HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
        ));
    }

    #[test]
    fn a_later_head_on_the_connection_is_found_too() {
        let mut bytes = b"POST / HTTP/1.1\r\ncontent-length: 7\r\n\r\n{\"a\":1}".to_vec();
        bytes.extend_from_slice(CL_TE);
        assert!(scan(&bytes));
    }

    #[test]
    fn http2_is_not_scanned() {
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        // A DATA frame's payload that would look like a head to an HTTP/1 scan.
        bytes.extend_from_slice(CL_TE);
        assert!(!scan(&bytes));
        // A method that starts like the preface is still HTTP/1.
        assert!(scan(
            b"PRIX / HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n"
        ));
    }
}
