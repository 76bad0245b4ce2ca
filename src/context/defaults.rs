//! The process-wide encryption defaults, the Python SDK's `SysConfig`: what a builder
//! uses when it is given no `encrypt` setting or no RSA key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use crate::codec::RsaKey;
use crate::error::Result;

static DEFAULT_ENCRYPT: AtomicBool = AtomicBool::new(false);
static DEFAULT_RSA_KEY: RwLock<Option<RsaKey>> = RwLock::new(None);

/// Sets the process-wide encryption default used by contexts built with
/// `encrypt(None)` (the default), like the Python `SysConfig.enable_proto_encrypt`.
/// Initially `false`. Affects contexts opened afterwards.
#[doc(alias = "enable_proto_encrypt")]
#[doc(alias = "SysConfig")]
pub fn set_default_encrypt(encrypt: bool) {
    DEFAULT_ENCRYPT.store(encrypt, Ordering::Relaxed);
}

/// The process-wide encryption default.
pub fn default_encrypt() -> bool {
    DEFAULT_ENCRYPT.load(Ordering::Relaxed)
}

/// Sets (or with `None` clears) the process-wide RSA key used by contexts whose builder
/// was given none, like the Python `SysConfig.set_init_rsa_file`.
pub fn set_default_rsa_key(key: Option<RsaKey>) {
    match DEFAULT_RSA_KEY.write() {
        Ok(mut g) => *g = key,
        Err(poisoned) => *poisoned.into_inner() = key,
    }
}

/// [`set_default_rsa_key`] from a PEM file (PKCS#1 or PKCS#8).
#[doc(alias = "set_init_rsa_file")]
pub fn set_default_rsa_key_file(path: impl AsRef<std::path::Path>) -> Result<()> {
    let pem = std::fs::read_to_string(path)?;
    set_default_rsa_key(Some(RsaKey::from_pem(&pem)?));
    Ok(())
}

/// The process-wide RSA key, if set.
pub fn default_rsa_key() -> Option<RsaKey> {
    match DEFAULT_RSA_KEY.read() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}
