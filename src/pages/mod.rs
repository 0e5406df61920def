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
    let page = config.page_for(&crate::browser::address().path);
    all_pages(config, page).unwrap_or_else(|error| view! { <ConfigErrorView error /> }.into_any())
}

/// Every page (a [`crate::Pages`] set): for a Leptos app that links the component itself.
pub fn all_pages(config: Config, page: Page) -> Result<AnyView, ConfigError> {
    Ok(match page {
        Page::Register => view! { <CardRegistration config /> }.into_any(),
        Page::Success => view! { <RegistrationSuccess config /> }.into_any(),
        Page::Fail => view! { <RegistrationFail config /> }.into_any(),
    })
}

/// The registration bundle's page set: only the registration page.
pub fn registration_page(config: Config, page: Page) -> Result<AnyView, ConfigError> {
    match page {
        Page::Register => Ok(view! { <CardRegistration config /> }.into_any()),
        Page::Success | Page::Fail => Err(ConfigError::NotInBundle(
            "this address is the success or fail page (successPath/failPath), but the page \
             loaded the registration bundle. Load toss-billing-checkout-loader.js with the same \
             configuration block: it picks the bundle by address (or add ?bundle=return to its \
             URL).",
        )),
    }
}

/// The return bundle's page set: the two pages Toss redirects to.
pub fn return_pages(config: Config, page: Page) -> Result<AnyView, ConfigError> {
    match page {
        Page::Success => Ok(view! { <RegistrationSuccess config /> }.into_any()),
        Page::Fail => Ok(view! { <RegistrationFail config /> }.into_any()),
        Page::Register => Err(ConfigError::NotInBundle(
            "this address is the registration page, but the page loaded the return bundle \
             (success and fail pages only). Load toss-billing-checkout-loader.js: it picks the \
             bundle by address.",
        )),
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
