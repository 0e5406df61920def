//! The three pages, and the switch that picks one from the address.

mod fail;
mod register;
mod success;

use leptos::prelude::*;

pub use fail::RegistrationFail;
pub use register::{begin_registration, CardRegistration, RegisterState, Retry};
pub use success::RegistrationSuccess;

use crate::checkout::config::{Config, ConfigError, Page};
use crate::checkout::copy::{Locale, Text};
use crate::checkout::handoff::CardSummary;
use crate::components::Alert;
use crate::events::Callbacks;

/// The whole checkout: the page for the address (registration, success or fail), by the one page
/// rule ([`Config::page_for`]).
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::{Checkout, RawConfig};
///
/// let config = RawConfig {
///     client_key: Some("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
///     customer_key_url: Some("/api/customer".into()),
///     ..RawConfig::default()
/// }
/// .validate()
/// .expect("a valid configuration");
/// let app = view! {
///     <Checkout
///         config
///         on_registered=|card: toss_billing_checkout::CardSummary| {
///             leptos::logging::log!("registered {:?}", card.number);
///         }
///     />
/// };
/// leptos::mount::mount_to_body(move || app);
/// ```
#[component]
pub fn Checkout(
    /// The validated configuration.
    config: Config,
    /// The address's path (`location.pathname`), which picks the page. Default: the browser's.
    /// Give it when rendering on the server (`ssr`), from your router: without it the server
    /// renders the registration page.
    #[prop(optional, into)]
    path: Option<String>,
    /// The success page shows the registered card (its masked summary).
    #[prop(optional, into)]
    on_registered: Option<Callback<CardSummary>>,
    /// A final no: the backend's refusal code (success page) or Toss's fail code (fail page).
    #[prop(optional, into)]
    on_failed: Option<Callback<String>>,
    /// The buyer closed the card window (`USER_CANCEL`, `PAY_PROCESS_CANCELED`).
    #[prop(optional, into)]
    on_cancelled: Option<Callback<String>>,
    /// The success page has no final answer yet (the last error's code).
    #[prop(optional, into)]
    on_unconfirmed: Option<Callback<String>>,
) -> impl IntoView {
    let path = path.unwrap_or_else(|| {
        // Reading the path changes nothing, so a hydrating page may read it too.
        if crate::browser::is_available() {
            crate::browser::address().path
        } else {
            String::new()
        }
    });
    let page = config.page_for(&path);
    let callbacks = Callbacks {
        on_registered,
        on_failed,
        on_cancelled,
        on_unconfirmed,
    };
    all_pages(config, page, callbacks)
        .unwrap_or_else(|error| view! { <ConfigErrorView error /> }.into_any())
}

/// Every page (a [`crate::Pages`] set): for a Leptos app that links the component itself.
pub fn all_pages(config: Config, page: Page, on: Callbacks) -> Result<AnyView, ConfigError> {
    Ok(match page {
        Page::Register => registration(config, on),
        Page::Success => success(config, on),
        Page::Fail => fail(config, on),
    })
}

fn registration(config: Config, on: Callbacks) -> AnyView {
    view! { <CardRegistration config nostrip:on_cancelled=on.on_cancelled /> }.into_any()
}

fn success(config: Config, on: Callbacks) -> AnyView {
    view! {
        <RegistrationSuccess
            config
            nostrip:on_registered=on.on_registered
            nostrip:on_failed=on.on_failed
            nostrip:on_unconfirmed=on.on_unconfirmed
        />
    }
    .into_any()
}

fn fail(config: Config, on: Callbacks) -> AnyView {
    view! {
        <RegistrationFail config nostrip:on_failed=on.on_failed nostrip:on_cancelled=on.on_cancelled />
    }
    .into_any()
}

/// The registration bundle's page set: only the registration page.
pub fn registration_page(
    config: Config,
    page: Page,
    on: Callbacks,
) -> Result<AnyView, ConfigError> {
    match page {
        Page::Register => Ok(registration(config, on)),
        Page::Success | Page::Fail => Err(ConfigError::NotInBundle(
            "this address is the success or fail page (successPath/failPath), but the page \
             loaded the registration bundle. Load toss-billing-checkout-loader.js with the same \
             configuration block: it picks the bundle by address (or add ?bundle=return to its \
             URL).",
        )),
    }
}

/// The return bundle's page set: the two pages Toss redirects to.
pub fn return_pages(config: Config, page: Page, on: Callbacks) -> Result<AnyView, ConfigError> {
    match page {
        Page::Success => Ok(success(config, on)),
        Page::Fail => Ok(fail(config, on)),
        Page::Register => Err(ConfigError::NotInBundle(
            "this address is the registration page, but the page loaded the return bundle \
             (success and fail pages only). Load toss-billing-checkout-loader.js: it picks the \
             bundle by address.",
        )),
    }
}

/// One clear on-page error for a configuration that failed validation; nothing else runs.
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::{ConfigErrorView, RawConfig};
///
/// let page = match RawConfig::default().validate() {
///     Ok(_) => unreachable!("a configuration without a client key is refused"),
///     // "configuration field `clientKey` is required"
///     Err(error) => view! { <ConfigErrorView error /> },
/// };
/// ```
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
