//! `application/x-www-form-urlencoded` encoding and strict decoding, without a URL crate: the
//! browser has `URL`, but these rules must also run (and be tested) natively.

use toss_billing_contract::{split_ascii, split_once_ascii};

/// Percent-encodes everything but the unreserved characters `A-Z a-z 0-9 - . _ ~`.
pub fn encode_component(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 15)] as char);
        }
    }
    out
}

/// Why a query string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `%` not followed by two hex digits.
    #[error("the address contains a broken %-escape")]
    BadEscape,
    /// The decoded bytes are not UTF-8.
    #[error("the address contains text that is not valid UTF-8")]
    NotUtf8,
}

fn decode_component(raw: &str) -> Result<String, QueryError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Exactly two hex digits (`u8::from_str_radix` would also take a sign: "%+a").
                let digit = |at: usize| match bytes.get(at)? {
                    b @ b'0'..=b'9' => Some(b - b'0'),
                    b @ b'a'..=b'f' => Some(b - b'a' + 10),
                    b @ b'A'..=b'F' => Some(b - b'A' + 10),
                    _ => None,
                };
                let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) else {
                    return Err(QueryError::BadEscape);
                };
                out.push(high * 16 + low);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    utf8(&out).ok_or(QueryError::NotUtf8)
}

/// The text of `bytes`, or `None` when they are not UTF-8: what `String::from_utf8` accepts,
/// exactly (overlong forms, surrogates and code points past U+10FFFF are refused; tests/rules.rs
/// checks it against std on arbitrary bytes). Written out because core's validator, built for
/// speed with a word-at-a-time ASCII path, is 662 B of wasm that only this needed on the pages.
fn utf8(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let first = bytes[i];
        // The sequence's length, the smallest code point it may encode, and the lead's bits.
        let (len, least, mut code) = match first {
            0x00..=0x7F => (1, 0, u32::from(first)),
            0xC0..=0xDF => (2, 0x80, u32::from(first & 0x1F)),
            0xE0..=0xEF => (3, 0x800, u32::from(first & 0x0F)),
            0xF0..=0xF7 => (4, 0x1_0000, u32::from(first & 0x07)),
            _ => return None,
        };
        for at in i + 1..i + len {
            let next = *bytes.get(at)?;
            if next & 0xC0 != 0x80 {
                return None;
            }
            code = code << 6 | u32::from(next & 0x3F);
        }
        if code < least {
            return None;
        }
        out.push(char::from_u32(code)?);
        i += len;
    }
    Some(out)
}

/// Decodes `a=1&b=2` (a leading `?` is allowed) into pairs, in order, keeping duplicates so that
/// callers can refuse them.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, QueryError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    split_ascii(query, b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = split_once_ascii(part, b'=').unwrap_or((part, ""));
            Ok((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

/// Appends `pairs` to `base` (which may already have a query), encoding each name and value.
pub fn append_query<'a>(base: &str, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut url = base.to_owned();
    let mut separator = if split_once_ascii(base, b'?').is_some() {
        '&'
    } else {
        '?'
    };
    if url.ends_with('?') || url.ends_with('&') {
        separator = '\0';
    }
    for (name, value) in pairs {
        if separator != '\0' {
            url.push(separator);
        }
        separator = '&';
        url.push_str(&encode_component(name));
        url.push('=');
        url.push_str(&encode_component(value));
    }
    url
}

/// The query with the named parameters removed (used to scrub one-time values from the address bar
/// while keeping whatever the integrator put there). Returns `""` or `"?…"`.
pub fn without_parameters(query: &str, names: &[&str]) -> String {
    let query = query.strip_prefix('?').unwrap_or(query);
    let kept: Vec<&str> = split_ascii(query, b'&')
        .filter(|part| !part.is_empty())
        .filter(|part| {
            let raw_name = split_once_ascii(part, b'=').map_or(*part, |(name, _)| name);
            let name = decode_component(raw_name).unwrap_or_default();
            !names.contains(&name.as_str())
        })
        .collect();
    if kept.is_empty() {
        String::new()
    } else {
        ["?", &kept.join("&")].concat()
    }
}
