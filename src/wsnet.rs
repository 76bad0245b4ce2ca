//! A WebSocket over TCP or TLS, split into a read half and a write half, shared by the
//! client transport (`conn::ws`) and the simulator's WebSocket port (`sim::ws`).
//!
//! tungstenite's blocking `WebSocket` needs `&mut` for reading and writing alike, but a
//! connection reads on one thread and writes from many. So one socket carries two
//! `WebSocket` values: the reader's (handshake, incoming frames, automatic Pong and Close
//! replies) and the writers' (outgoing frames only). Both write through one
//! [`LinkWriter`], which writes each buffer whole under a lock, so frames never
//! interleave. With TLS the rustls state sits behind a mutex that is held only to feed or
//! drain it, never while blocked on the socket: the reader waits for bytes without any
//! lock, and a writer holds the socket-write lock (taken before the TLS lock is
//! released, so records go out in order) while its bytes go out.
//!
//! The reader's own writes (Pong, Close) never wait for another thread's write: they
//! report `WouldBlock` instead, and tungstenite retries them on the next read.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::WebSocket;

/// The rustls crypto provider of ftapi's TLS (the `wss://` client transport and the
/// simulator's `wss` port): the process-wide default when the application installed one
/// (`rustls::crypto::CryptoProvider::install_default`, e.g. aws-lc-rs for its post-quantum
/// key exchange), otherwise *ring*, the provider ftapi enables (it needs no C toolchain
/// beyond ring's). rustls 0.23.48 deprecates its *ring* provider because it has no
/// post-quantum key exchange; ftapi keeps it as the fallback on purpose, and says so here
/// rather than passing the warning on to every crate that builds ftapi.
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    if let Some(installed) = rustls::crypto::CryptoProvider::get_default() {
        return installed.clone();
    }
    #[allow(deprecated)] // the fallback above, chosen on purpose
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Bytes asked from the socket per read.
const READ_CHUNK: usize = 64 * 1024;

/// What the two halves share.
struct Link {
    /// Used for writes and shutdown.
    sock: TcpStream,
    /// The TLS state, `None` for plain `ws`.
    tls: Mutex<Option<rustls::Connection>>,
    /// Held while bytes are written to the socket.
    wsock: Mutex<()>,
}

/// The write half. `may_wait == false` is the reader's own copy, which reports
/// `WouldBlock` rather than waiting for another writer.
pub(crate) struct LinkWriter {
    link: Arc<Link>,
    may_wait: bool,
}

impl LinkWriter {
    fn write_locked(&self, buf: &[u8]) -> io::Result<()> {
        let mut tls = self.link.tls.lock();
        let wsock = if self.may_wait {
            self.link.wsock.lock()
        } else {
            match self.link.wsock.try_lock() {
                Some(g) => g,
                None => return Err(io::ErrorKind::WouldBlock.into()),
            }
        };
        match tls.as_mut() {
            None => {
                drop(tls);
                (&self.link.sock).write_all(buf)?;
            }
            Some(conn) => {
                // rustls takes at most its buffer limit per write: seal and drain in turns.
                let mut records = Vec::with_capacity(buf.len() + 64);
                let mut rest = buf;
                while !rest.is_empty() {
                    let n = conn.writer().write(rest)?;
                    while conn.wants_write() {
                        conn.write_tls(&mut records)?;
                    }
                    if n == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    rest = &rest[n..];
                }
                // Records are sealed in order; the socket lock (already held) keeps them
                // in order on the wire, so the TLS state can be released now.
                drop(tls);
                (&self.link.sock).write_all(&records)?;
            }
        }
        drop(wsock);
        Ok(())
    }
}

