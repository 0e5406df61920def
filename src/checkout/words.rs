//! Text without `core::fmt`: numbers in decimal and messages written piece by piece.
//!
//! Why: `format!`, `write!` and the integer `Display` impls bring the formatting machinery into
//! the wasm (kilobytes, for a few messages a developer reads). The error types' `Display` impls
//! write their messages with these instead, and `to_string()` on them stays cheap.

use std::fmt;

/// Appends `n` in decimal, with a `,` between groups of three when `grouped`.
pub fn push_number(out: &mut String, mut n: u64, grouped: bool) {
    let mut digits = [0u8; 26];
    let mut at = digits.len();
    let mut count = 0;
    loop {
        if grouped && count > 0 && count % 3 == 0 {
            at -= 1;
            digits[at] = b',';
        }
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&b| char::from(b)));
}

/// `n` in decimal, no grouping.
pub fn decimal(n: u64) -> String {
    let mut out = String::new();
    push_number(&mut out, n, false);
    out
}

/// Writes `parts` one after the other (a message with values in it, without `write!`).
pub fn write_all(f: &mut fmt::Formatter<'_>, parts: &[&str]) -> fmt::Result {
    parts.iter().try_for_each(|part| f.write_str(part))
}
