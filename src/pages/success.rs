//! The success page: checks Toss's redirect against what this tab started, scrubs the one-time key
//! from the address bar, and hands it to the backend exactly once.

use leptos::prelude::*;

use crate::backend::{self, Progress};
use crate::browser;
use crate::checkout::config::Config;
use crate::checkout::copy::{
    backend_error_text, merchant_message, redirect_error_text, Locale, Text,
};
use crate::checkout::handoff::{
    success_arrival, CardSummary, DeclineClass, ErrorBody, HandoffRecord, HandoffStatus,
    SubscriptionOutcome, SuccessArrival, SUCCESS_PARAMETERS,
};
use crate::checkout::plan::{amount_text, date_text, fill};
use crate::checkout::query::without_parameters;
use crate::checkout::redirect::RedirectError;
use crate::components::{focus_when_shown, Alert, BackLink, CardSummaryView, Spinner};
use crate::events::{code_later, registered_later, Callbacks, Root, FAILED, UNCONFIRMED};
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
    Registered(CardSummary, Option<SubscriptionOutcome>),
    Refused(ErrorBody),
    Unconfirmed(Unsure),
    BadLink(RedirectError),
}

/// The view of a stored status. `Sending` found in storage means the page went away mid-request.
fn view_of(status: &HandoffStatus) -> View {
    match status {
        HandoffStatus::Sending => View::Unconfirmed(Unsure::Interrupted),
        HandoffStatus::Registered { card, subscription } => {
            View::Registered(card.clone(), subscription.clone())
        }
        HandoffStatus::Refused { error } => View::Refused(error.clone()),
        HandoffStatus::Unconfirmed {
            still_confirming: true,
            ..
        } => View::Unconfirmed(Unsure::StillConfirming),
        HandoffStatus::Unconfirmed { .. } => View::Unconfirmed(Unsure::NotConfirmed),
    }
}

/// What the page says about a registered card: taken from the backend's subscription outcome,
/// so it never says "you will be charged" when the first charge failed, nor "paid" for a trial.
struct Told {
    /// `data-outcome` on the lead, for hosts and tests.
    name: &'static str,
    title: Text,
    /// `tbc-title-done` for a good outcome, `tbc-title-warn` when the customer must act.
    title_class: &'static str,
    /// `\u{1}`: [`Told::amount`].
    lead: Text,
    amount: Option<u64>,
    detail: Option<Text>,
    /// Offer the registration again (another card).
    register_again: bool,
}

impl Told {
    fn of(outcome: Option<&SubscriptionOutcome>) -> Self {
        let told = |name, title, lead| Told {
            name,
            title,
            title_class: "tbc-title-done",
            lead,
            amount: None,
            detail: None,
            register_again: false,
        };
        let warn = |name, title, lead| Told {
            title_class: "tbc-title-warn",
            ..told(name, title, lead)
        };
        match outcome {
            // The backend runs no subscriptions (or did not say): the card is what we know.
            None => told("card", Text::SuccessDone, Text::SuccessDoneLead),
            Some(SubscriptionOutcome::Active { amount, .. }) => Told {
                amount: Some(*amount),
                ..told("active", Text::SuccessActiveTitle, Text::SuccessActiveLead)
            },
            Some(SubscriptionOutcome::Trialing { .. }) => {
                told("trialing", Text::SuccessTrialTitle, Text::SuccessTrialLead)
            }
            Some(SubscriptionOutcome::Incomplete { decline, .. }) => Told {
                detail: Some(match decline {
                    DeclineClass::Soft => Text::SuccessIncompleteSoft,
                    DeclineClass::Hard => Text::SuccessIncompleteHard,
                }),
                register_again: true,
                ..warn(
                    "incomplete",
                    Text::SuccessIncompleteTitle,
                    Text::SuccessIncompleteNothing,
                )
            },
            Some(SubscriptionOutcome::CardChanged {
                subscription_status,
                ..
            }) => match subscription_status.as_str() {
                "ACTIVE" | "TRIALING" => told(
                    "cardChanged",
                    Text::SuccessCardChangedTitle,
                    Text::SuccessCardChangedLead,
                ),
                // A new card of an unpaid period is charged at once: still owing means declined.
                "PAST_DUE" | "INCOMPLETE" => Told {
                    register_again: true,
                    ..warn(
                        "cardChangedDeclined",
                        Text::SuccessCardChangedTitle,
                        Text::SuccessCardChangedDeclined,
                    )
                },
                _ => told(
                    "cardChangedInactive",
                    Text::SuccessCardChangedTitle,
                    Text::SuccessCardChangedInactive,
                ),
            },
            Some(SubscriptionOutcome::NotStarted { code }) => warn(
                "notStarted",
                Text::SuccessNotStartedTitle,
                match code.as_str() {
                    "TRIAL_ALREADY_USED" => Text::SuccessNotStartedTrialUsed,
                    _ => Text::SuccessNotStartedGeneric,
                },
            ),
        }
    }
}

