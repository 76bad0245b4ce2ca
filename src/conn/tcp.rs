//! OpenD's TCP API port: the 44-byte header, SHA-1, RSA for InitConnect, AES after it,
//! and the InitConnect login itself.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use prost::Message;

use super::failure::{ConnFailure, InitFailKind, SocketFailKind};
use super::outbox::Outbox;
use super::transport::{Incoming, InitInfo, Link, Liveness, OpenContext, PacketReceiver, PacketSender, Transport};
use crate::codec::{decode_body, open_frame, AesMode, FrameDecoder, FrameHeader, PacketCipher, RsaKey};
use crate::error::Error;
use crate::pb::{self, init_connect, Protocol};

/// OpenD's TCP transport: connects to `host:port` and runs InitConnect, plain or
/// RSA-encrypted (then AES as OpenD chooses).
#[derive(Clone)]
pub struct TcpTransport {
    host: String,
    port: u16,
    encrypt: bool,
    rsa_key: Option<RsaKey>,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("encrypt", &self.encrypt)
            .field("rsa_key", &self.rsa_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl TcpTransport {
    /// A transport to `host:port`. With `encrypt`, `rsa_key` must be the key OpenD is
    /// configured with (else opening fails with "RSA key not set").
    pub fn new(host: &str, port: u16, encrypt: bool, rsa_key: Option<RsaKey>) -> TcpTransport {
        TcpTransport { host: host.to_string(), port, encrypt, rsa_key }
    }
}

impl Transport for TcpTransport {
    fn peer(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn open(self: Box<Self>, ctx: &OpenContext) -> Result<Link, ConnFailure> {
        let cfg = ctx.config();
        let init_cipher = match (self.encrypt, self.rsa_key.clone()) {
            (false, _) => PacketCipher::Plain,
            (true, Some(k)) => PacketCipher::Rsa(k),
            (true, None) => {
                return Err(ConnFailure::init(InitFailKind::Unknown, "RSA key not set (set_rsa_private_key)"));
            }
        };
        let stream = ctx.tcp_connect(&self.host, self.port, cfg.connect_timeout)?;
        let setup = |e: io::Error| ConnFailure::io(SocketFailKind::CreateFailed, "socket setup", &e);
        stream.set_nodelay(true).map_err(setup)?;
        stream.set_read_timeout(Some(cfg.tick.max(Duration::from_millis(1)))).map_err(setup)?;
        stream.set_write_timeout(Some(cfg.write_timeout.max(Duration::from_millis(1)))).map_err(setup)?;
        let read_half = stream.try_clone().map_err(setup)?;
        let outbox = Arc::new(Outbox::default());
        let sender = Arc::new(TcpSender {
            stream,
            outbox: outbox.clone(),
            init_cipher: init_cipher.clone(),
            session: OnceLock::new(),
        });
        let mut receiver = TcpReceiver {
            stream: read_half,
            decoder: FrameDecoder::with_max_body_len(cfg.max_body_len),
            cipher: init_cipher,
            chunk: 128 * 1024,
            got_bytes: false,
            corrupt: false,
            outbox,
        };
        match init_connect(ctx, self.encrypt, &sender, &mut receiver) {
            Ok(info) => Ok(Link { info, sender, receiver: Box::new(receiver) }),
            Err(e) => {
                sender.shutdown();
                Err(e)
            }
        }
    }
}

fn init_connect(
    ctx: &OpenContext,
    encrypt: bool,
    sender: &TcpSender,
    receiver: &mut TcpReceiver,
) -> Result<InitInfo, ConnFailure> {
    let cfg = ctx.config();
    let c2s = init_connect::C2s {
        client_ver: cfg.client_ver,
        client_id: cfg.client_id.clone(),
        recv_notify: Some(cfg.recv_notify),
        packet_enc_algo: Some(if encrypt { pb::common::PacketEncAlgo::AesCbc as i32 } else { -1 }),
        push_proto_fmt: Some(0),
        programming_language: Some(cfg.programming_language.clone()),
        ai_type: Some(0),
    };
    let req = init_connect::Request { c2s };
    let serial = ctx.next_serial();
    sender
        .send(pb::proto::InitConnect::PROTO_ID, serial, false, &mut |buf| req.encode_raw(buf))
        .map_err(|e| ConnFailure::init(InitFailKind::SendFailed, format!("sending InitConnect: {e}")))?;
    let unreadable = |e: &dyn std::fmt::Display| {
        let hint = if encrypt {
            " (wrong RSA key, or OpenD answered without encryption)"
        } else {
            " (is OpenD expecting an encrypted connection?)"
        };
        ConnFailure::init(InitFailKind::Unknown, format!("InitConnect reply unreadable: {e}{hint}"))
    };
    loop {
        if ctx.is_cancelled() {
            return Err(ctx.cancelled_failure());
        }
        match receiver.recv() {
            Ok(Incoming::Packet { proto_id, body, .. }) if proto_id == pb::proto::InitConnect::PROTO_ID => {
                return init_reply(body, encrypt, cfg.dead_after_intervals, sender, receiver);
            }
            Ok(Incoming::Packet { proto_id, .. }) => {
                log::debug!("ignoring proto {proto_id} before InitConnect finished");
            }
            Ok(Incoming::Failed { proto_id, error, .. }) if proto_id == pb::proto::InitConnect::PROTO_ID => {
                return Err(unreadable(&error));
            }
            Ok(Incoming::Failed { proto_id, error, .. }) => {
                log::debug!("ignoring bad packet proto {proto_id} before InitConnect finished: {error}");
            }
            Ok(Incoming::Idle | Incoming::Alive | Incoming::Pong) => {}
            Err(f) if receiver.corrupt => return Err(unreadable(&f)),
            Err(f) => {
                if ctx.is_cancelled() {
                    return Err(ctx.cancelled_failure());
                }
                return Err(ConnFailure::init(
                    InitFailKind::Disconnected,
                    format!("connection lost during InitConnect: {f}"),
                ));
            }
        }
        if Instant::now() >= ctx.deadline() {
            return Err(ConnFailure::init(
                InitFailKind::Timeout,
                format!("no InitConnect reply within {:?}", cfg.connect_timeout),
            ));
        }
    }
}

fn init_reply(
    mut body: Vec<u8>,
    encrypt: bool,
    dead_after_intervals: u32,
    sender: &TcpSender,
    receiver: &mut TcpReceiver,
) -> Result<InitInfo, ConnFailure> {
    let decoded = decode_body::<init_connect::Response>(&body);
    // The reply carries the session key: wipe every copy once the cipher is built.
    zeroize::Zeroize::zeroize(&mut body);
    let mut rsp = decoded.map_err(|e| ConnFailure::init(InitFailKind::Unknown, format!("InitConnect reply: {e}")))?;
    let result = init_from(&rsp, encrypt, dead_after_intervals, sender, receiver);
    if let Some(s2c) = rsp.s2c.as_mut() {
        zeroize::Zeroize::zeroize(&mut s2c.conn_aes_key);
        if let Some(iv) = s2c.aes_cb_civ.as_mut() {
            zeroize::Zeroize::zeroize(iv);
        }
    }
    result
}

fn init_from(
    rsp: &init_connect::Response,
    encrypt: bool,
    dead_after_intervals: u32,
    sender: &TcpSender,
    receiver: &mut TcpReceiver,
) -> Result<InitInfo, ConnFailure> {
    if rsp.ret_type != 0 {
        return Err(ConnFailure::rejected(rsp.ret_type, rsp.ret_msg.clone().unwrap_or_default()));
    }
    let s2c = rsp
        .s2c
        .as_ref()
        .ok_or_else(|| ConnFailure::init(InitFailKind::Unknown, "InitConnect succeeded but carried no s2c"))?;
    let aes_mode = if encrypt {
        if s2c.conn_aes_key.is_empty() {
            return Err(ConnFailure::init(
                InitFailKind::Unknown,
                "OpenD sent no AES key for an encrypted connection; refusing to continue unencrypted",
            ));
        }
        let cipher = PacketCipher::from_init_connect(&s2c.conn_aes_key, s2c.aes_cb_civ.as_deref())
            .map_err(|e| ConnFailure::init(InitFailKind::Unknown, format!("InitConnect: {e}")))?;
        let mode = if s2c.aes_cb_civ.is_some() { AesMode::Cbc } else { AesMode::FtAesEcb };
        receiver.cipher = cipher.clone();
        let _ = sender.session.set(cipher);
        Some(mode)
    } else {
        receiver.cipher = PacketCipher::Plain;
        let _ = sender.session.set(PacketCipher::Plain);
        None
    };
    let interval = u64::try_from(s2c.keep_alive_interval.max(1)).unwrap_or(1);
    Ok(InitInfo {
        conn_id: s2c.conn_id,
        login_user_id: s2c.login_user_id,
        server_ver: s2c.server_ver,
        keepalive_interval: s2c.keep_alive_interval,
        aes_mode,
        user_attribution: s2c.user_attribution,
        // KeepAlive every 4/5 of OpenD's interval; dead after `dead_after_intervals`
        // intervals of silence.
        liveness: Liveness::KeepAlive {
            every: Duration::from_millis(interval * 800),
            dead_after: Duration::from_secs(interval * u64::from(dead_after_intervals.max(1))),
        },
    })
}

/// The sending half of a TCP link.
struct TcpSender {
    stream: TcpStream,
    /// Every write goes through it (coalesced; see `outbox.rs`).
    outbox: Arc<Outbox>,
    init_cipher: PacketCipher,
    session: OnceLock<PacketCipher>,
}

impl PacketSender for TcpSender {
    fn send(&self, proto_id: u32, serial: u32, wipe: bool, encode: &mut dyn FnMut(&mut Vec<u8>)) -> io::Result<()> {
        let cipher = self.session.get().unwrap_or(&self.init_cipher);
        // Seal (hash, encrypt) before taking the lock: only the write itself is serialized.
        let mut packet = seal(proto_id, serial, cipher, wipe, encode)?;
        let res = self.outbox.send(&self.stream, &packet, wipe);
        if wipe {
            zeroize::Zeroize::zeroize(&mut packet);
        }
        res
    }

    fn try_send(&self, proto_id: u32, serial: u32, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Option<io::Result<()>> {
        let cipher = self.session.get().unwrap_or(&self.init_cipher);
        Some(seal(proto_id, serial, cipher, false, encode).and_then(|p| self.outbox.send_nonblocking(&self.stream, &p)))
    }

    fn shutdown(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The receiving half of a TCP link.
struct TcpReceiver {
    stream: TcpStream,
    decoder: FrameDecoder,
    cipher: PacketCipher,
    chunk: usize,
    /// Bytes arrived since the last packet or `Alive` was returned.
    got_bytes: bool,
    /// The last error was a stream out of sync (not a socket error).
    corrupt: bool,
    /// The sender's outbox, drained after every read (`outbox.rs`).
    outbox: Arc<Outbox>,
}

impl TcpReceiver {
    /// The next whole buffered packet, opened; `Ok(None)` if more bytes are needed.
    fn next_buffered(&mut self) -> Result<Option<Incoming>, ConnFailure> {
        match self.decoder.next_frame() {
            Ok(Some(frame)) => {
                self.got_bytes = false;
                let header: FrameHeader = frame.header;
                Ok(Some(match open_frame(frame, &self.cipher) {
                    Ok(body) => Incoming::Packet { proto_id: header.proto_id, serial: header.serial_no, body },
                    Err(error) => Incoming::Failed {
                        proto_id: header.proto_id,
                        serial: header.serial_no,
                        error: Error::Codec(error),
                    },
                }))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.corrupt = true;
                Err(ConnFailure::socket(SocketFailKind::RecvFailed, format!("corrupt data from OpenD: {e}")))
            }
        }
    }

    /// Reads once into the decoder (waiting at most one tick). `Ok(Some(_))` is what to
    /// report when the wait ran out.
    fn read_once(&mut self) -> Result<Option<Incoming>, ConnFailure> {
        match self.decoder.read_from(&mut ReadHalf(&self.stream), self.chunk) {
            Ok(0) => Err(ConnFailure::socket(SocketFailKind::RecvFailed, "connection closed by peer")),
            Ok(_) => {
                self.got_bytes = true;
                Ok(None)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Ok(Some(if std::mem::take(&mut self.got_bytes) { Incoming::Alive } else { Incoming::Idle }))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(ConnFailure::io(SocketFailKind::RecvFailed, "", &e)),
        }
    }
}

impl TcpReceiver {
    /// After a read of `packets` packets: writes what the outbox holds, without blocking.
    fn drain_outbox(&self, packets: usize) -> Result<(), ConnFailure> {
        self.outbox.after_read(&self.stream, packets).map_err(|e| ConnFailure::io(SocketFailKind::SendFailed, "", &e))
    }
}

impl PacketReceiver for TcpReceiver {
    fn recv(&mut self) -> Result<Incoming, ConnFailure> {
        loop {
            if let Some(packet) = self.next_buffered()? {
                return Ok(packet);
            }
            if let Some(nothing) = self.read_once()? {
                return Ok(nothing);
            }
        }
    }

    fn recv_batch(&mut self, out: &mut Vec<Incoming>) -> Result<(), ConnFailure> {
        let before = out.len();
        loop {
            while let Some(packet) = self.next_buffered()? {
                out.push(packet);
            }
            if out.len() > before {
                return self.drain_outbox(out.len() - before);
            }
            if let Some(nothing) = self.read_once()? {
                out.push(nothing);
                return self.drain_outbox(0);
            }
        }
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
