//! Random identifiers and fingerprints the simulator mints (billing keys, payment keys) and the
//! hashes it keys its records by (secret keys, authKeys: never stored as they are).

use sha2::{Digest, Sha256};

/// Cryptographically secure random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the OS random number generator is unavailable");
    bytes
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_and_hash() {
        assert_eq!(super::hex(&[0, 15, 255]), "000fff");
        assert_eq!(super::sha256_hex(b"").len(), 64);
    }
}
