//! The subscription portal: what a customer lives with after the click — their plan, status,
//! price and next charge (a pending change included), the card on file, every charge with its
//! receipt and refunds — and what they can do about it: change the card, switch plan, cancel
//! (일반해지 and 중도해지 side by side, 청약철회 while open), undo a cancellation, answer a price
//! change or a trial's conversion, remove the card. It talks only to the customer API of
//! `docs/portal-contract.md`; the rules are `checkout::portal`'s, the requests `backend`'s, the
//! card window `sdk`'s.
//!
//! Every action has a busy state, is a safe retry (the server makes each idempotent; a `BUSY`
//! answer is asked again by itself), says clearly what went wrong (the merchant's message, else
//! ours), and is reported as the DOM event `toss-billing-portal:<event>` on the element the portal
//! is rendered into (bubbling, composed) and to `on_event`.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::backend::{self, Outgoing};
use crate::browser;
use crate::checkout::config::Config;
use crate::checkout::copy::{Locale, Text};
use crate::checkout::handoff::CardSummary;
use crate::checkout::keys::CustomerKey;
use crate::checkout::plan::{amount_text, cycle_text, date_text};
use crate::checkout::portal::{
    actions, actions_without_subscription, cancel_options, refusal, Action, Actions, CancelOption,
    Charge, PlanInfo, Refusal, Status, Subscription, SubscriptionAnswer, Target,
};
use crate::components::{Alert, CardSummaryView, Spinner};
use crate::js_data;
use crate::sdk::{self, ScriptSource, TossPayments};

/// The DOM events' prefix: `toss-billing-portal:canceled`, …
pub const EVENT_PREFIX: &str = "toss-billing-portal:";

/// What the portal shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    Loading,
    Failed,
    /// No subscription; the card on file, if one was registered without a plan.
    NoSubscription(Option<CardSummary>),
    NotSignedIn,
    Loaded(Box<Loaded>),
}

/// Everything the portal loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Loaded {
    subscription: Subscription,
    charges: Vec<Charge>,
    plans: Vec<PlanInfo>,
    cancel: Vec<CancelOption>,
}

/// A step that asks for one confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Confirming {
    Cancel(CancelOption),
    Switch {
        plan: PlanInfo,
        charge: u64,
        from: String,
    },
    RemoveCard,
}

/// One GET of the customer API: the body, `None` for a 404, an error otherwise.
async fn get(config: &Config, url: &str) -> Result<Option<js_data::Fields>, ()> {
    match backend::fetch_whole(config, url, None, config.backend_timeout_ms).await {
        Ok((404, _)) => Ok(None),
        Ok((200..=299, Some(body))) => Ok(Some(body)),
        _ => Err(()),
    }
}

/// What the portal shows beside the subscription, read from one GET when `wanted`: empty when
/// not wanted or not loaded (the subscription itself still shows; an action is simply not offered).
async fn extra<T: Default>(
    config: &Config,
    wanted: bool,
    url: &str,
    read: impl FnOnce(&js_data::Fields) -> T,
) -> T {
    if !wanted {
        return T::default();
    }
    get(config, url)
        .await
        .ok()
        .flatten()
        .map(|f| read(&f))
        .unwrap_or_default()
}