impl Write for LinkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_locked(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The read half, owned by one thread.
pub(crate) struct LinkReader {
    link: Arc<Link>,
    /// A clone of the socket for reading.
    sock: TcpStream,
    /// TLS bytes read but not yet fed to rustls.
    raw: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl Read for LinkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut tls = self.link.tls.lock();
                let Some(conn) = tls.as_mut() else {
                    drop(tls);
                    return (&self.sock).read(out);
                };
                match conn.reader().read(out) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if self.eof {
                    return Ok(0);
                }
                if self.pos < self.raw.len() {
                    let mut rest = &self.raw[self.pos..];
                    let fed = conn.read_tls(&mut rest);
                    let processed = match fed {
                        Ok(n) => {
                            self.pos += n;
                            conn.process_new_packets()
                                .map(|_| ())
                                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
                        }
                        Err(e) => Err(e),
                    };
                    // Alerts and key updates produced by the records just processed.
                    if conn.wants_write() {
                        let mut records = Vec::new();
                        while conn.wants_write() {
                            if conn.write_tls(&mut records).is_err() {
                                break;
                            }
                        }
                        let _guard = self.link.wsock.lock();
                        drop(tls);
                        let _ = (&self.link.sock).write_all(&records);
                    }
                    processed?;
                    continue;
                }
            }
            self.raw.resize(READ_CHUNK, 0);
            self.pos = 0;
            let n = match (&self.sock).read(&mut self.raw) {
                Ok(n) => n,
                Err(e) => {
                    self.raw.clear();
                    return Err(e);
                }
            };
            self.raw.truncate(n);
            if n == 0 {
                self.eof = true;
                let mut tls = self.link.tls.lock();
                if let Some(conn) = tls.as_mut() {
                    let _ = conn.read_tls(&mut io::empty());
                    let _ = conn.process_new_packets();
                    return match conn.reader().read(out) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                        other => other,
                    };
                }
                return Ok(0);
            }
        }
    }
}

/// The reader's stream: reads from the socket, writes (Pong, Close) without waiting.
pub(crate) struct ReadSide {
    reader: LinkReader,
    writer: LinkWriter,
}

impl Read for ReadSide {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Write for ReadSide {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The writers' stream: writes only (a read would be a bug; it reports `WouldBlock`).
pub(crate) struct WriteSide(LinkWriter);

impl Read for WriteSide {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for WriteSide {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Splits a connected socket (after the TLS handshake, if any) into the reader's stream
/// and the writers' stream. The socket's read timeout becomes the reader's tick.
pub(crate) fn split(sock: TcpStream, tls: Option<rustls::Connection>) -> io::Result<(ReadSide, WriteSide)> {
    let read_sock = sock.try_clone()?;
    let link = Arc::new(Link { sock, tls: Mutex::new(tls), wsock: Mutex::new(()) });
    let reader = LinkReader { link: link.clone(), sock: read_sock, raw: Vec::new(), pos: 0, eof: false };
    let read_side = ReadSide { reader, writer: LinkWriter { link: link.clone(), may_wait: false } };
    Ok((read_side, WriteSide(LinkWriter { link, may_wait: true })))
}

/// Runs the TLS handshake on `sock` until it completes, `deadline` passes or `abort`
/// says so (the socket's read timeout paces the checks).
pub(crate) fn tls_handshake(
    sock: &mut TcpStream,
    conn: &mut rustls::Connection,
    deadline: Instant,
    abort: &dyn Fn() -> bool,
) -> io::Result<()> {
    while conn.is_handshaking() {
        if Instant::now() >= deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"));
        }
        if abort() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "TLS handshake abandoned"));
        }
        match conn.complete_io(sock) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
    }
    // Session tickets and the like, sent right after the handshake.
    while conn.wants_write() {
        conn.write_tls(sock)?;
    }
    Ok(())
}

/// A WebSocket over the writers' stream, sharing the reader's configuration.
pub(crate) fn write_socket(side: WriteSide, role: Role, config: WebSocketConfig) -> WebSocket<WriteSide> {
    WebSocket::from_raw_socket(side, role, Some(config))
}

/// Maps a tungstenite error to `io::Error` (timeouts stay `WouldBlock`/`TimedOut`).
pub(crate) fn ws_io_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::ConnectionAborted, "WebSocket closed")
        }
        other => io::Error::other(other.to_string()),
    }
}
