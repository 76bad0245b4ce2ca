//! A transport without a socket: the client talks to a [`MemoryPeer`] that a test (or
//! a fuzzer) drives by hand. The peer sees every request decoded to
//! `(proto_id, serial, body)` and answers with replies, pushes, broken packets, a
//! corrupt stream or a close, in any order and at any time.
//!
//! ```
//! use std::time::Duration;
//! use ftapi::conn::memory::MemoryTransport;
//! use ftapi::conn::InitInfo;
//! use ftapi::{pb, TrdApi};
//!
//! let (transport, peer) = MemoryTransport::pair();
//! let api = TrdApi::new();
//! assert!(api.init_connect_with(Box::new(transport)));
//! assert!(peer.wait_open(Duration::from_secs(5)));
//! peer.accept(InitInfo::new(42));
//! # let t0 = std::time::Instant::now();
//! # while !api.is_connected() { assert!(t0.elapsed() < Duration::from_secs(5)); std::thread::sleep(Duration::from_millis(5)); }
//! let server = std::thread::spawn(move || {
//!     let req = peer.recv_request(Duration::from_secs(5)).expect("a request");
//!     assert_eq!(req.proto_id, 1002);
//!     peer.reply::<pb::proto::GetGlobalState>(req.serial, pb::get_global_state::S2c { server_ver: 900, ..Default::default() });
//!     peer
//! });
//! let state = api.call::<pb::proto::GetGlobalState>(pb::get_global_state::C2s { user_id: 0 }).unwrap();
//! assert_eq!(state.server_ver, 900);
//! # drop(server.join());
//! ```

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use prost::Message;

use super::failure::{ConnFailure, InitFailKind, SocketFailKind};
use super::transport::{Incoming, InitInfo, Link, OpenContext, PacketReceiver, PacketSender, Transport};
use crate::error::Error;
use crate::pb::{self, Protocol, PushProtocol, ResponseEnvelope};

/// One request as the peer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRequest {
    /// Protocol id.
    pub proto_id: u32,
    /// Serial number (answer with the same one).
    pub serial: u32,
    /// Plaintext protobuf body.
    pub body: Vec<u8>,
}

impl PeerRequest {
    /// Decodes the body as protocol `P`'s request (`None` if it is another protocol or
    /// does not decode).
    pub fn decode<P: Protocol>(&self) -> Option<P::Request> {
        if self.proto_id != P::PROTO_ID {
            return None;
        }
        P::Request::decode(self.body.as_slice()).ok()
    }
}

enum ToClient {
    Incoming(Incoming),
    Corrupt(String),
    Close,
}

struct Shared {
    to_client: Sender<ToClient>,
    from_client: Receiver<ToClient>,
    to_peer: Sender<PeerRequest>,
    open_tx: Sender<Result<InitInfo, ConnFailure>>,
    open_rx: Receiver<Result<InitInfo, ConnFailure>>,
    opening: AtomicBool,
    shut: AtomicBool,
    fail_sends: AtomicBool,
    answer_keepalive: AtomicBool,
    sent: AtomicUsize,
}

/// The client side: give it to [`TrdApi::init_connect_with`](crate::TrdApi::init_connect_with).
/// It opens once [`MemoryPeer::accept`] is called (or fails with
/// [`MemoryPeer::refuse`], or times out after the connect timeout).
pub struct MemoryTransport {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransport").finish_non_exhaustive()
    }
}

/// The scripted far end of a [`MemoryTransport`].
pub struct MemoryPeer {
    shared: Arc<Shared>,
    requests: Receiver<PeerRequest>,
}

impl std::fmt::Debug for MemoryPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryPeer").field("shut_down", &self.is_shut_down()).finish_non_exhaustive()
    }
}

impl MemoryTransport {
    /// A connected transport and peer.
    pub fn pair() -> (MemoryTransport, MemoryPeer) {
        let (to_client, from_client) = crossbeam_channel::unbounded();
        let (to_peer, requests) = crossbeam_channel::unbounded();
        let (open_tx, open_rx) = crossbeam_channel::bounded(1);
        let shared = Arc::new(Shared {
            to_client,
            from_client,
            to_peer,
            open_tx,
            open_rx,
            opening: AtomicBool::new(false),
            shut: AtomicBool::new(false),
            fail_sends: AtomicBool::new(false),
            answer_keepalive: AtomicBool::new(true),
            sent: AtomicUsize::new(0),
        });
        (MemoryTransport { shared: shared.clone() }, MemoryPeer { shared, requests })
    }
}