/// The facts of an outcome: the plan, what was paid and when, the receipt, the next date.
#[component]
fn OutcomeFacts(locale: Locale, outcome: SubscriptionOutcome) -> impl IntoView {
    let row = |label: Text, class: &'static str, value: String| {
        view! { <dt>{label.get(locale)}</dt><dd class=class>{value}</dd> }
    };
    let (plan, rows, receipt) = match outcome {
        SubscriptionOutcome::Active {
            plan_name,
            amount,
            paid_at,
            receipt_url,
            next_charge_date,
        } => (
            plan_name,
            vec![
                row(
                    Text::SuccessPaid,
                    "tbc-paid-amount",
                    amount_text(amount, locale),
                ),
                row(
                    Text::SuccessPaidOn,
                    "tbc-paid-on",
                    date_text(&paid_at, locale),
                ),
                row(
                    Text::PortalNextCharge,
                    "tbc-next-charge",
                    date_text(&next_charge_date, locale),
                ),
            ],
            receipt_url,
        ),
        SubscriptionOutcome::Trialing {
            plan_name,
            amount,
            first_charge_date,
        } => (
            plan_name,
            vec![
                row(
                    Text::PortalTrialEnds,
                    "tbc-trial-ends",
                    date_text(&first_charge_date, locale),
                ),
                row(
                    Text::SuccessTrialPrice,
                    "tbc-price",
                    amount_text(amount, locale),
                ),
            ],
            None,
        ),
        SubscriptionOutcome::Incomplete {
            plan_name,
            retry_until,
            ..
        } => (
            plan_name,
            vec![row(
                Text::SuccessRetryUntil,
                "tbc-retry-until",
                date_text(&retry_until, locale),
            )],
            None,
        ),
        SubscriptionOutcome::CardChanged { plan_name, .. } => (plan_name, Vec::new(), None),
        SubscriptionOutcome::NotStarted { .. } => return None,
    };
    Some(view! {
        <dl class="tbc-facts tbc-outcome">
            <dt>{Text::PlanName.get(locale)}</dt><dd class="tbc-plan-name">{plan}</dd>
            {rows}
        </dl>
        {receipt.map(|href| view! {
            <a class="tbc-receipt" href=href target="_blank" rel="noopener noreferrer">{Text::SuccessReceipt.get(locale)}</a>
        })}
    })
}

/// Shows a status and reports it to the host.
fn show(shown: RwSignal<View>, on: Host, status: &HandoffStatus) {
    let (root, on) = on;
    match status {
        HandoffStatus::Registered { card, subscription } => {
            registered_later(root, on.on_registered, card.clone(), subscription.clone())
        }
        HandoffStatus::Refused { error } => {
            code_later(root, on.on_failed, FAILED, error.code.clone())
        }
        HandoffStatus::Unconfirmed { error, .. } => {
            code_later(root, on.on_unconfirmed, UNCONFIRMED, error.code.clone())
        }
        HandoffStatus::Sending => code_later(
            root,
            on.on_unconfirmed,
            UNCONFIRMED,
            "INTERRUPTED".to_owned(),
        ),
    }
    shown.try_set(view_of(status));
}

/// Where the page reports to: its root (for the DOM events) and the host's callbacks.
type Host = (Root, Callbacks);

/// Posts the record and stores whatever comes back.
fn send(
    config: StoredValue<Config>,
    record: StoredValue<Option<HandoffRecord>>,
    shown: RwSignal<View>,
    on: Host,
) {
    let (Some(config), Some(Some(mut current))) = (config.try_get_value(), record.try_get_value())
    else {
        return;
    };
    shown.try_set(View::Checking(Progress::Sending));
    // The POST leaves in this task: on arrival, before the page has even rendered.
    browser::spawn_started(async move {
        let progress = |progress| {
            shown.try_set(View::Checking(progress));
        };
        // `None`: another mount of this page is confirming the same key; leave the state alone.
        let Some(status) = backend::hand_off(&config, &current, progress).await else {
            return;
        };
        current.settle(status);
        let _ = storage::save_handoff(&current);
        show(shown, on, &current.status);
        record.try_set_value(Some(current));
    });
}

