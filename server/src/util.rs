//! Small helpers: randomness, hashing, identifiers and timestamps (no extra crates).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// Cryptographically secure random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("OS random number generator unavailable");
    b
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// A short, non-reversible fingerprint for logs (never log the value itself).
pub fn fingerprint(data: &str) -> String {
    sha256_hex(data.as_bytes())[..10].to_string()
}

/// A random UUID (version 4 layout) from 16 random bytes.
pub fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// base64url without padding of random bytes.
pub fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// Standard base64 with padding.
pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Constant-time string equality (length is not hidden).
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The current time as ISO 8601 in Korea Standard Time, the way Toss formats it:
/// `2024-01-31T09:15:00+09:00`.
pub fn now_kst() -> String {
    format_kst(unix_now())
}

/// Formats Unix seconds as ISO 8601 with a `+09:00` offset.
pub fn format_kst(unix: i64) -> String {
    let t = unix + 9 * 3600;
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+09:00",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The current (year, month) in KST.
pub fn current_year_month_kst() -> (i64, u32) {
    let days = (unix_now() + 9 * 3600).div_euclid(86_400);
    let (y, m, _) = civil_from_days(days);
    (y, m)
}

/// customerKey rule: 2–50 characters of `A-Z a-z 0-9 - _ = . @`.
pub fn valid_customer_key(s: &str) -> bool {
    (2..=50).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.' | b'@'))
}

/// orderId rule: 6–64 characters of `A-Z a-z 0-9 - _`.
pub fn valid_order_id(s: &str) -> bool {
    (6..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// authKey rule used by this server: 1–300 printable ASCII characters, no spaces.
pub fn valid_auth_key(s: &str) -> bool {
    (1..=300).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_kst(0), "1970-01-01T09:00:00+09:00");
        assert_eq!(format_kst(1_709_251_199), "2024-03-01T08:59:59+09:00");
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn uuid_shape() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(valid_customer_key(&u));
    }

    #[test]
    fn rules() {
        assert!(valid_customer_key("ab"));
        assert!(!valid_customer_key("a"));
        assert!(!valid_customer_key("a b"));
        assert!(valid_order_id("order_1"));
        assert!(!valid_order_id("ord"));
        assert!(!valid_auth_key(""));
        assert!(!valid_auth_key(&"a".repeat(301)));
    }
}
