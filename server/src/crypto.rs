//! Secrets at rest: billing keys and pending authKeys sealed with AES-256-GCM under a keyring of
//! named keys (the first one seals, every one opens, so a key can be rotated), and the HMAC that
//! signs session cookies, derived from the same keys.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Why a keyring could not be built. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// A key is not the base64 of exactly 32 bytes.
    #[error("encryption key {0} is not the base64 of exactly 32 bytes")]
    NotAKey(String),
    /// A key id is not 1–32 of `A-Z a-z 0-9 - _ .`.
    #[error("encryption key id {0:?} must be 1-32 characters of A-Z a-z 0-9 - _ .")]
    BadId(String),
    /// Two keys share an id.
    #[error("encryption key id {0:?} is given twice")]
    DuplicateId(String),
    /// Nothing was given.
    #[error("no encryption key given")]
    Empty,
    /// The key file is readable by other users.
    #[error(
        "{0} is readable by other users: chmod 600 it (it holds the billing keys' encryption key)"
    )]
    FileTooOpen(String),
    /// The key file could not be read or written.
    #[error("cannot use the key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

struct NamedKey {
    id: String,
    cipher: Aes256Gcm,
    mac_key: [u8; 32],
}

/// The encryption keys: the first seals, all open. Cheap to share (`Arc` it).
pub struct Keyring {
    keys: Vec<NamedKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        write!(f, "Keyring(active {:?}, ids {ids:?})", self.active_id())
    }
}

/// A sealed value: which key, the nonce, the ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The key id.
    pub key_id: String,
    /// 96-bit random nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext with the GCM tag.
    pub ciphertext: Vec<u8>,
}