/// Loads the subscription and, with it, what its actions need.
async fn load(config: &Config) -> Shown {
    let answer = backend::fetch_whole(
        config,
        &config.subscription_url,
        None,
        config.backend_timeout_ms,
    )
    .await;
    let (status, body) = match answer {
        Ok((status, body)) => (Some(status), body),
        Err(_) => (None, None),
    };
    let subscription = match SubscriptionAnswer::of(status) {
        SubscriptionAnswer::Found => match body
            .as_ref()
            .and_then(|f| js_data::subscription(f, config.locale))
        {
            Some(subscription) => subscription,
            None => return Shown::Failed,
        },
        SubscriptionAnswer::NoSubscription => {
            let card = extra(config, true, &config.card_url, |f| {
                f.object("card")
                    .ok()
                    .flatten()
                    .map(|c| js_data::card_summary(&c))
            });
            return Shown::NoSubscription(card.await);
        }
        SubscriptionAnswer::NotSignedIn => return Shown::NotSignedIn,
        SubscriptionAnswer::Failed => return Shown::Failed,
    };
    let can = actions(Some(&subscription));
    // The rest at once, not one after another: on a phone's network each is a round trip.
    let charges_url = [config.subscription_url.as_str(), "/charges"].concat();
    let preview_url = [config.subscription_url.as_str(), "/cancel/preview"].concat();
    let (charges, plans, cancel) = futures::join!(
        extra(config, true, &charges_url, js_data::charges),
        extra(config, can.switch_plan, &config.plans_url, js_data::plans),
        extra(config, can.cancel, &preview_url, |f| {
            cancel_options(js_data::cancel_preview(f))
        }),
    );
    Shown::Loaded(Box::new(Loaded {
        subscription,
        charges,
        plans,
        cancel,
    }))
}

/// Performs an action: one request, asked again (it is idempotent) while the server is busy for
/// a moment. `Err`: what to tell the customer.
async fn perform(config: &Config, action: &Action) -> Result<(), Refusal> {
    let (method, target, fields) = action.request();
    let url = match target {
        Target::Subscription(path) => [config.subscription_url.as_str(), &path].concat(),
        Target::Card => config.card_url.clone(),
    };
    let mut pause = 300;
    for _ in 0..4 {
        let outgoing = Outgoing {
            method,
            idempotency_key: None,
            body: js_data::action_body(&fields),
        };
        let answer =
            backend::fetch_whole(config, &url, Some(outgoing), config.backend_timeout_ms).await;
        let refused = match answer {
            Ok((200..=299, _)) => return Ok(()),
            Ok((status, body)) => {
                let error = body.as_ref().and_then(js_data::error_body);
                refusal(
                    status,
                    error.as_ref().map(|e| e.code.as_str()),
                    error.as_ref().map(|e| e.message.as_str()),
                )
            }
            Err(_) => Refusal::Retry,
        };
        if refused != Refusal::Retry {
            return Err(refused);
        }
        backend::sleep(pause).await;
        pause *= 3;
    }
    Err(Refusal::Retry)
}

/// Sends the event to the host: the DOM event on the portal's host element, and the callback.
fn report(root: NodeRef<leptos::html::Section>, on_event: Option<Callback<String>>, name: &str) {
    if let Some(target) = root
        .get_untracked()
        .and_then(|section| web_sys::Element::from(section).parent_element())
    {
        let init = web_sys::CustomEventInit::new();
        init.set_bubbles(true);
        init.set_composed(true);
        init.set_detail(&js_data::code_js(name));
        if let Ok(event) =
            web_sys::CustomEvent::new_with_event_init_dict(&[EVENT_PREFIX, name].concat(), &init)
        {
            let _ = target.dispatch_event(&event);
        }
    }
    if let Some(callback) = on_event {
        let _ = callback.try_run(name.to_owned());
    }
}

/// Opens Toss's card window for the customer's new card: the success page then confirms it
/// with the same exactly-once hand-off (no checkout session: the card of the live subscription).
async fn change_card(config: &Config, customer: &str) -> Result<(), Text> {
    let customer = CustomerKey::parse(customer).map_err(|_| Text::IntegrationError)?;
    sdk::load_sdk(&ScriptSource {
        url: config.sdk_url.clone(),
        timeout_ms: config.sdk_timeout_ms,
        nonce: config.sdk_nonce.clone(),
    })
    .await
    .map_err(|_| Text::LoadFailed)?;
    let payment = TossPayments::new(&config.client_key)
        .and_then(|toss| toss.payment(&customer))
        .map_err(|_| Text::IntegrationError)?;
    let (request, registration) = crate::pages::begin_registration(config, customer, None)
        .map_err(|_| Text::StorageBlocked)?;
    match payment.request_billing_auth(&request).await {
        Ok(()) => Ok(()),
        Err(error) if error.is_cancel() => {
            crate::storage::clear_pending_if(&registration);
            Ok(())
        }
        Err(_) => {
            crate::storage::clear_pending_if(&registration);
            Err(Text::WindowFailed)
        }
    }
}

