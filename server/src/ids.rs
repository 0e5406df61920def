//! Random identifiers and fingerprints: tokens, customerKeys, Idempotency-Keys, log tags.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Cryptographically secure random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the OS random number generator is unavailable");
    bytes
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// A short, non-reversible tag for logs: never log an authKey or billing key itself.
pub fn log_tag(secret: &str) -> String {
    sha256_hex(secret.as_bytes())[..10].to_owned()
}

/// base64url of `N` random bytes.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// A new customerKey: a random UUID v4 (unguessable, as Toss asks).
pub fn new_customer_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The exchange's identity and its Idempotency-Key at Toss: `ak-` + SHA-256 hex of the authKey.
/// Derived on the server, so every tab, retry and instance lands on the same exchange.
pub fn exchange_key(auth_key: &str) -> String {
    format!("ak-{}", sha256_hex(auth_key.as_bytes()))
}

/// The Idempotency-Key of a charge: unique per charge, reused only for that charge's retries.
pub fn charge_idempotency_key() -> String {
    format!("ch-{}", uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(exchange_key("a").len(), 67);
        assert!(toss_billing_contract::check_customer_key(&new_customer_key()).is_ok());
        assert!(toss_billing_contract::is_valid_idempotency_key(
            &charge_idempotency_key()
        ));
        assert_eq!(random_token::<32>().len(), 43);
    }
}
