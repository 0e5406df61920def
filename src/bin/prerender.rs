//! Prerenders the registration page's first state — the busy button, the copy, the plan summary —
//! to HTML, at build time, with the component's own server renderer (`ssr`): the release build
//! (scripts/assemble-dist.py) puts it in the page's checkout slot, so it is on screen as soon as
//! the document is parsed, and the registration bundle replaces it with the same markup in one
//! task when it mounts (no layout shift).
//!
//!   toss-billing-prerender < config.json > slot.html
//!
//! The configuration is the page's own block (JSON); a configuration the component refuses is an
//! error here too (the build fails, naming the field).

use std::io::Read;

use leptos::prelude::*;
use toss_billing_checkout::{CardRegistration, RawConfig};

fn main() {
    let mut json = String::new();
    if std::io::stdin().read_to_string(&mut json).is_err() {
        eprintln!("prerender: cannot read the configuration from stdin");
        std::process::exit(2);
    }
    let raw: RawConfig = match serde_json::from_str(&json) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!("prerender: the configuration block is not valid: {e}");
            std::process::exit(2);
        }
    };
    let config = match raw.validate() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("prerender: the component refuses the configuration: {e}");
            std::process::exit(2);
        }
    };
    let owner = Owner::new();
    let html = owner.with(|| view! { <CardRegistration config /> }.to_html());
    print!("{html}");
}
