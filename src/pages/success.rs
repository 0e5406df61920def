//! The success page: checks Toss's redirect against what this tab started, scrubs the one-time key
//! from the address bar, and hands it to the backend exactly once.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::backend::{self, Progress};
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

/// Why a hand-off has no final answer yet, as the page words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsure {
    /// The attempts ran out, or nothing could be stored: "could not confirm".
    NotConfirmed,
    /// A page before this one went away mid-request.
    Interrupted,
    /// The confirmation's time ran out: "still being confirmed".
    StillConfirming,
}

/// What the success page shows.
#[derive(Debug, Clone, PartialEq)]
enum View {
    Checking(Progress),
    Registered(CardSummary),
    Refused(ErrorBody),
    Unconfirmed(Unsure),
    BadLink(RedirectError),
}

/// The view of a stored status. `Sending` found in storage means the page went away mid-request.
fn view_of(status: &HandoffStatus) -> View {
    match status {
        HandoffStatus::Sending => View::Unconfirmed(Unsure::Interrupted),
        HandoffStatus::Registered { card } => View::Registered(card.clone()),
        HandoffStatus::Refused { error } => View::Refused(error.clone()),
        HandoffStatus::Unconfirmed {
            still_confirming: true,
            ..
        } => View::Unconfirmed(Unsure::StillConfirming),
        HandoffStatus::Unconfirmed { .. } => View::Unconfirmed(Unsure::NotConfirmed),
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
    shown.try_set(View::Checking(Progress::Sending));
    spawn_local(async move {
        let progress = |progress| {
            shown.try_set(View::Checking(progress));
        };
        // `None`: another mount of this page is confirming the same key; leave the state alone.
        let Some(status) = backend::hand_off(&config, &current, progress).await else {
            return;
        };
        current.settle(status);
        let _ = storage::save_handoff(&current);
        shown.try_set(view_of(&current.status));
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
    let shown = RwSignal::new(View::Checking(Progress::Sending));
    match arrival {
        SuccessArrival::Send(fresh) => {
            storage::clear_pending();
            // Stored before posting: a reload mid-request finds it and never posts on its own.
            if storage::save_handoff(&fresh).is_ok() {
                record.set_value(Some(fresh));
                send(config, record, shown);
            } else {
                shown.set(View::Unconfirmed(Unsure::NotConfirmed));
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
                View::Checking(progress) => view! {
                    <h2 id="tbc-success-title" class="tbc-title" aria-busy="true">
                        <Spinner visible=|| true />
                        {Text::SuccessChecking.get(locale)}
                    </h2>
                    <p class="tbc-status" role="status" aria-live="polite">
                        {match progress {
                            Progress::Sending => None,
                            Progress::Retrying => Some(Text::SuccessRetrying.get(locale)),
                            Progress::Pending => Some(Text::SuccessPending.get(locale)),
                        }}
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
                // Never "failed": the card may well be registered. The key is kept; ask again.
                View::Unconfirmed(unsure) => view! {
                    <h2 id="tbc-success-title" class="tbc-title">{match unsure {
                        Unsure::StillConfirming => Text::SuccessStillConfirmingTitle,
                        _ => Text::SuccessUnconfirmedTitle,
                    }.get(locale)}</h2>
                    <Alert locale text=match unsure {
                        Unsure::NotConfirmed => Text::SuccessUnconfirmed,
                        Unsure::Interrupted => Text::SuccessInterrupted,
                        Unsure::StillConfirming => Text::SuccessStillConfirming,
                    }>
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
