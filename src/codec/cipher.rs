//! Body ciphers: none, RSA (InitConnect only), AES-128-CBC/PKCS#7 and FTAES-ECB.

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{
    block_padding::Pkcs7, BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, InnerIvInit, KeyInit,
};
use aes::Aes128;

use super::rsa::RsaKey;
use super::CodecError;

/// The AES mode a connection uses after InitConnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AesMode {
    /// Standard AES-128-CBC with PKCS#7 padding; the same IV for every packet
    /// (`Common.PacketEncAlgo_AES_CBC = 2`).
    Cbc,
    /// Futu's modified AES-128-ECB: zero padding plus a 16-byte clear trailer whose
    /// last byte is `len % 16` (`Common.PacketEncAlgo_FTAES_ECB = 0`).
    FtAesEcb,
}

/// A prepared AES-128 key: the key schedule is computed once, when the connection's
/// cipher is built, never per packet. Opaque (the `aes` crate it wraps is not part of
/// ftapi's API), never printed, and wiped when dropped.
///
/// ```
/// use ftapi::codec::AesKey;
/// assert!(AesKey::new(b"0123456789abcdef").is_ok());
/// assert!(AesKey::new(b"too short").is_err());
/// ```
#[derive(Clone)]
pub struct AesKey(Aes128);

impl AesKey {
    /// Prepares a 16-byte key ([`CodecError::BadKey`] for any other length).
    pub fn new(key: &[u8]) -> Result<Self, CodecError> {
        let k = key16("AES key", key)?;
        Ok(AesKey(Aes128::new(&k.into())))
    }
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

/// How the bodies of one connection are encrypted. Built once per connection (the AES
/// key schedule is computed here, not per packet). Every key inside is one of ftapi's
/// own types ([`RsaKey`], [`AesKey`]).
///
/// ```
/// use ftapi::codec::PacketCipher;
/// let c = PacketCipher::ft_aes_ecb(b"0123456789abcdef").unwrap();
/// let wire = c.encrypt(&[1, 2, 3, 4, 5]).unwrap();
/// assert_eq!(wire.len(), 32);
/// assert_eq!(wire[31], 5);
/// assert_eq!(c.decrypt(&wire).unwrap(), vec![1, 2, 3, 4, 5]);
/// ```
#[derive(Clone)]
pub enum PacketCipher {
    /// No encryption.
    Plain,
    /// RSA PKCS#1 v1.5 in key-size blocks: the InitConnect request and reply.
    Rsa(RsaKey),
    /// AES-128-CBC, PKCS#7, fixed IV.
    AesCbc {
        /// The connection's AES key (`connAESKey`).
        key: AesKey,
        /// The connection's IV (`aesCBCiv`).
        iv: [u8; 16],
    },
    /// FTAES-ECB.
    FtAesEcb {
        /// The connection's AES key (`connAESKey`).
        key: AesKey,
    },
}

impl std::fmt::Debug for PacketCipher {
    // Keys are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PacketCipher::Plain => "PacketCipher::Plain",
            PacketCipher::Rsa(_) => "PacketCipher::Rsa(<redacted>)",
            PacketCipher::AesCbc { .. } => "PacketCipher::AesCbc(<redacted>)",
            PacketCipher::FtAesEcb { .. } => "PacketCipher::FtAesEcb(<redacted>)",
        })
    }
}

fn key16(what: &str, k: &[u8]) -> Result<[u8; 16], CodecError> {
    <[u8; 16]>::try_from(k).map_err(|_| CodecError::BadKey(format!("{what} must be 16 bytes, got {}", k.len())))
}

impl PacketCipher {
    /// AES-128-CBC with the given 16-byte key and IV.
    pub fn aes_cbc(key: &[u8], iv: &[u8]) -> Result<Self, CodecError> {
        let key = AesKey::new(key)?;
        let iv = key16("AES IV", iv)?;
        Ok(PacketCipher::AesCbc { key, iv })
    }

    /// FTAES-ECB with the given 16-byte key.
    pub fn ft_aes_ecb(key: &[u8]) -> Result<Self, CodecError> {
        Ok(PacketCipher::FtAesEcb { key: AesKey::new(key)? })
    }

    /// The AES cipher OpenD's InitConnect reply selects: CBC when it carries an IV,
    /// FTAES-ECB otherwise.
    pub fn from_init_connect(aes_key: &str, cbc_iv: Option<&str>) -> Result<Self, CodecError> {
        match cbc_iv {
            Some(iv) => Self::aes_cbc(aes_key.as_bytes(), iv.as_bytes()),
            None => Self::ft_aes_ecb(aes_key.as_bytes()),
        }
    }

    /// Whether bodies are transformed at all.
    pub fn is_plain(&self) -> bool {
        matches!(self, PacketCipher::Plain)
    }

    /// Length of the body on the wire for a plaintext of `len` bytes.
    pub fn sealed_len(&self, len: usize) -> usize {
        match self {
            PacketCipher::Plain => len,
            PacketCipher::Rsa(k) => k.sealed_len(len),
            PacketCipher::AesCbc { .. } => (len / 16 + 1) * 16,
            PacketCipher::FtAesEcb { .. } => len.div_ceil(16) * 16 + 16,
        }
    }

