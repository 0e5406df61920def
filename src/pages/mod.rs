//! The three pages, and the switch that picks one from the address.

mod fail;
mod register;
mod success;

use leptos::prelude::*;

pub use fail::RegistrationFail;
pub use register::{CardRegistration, RegisterState, Retry};
pub use success::RegistrationSuccess;

use crate::checkout::config::{Config, ConfigError, Page};
use crate::checkout::copy::{Locale, Text};
use crate::components::Alert;

/// The whole checkout: the page for the current address (registration, success or fail).
#[component]
pub fn Checkout(
    /// The validated configuration.
    config: Config,
) -> impl IntoView {
    match config.page_for(&crate::browser::address().path) {
        Page::Register => view! { <CardRegistration config /> }.into_any(),
        Page::Success => view! { <RegistrationSuccess config /> }.into_any(),
        Page::Fail => view! { <RegistrationFail config /> }.into_any(),
    }
}

/// One clear on-page error for a configuration that failed validation; nothing else runs.
#[component]
pub fn ConfigErrorView(
    /// What is wrong.
    error: ConfigError,
    /// Copy language (the configured one may be what is broken: Korean then).
    #[prop(default = Locale::Ko)]
    locale: Locale,
) -> impl IntoView {
    view! {
        <section class="tbc tbc-config-error" lang=locale.tag()>
            <h2 class="tbc-title">{Text::ConfigErrorTitle.get(locale)}</h2>
            <Alert locale text=Text::IntegrationError detail=Some(error.to_string()) />
        </section>
    }
}
