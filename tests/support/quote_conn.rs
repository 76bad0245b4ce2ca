//! A simulator connection without a socket, for tests that call a [`QuoteHandler`]
//! directly: requests are encoded and decoded as on the wire, pushes land in a
//! recording sink.

use std::sync::{Arc, Mutex};

use ftapi::pb::{qot_common as qc, Protocol, RequestEnvelope, ResponseEnvelope};
use ftapi::sim::{ConnInfo, PushSink, QuoteHandler};
use prost::Message;

/// Records every push with its protocol id.
#[derive(Default)]
pub struct Sink {
    pub pushes: Mutex<Vec<(u32, Vec<u8>)>>,
}

impl PushSink for Sink {
    fn push(&self, proto_id: u32, plain_body: Vec<u8>) -> bool {
        self.pushes.lock().unwrap().push((proto_id, plain_body));
        true
    }
}

/// One logged-in connection and what was pushed to it.
pub struct Conn {
    pub info: ConnInfo,
    pub sink: Arc<Sink>,
}

#[allow(dead_code)] // each test binary uses its own part of it
impl Conn {
    /// Connection `conn_id` of user 1.
    pub fn new(conn_id: u64) -> Conn {
        Conn::of_user(conn_id, 1)
    }

    /// Connection `conn_id` of `login_user_id`.
    pub fn of_user(conn_id: u64, login_user_id: u64) -> Conn {
        let sink = Arc::new(Sink::default());
        Conn { info: ConnInfo { conn_id, login_user_id, sink: sink.clone() }, sink }
    }

    /// Sends one request and decodes the reply (panics if the handler does not serve it).
    pub fn call<P: Protocol>(&self, q: &dyn QuoteHandler, c2s: <P::Request as RequestEnvelope>::C2s) -> P::Response {
        let body = P::Request::from_c2s(c2s).encode_to_vec();
        let out = q.handle(&self.info, P::PROTO_ID, &body).unwrap_or_else(|| panic!("{} not handled", P::NAME));
        P::Response::decode(out.as_slice()).expect("decodable response")
    }

    /// A request that must succeed: its `s2c`.
    pub fn ok<P: Protocol>(
        &self,
        q: &dyn QuoteHandler,
        c2s: <P::Request as RequestEnvelope>::C2s,
    ) -> <P::Response as ResponseEnvelope>::S2c {
        let r = self.call::<P>(q, c2s);
        assert_eq!(r.ret_type(), 0, "{} failed: {}", P::NAME, r.ret_msg());
        r.into_s2c().expect("s2c")
    }

    /// A request that must be refused: its message (never empty, no `s2c`).
    pub fn err<P: Protocol>(&self, q: &dyn QuoteHandler, c2s: <P::Request as RequestEnvelope>::C2s) -> String {
        let r = self.call::<P>(q, c2s);
        assert_eq!(r.ret_type(), -1, "{} should be refused", P::NAME);
        assert!(r.s2c().is_none());
        let msg = r.ret_msg().to_string();
        assert!(!msg.is_empty(), "{}: a refusal says why", P::NAME);
        msg
    }

    /// The pushes received so far (and forgets them).
    pub fn take(&self) -> Vec<(u32, Vec<u8>)> {
        std::mem::take(&mut *self.sink.pushes.lock().unwrap())
    }
}

/// `"HK.00700"` as a `Security`.
pub fn sec(code: &str) -> qc::Security {
    let (m, c) = code.split_once('.').unwrap();
    let market = match m {
        "HK" => 1,
        "US" => 11,
        "SH" => 21,
        "SZ" => 22,
        "SG" => 31,
        _ => panic!("market {m}"),
    };
    qc::Security { market, code: c.to_string() }
}
