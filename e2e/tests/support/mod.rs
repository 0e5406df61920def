//! Helpers for `tests/e2e.rs`: the release build ([`build`]), the shop under test ([`shop`]),
//! browsers and drivers ([`browser`]) and the customer who uses them ([`customer`]).

/// Why a step of a story failed: a sentence for the report. Not `Display`, so that anything
/// displayable (driver errors, I/O, JSON, SQL, `&str`) converts into it with `?`.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure(error.to_string())
    }
}

/// Prints a line past the test harness's output capture (skips, build times), so it shows even
/// for passing tests.
pub fn notice(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "e2e: {line}");
}

/// The result of one step of a story.
pub type Step<T = ()> = Result<T, Failure>;

/// Fails the story (returns `Err`) unless `cond` holds; the page and backend evidence is added
/// by `Customer::finish`.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err($crate::support::Failure(format!($($message)+)));
        }
    };
}

/// `ensure!` for equality, showing both sides.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($message:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err($crate::support::Failure(format!(
                "{}: expected {:?}, got {:?}",
                format!($($message)+),
                right,
                left
            )));
        }
    }};
}

pub mod browser;
pub mod build;
pub mod customer;
pub mod shop;

pub use browser::{Browser, Device};
pub use customer::{Customer, Visit, REGISTER_BUTTON};
pub use shop::{Fault, Outcome, ShopSetup};