    /// Encrypts a plaintext body, appending the result to `out`. Only RSA can fail
    /// ([`RsaKey::encrypt_into`]); then `out` is left as it was.
    pub fn encrypt_into(&self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            PacketCipher::Rsa(k) => k.encrypt_into(plain, out),
            _ => {
                let start = out.len();
                out.extend_from_slice(plain);
                self.encrypt_tail_in_place(out, start, false)
            }
        }
    }

    /// Encrypts `buf[start..]` (a plaintext body) in place, growing `buf` by the
    /// padding and trailer; the sealer encrypts a body it serialized straight into the
    /// packet buffer this way. With `wipe`, no copy of the plaintext is left behind in
    /// memory this function frees (a grown buffer is moved by hand and the old one
    /// zeroed; RSA's plaintext copy is zeroed). On error `buf` is truncated to `start`.
    pub(crate) fn encrypt_tail_in_place(&self, buf: &mut Vec<u8>, start: usize, wipe: bool) -> Result<(), CodecError> {
        let start = start.min(buf.len());
        let len = buf.len() - start;
        match self {
            PacketCipher::Plain => {}
            PacketCipher::Rsa(k) => {
                let mut plain = buf.split_off(start);
                let r = k.encrypt_into(&plain, buf);
                if wipe {
                    zeroize::Zeroize::zeroize(&mut plain);
                }
                r?;
            }
            PacketCipher::AesCbc { key, iv } => {
                let padded = (len / 16 + 1) * 16;
                reserve_total(buf, start + padded, wipe);
                buf.resize(start + padded, 0);
                let enc = cbc::Encryptor::<Aes128>::inner_iv_init(key.0.clone(), iv.into());
                // The buffer has room for the padding by construction, so this cannot fail.
                let n = enc.encrypt_padded_mut::<Pkcs7>(&mut buf[start..], len).map(|c| c.len()).unwrap_or(0);
                buf.truncate(start + n);
            }
            PacketCipher::FtAesEcb { key } => {
                let r = len % 16;
                reserve_total(buf, start + len.div_ceil(16) * 16 + 16, wipe);
                buf.resize(start + len.div_ceil(16) * 16, 0);
                let (blocks, _) = InOutBuf::from(&mut buf[start..]).into_chunks::<U16>();
                key.0.encrypt_blocks_inout(blocks);
                buf.extend_from_slice(&[0u8; 15]);
                buf.push(r as u8);
            }
        }
        Ok(())
    }

    /// Encrypts a plaintext body. Only RSA can fail ([`RsaKey::encrypt`]).
    pub fn encrypt(&self, plain: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(self.sealed_len(plain.len()));
        self.encrypt_into(plain, &mut out)?;
        Ok(out)
    }

    /// Decrypts a transmitted body. Wrong lengths and bad padding are errors, never
    /// panics.
    pub fn decrypt(&self, body: &[u8]) -> Result<Vec<u8>, CodecError> {
        match self {
            PacketCipher::Rsa(k) => k.decrypt(body),
            _ => {
                let mut out = body.to_vec();
                self.decrypt_in_place(&mut out)?;
                Ok(out)
            }
        }
    }

    /// Decrypts a transmitted body in place, leaving the plaintext in `body` (the AES
    /// modes reuse the buffer; RSA replaces it). Wrong lengths and bad padding are
    /// errors, never panics; after an error the content of `body` is unspecified.
    pub fn decrypt_in_place(&self, body: &mut Vec<u8>) -> Result<(), CodecError> {
        match self {
            PacketCipher::Plain => Ok(()),
            PacketCipher::Rsa(k) => {
                *body = k.decrypt(body)?;
                Ok(())
            }
            PacketCipher::AesCbc { key, iv } => {
                if body.is_empty() || body.len() % 16 != 0 {
                    return Err(CodecError::Decrypt(format!(
                        "AES-CBC body length {} is not a positive multiple of 16",
                        body.len()
                    )));
                }
                let dec = cbc::Decryptor::<Aes128>::inner_iv_init(key.0.clone(), iv.into());
                let n = dec
                    .decrypt_padded_mut::<Pkcs7>(body)
                    .map(|p| p.len())
                    .map_err(|_| CodecError::Decrypt("bad PKCS#7 padding (wrong key or corrupt body)".into()))?;
                body.truncate(n);
                Ok(())
            }
            PacketCipher::FtAesEcb { key } => {
                if body.len() < 16 || body.len() % 16 != 0 {
                    return Err(CodecError::Decrypt(format!(
                        "FTAES-ECB body length {} is not a multiple of 16 with a trailer",
                        body.len()
                    )));
                }
                let data_len = body.len() - 16;
                // Only the trailer's last byte means anything (the SDK ignores the other 15).
                let tail = body.last().map_or(0, |b| *b as usize);
                if tail >= 16 {
                    return Err(CodecError::Decrypt(format!("FTAES-ECB trailer byte {tail} out of range")));
                }
                if tail != 0 && data_len == 0 {
                    return Err(CodecError::Decrypt("FTAES-ECB trailer names a tail but there is no data".into()));
                }
                body.truncate(data_len);
                let (blocks, _) = InOutBuf::from(&mut body[..]).into_chunks::<U16>();
                key.0.decrypt_blocks_inout(blocks);
                if tail != 0 {
                    body.truncate(data_len - (16 - tail));
                }
                Ok(())
            }
        }
    }
}

/// Makes room in `buf` for `total` bytes. With `wipe`, a buffer that has to grow is
/// moved to a new allocation by hand and the old one zeroed, so that the plaintext it
/// held is not left in freed memory.
fn reserve_total(buf: &mut Vec<u8>, total: usize, wipe: bool) {
    if total <= buf.capacity() {
        return;
    }
    if wipe {
        let mut grown = Vec::with_capacity(total);
        grown.extend_from_slice(buf);
        zeroize::Zeroize::zeroize(buf);
        *buf = grown;
    } else {
        buf.reserve_exact(total - buf.len());
    }
}
