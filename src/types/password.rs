//! The trade password for Trd_UnlockTrade.

use std::fmt;

use md5::{Digest, Md5};
use zeroize::Zeroizing;

/// A trade-unlock password, kept either as the plain text or as its MD5.
///
/// OpenD only ever sees `pwdMD5`: the MD5 of the UTF-8 password as 32 lowercase hex
/// characters ([`TradePassword::pwd_md5`]). The secret is wiped from memory when the
/// value is dropped, and `Debug` never shows it.
///
/// One difference from the Python SDK: an MD5 given by the caller is lower-cased
/// before it is sent (the SDK sends it exactly as given).
///
/// ```
/// use ftapi::types::TradePassword;
/// let p = TradePassword::plain("123456");
/// assert_eq!(p.pwd_md5().as_str(), "e10adc3949ba59abbe56e057f20f883e");
/// let m = TradePassword::md5("E10ADC3949BA59ABBE56E057F20F883E").unwrap();
/// assert_eq!(m.pwd_md5().as_str(), "e10adc3949ba59abbe56e057f20f883e");
/// assert!(TradePassword::md5("not-an-md5").is_err());
/// assert!(!format!("{p:?}").contains("123456"));
/// ```
#[derive(Clone)]
pub struct TradePassword {
    kind: Kind,
    secret: Zeroizing<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Md5,
}

/// A string given as an MD5 is not 32 hexadecimal characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password MD5 must be 32 hexadecimal characters (got {len} characters)")]
pub struct InvalidMd5 {
    /// Length of the rejected input in characters.
    pub len: usize,
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl TradePassword {
    /// A plain-text password (hashed when needed).
    pub fn plain(password: impl Into<String>) -> Self {
        TradePassword { kind: Kind::Plain, secret: Zeroizing::new(password.into()) }
    }

    /// An already hashed password: 32 hex characters, any case.
    pub fn md5(md5_hex: impl Into<String>) -> Result<Self, InvalidMd5> {
        let mut s = Zeroizing::new(md5_hex.into());
        if !is_md5_hex(&s) {
            return Err(InvalidMd5 { len: s.chars().count() });
        }
        s.make_ascii_lowercase();
        Ok(TradePassword { kind: Kind::Md5, secret: s })
    }

    /// Takes `s` as an MD5 if it is exactly 32 hexadecimal characters, and as a plain
    /// password otherwise.
    ///
    /// Convenient for configuration files that may hold either. A plain password that
    /// itself consists of 32 hex characters would be misread as a hash; use
    /// [`TradePassword::plain`] when that can happen.
    pub fn from_plain_or_md5(s: impl Into<String>) -> Self {
        let s = Zeroizing::new(s.into());
        if is_md5_hex(&s) {
            let mut lower = s;
            lower.make_ascii_lowercase();
            TradePassword { kind: Kind::Md5, secret: lower }
        } else {
            TradePassword { kind: Kind::Plain, secret: s }
        }
    }

    /// Whether the password was given as an MD5.
    pub fn is_md5(&self) -> bool {
        self.kind == Kind::Md5
    }

    /// The `pwdMD5` field: MD5 of the UTF-8 password as 32 lowercase hex characters.
    /// The returned string is wiped when dropped.
    pub fn pwd_md5(&self) -> Zeroizing<String> {
        match self.kind {
            Kind::Md5 => self.secret.clone(),
            Kind::Plain => {
                let digest = Md5::digest(self.secret.as_bytes());
                let mut out = Zeroizing::new(String::with_capacity(32));
                for b in digest.iter() {
                    out.push(hex_digit(b >> 4));
                    out.push(hex_digit(b & 0x0f));
                }
                out
            }
        }
    }
}

fn hex_digit(n: u8) -> char {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    DIGITS.get(usize::from(n & 0x0f)).map_or('0', |d| char::from(*d))
}

impl fmt::Debug for TradePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Plain => f.write_str("TradePassword(plain, <redacted>)"),
            Kind::Md5 => f.write_str("TradePassword(md5, <redacted>)"),
        }
    }
}
