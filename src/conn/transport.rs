//! The transport seam: how packets reach OpenD and come back.
//!
//! The connection logic (pending requests, keepalive, timeouts) talks to a
//! [`PacketWriter`] and a [`PacketReader`]; [`TcpTransport`] implements them over OpenD's
//! TCP API port with the 44-byte framing and body ciphers of [`crate::codec`]. Another
//! transport (OpenD's WebSocket port frames packets differently) plugs in here.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;

use crate::codec::{open_frame, CodecError, FrameDecoder, FrameHeader, PacketCipher};

/// One received packet: its header and decrypted, SHA-1-verified body.
#[derive(Debug)]
pub struct Packet {
    /// The frame header as received.
    pub header: FrameHeader,
    /// The plaintext body.
    pub body: Vec<u8>,
}

/// What reading produced.
#[derive(Debug)]
pub enum ReadEvent {
    /// A whole packet.
    Packet(Packet),
    /// The read timed out with nothing complete: a tick for timers.
    Idle,
    /// A whole packet arrived but its body did not decrypt or failed the SHA-1 check.
    /// The stream is still in sync, so the connection can go on; the request this
    /// packet answers is failed with `error`.
    BadPacket {
        /// The header of the bad packet.
        header: FrameHeader,
        /// What was wrong with it.
        error: CodecError,
    },
}

/// Why reading stopped for good.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the stream or the socket failed.
    Io(io::Error),
    /// The stream is out of sync (bad magic, body over the limit).
    Codec(CodecError),
}

/// The write half of a transport, shared by every thread that sends.
pub trait PacketWriter: Send + Sync {
    /// Seals one packet and writes it with a single write. `encode` appends the
    /// plaintext protobuf body to the buffer it is given.
    fn send(&self, proto_id: u32, serial: u32, encode: &mut dyn FnMut(&mut Vec<u8>)) -> io::Result<()> {
        self.send_wiping(proto_id, serial, false, encode)
    }
    /// Like `send`; with `wipe`, every buffer that held the body is zeroed afterwards
    /// (for requests that carry secrets).
    fn send_wiping(
        &self,
        proto_id: u32,
        serial: u32,
        wipe: bool,
        encode: &mut dyn FnMut(&mut Vec<u8>),
    ) -> io::Result<()>;
    /// Like `send`, but only if no other thread is writing right now: returns `None`
    /// instead of waiting. The reader thread sends KeepAlive this way, so a request
    /// blocked in a slow write never keeps the reader from reading replies.
    fn try_send(&self, proto_id: u32, serial: u32, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Option<io::Result<()>>;
    /// Installs the cipher negotiated by InitConnect for all later packets.
    fn set_session_cipher(&self, cipher: PacketCipher);
    /// Closes both directions; a blocked reader wakes up with an error or end of stream.
    fn shutdown(&self);
}

/// The read half, owned by the reader thread alone.
pub trait PacketReader: Send {
    /// Waits up to the transport's tick for the next packet.
    fn read_packet(&mut self) -> Result<ReadEvent, ReadError>;
    /// Installs the cipher negotiated by InitConnect for all later packets.
    fn set_session_cipher(&mut self, cipher: PacketCipher);
}

/// OpenD's TCP transport.
pub struct TcpTransport;

/// Socket options of a [`TcpTransport`] connection.
#[derive(Debug, Clone)]
pub struct TcpOptions {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Read timeout used as the timer tick of the reader thread.
    pub tick: Duration,
    /// A write blocked longer than this fails (the connection is then torn down).
    pub write_timeout: Duration,
    /// Largest body accepted from the peer.
    pub max_body_len: u32,
    /// Bytes read per `read` call.
    pub read_chunk: usize,
}

impl TcpTransport {
    /// Connects to `host:port` and returns the two halves. `init_cipher` seals and opens
    /// the InitConnect exchange (RSA or plain); everything after uses the cipher set with
    /// `set_session_cipher`.
    pub fn connect(
        host: &str,
        port: u16,
        opts: &TcpOptions,
        init_cipher: PacketCipher,
    ) -> io::Result<(TcpWriter, TcpReader)> {
        let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, format!("no address for {host}"));
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, opts.connect_timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(opts.tick))?;
                    stream.set_write_timeout(Some(opts.write_timeout))?;
                    let read_half = stream.try_clone()?;
                    let writer = TcpWriter {
                        stream,
                        write_lock: Mutex::new(()),
                        init_cipher: init_cipher.clone(),
                        session: OnceLock::new(),
                    };
                    let reader = TcpReader {
                        stream: read_half,
                        decoder: FrameDecoder::with_max_body_len(opts.max_body_len),
                        cipher: init_cipher,
                        chunk: opts.read_chunk.max(4096),
                    };
                    return Ok((writer, reader));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// The write half of a TCP connection.
pub struct TcpWriter {
    stream: TcpStream,
    write_lock: Mutex<()>,
    init_cipher: PacketCipher,
    session: OnceLock<PacketCipher>,
}

impl PacketWriter for TcpWriter {
    fn send_wiping(
        &self,
        proto_id: u32,
        serial: u32,
        wipe: bool,
        encode: &mut dyn FnMut(&mut Vec<u8>),
    ) -> io::Result<()> {
        let cipher = self.session.get().unwrap_or(&self.init_cipher);
        // Seal (hash, encrypt) before taking the lock: only the write itself is serialized.
        let mut packet = seal(proto_id, serial, cipher, wipe, encode)?;
        let res = {
            let _guard = self.write_lock.lock();
            io::Write::write_all(&mut &self.stream, &packet)
        };
        if wipe {
            zeroize::Zeroize::zeroize(&mut packet);
        }
        res
    }

    fn try_send(&self, proto_id: u32, serial: u32, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Option<io::Result<()>> {
        let _guard = self.write_lock.try_lock()?;
        let cipher = self.session.get().unwrap_or(&self.init_cipher);
        Some(seal(proto_id, serial, cipher, false, encode).and_then(|p| io::Write::write_all(&mut &self.stream, &p)))
    }

    fn set_session_cipher(&self, cipher: PacketCipher) {
        let _ = self.session.set(cipher);
    }

    fn shutdown(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The read half of a TCP connection.
pub struct TcpReader {
    stream: TcpStream,
    decoder: FrameDecoder,
    cipher: PacketCipher,
    chunk: usize,
}

impl PacketReader for TcpReader {
    fn read_packet(&mut self) -> Result<ReadEvent, ReadError> {
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(ReadError::Codec)? {
                let header = frame.header;
                return Ok(match open_frame(frame, &self.cipher) {
                    Ok(body) => ReadEvent::Packet(Packet { header, body }),
                    Err(error) => ReadEvent::BadPacket { header, error },
                });
            }
            match self.decoder.read_from(&mut ReadHalf(&self.stream), self.chunk) {
                Ok(0) => {
                    return Err(ReadError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed by peer",
                    )))
                }
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(ReadEvent::Idle)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    fn set_session_cipher(&mut self, cipher: PacketCipher) {
        self.cipher = cipher;
    }
}

struct ReadHalf<'a>(&'a TcpStream);

impl Read for ReadHalf<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self.0).read(buf)
    }
}

/// [`codec::seal_with`](crate::codec::seal_with), with a sealing failure as an I/O error.
fn seal(
    proto_id: u32,
    serial: u32,
    cipher: &PacketCipher,
    wipe: bool,
    encode: &mut dyn FnMut(&mut Vec<u8>),
) -> io::Result<Vec<u8>> {
    crate::codec::seal_with(proto_id, serial, cipher, 0, wipe, encode).map_err(io::Error::other)
}
