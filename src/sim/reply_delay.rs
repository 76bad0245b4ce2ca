//! `opend-sim --reply-delay-us N` ([`SimConfig::reply_delay`]): every reply of a TCP
//! session is written N µs after its request was read.
//!
//! The session's reader hands each reply to the session's delay thread (started with
//! the first delayed reply, one per session, ending when the session's reader ends),
//! which writes them in order, each at its due time. The reader goes on reading and
//! handling requests meanwhile, so a delay neither holds up other connections nor
//! serializes a connection's pipelined requests. Pushes are not delayed. The trade
//! handler is told a reply was written ([`super::router::replied`]) when it really was.
//!
//! [`SimConfig::reply_delay`]: super::SimConfig::reply_delay

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::codec::FrameHeader;

use super::core::Core;
use super::ConnInfo;

/// The connection a delayed reply is written to: implemented by the TCP session, which
/// calls [`later`] (this module never names the session, so the import runs one way).
pub(crate) trait ReplyWriter: Send + Sync + 'static {
    /// The connection id (names the delay thread).
    fn conn_id(&self) -> u64;
    /// Queues one reply; `false` if the connection is gone.
    fn send_reply(&self, proto_id: u32, serial: u32, plain: &[u8]) -> bool;
    /// Writes what is queued; `false` if the write failed.
    fn flush(&self) -> bool;
    /// Closes the connection.
    fn close(&self, reason: &str);
}

/// One reply waiting for its time.
struct Delayed {
    due: Instant,
    proto_id: u32,
    serial: u32,
    body: Vec<u8>,
    /// Set for replies routed to a handler: told once the reply is written.
    replied: Option<ConnInfo>,
}

thread_local! {
    /// The delay line of the session whose reader runs on this thread (each session
    /// has its own reader thread); dropping it at the reader's end ends the delay thread.
    static LINE: RefCell<Option<Sender<Delayed>>> = const { RefCell::new(None) };
}

/// Whether replies are delayed.
pub(crate) fn wanted(core: &Core) -> bool {
    !core.config.reply_delay.is_zero()
}

/// Queues the reply to `h` for writing after the configured delay (`info`: the
/// connection, for a reply routed to a handler that must be told once it is written).
/// `Err` if the connection is gone.
pub(crate) fn later<W: ReplyWriter>(
    core: &Arc<Core>,
    sess: &Arc<W>,
    info: Option<&ConnInfo>,
    h: &FrameHeader,
    body: &[u8],
) -> Result<(), String> {
    let item = Delayed {
        due: Instant::now() + core.config.reply_delay,
        proto_id: h.proto_id,
        serial: h.serial_no,
        body: body.to_vec(),
        replied: info.cloned(),
    };
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        if line.is_none() {
            *line = Some(start(core.clone(), sess.clone())?);
        }
        match line.as_ref().map(|tx| tx.send(item)) {
            Some(Ok(())) => Ok(()),
            _ => Err("the reply delay thread ended".to_string()),
        }
    })
}

fn start<W: ReplyWriter>(core: Arc<Core>, sess: Arc<W>) -> Result<Sender<Delayed>, String> {
    let (tx, rx) = crossbeam_channel::unbounded::<Delayed>();
    std::thread::Builder::new()
        .name(format!("opend-sim-delay-{}", sess.conn_id()))
        .spawn(move || {
            for d in rx {
                let now = Instant::now();
                if d.due > now {
                    std::thread::sleep(d.due - now);
                }
                // Queued like the reader's replies, then written from this thread (or by
                // the write in progress).
                if !sess.send_reply(d.proto_id, d.serial, &d.body) || !sess.flush() {
                    sess.close("write failed (delayed reply)");
                    break;
                }
                if let Some(info) = &d.replied {
                    super::router::replied(&core, info, d.proto_id);
                }
            }
        })
        .map_err(|e| format!("cannot start the reply delay thread: {e}"))?;
    Ok(tx)
}