/// The success page (the `successUrl` target). Its first render, on the server (`ssr`) too, is
/// the "confirming your card" state; then it reads the address, checks the redirect against what
/// this tab started, and hands the authKey to the backend once.
///
/// In client-side rendering the address is read and scrubbed while the page renders: the authKey
/// leaves the address bar in the same task that reads it. When hydrating, both happen in the
/// page's first effect, right after hydration (the server cannot see the address's query).
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::{CardSummary, RawConfig, RegistrationSuccess};
///
/// let config = RawConfig {
///     client_key: Some("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
///     customer_key_url: Some("/api/customer".into()),
///     continue_url: Some("/account".into()),
///     ..RawConfig::default()
/// }
/// .validate()
/// .expect("a valid configuration");
/// leptos::mount::mount_to_body(move || {
///     view! {
///         <RegistrationSuccess
///             config
///             on_registered=|card: CardSummary| leptos::logging::log!("{:?}", card.company)
///             on_failed=|code: String| leptos::logging::log!("refused: {code}")
///             on_unconfirmed=|code: String| leptos::logging::log!("not confirmed yet: {code}")
///         />
///     }
/// });
/// ```
#[component]
pub fn RegistrationSuccess(
    /// The validated configuration.
    config: Config,
    /// The card is registered: its masked summary (also for a stored outcome after a reload).
    #[prop(optional, into)]
    on_registered: Option<Callback<CardSummary>>,
    /// The backend refused the card for good: its code (e.g. `INVALID_CARD_NUMBER`).
    #[prop(optional, into)]
    on_failed: Option<Callback<String>>,
    /// No final answer yet (the card may well be registered): the last error's code.
    #[prop(optional, into)]
    on_unconfirmed: Option<Callback<String>>,
) -> impl IntoView {
    let root = Root::new();
    let on = (
        root,
        Callbacks {
            on_registered,
            on_failed,
            on_cancelled: None,
            on_unconfirmed,
        },
    );
    let locale: Locale = config.locale;
    let register_path = config.register_path.clone();
    let continue_link = config.continue_url.clone().map(|href| {
        let label = config.continue_label.clone();
        (
            href,
            label.unwrap_or_else(|| Text::Continue.get(locale).to_owned()),
        )
    });
    let config = StoredValue::new(config);

    let record = StoredValue::new(None::<HandoffRecord>);
    let shown = RwSignal::new(View::Checking(Progress::Sending));
    // Decide and scrub in one go: the authKey leaves the address bar in the same task that reads it.
    let arrive = move || {
        let address = browser::address();
        // The loader may have moved the redirect's query out of the address before anything ran.
        let query = storage::take_arrival(&address.path).unwrap_or_else(|| address.query.clone());
        let arrival = success_arrival(
            &query,
            storage::load_pending().as_ref(),
            storage::load_handoff(),
        );
        browser::replace_query(
            &address,
            &without_parameters(&address.query, &SUCCESS_PARAMETERS),
        );
        match arrival {
            SuccessArrival::Send(fresh) => {
                storage::clear_pending();
                // Stored before posting: a reload mid-request finds it and never posts on its own.
                if storage::save_handoff(&fresh).is_ok() {
                    record.set_value(Some(fresh));
                    send(config, record, shown, on);
                } else {
                    shown.set(View::Unconfirmed(Unsure::NotConfirmed));
                    code_later(
                        root,
                        on.1.on_unconfirmed,
                        UNCONFIRMED,
                        "STORAGE_UNAVAILABLE".into(),
                    );
                    record.set_value(Some(fresh));
                }
            }
            SuccessArrival::Show(stored) => {
                show(shown, on, &stored.status);
                record.set_value(Some(stored));
            }
            SuccessArrival::Reject(error) => shown.set(View::BadLink(error)),
        }
    };
    browser::start_when_usable(arrive);

    let can_retry = move || record.with_value(|r| r.as_ref().is_some_and(|r| r.auth_key.is_some()));
    let back = register_path.clone();
    view! {
        <section class="tbc tbc-success" lang=locale.tag() aria-labelledby="tbc-success-title" node_ref=root>
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
                View::Registered(card, outcome) => {
                    let told = Told::of(outcome.as_ref());
                    let again = told.register_again.then(|| {
                        let label = match outcome {
                            Some(SubscriptionOutcome::Incomplete { decline: DeclineClass::Soft, .. }) => Text::TryAgain,
                            _ => Text::SuccessAnotherCard,
                        };
                        view! { <a class="tbc-button tbc-link tbc-register-again" href=back.clone()>{label.get(locale)}</a> }
                    });
                    view! {
                        // The result heading takes focus when it appears: a screen reader announces it.
                        <h2 id="tbc-success-title" class=["tbc-title ", told.title_class].concat() tabindex="-1" use:focus_when_shown>{told.title.get(locale)}</h2>
                        <p class="tbc-lead" role="status" data-outcome=told.name>{fill(told.lead.get(locale), &[&told.amount.map(|a| amount_text(a, locale)).unwrap_or_default()])}</p>
                        {told.detail.map(|detail| view! { <p class="tbc-detail">{detail.get(locale)}</p> })}
                        {outcome.map(|outcome| view! { <OutcomeFacts locale outcome /> })}
                        <CardSummaryView locale card />
                        {again}
                        {continue_link.clone().map(|(href, label)| view! {
                            <a class="tbc-button tbc-link tbc-continue" href=href>{label}</a>
                        })}
                    }.into_any()
                }
                View::Refused(error) => view! {
                    <h2 id="tbc-success-title" class="tbc-title">{Text::SuccessFailedTitle.get(locale)}</h2>
                    <Alert locale text=backend_error_text(&error.code)
                        said=merchant_message(&error.code, &error.message) code=Some(error.code)>
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
                            <button type="button" class="tbc-button" on:click=move |_| send(config, record, shown, on)>
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
