//! The fail page: our own copy per code, Toss's message only as capped plain text, query scrubbed.

use leptos::prelude::*;

use crate::browser;
use crate::checkout::config::Config;
use crate::checkout::copy::{fail_code_text, Text};
use crate::checkout::query::without_parameters;
use crate::checkout::redirect::{parse_fail, FailCode};
use crate::components::{Alert, BackLink};
use crate::storage;

/// The fail page (the `failUrl` target).
#[component]
pub fn RegistrationFail(
    /// The validated configuration.
    config: Config,
) -> impl IntoView {
    let locale = config.locale;
    let address = browser::address();
    let failure = parse_fail(&address.query);
    browser::replace_query(
        &address,
        &without_parameters(&address.query, &["code", "message", "orderId"]),
    );
    // The attempt is over: its state must not validate a later success redirect.
    storage::clear_pending();

    let (title, body) = fail_code_text(&failure.code);
    let cancelled = failure.code == FailCode::PayProcessCanceled;
    // Toss's message is shown only when we have no copy of our own for the code.
    let provider_message = match failure.code {
        FailCode::Other(_) | FailCode::Unreadable => failure.message.clone(),
        _ => None,
    };
    let code = if cancelled {
        None
    } else {
        failure.code.as_str().map(str::to_owned)
    };
    view! {
        <section class="tbc tbc-fail" lang=locale.tag() aria-labelledby="tbc-fail-title">
            <h2 id="tbc-fail-title" class="tbc-title">{title.get(locale)}</h2>
            <Alert locale text=body code>
                {provider_message.map(|message| view! {
                    <p class="tbc-provider-message">{Text::ProviderMessage.get(locale)}": "<span>{message}</span></p>
                })}
                <BackLink locale href=config.register_path.clone() text=Text::TryAgain />
            </Alert>
        </section>
    }
}