impl Sealed {
    /// One blob: `id length (1 byte) | id | nonce (12) | ciphertext`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.key_id.len() + 12 + self.ciphertext.len());
        out.push(self.key_id.len() as u8);
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Reads [`Sealed::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Option<Sealed> {
        let (&id_len, rest) = bytes.split_first()?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + 12 + 16 {
            return None;
        }
        let (id, rest) = rest.split_at(id_len);
        let (nonce, ciphertext) = rest.split_at(12);
        Some(Sealed {
            key_id: String::from_utf8(id.to_vec()).ok()?,
            nonce: nonce.to_vec(),
            ciphertext: ciphertext.to_vec(),
        })
    }
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .ok()?;
    bytes.try_into().ok()
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The id of an unnamed key: the first 8 hex digits of its SHA-256, stable across restarts.
fn fingerprint_id(key: &[u8; 32]) -> String {
    crate::ids::hex(&Sha256::digest(key)[..4])
}

impl Keyring {
    /// From `id:base64` entries (or a bare `base64`, named by its fingerprint), separated by
    /// commas or new lines; `#` starts a comment line. The first entry seals.
    pub fn parse(text: &str) -> Result<Keyring, KeyringError> {
        let mut keys: Vec<NamedKey> = Vec::new();
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (index, entry) in entries.enumerate() {
            let (id, material) = match entry.split_once(':') {
                Some((id, material)) => (Some(id.trim()), material),
                None => (None, entry),
            };
            let key = decode_key(material)
                .ok_or_else(|| KeyringError::NotAKey(format!("#{}", index + 1)))?;
            let id = match id {
                Some(id) if valid_id(id) => id.to_owned(),
                Some(id) => return Err(KeyringError::BadId(id.to_owned())),
                None => fingerprint_id(&key),
            };
            if keys.iter().any(|k| k.id == id) {
                return Err(KeyringError::DuplicateId(id));
            }
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key length");
            mac.update(b"toss-billing session cookie v1");
            keys.push(NamedKey {
                id,
                cipher: Aes256Gcm::new(&key.into()),
                mac_key: mac.finalize().into_bytes().into(),
            });
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        Ok(Keyring { keys })
    }

    /// Reads a key file, refusing one that group or others can read.
    pub fn from_file(path: &Path) -> Result<Keyring, KeyringError> {
        check_private(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| KeyringError::File {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        Keyring::parse(&text)
    }

    /// Demo mode only: the key file at `path`, created (0600) with a fresh key if missing.
    /// Returns whether it was created.
    pub fn demo_file(path: &Path) -> Result<(Keyring, bool), KeyringError> {
        if path.exists() {
            return Ok((Keyring::from_file(path)?, false));
        }
        let fail = |e: std::io::Error| KeyringError::File {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let key = crate::ids::random_bytes::<32>();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(fail)?;
        // The bare base64 of v1's demo key files: named by fingerprint, so v1 files still open.
        writeln!(file, "{}", STANDARD.encode(key)).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        Ok((Keyring::from_file(path)?, true))
    }

    /// The id of the sealing key.
    pub fn active_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plaintext` with the active key, binding `associated` (e.g. the customerKey: a row
    /// moved to another customer does not open).
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Sealed {
        let key = &self.keys[0];
        let nonce = crate::ids::random_bytes::<12>();
        let ciphertext = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .expect("AES-GCM encryption cannot fail for small inputs");
        Sealed {
            key_id: key.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// Opens a sealed value; `key_id` `None` (v1 rows) tries every key.
    pub fn open(
        &self,
        key_id: Option<&str>,
        nonce: &[u8],
        ciphertext: &[u8],
        associated: &[u8],
    ) -> Option<Vec<u8>> {
        if nonce.len() != 12 {
            return None;
        }
        self.keys
            .iter()
            .filter(|k| key_id.is_none_or(|id| id == k.id))
            .find_map(|k| {
                k.cipher
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: associated,
                        },
                    )
                    .ok()
            })
    }

    /// Opens [`Sealed::to_bytes`].
    pub fn open_blob(&self, blob: &[u8], associated: &[u8]) -> Option<Vec<u8>> {
        let sealed = Sealed::from_bytes(blob)?;
        self.open(
            Some(&sealed.key_id),
            &sealed.nonce,
            &sealed.ciphertext,
            associated,
        )
    }

    /// HMAC-SHA256 with the active key's cookie key.
    pub fn sign(&self, message: &[u8]) -> [u8; 32] {
        mac(&self.keys[0].mac_key, message)
    }

    /// Whether `tag` is the HMAC of `message` under any key (constant time per key).
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        self.keys.iter().any(|k| {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&k.mac_key).expect("any key length");
            m.update(message);
            m.verify_truncated_left(tag).is_ok() && tag.len() >= 16
        })
    }
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    m.update(message);
    m.finalize().into_bytes().into()
}

/// Refuses a file that group or others may read or write.
pub fn check_private(path: &Path) -> Result<(), KeyringError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| KeyringError::File {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(KeyringError::FileTooOpen(path.display().to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn seals_with_the_first_key_and_opens_with_any() {
        let old = Keyring::parse(&format!("k1:{}", key(1))).unwrap();
        let sealed = old.seal(b"bk_secret=", b"cust-1");
        assert_eq!(sealed.key_id, "k1");
        let rotated = Keyring::parse(&format!("k2:{},k1:{}", key(2), key(1))).unwrap();
        assert_eq!(rotated.active_id(), "k2");
        assert_eq!(
            rotated.open_blob(&sealed.to_bytes(), b"cust-1").as_deref(),
            Some(&b"bk_secret="[..])
        );
        assert_eq!(rotated.open_blob(&sealed.to_bytes(), b"cust-2"), None);
        assert_eq!(
            rotated
                .open(None, &sealed.nonce, &sealed.ciphertext, b"cust-1")
                .as_deref(),
            Some(&b"bk_secret="[..])
        );
        let new = rotated.seal(b"x", b"");
        assert_eq!(new.key_id, "k2");
        assert_ne!(new.nonce, sealed.nonce);
    }

    #[test]
    fn bare_keys_are_named_by_fingerprint_and_bad_ones_refused_without_echo() {
        let ring = Keyring::parse(&key(3)).unwrap();
        assert_eq!(ring.active_id().len(), 8);
        let err = Keyring::parse("k1:c2hvcnQ=").unwrap_err();
        assert!(!err.to_string().contains("c2hvcnQ"), "{err}");
        assert_eq!(
            Keyring::parse(&format!("k1:{},k1:{}", key(1), key(2))).unwrap_err(),
            KeyringError::DuplicateId("k1".into())
        );
        assert_eq!(
            Keyring::parse(" \n# nothing\n").unwrap_err(),
            KeyringError::Empty
        );
    }

    #[test]
    fn cookie_signatures() {
        let ring = Keyring::parse(&key(4)).unwrap();
        let tag = ring.sign(b"a1.ck.123");
        assert!(ring.verify(b"a1.ck.123", &tag[..16]));
        assert!(!ring.verify(b"a1.ck.124", &tag[..16]));
        assert!(!ring.verify(b"a1.ck.123", &tag[..8]));
    }
}
