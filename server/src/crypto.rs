//! Billing keys at rest: AES-256-GCM with a random 96-bit nonce per row.

use crate::util;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use std::io::Write;
use std::path::Path;

/// Encrypts/decrypts billing keys. The customerKey is bound as associated data, so a row moved
/// to another customer fails to decrypt.
#[derive(Clone)]
pub struct KeyBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KeyBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyBox(<redacted>)")
    }
}

impl KeyBox {
    pub fn new(key: &[u8; 32]) -> KeyBox {
        KeyBox {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// Returns (nonce, ciphertext).
    pub fn seal(&self, plaintext: &str, customer_key: &str) -> (Vec<u8>, Vec<u8>) {
        let nonce = util::random_bytes::<12>();
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: customer_key.as_bytes(),
                },
            )
            .expect("AES-GCM encryption cannot fail for small inputs");
        (nonce.to_vec(), ct)
    }

    pub fn open(&self, nonce: &[u8], ciphertext: &[u8], customer_key: &str) -> Option<String> {
        if nonce.len() != 12 {
            return None;
        }
        let pt = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: customer_key.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(pt).ok()
    }
}

/// Loads the demo key file, or creates it (0600) with a fresh random key. Returns the key and
/// whether it was created.
pub fn load_or_create_key_file(path: &Path) -> std::io::Result<([u8; 32], bool)> {
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        let key = crate::config::parse_encryption_key(&text).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} does not hold the base64 of 32 bytes", path.display()),
            )
        })?;
        return Ok((key, false));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let key = util::random_bytes::<32>();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(util::b64(&key).as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok((key, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_binding() {
        let kb = KeyBox::new(&[7u8; 32]);
        let (n, c) = kb.seal("bk_secret=", "cust-1");
        assert_eq!(kb.open(&n, &c, "cust-1").as_deref(), Some("bk_secret="));
        assert_eq!(kb.open(&n, &c, "cust-2"), None);
        let (n2, _) = kb.seal("bk_secret=", "cust-1");
        assert_ne!(n, n2);
    }
}