impl Transport for MemoryTransport {
    fn peer(&self) -> String {
        "memory".into()
    }

    fn open(self: Box<Self>, ctx: &OpenContext) -> Result<Link, ConnFailure> {
        self.shared.opening.store(true, Ordering::Release);
        let shared = self.shared.clone();
        ctx.on_cancel(move || {
            shared.shut.store(true, Ordering::Release);
            let _ = shared.to_client.send(ToClient::Close);
        });
        loop {
            if ctx.is_cancelled() {
                return Err(ctx.cancelled_failure());
            }
            match self.shared.open_rx.recv_timeout(Duration::from_millis(5)) {
                Ok(Ok(info)) => {
                    let sender = Arc::new(MemorySender { shared: self.shared.clone() });
                    let receiver = Box::new(MemoryReceiver { shared: self.shared.clone(), tick: ctx.config().tick });
                    return Ok(Link { info, sender, receiver });
                }
                Ok(Err(f)) => return Err(f),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ConnFailure::socket(SocketFailKind::ConnectFailed, "the memory peer is gone"))
                }
            }
            if Instant::now() >= ctx.deadline() {
                return Err(ConnFailure::init(InitFailKind::Timeout, "the memory peer did not accept in time"));
            }
        }
    }
}

struct MemorySender {
    shared: Arc<Shared>,
}

impl PacketSender for MemorySender {
    fn send(
        &self,
        proto_id: u32,
        serial: u32,
        _sensitive: bool,
        encode: &mut dyn FnMut(&mut Vec<u8>),
    ) -> io::Result<()> {
        if self.shared.shut.load(Ordering::Acquire) {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "memory link is shut down"));
        }
        if self.shared.fail_sends.load(Ordering::Acquire) {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "memory peer fails sends"));
        }
        let mut body = Vec::new();
        encode(&mut body);
        self.shared.sent.fetch_add(1, Ordering::Relaxed);
        if proto_id == pb::proto::KeepAlive::PROTO_ID && self.shared.answer_keepalive.load(Ordering::Acquire) {
            let rsp = pb::keep_alive::Response {
                ret_type: 0,
                ret_msg: None,
                err_code: None,
                s2c: Some(pb::keep_alive::S2c { time: 0 }),
            };
            let _ = self.shared.to_client.send(ToClient::Incoming(Incoming::Packet {
                proto_id,
                serial,
                body: rsp.encode_to_vec(),
            }));
            return Ok(());
        }
        self.shared
            .to_peer
            .send(PeerRequest { proto_id, serial, body })
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "memory peer is gone"))
    }

    fn try_send(&self, proto_id: u32, serial: u32, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Option<io::Result<()>> {
        Some(self.send(proto_id, serial, false, encode))
    }

    /// Answered with [`Incoming::Pong`] like KeepAlive (see [`MemoryPeer::answer_keepalive`]).
    fn ping(&self) -> Option<io::Result<()>> {
        if self.shared.shut.load(Ordering::Acquire) {
            return Some(Err(io::Error::new(io::ErrorKind::BrokenPipe, "memory link is shut down")));
        }
        if self.shared.answer_keepalive.load(Ordering::Acquire) {
            let _ = self.shared.to_client.send(ToClient::Incoming(Incoming::Pong));
        }
        Some(Ok(()))
    }

    fn shutdown(&self) {
        self.shared.shut.store(true, Ordering::Release);
        let _ = self.shared.to_client.send(ToClient::Close);
    }
}

struct MemoryReceiver {
    shared: Arc<Shared>,
    tick: Duration,
}

impl PacketReceiver for MemoryReceiver {
    fn recv(&mut self) -> Result<Incoming, ConnFailure> {
        if self.shared.shut.load(Ordering::Acquire) {
            return Err(ConnFailure::socket(SocketFailKind::RecvFailed, "memory link is shut down"));
        }
        match self.shared.from_client.recv_timeout(self.tick) {
            Ok(ToClient::Incoming(i)) => Ok(i),
            Ok(ToClient::Corrupt(msg)) => {
                self.shared.shut.store(true, Ordering::Release);
                Err(ConnFailure::socket(SocketFailKind::RecvFailed, format!("corrupt data from OpenD: {msg}")))
            }
            Ok(ToClient::Close) => {
                self.shared.shut.store(true, Ordering::Release);
                Err(ConnFailure::socket(SocketFailKind::RecvFailed, "connection closed by peer"))
            }
            Err(RecvTimeoutError::Timeout) => Ok(Incoming::Idle),
            Err(RecvTimeoutError::Disconnected) => {
                Err(ConnFailure::socket(SocketFailKind::RecvFailed, "connection closed by peer"))
            }
        }
    }
}

