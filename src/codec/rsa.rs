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
/// let sealed = key.encrypt(b"hello").unwrap();
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

    /// Parses a DER private key, PKCS#1 (`RSAPrivateKey`) or PKCS#8
    /// (`PrivateKeyInfo`): the binary form of the PEM blocks
    /// [`from_pem`](Self::from_pem) reads.
    pub fn from_der(der: &[u8]) -> Result<Self, CodecError> {
        let key = RsaPrivateKey::from_pkcs1_der(der)
            .or_else(|_| RsaPrivateKey::from_pkcs8_der(der))
            .map_err(|e| CodecError::BadKey(format!("not a PKCS#1 or PKCS#8 DER RSA private key: {e}")))?;
        Self::checked(key)
    }

    /// Smallest modulus accepted by every constructor. OpenD and its SDK use 1024 bits.
    pub const MIN_BITS: usize = 512;

    /// Every constructor ends here: keys below [`MIN_BITS`](Self::MIN_BITS) cannot hold
    /// a PKCS#1 v1.5 block of the chunk size and are refused.
    fn checked(key: RsaPrivateKey) -> Result<Self, CodecError> {
        let public = RsaPublicKey::from(&key);
        let k = RsaKey { inner: Arc::new((key, public)) };
        if k.bits() < Self::MIN_BITS {
            return Err(CodecError::BadKey(format!("RSA key of {} bits is below {} bits", k.bits(), Self::MIN_BITS)));
        }
        Ok(k)
    }

    /// Generates a fresh key (for tests and the simulator).
    pub fn generate(bits: usize) -> Result<Self, CodecError> {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), bits).map_err(|e| CodecError::Rsa(e.to_string()))?;
        Self::checked(key)
    }

    /// The key as PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`, LF line endings), e.g. for
    /// writing a key file for OpenD. The text is a secret: it is wiped when the
    /// returned value is dropped. Fails with [`CodecError::Rsa`] if the key cannot be
    /// encoded (never an empty string).
    pub fn to_pkcs1_pem(&self) -> Result<zeroize::Zeroizing<String>, CodecError> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        self.inner
            .0
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .map(|pem| zeroize::Zeroizing::new(pem.as_str().to_owned()))
            .map_err(|e| CodecError::Rsa(format!("cannot encode the key as PKCS#1 PEM: {e}")))
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

    /// Encrypts `plain` chunk by chunk, appending to `out`. If any chunk fails, the
    /// error is returned and `out` is left as it was: there is never a partial or short
    /// ciphertext. (A chunk is below the PKCS#1 v1.5 limit for every key the
    /// constructors accept, so a failure means a broken key or random source.)
    pub fn encrypt_into(&self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let start = out.len();
        let mut rng = rand::thread_rng();
        for chunk in plain.chunks(self.chunk_len()) {
            match self.inner.1.encrypt(&mut rng, Pkcs1v15Encrypt, chunk) {
                Ok(block) => out.extend_from_slice(&block),
                Err(e) => {
                    out.truncate(start);
                    return Err(CodecError::Rsa(format!("encryption failed ({} bit key): {e}", self.bits())));
                }
            }
        }
        Ok(())
    }

    /// Encrypts `plain` chunk by chunk (see [`encrypt_into`](Self::encrypt_into)).
    pub fn encrypt(&self, plain: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(self.sealed_len(plain.len()));
        self.encrypt_into(plain, &mut out)?;
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A key whose public half the `rsa` crate refuses to encrypt with (an even
    /// modulus): the constructors never build one, so it is put together by hand.
    fn broken_key() -> RsaKey {
        let good = RsaKey::generate(512).expect("key");
        let n = rsa::BigUint::from_bytes_be(&[0x80; 128]);
        let public = RsaPublicKey::new_unchecked(n, rsa::BigUint::from(65537u32));
        RsaKey { inner: Arc::new((good.inner.0.clone(), public)) }
    }

    #[test]
    fn a_failing_encryption_is_an_error_and_leaves_no_partial_ciphertext() {
        let k = broken_key();
        assert!(matches!(k.encrypt(b"InitConnect body"), Err(CodecError::Rsa(_))));
        let mut out = b"prefix".to_vec();
        assert!(matches!(k.encrypt_into(&[7u8; 300], &mut out), Err(CodecError::Rsa(_))));
        assert_eq!(out, b"prefix", "nothing appended");
        // The packet layer passes the error on instead of sealing a short packet.
        let cipher = crate::codec::PacketCipher::Rsa(k);
        assert!(matches!(cipher.encrypt(b"x"), Err(CodecError::Rsa(_))));
        assert!(matches!(crate::codec::seal_packet(1001, 1, b"x", &cipher), Err(CodecError::Rsa(_))));
    }

    #[test]
    fn pkcs1_pem_round_trips_and_der_is_accepted() {
        let k = RsaKey::generate(512).expect("key");
        let pem = k.to_pkcs1_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let back = RsaKey::from_pem(&pem).expect("parses");
        assert_eq!(back.decrypt(&k.encrypt(b"abc").expect("encrypt")).expect("decrypt"), b"abc");
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let der = k.inner.0.to_pkcs1_der().expect("der");
        assert_eq!(RsaKey::from_der(der.as_bytes()).expect("DER").bits(), 512);
        assert!(matches!(RsaKey::from_der(b"not DER"), Err(CodecError::BadKey(_))));
    }
}
