//! RSA PKCS#1 v1.5 as OpenD uses it for the InitConnect body.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};
use std::sync::Arc;

use super::CodecError;

/// The RSA private key shared by OpenD and its clients (both sides hold the private
/// key; both directions encrypt with the public half and decrypt with the private one).
///
/// The plaintext is cut into chunks of `k * 100 / 128` bytes (100 for a 1024-bit key,
/// exactly as the official SDK does; 200 for 2048-bit) and each chunk becomes one
/// `k`-byte block, where `k` is the modulus size in bytes.
///
/// ```no_run
/// let pem = std::fs::read_to_string("key.pem").unwrap();
/// let key = ftapi::codec::RsaKey::from_pem(&pem).unwrap();
/// let sealed = key.encrypt(b"hello");
/// assert_eq!(key.decrypt(&sealed).unwrap(), b"hello");
/// ```
#[derive(Clone)]
pub struct RsaKey {
    inner: Arc<(RsaPrivateKey, RsaPublicKey)>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaKey({} bits, <redacted>)", self.bits())
    }
}

impl RsaKey {
    /// Parses a PEM private key, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
    /// (`BEGIN PRIVATE KEY`). Whitespace (and a UTF-8 byte order mark) around the PEM
    /// block is ignored, as hand-edited key files often have some.
    pub fn from_pem(pem: &str) -> Result<Self, CodecError> {
        let pem = pem.trim_start_matches('\u{feff}').trim();
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|e| CodecError::BadKey(format!("not a PKCS#1 or PKCS#8 PEM RSA private key: {e}")))?;
        Self::checked(key)
    }

    /// Smallest modulus accepted by [`from_pem`](Self::from_pem) and
    /// [`generate`](Self::generate). OpenD and its SDK use 1024 bits.
    pub const MIN_BITS: usize = 512;

    fn checked(key: RsaPrivateKey) -> Result<Self, CodecError> {
        let k = Self::from_private_key(key);
        if k.bits() < Self::MIN_BITS {
            return Err(CodecError::BadKey(format!("RSA key of {} bits is below {} bits", k.bits(), Self::MIN_BITS)));
        }
        Ok(k)
    }

    /// Wraps an already parsed key. The caller is responsible for its size (at least
    /// [`MIN_BITS`](Self::MIN_BITS); smaller keys cannot hold a PKCS#1 v1.5 block).
    pub fn from_private_key(key: RsaPrivateKey) -> Self {
        let public = RsaPublicKey::from(&key);
        RsaKey { inner: Arc::new((key, public)) }
    }

    /// Generates a fresh key (for tests and the simulator).
    pub fn generate(bits: usize) -> Result<Self, CodecError> {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), bits).map_err(|e| CodecError::Rsa(e.to_string()))?;
        Self::checked(key)
    }

    /// The key as PKCS#1 PEM (for writing key files in tests).
    pub fn to_pkcs1_pem(&self) -> String {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        self.inner.0.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).map(|s| s.to_string()).unwrap_or_default()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.block_len() * 8
    }

    /// Ciphertext block size in bytes (the modulus size).
    pub fn block_len(&self) -> usize {
        self.inner.1.size()
    }

    /// Plaintext chunk size: 100 bytes per 128-byte block, scaled with the key.
    pub fn chunk_len(&self) -> usize {
        (self.block_len() * 100 / 128).min(self.block_len().saturating_sub(11)).max(1)
    }

    /// Encrypted length of a plaintext of `len` bytes.
    pub fn sealed_len(&self, len: usize) -> usize {
        len.div_ceil(self.chunk_len()) * self.block_len()
    }

    /// Encrypts `plain` chunk by chunk, appending to `out`.
    pub fn encrypt_into(&self, plain: &[u8], out: &mut Vec<u8>) {
        let mut rng = rand::thread_rng();
        for chunk in plain.chunks(self.chunk_len()) {
            // A chunk is below the PKCS#1 v1.5 limit for any key of MIN_BITS or more, so
            // this only fails for a tiny key passed to `from_private_key`.
            match self.inner.1.encrypt(&mut rng, Pkcs1v15Encrypt, chunk) {
                Ok(block) => out.extend_from_slice(&block),
                Err(e) => log::error!("RSA encryption failed ({} bit key): {e}", self.bits()),
            }
        }
    }

    /// Encrypts `plain` chunk by chunk.
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.sealed_len(plain.len()));
        self.encrypt_into(plain, &mut out);
        out
    }

    /// Decrypts a body made of whole key-size blocks. An empty body is an empty
    /// plaintext (the mirror of [`encrypt`](Self::encrypt), which turns an empty
    /// plaintext into no blocks at all).
    pub fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, CodecError> {
        let k = self.block_len();
        if body.len() % k != 0 {
            return Err(CodecError::Decrypt(format!(
                "RSA body length {} is not a multiple of the {k}-byte block",
                body.len()
            )));
        }
        let mut out = Vec::with_capacity(body.len());
        for block in body.chunks_exact(k) {
            let p = self
                .inner
                .0
                .decrypt(Pkcs1v15Encrypt, block)
                .map_err(|_| CodecError::Decrypt("RSA decryption failed (wrong key?)".into()))?;
            out.extend_from_slice(&p);
        }
        Ok(out)
    }
}