impl MemoryPeer {
    /// Waits until the client started opening the link (bounded by `timeout`).
    pub fn wait_open(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        while !self.shared.opening.load(Ordering::Acquire) {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Lets the open succeed with `info` (its `liveness` decides keepalive).
    pub fn accept(&self, info: InitInfo) {
        let _ = self.shared.open_tx.try_send(Ok(info));
    }

    /// Makes the open fail with `failure`.
    pub fn refuse(&self, failure: ConnFailure) {
        let _ = self.shared.open_tx.try_send(Err(failure));
    }

    /// The next request the client sent, waiting up to `timeout`. KeepAlive requests
    /// are answered by the transport itself unless
    /// [`answer_keepalive(false)`](Self::answer_keepalive).
    pub fn recv_request(&self, timeout: Duration) -> Option<PeerRequest> {
        self.requests.recv_timeout(timeout).ok()
    }

    /// Whether the transport answers KeepAlive (1004) itself (default true).
    pub fn answer_keepalive(&self, on: bool) {
        self.shared.answer_keepalive.store(on, Ordering::Release);
    }

    /// Makes every later client send fail as a broken pipe.
    pub fn fail_sends(&self, on: bool) {
        self.shared.fail_sends.store(on, Ordering::Release);
    }

    /// Packets the client sent so far (KeepAlive included).
    pub fn sent_count(&self) -> usize {
        self.shared.sent.load(Ordering::Relaxed)
    }

    /// Whether the client shut the link down (closed it).
    pub fn is_shut_down(&self) -> bool {
        self.shared.shut.load(Ordering::Acquire)
    }

    fn deliver(&self, item: ToClient) {
        let _ = self.shared.to_client.send(item);
    }

    /// Sends a raw packet.
    pub fn send_packet(&self, proto_id: u32, serial: u32, body: Vec<u8>) {
        self.deliver(ToClient::Incoming(Incoming::Packet { proto_id, serial, body }));
    }

    /// Answers request `serial` of protocol `P` with success and `s2c`.
    pub fn reply<P: Protocol>(&self, serial: u32, s2c: <P::Response as ResponseEnvelope>::S2c) {
        let rsp = P::Response::build(0, None, None, Some(s2c));
        self.send_packet(P::PROTO_ID, serial, rsp.encode_to_vec());
    }

    /// Answers request `serial` of protocol `P` with OpenD's refusal.
    pub fn reply_error<P: Protocol>(&self, serial: u32, ret_type: i32, ret_msg: &str, err_code: i32) {
        let rsp = P::Response::build(ret_type, Some(ret_msg.to_string()), Some(err_code), None);
        self.send_packet(P::PROTO_ID, serial, rsp.encode_to_vec());
    }

    /// Sends push `P` with `s2c` (serial 0).
    pub fn push<P: PushProtocol>(&self, s2c: <P::Response as ResponseEnvelope>::S2c) {
        let rsp = P::Response::build(0, None, None, Some(s2c));
        self.send_packet(P::PROTO_ID, 0, rsp.encode_to_vec());
    }

    /// Sends a packet that "did not decrypt": the request `(proto_id, serial)` fails
    /// with `error`, the link stays up.
    pub fn send_failed(&self, proto_id: u32, serial: u32, error: Error) {
        self.deliver(ToClient::Incoming(Incoming::Failed { proto_id, serial, error }));
    }

    /// Signals bytes without a whole packet (which does not count as liveness: only
    /// answers to KeepAlive and pings do).
    pub fn alive(&self) {
        self.deliver(ToClient::Incoming(Incoming::Alive));
    }

    /// Makes the stream corrupt: the client drops the link ("corrupt data").
    pub fn corrupt(&self, what: &str) {
        self.deliver(ToClient::Corrupt(what.to_string()));
    }

    /// Closes the link from the peer's side.
    pub fn close(&self) {
        self.deliver(ToClient::Close);
    }
}

impl Drop for MemoryPeer {
    fn drop(&mut self) {
        self.deliver(ToClient::Close);
    }
}
