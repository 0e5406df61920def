//! Pure checkout rules: keys, URLs, redirect parsing, the hand-off decision, configuration and
//! copy. No web-sys here, so everything in this module is tested natively.

pub mod config;
pub mod copy;
pub mod handoff;
pub mod keys;
pub mod query;
pub mod redirect;
pub mod request;
pub mod sha256;
pub mod urls;
