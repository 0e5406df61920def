//! The success page: checks Toss's redirect against what this tab started, scrubs the one-time key
//! from the address bar, and hands it to the backend exactly once.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::backend;
use crate::browser;
use crate::checkout::config::Config;
use crate::checkout::copy::{backend_error_text, redirect_error_text, Locale, Text};
use crate::checkout::handoff::{
    success_arrival, CardSummary, ErrorBody, HandoffRecord, HandoffStatus, SuccessArrival,
    SUCCESS_PARAMETERS,
};
use crate::checkout::query::without_parameters;
use crate::checkout::redirect::RedirectError;
use crate::components::{Alert, BackLink, CardSummaryView, Spinner};
use crate::storage;

/// What the success page shows.
#[derive(Debug, Clone, PartialEq)]
enum View {
    Checking { attempt: u32 },
    Registered(CardSummary),
    Refused(ErrorBody),
    Unconfirmed { interrupted: bool },
    BadLink(RedirectError),
}

/// The view of a stored status. `Sending` found in storage means the page went away mid-request.
fn view_of(status: &HandoffStatus) -> View {
    match status {
        HandoffStatus::Sending => View::Unconfirmed { interrupted: true },
        HandoffStatus::Registered { card } => View::Registered(card.clone()),
        HandoffStatus::Refused { error } => View::Refused(error.clone()),
        HandoffStatus::Unconfirmed { .. } => View::Unconfirmed { interrupted: false },
    }
}

/// Posts the record and stores whatever comes back.
fn send(
    config: StoredValue<Config>,
    record: StoredValue<Option<HandoffRecord>>,
    shown: RwSignal<View>,
) {
    let (Some(config), Some(Some(mut current))) = (config.try_get_value(), record.try_get_value())
    else {
        return;
    };
    shown.set(View::Checking { attempt: 1 });
    spawn_local(async move {
        let result = backend::hand_off(&config, &current, |attempt| {
            shown.set(View::Checking { attempt })
        })
        .await;
        let status = match result {
            Ok(card) => HandoffStatus::Registered { card },
            // Another mount of this page is posting the same key: leave the stored state alone.
            Err(backend::BackendError::AlreadyInFlight) => return,
            Err(error) if error.is_final() => HandoffStatus::Refused {
                error: error.as_error_body(),
            },
            Err(error) => HandoffStatus::Unconfirmed {
                error: error.as_error_body(),
            },
        };
        current.settle(status);
        let _ = storage::save_handoff(&current);
        shown.set(view_of(&current.status));
        record.try_set_value(Some(current));
    });
}

/// The success page (the `successUrl` target).
#[component]
pub fn RegistrationSuccess(
    /// The validated configuration.
    config: Config,
) -> impl IntoView {
    let locale: Locale = config.locale;
    let register_path = config.register_path.clone();
    let config = StoredValue::new(config);

    // Decide and scrub synchronously, before anything renders: the authKey leaves the address bar
    // in the same task that reads it.
    let address = browser::address();
    let arrival = success_arrival(
        &address.query,
        storage::load_pending().as_ref(),
        storage::load_handoff(),
    );
    browser::replace_query(
        &address,
        &without_parameters(&address.query, &SUCCESS_PARAMETERS),
    );

    let record = StoredValue::new(None::<HandoffRecord>);
    let shown = RwSignal::new(View::Checking { attempt: 1 });
    match arrival {
        SuccessArrival::Send(fresh) => {
            storage::clear_pending();
            // Stored before posting: a reload mid-request finds it and never posts on its own.
            if storage::save_handoff(&fresh).is_ok() {
                record.set_value(Some(fresh));
                send(config, record, shown);
            } else {
                shown.set(View::Unconfirmed { interrupted: false });
                record.set_value(Some(fresh));
            }
        }
        SuccessArrival::Show(stored) => {
            shown.set(view_of(&stored.status));
            record.set_value(Some(stored));
        }
        SuccessArrival::Reject(error) => shown.set(View::BadLink(error)),
    }

    // The result heading takes focus when it appears, so a screen reader announces the outcome.
    let done_heading = NodeRef::<leptos::html::H2>::new();
    Effect::new(move |_| {
        if let Some(heading) = done_heading.get() {
            let _ = heading.focus();
        }
    });

    let can_retry = move || record.with_value(|r| r.as_ref().is_some_and(|r| r.auth_key.is_some()));
    let back = register_path.clone();
    view! {
        <section class="tbc tbc-success" lang=locale.tag() aria-labelledby="tbc-success-title">
            {move || {
                let back = back.clone();
                match shown.get() {
                View::Checking { attempt } => view! {
                    <h2 id="tbc-success-title" class="tbc-title" aria-busy="true">
                        <Spinner visible=|| true />
                        {Text::SuccessChecking.get(locale)}
                    </h2>
                    <p class="tbc-status" role="status" aria-live="polite">
                        {(attempt > 1).then(|| Text::SuccessRetrying.get(locale))}
                    </p>
                }.into_any(),
                View::Registered(card) => view! {
                    <h2 id="tbc-success-title" class="tbc-title tbc-title-done" tabindex="-1" node_ref=done_heading>{Text::SuccessDone.get(locale)}</h2>
                    <p class="tbc-lead" role="status">{Text::SuccessDoneLead.get(locale)}</p>
                    <CardSummaryView locale card />
                }.into_any(),
                View::Refused(error) => view! {
                    <h2 id="tbc-success-title" class="tbc-title">{Text::SuccessFailedTitle.get(locale)}</h2>
                    <Alert locale text=backend_error_text(&error.code) code=Some(error.code)>
                        <BackLink locale href=back text=Text::TryAgain />
                    </Alert>
                }.into_any(),
                View::Unconfirmed { interrupted } => view! {
                    <h2 id="tbc-success-title" class="tbc-title">{Text::SuccessFailedTitle.get(locale)}</h2>
                    <Alert locale text=if interrupted { Text::SuccessInterrupted } else { Text::SuccessUnconfirmed }>
                        {can_retry().then(|| view! {
                            <button type="button" class="tbc-button" on:click=move |_| send(config, record, shown)>
                                {Text::CheckAgain.get(locale)}
                            </button>
                        })}
                        <BackLink locale href=back />
                    </Alert>
                }.into_any(),
                View::BadLink(error) => view! {
                    <h2 id="tbc-success-title" class="tbc-title">{Text::BadLinkTitle.get(locale)}</h2>
                    <Alert locale text=redirect_error_text(&error) detail=Some(error.to_string())>
                        <BackLink locale href=back />
                    </Alert>
                }.into_any(),
            }}}
        </section>
    }
}
