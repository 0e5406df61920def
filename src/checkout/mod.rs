//! Pure checkout rules: keys, URLs, redirect parsing, the hand-off decision, configuration, SDK
//! error classification and copy. No web-sys here, and nothing from the modules above it (only
//! `super::` and the contract crate), so everything in this module is tested natively.

pub mod config;
pub mod copy;
pub mod handoff;
pub mod keys;
pub mod plan;
pub mod portal;
pub mod query;
pub mod redirect;
pub mod request;
pub mod sdk_error;
pub mod sha256;
pub mod urls;
pub mod words;
