//! The fail page: our own copy per code, Toss's message only as capped plain text, query scrubbed.

use leptos::prelude::*;

use crate::browser;
use crate::checkout::config::Config;
use crate::checkout::copy::{fail_code_text, Locale, Text};
use crate::checkout::query::without_parameters;
use crate::checkout::redirect::{parse_fail, FailCode, FailRedirect};
use crate::components::{Alert, BackLink, Spinner};
use crate::events::{code_later, Root, CANCELLED, FAILED};
use crate::storage;

/// Reads the fail redirect, scrubs it from the address, ends the attempt, and reports it.
fn arrive(
    root: Root,
    on_failed: Option<Callback<String>>,
    on_cancelled: Option<Callback<String>>,
) -> FailRedirect {
    let address = browser::address();
    let failure = parse_fail(&address.query);
    browser::replace_query(
        &address,
        &without_parameters(&address.query, &["code", "message", "orderId"]),
    );
    // The attempt is over: its state must not validate a later success redirect.
    storage::clear_pending();
    let (callback, name) = match failure.code {
        FailCode::PayProcessCanceled => (on_cancelled, CANCELLED),
        _ => (on_failed, FAILED),
    };
    let code = failure.code.as_str().unwrap_or("UNREADABLE");
    code_later(root, callback, name, code.to_owned());
    failure
}

/// The fail page (the `failUrl` target). Its first render on the server (`ssr`) and when
/// hydrating is a neutral "checking the result" heading: the code is in the address, which the
/// server cannot see; the page reads it in an effect. Client-side rendering reads it at once.
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::{RawConfig, RegistrationFail};
///
/// let config = RawConfig {
///     client_key: Some("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
///     customer_key_url: Some("/api/customer".into()),
///     ..RawConfig::default()
/// }
/// .validate()
/// .expect("a valid configuration");
/// leptos::mount::mount_to_body(move || {
///     view! {
///         <RegistrationFail
///             config
///             on_failed=|code: String| leptos::logging::log!("Toss said {code}")
///             on_cancelled=|_| leptos::logging::log!("the buyer cancelled")
///         />
///     }
/// });
/// ```
#[component]
pub fn RegistrationFail(
    /// The validated configuration.
    config: Config,
    /// Toss's fail code (e.g. `REJECT_CARD_COMPANY`; `UNREADABLE` when the address has none).
    #[prop(optional, into)]
    on_failed: Option<Callback<String>>,
    /// The buyer cancelled in Toss's window (`PAY_PROCESS_CANCELED`).
    #[prop(optional, into)]
    on_cancelled: Option<Callback<String>>,
) -> impl IntoView {
    let locale = config.locale;
    let register_path = config.register_path;
    let failure = RwSignal::new(None::<FailRedirect>);
    let root = Root::new();
    browser::start_when_usable(move || failure.set(Some(arrive(root, on_failed, on_cancelled))));
    view! {
        <section class="tbc tbc-fail" lang=locale.tag() aria-labelledby="tbc-fail-title" node_ref=root>
            {move || match failure.get() {
                None => view! {
                    <h2 id="tbc-fail-title" class="tbc-title" aria-busy="true">
                        <Spinner visible=|| true />
                        {Text::FailChecking.get(locale)}
                    </h2>
                }
                .into_any(),
                Some(failure) => outcome(locale, failure, register_path.clone()).into_any(),
            }}
        </section>
    }
}

/// What the fail redirect says, in our words.
fn outcome(locale: Locale, failure: FailRedirect, register_path: String) -> impl IntoView {
    let (title, body) = fail_code_text(&failure.code);
    let cancelled = failure.code == FailCode::PayProcessCanceled;
    // Toss's message is shown only when we have no copy of our own for the code.
    let provider_message = match failure.code {
        FailCode::Other(_) | FailCode::Unreadable => failure.message,
        _ => None,
    };
    let code = if cancelled {
        None
    } else {
        failure.code.as_str().map(str::to_owned)
    };
    view! {
        <h2 id="tbc-fail-title" class="tbc-title">{title.get(locale)}</h2>
        <Alert locale text=body code>
            {provider_message.map(|message| view! {
                <p class="tbc-provider-message">{Text::ProviderMessage.get(locale)}": "<span>{message}</span></p>
            })}
            <BackLink locale href=register_path text=Text::TryAgain />
        </Alert>
    }
}