/// The status's words.
fn status_text(subscription: &Subscription) -> Text {
    match subscription.status {
        _ if subscription.cancel_at_period_end && subscription.status.is_live() => {
            Text::PortalStatusEnding
        }
        Status::Trialing => Text::PortalStatusTrialing,
        Status::Incomplete => Text::PortalStatusIncomplete,
        Status::Active => Text::PortalStatusActive,
        Status::PastDue => Text::PortalStatusPastDue,
        Status::Unpaid => Text::PortalStatusUnpaid,
        Status::Canceled | Status::IncompleteExpired => Text::PortalStatusCanceled,
    }
}

/// The subscription portal. Its first render (on the server too) is the loading state; then it
/// loads the subscription from `subscriptionUrl` in the browser.
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::{RawConfig, SubscriptionPortal};
///
/// let config = RawConfig {
///     client_key: Some("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
///     ..RawConfig::default()
/// }
/// .validate_for_portal()
/// .expect("a valid configuration");
/// leptos::mount::mount_to_body(move || {
///     view! { <SubscriptionPortal config on_event=|name: String| leptos::logging::log!("{name}") /> }
/// });
/// ```
#[component]
pub fn SubscriptionPortal(
    /// The validated configuration ([`crate::RawConfig::validate_for_portal`]).
    config: Config,
    /// Each action done: its event name (`canceled`, `plan-switched`, …; the DOM event is
    /// `toss-billing-portal:<name>`).
    #[prop(optional, into)]
    on_event: Option<Callback<String>>,
) -> impl IntoView {
    let locale = config.locale;
    let register_path = config.register_path.clone();
    let config = StoredValue::new(config);
    let root = NodeRef::<leptos::html::Section>::new();
    let shown = RwSignal::new(Shown::Loading);
    let confirming = RwSignal::new(None::<Confirming>);
    let busy = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<Text>);

    let reload = move || {
        spawn_local(async move {
            let Some(config) = config.try_get_value() else {
                return;
            };
            let loaded = load(&config).await;
            shown.try_set(loaded);
        });
    };
    browser::start_when_usable(reload);

    // Every action: busy, one request (asked again while busy), then reload and report.
    let act = move |action: Action| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        notice.set(None);
        spawn_local(async move {
            let Some(config) = config.try_get_value() else {
                return;
            };
            let done = perform(&config, &action).await;
            busy.try_set(false);
            match done {
                Ok(()) => {
                    confirming.try_set(None);
                    notice.try_set(Some(Text::PortalDone));
                    report(root, on_event, action.event());
                }
                Err(Refusal::Said(message)) if !message.is_empty() => {
                    failure.try_set(Some(message));
                }
                Err(Refusal::Known(text)) => {
                    failure.try_set(Some(text.get(locale).to_owned()));
                }
                Err(Refusal::Stale) => {
                    confirming.try_set(None);
                    failure.try_set(Some(Text::PortalActionFailed.get(locale).to_owned()));
                }
                Err(_) => {
                    failure.try_set(Some(Text::PortalActionFailed.get(locale).to_owned()));
                }
            }
            reload();
        });
    };

    let open_card_window = move |customer: String| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        spawn_local(async move {
            let Some(config) = config.try_get_value() else {
                return;
            };
            let opened = change_card(&config, &customer).await;
            busy.try_set(false);
            if let Err(text) = opened {
                failure.try_set(Some(text.get(locale).to_owned()));
            } else {
                report(root, on_event, "card-window-opened");
            }
        });
    };

    let preview_switch = move |plan: PlanInfo| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        spawn_local(async move {
            let Some(config) = config.try_get_value() else {
                return;
            };
            let url = [config.subscription_url.as_str(), "/switch?plan=", &plan.id].concat();
            let preview = get(&config, &url)
                .await
                .ok()
                .flatten()
                .and_then(|f| js_data::switch_preview(&f));
            busy.try_set(false);
            match preview {
                Some((charge, from)) => {
                    confirming.try_set(Some(Confirming::Switch { plan, charge, from }));
                }
                None => {
                    failure.try_set(Some(Text::PortalActionFailed.get(locale).to_owned()));
                }
            }
        });
    };

    // The one confirmation step of cancelling, switching or removing the card.
    let confirmation = move || {
        confirming.get().map(|step| {
            let (title, lead, action) = match &step {
                Confirming::Cancel(option) => {
                    let (title, lead) = cancel_words(option.when);
                    (title, [lead.get(locale), " ", &refund_text(option.refund, locale)].concat(),
                     Action::Cancel { when: option.when, expected_refund: option.refund })
                }
                Confirming::Switch { plan, charge, from } => (
                    Text::PortalSwitchTitle,
                    [plan.name.as_str(), " · ", Text::PortalSwitchNow.get(locale), " ", &amount_text(*charge, locale),
                     " · ", Text::PortalSwitchFrom.get(locale), " ", &date_text(from, locale)].concat(),
                    Action::Switch { plan: plan.id.clone(), expected_charge: *charge },
                ),
                Confirming::RemoveCard => (Text::PortalRemoveCard, Text::PortalRemoveCardLead.get(locale).to_owned(), Action::RemoveCard),
            };
            view! {
                <section class="tbc-panel tbc-confirm" role="dialog" aria-modal="false" aria-labelledby="tbc-confirm-title">
                    <h3 id="tbc-confirm-title" class="tbc-subtitle">{title.get(locale)}</h3>
                    <p class="tbc-lead">{lead}</p>
                    <div class="tbc-choices">
                        <button type="button" class="tbc-button" disabled=move || busy.get()
                            on:click=move |_| act(action.clone())>
                            <Spinner visible=move || busy.get() />{Text::PortalConfirm.get(locale)}
                        </button>
                        <button type="button" class="tbc-button tbc-button-secondary" on:click=move |_| confirming.set(None)>
                            {Text::PortalBack.get(locale)}
                        </button>
                    </div>
                </section>
            }
        })
    };

    // The card panel's two actions, one pair for both states that show a card (one copy of the
    // panel's code in the bundle, not two).
    let change_card_of = move |customer: String| open_card_window(customer);
    let ask_to_remove_card = move || confirming.set(Some(Confirming::RemoveCard));

    let register_path = StoredValue::new(register_path);
    view! {
        <section class="tbc tbc-portal" lang=locale.tag() aria-labelledby="tbc-portal-title" node_ref=root aria-busy=move || if busy.get() { "true" } else { "false" }>
            <h2 id="tbc-portal-title" class="tbc-title">{Text::PortalTitle.get(locale)}</h2>
            <p class="tbc-status" role="status" aria-live="polite">
                {move || notice.get().map(|t| t.get(locale))}
            </p>
            {move || failure.get().map(|message| view! {
                <p class="tbc-alert" role="alert">{message}</p>
            })}
            {move || match shown.get() {
                Shown::Loading => view! {
                    <p class="tbc-lead" aria-busy="true"><Spinner visible=|| true />{Text::PortalLoading.get(locale)}</p>
                }.into_any(),
                Shown::Failed => view! {
                    <Alert locale text=Text::PortalLoadFailed>
                        <button type="button" class="tbc-button tbc-button-secondary" on:click=move |_| reload()>
                            {Text::TryAgain.get(locale)}
                        </button>
                    </Alert>
                }.into_any(),
                Shown::NoSubscription(card) => view! {
                    <p class="tbc-lead">{Text::PortalNone.get(locale)}</p>
                    <a class="tbc-button tbc-link" href=register_path.get_value()>{Text::PortalSubscribe.get(locale)}</a>
                    {card.is_some().then(|| view! {
                        <CardPanel locale can=actions_without_subscription(card.as_ref()) card customer=String::new() busy
                            on_change=change_card_of on_remove=ask_to_remove_card />
                        {confirmation}
                    })}
                }.into_any(),
                Shown::NotSignedIn => view! {
                    <p class="tbc-lead">{Text::PortalNotSignedIn.get(locale)}</p>
                    <a class="tbc-button tbc-link" href=register_path.get_value()>{Text::PortalSubscribe.get(locale)}</a>
                }.into_any(),
                Shown::Loaded(loaded) => {
                    let Loaded { subscription, charges, plans, cancel } = *loaded;
                    view! {
                        <Overview locale subscription=subscription.clone() />
                        {subscription.pending_change.clone().filter(|c| c.asks_now() || c.status == "PENDING").map(|change| {
                            let asks = change.asks_now();
                            let id = change.id;
                            let status = change.status.clone();
                            view! {
                                <section class="tbc-panel tbc-change" aria-labelledby="tbc-change-title">
                                    <h3 id="tbc-change-title" class="tbc-subtitle">{Text::PortalChangeTitle.get(locale)}</h3>
                                    {asks.then(|| view! { <p class="tbc-lead">{Text::PortalChangeAsk.get(locale)}</p> })}
                                    <dl class="tbc-facts">
                                        <dt>{Text::PortalChangeDate.get(locale)}</dt><dd>{date_text(&change.effective_date, locale)}</dd>
                                        <dt>{Text::PortalChangeBefore.get(locale)}</dt><dd>{amount_text(change.price_before, locale)}</dd>
                                        <dt>{Text::PortalChangeAfter.get(locale)}</dt><dd>{amount_text(change.price_after, locale)}</dd>
                                        <dt>{Text::PortalChangeMethod.get(locale)}</dt>
                                        <dd>{[change.payment_method.company.clone().unwrap_or_default(), change.payment_method.number.clone().unwrap_or_default()].join(" ")}</dd>
                                        <dt>{Text::PortalChangeHowToCancel.get(locale)}</dt><dd>{change.how_to_cancel.clone()}</dd>
                                        {(!change.if_declined.is_empty()).then(|| view! {
                                            <dt>{Text::PortalChangeIfDeclined.get(locale)}</dt><dd>{change.if_declined.clone()}</dd>
                                        })}
                                    </dl>
                                    {match status.as_str() {
                                        "ACCEPTED" => Some(Text::PortalAccepted.get(locale)),
                                        "DECLINED" => Some(Text::PortalDeclined.get(locale)),
                                        _ if !asks && !change.needs_consent => Some(Text::PortalChangeNoAnswer.get(locale)),
                                        _ if !asks => Some(Text::PortalChangeLater.get(locale)),
                                        _ => None,
                                    }.map(|said| view! { <p class="tbc-lead">{said}</p> })}
                                    {asks.then(|| view! {
                                        // 동의 and 거부: two explicit buttons of the same weight.
                                        <div class="tbc-choices">
                                            <button type="button" class="tbc-button" disabled=move || busy.get() || status == "ACCEPTED"
                                                on:click=move |_| act(Action::Answer { change: id, accept: true, locale })>{Text::PortalAccept.get(locale)}</button>
                                            <button type="button" class="tbc-button" disabled=move || busy.get() || change.status == "DECLINED"
                                                on:click=move |_| act(Action::Answer { change: id, accept: false, locale })>{Text::PortalDecline.get(locale)}</button>
                                        </div>
                                    })}
                                </section>
                            }
                        })}
                        <CardPanel locale can=actions(Some(&subscription)) card=subscription.card.clone()
                            customer=subscription.customer_key.clone() busy
                            on_change=change_card_of on_remove=ask_to_remove_card />
                        {confirmation}
                        {(!plans.is_empty()).then(|| {
                            let current = subscription.plan.as_ref().map(|p| p.id.clone()).unwrap_or_default();
                            view! {
                                <section class="tbc-panel" aria-labelledby="tbc-switch-title">
                                    <h3 id="tbc-switch-title" class="tbc-subtitle">{Text::PortalSwitchTitle.get(locale)}</h3>
                                    <ul class="tbc-list">
                                        {plans.into_iter().filter(|p| p.id != current).map(|plan| {
                                            let words = [plan.name.as_str(), " · ", &amount_text(plan.amount, locale), " ", &cycle_text(plan.cycle, locale)].concat();
                                            view! {
                                                <li>
                                                    <span>{words}</span>
                                                    <button type="button" class="tbc-button tbc-button-secondary" disabled=move || busy.get()
                                                        on:click=move |_| preview_switch(plan.clone())>{Text::PortalSwitchTo.get(locale)}</button>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                </section>
                            }
                        })}
                        {actions(Some(&subscription)).undo_cancel.then(|| view! {
                            <section class="tbc-panel" aria-labelledby="tbc-ending-title">
                                <h3 id="tbc-ending-title" class="tbc-subtitle">{Text::PortalStatusEnding.get(locale)}</h3>
                                <p class="tbc-lead">{Text::PortalEndingLead.get(locale)}</p>
                                <button type="button" class="tbc-button" disabled=move || busy.get()
                                    on:click=move |_| act(Action::UndoCancel)>{Text::PortalUndoCancel.get(locale)}</button>
                            </section>
                        })}
                        {(!cancel.is_empty()).then(|| view! {
                            <section class="tbc-panel" aria-labelledby="tbc-cancel-title">
                                <h3 id="tbc-cancel-title" class="tbc-subtitle">{Text::PortalCancelTitle.get(locale)}</h3>
                                // 일반해지 and 중도해지 side by side, the same weight; 청약철회 while open.
                                <div class="tbc-options">
                                    {cancel.into_iter().map(|option| {
                                        let (title, lead) = cancel_words(option.when);
                                        let chosen = option.clone();
                                        view! {
                                            <div class="tbc-option">
                                                <h4 class="tbc-option-title">{title.get(locale)}</h4>
                                                <p>{lead.get(locale)}</p>
                                                <p class="tbc-option-amount">{refund_text(option.refund, locale)}</p>
                                                {option.until.map(|until| view! {
                                                    <p>{Text::PortalUntil.get(locale)}" "{date_text(&until, locale)}</p>
                                                })}
                                                <button type="button" class="tbc-button tbc-button-secondary" disabled=move || busy.get()
                                                    on:click=move |_| confirming.set(Some(Confirming::Cancel(chosen.clone())))>{title.get(locale)}</button>
                                            </div>
                                        }
                                    }).collect_view()}
                                </div>
                            </section>
                        })}
                        <Charges locale charges />
                    }.into_any()
                }
            }}
        </section>
    }
}

fn cancel_words(when: &str) -> (Text, Text) {
    match when {
        "period_end" => (Text::PortalCancelAtEnd, Text::PortalCancelAtEndLead),
        "now" => (Text::PortalCancelNow, Text::PortalCancelNowLead),
        _ => (Text::PortalWithdraw, Text::PortalWithdrawLead),
    }
}

fn refund_text(amount: u64, locale: Locale) -> String {
    if amount == 0 {
        return Text::PortalNoRefund.get(locale).to_owned();
    }
    let mut digits = String::new();
    crate::checkout::words::push_number(&mut digits, amount, true);
    crate::checkout::plan::fill(Text::PortalRefund.get(locale), &[&digits])
}

/// The plan, status, price, next charge and the dates that matter.
#[component]
fn Overview(locale: Locale, subscription: Subscription) -> impl IntoView {
    let plan = subscription.plan.clone();
    let price = plan.as_ref().map(|p| {
        [
            amount_text(subscription.amount, locale),
            " ".into(),
            cycle_text(p.cycle, locale),
        ]
        .concat()
    });
    let next = match &subscription.next_charge {
        Some((at, amount)) => [
            date_text(at, locale),
            " · ".into(),
            amount_text(*amount, locale),
        ]
        .concat(),
        None => Text::PortalNoNextCharge.get(locale).to_owned(),
    };
    view! {
        <dl class="tbc-facts tbc-overview">
            <dt>{Text::PlanName.get(locale)}</dt>
            <dd class="tbc-plan-name">{plan.map(|p| p.name)}</dd>
            <dt>{Text::PortalStatus.get(locale)}</dt>
            <dd class="tbc-portal-status" data-status=subscription.status.as_str()>{status_text(&subscription).get(locale)}</dd>
            {price.map(|price| view! { <dt>{Text::PortalPrice.get(locale)}</dt><dd>{price}</dd> })}
            <dt>{Text::PortalNextCharge.get(locale)}</dt>
            <dd class="tbc-next-charge">{next}</dd>
            {subscription.trial_ends_at.clone().filter(|_| subscription.status == Status::Trialing).map(|at| view! {
                <dt>{Text::PortalTrialEnds.get(locale)}</dt><dd>{date_text(&at, locale)}</dd>
            })}
            {subscription.ends_at.clone().map(|at| view! {
                <dt>{Text::PortalEndsOn.get(locale)}</dt><dd class="tbc-ends-at">{date_text(&at, locale)}</dd>
            })}
        </dl>
    }
}

/// The card on file, and what can be done with it (`can`): change it for `customer`'s
/// subscription, or remove it.
#[component]
fn CardPanel(
    locale: Locale,
    can: Actions,
    card: Option<CardSummary>,
    customer: String,
    busy: RwSignal<bool>,
    on_change: impl Fn(String) + Clone + Send + Sync + 'static,
    on_remove: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <section class="tbc-panel" aria-labelledby="tbc-card-title">
            <h3 id="tbc-card-title" class="tbc-subtitle">{Text::PortalCard.get(locale)}</h3>
            {match card {
                Some(card) => view! { <CardSummaryView locale card /> }.into_any(),
                None => view! { <p class="tbc-lead">{Text::PortalNoCard.get(locale)}</p> }.into_any(),
            }}
            <div class="tbc-choices">
                {can.change_card.then(|| view! {
                    <button type="button" class="tbc-button tbc-button-secondary" disabled=move || busy.get()
                        on:click=move |_| on_change(customer.clone())>{Text::PortalChangeCard.get(locale)}</button>
                })}
                {can.remove_card.then(|| view! {
                    <button type="button" class="tbc-button tbc-button-secondary" disabled=move || busy.get()
                        on:click=move |_| on_remove()>{Text::PortalRemoveCard.get(locale)}</button>
                })}
            </div>
        </section>
    }
}

/// Every charge, with its receipt and refunds.
#[component]
fn Charges(locale: Locale, charges: Vec<Charge>) -> impl IntoView {
    (!charges.is_empty()).then(|| view! {
        <section class="tbc-panel" aria-labelledby="tbc-charges-title">
            <h3 id="tbc-charges-title" class="tbc-subtitle">{Text::PortalCharges.get(locale)}</h3>
            <ul class="tbc-list tbc-charges">
                {charges.into_iter().map(|charge| {
                    let status = match charge.status.as_str() {
                        "FAILED" => Some(Text::PortalChargeFailed),
                        "PENDING" | "UNKNOWN" => Some(Text::PortalChargePending),
                        _ => None,
                    };
                    view! {
                        <li>
                            <span>{date_text(&charge.at, locale)}</span>
                            <span>{charge.order_name}</span>
                            <span>{amount_text(charge.amount, locale)}</span>
                            {status.map(|s| view! { <span>{s.get(locale)}</span> })}
                            {(charge.refunded > 0).then(|| view! {
                                <span>{Text::PortalRefunded.get(locale)}" "{amount_text(charge.refunded, locale)}</span>
                            })}
                            {charge.receipt_url.map(|href| view! {
                                <a href=href target="_blank" rel="noopener noreferrer">{Text::PortalReceipt.get(locale)}</a>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    })
}
