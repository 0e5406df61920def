//! The registration page: loads the SDK, then opens the card window on the buyer's click.
//!
//! Its wasm is the one every shopper downloads, so it is written small: one signal for where the
//! page stands, one click listener on the page for both of its buttons (no node refs, no stored
//! values), the rest plain data shared by the page's tasks.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use crate::backend::{self, Customer};
use crate::browser;
use crate::checkout::config::{Config, CustomerSource};
use crate::checkout::copy::{sdk_error_text, Text};
use crate::checkout::keys::CustomerKey;
use crate::checkout::plan::PlanSummary;
use crate::checkout::redirect::PendingRegistration;
use crate::checkout::request::CardBillingRequest;
use crate::checkout::urls::callback_urls;
use crate::components::{Alert, PlanSummaryView, Spinner};
use crate::events::{code_now, CANCELLED};
use crate::sdk::{self, Payment, ScriptSource, SdkError, TossPayments};
use crate::storage;

/// Where the registration page stands. Only `Ready` and `Cancelled` accept a click.
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterState {
    /// Fetching the customerKey and loading the SDK; the button is disabled and says so.
    Loading,
    /// The button works.
    Ready,
    /// The buyer closed the card window: the button works, and the status line says so.
    Cancelled,
    /// `requestBillingAuth` was called; further clicks are ignored.
    Opening,
    /// The SDK accepted the request and is taking the page to the card window.
    Redirecting,
    /// Something failed; `retry` says what the retry button does, if shown.
    Failed {
        /// Customer-facing copy.
        text: Text,
        /// Developer-facing detail (integration mistakes only; never secrets).
        detail: Option<String>,
        /// Whether a retry button is offered.
        retry: Option<Retry>,
    },
}

/// What a retry button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Load the SDK / customerKey again.
    Prepare,
    /// Go back to `Ready`.
    Reopen,
}

impl RegisterState {
    /// The button's `data-state`.
    fn name(&self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Ready | Self::Cancelled => "ready",
            Self::Opening => "opening",
            Self::Redirecting => "redirecting",
            Self::Failed { .. } => "failed",
        }
    }

    /// What the busy button and the status line say while the page works.
    fn busy(&self) -> Option<Text> {
        match self {
            Self::Loading => Some(Text::LoadingSdk),
            Self::Opening => Some(Text::OpeningWindow),
            Self::Redirecting => Some(Text::Redirecting),
            _ => None,
        }
    }

    fn takes_clicks(&self) -> bool {
        matches!(self, Self::Ready | Self::Cancelled)
    }

    /// The status line.
    fn status(&self) -> Option<Text> {
        match self {
            Self::Cancelled => Some(Text::Cancelled),
            _ => self.busy(),
        }
    }
}

fn failed(text: Text, detail: Option<String>, retry: Option<Retry>) -> RegisterState {
    RegisterState::Failed {
        text,
        detail,
        retry,
    }
}

/// A mistake in the page's setup: retrying cannot help.
fn integration(detail: String) -> RegisterState {
    failed(Text::IntegrationError, Some(detail), None)
}

fn failed_from_sdk(error: &SdkError) -> RegisterState {
    let (load, integration) = (error.is_load_failure(), error.is_integration_error());
    let retry = if load {
        Some(Retry::Prepare)
    } else if integration {
        None
    } else {
        Some(Retry::Reopen)
    };
    let detail = (integration || load).then(|| error.to_string());
    failed(sdk_error_text(error), detail, retry)
}

/// What the page's tasks share: the configuration and, once loaded, the SDK's payment object
/// with the customer it was made for.
struct Shared {
    config: Config,
    ready: RefCell<Option<(Payment, Customer)>>,
}

/// Loads what the button needs: the SDK, and meanwhile the customer (a fixed customerKey, or the
/// backend's answer: the customerKey and, with checkout sessions, the terms the page shows).
async fn prepare(config: &Config) -> Result<(Payment, Customer), RegisterState> {
    page_protocol_allowed(config)?;
    // Starts the script at once; it loads while the customerKey is fetched.
    let loaded = sdk::load_sdk(&ScriptSource {
        url: config.sdk_url.clone(),
        timeout_ms: config.sdk_timeout_ms,
        nonce: config.sdk_nonce.clone(),
    });
    let customer = match &config.customer {
        CustomerSource::Fixed(key) => Ok(fixed(key)),
        CustomerSource::Url(url) => backend::fetch_customer(config, url).await.map_err(|error| {
            failed(
                Text::CustomerUnavailable,
                Some(error.to_string()),
                Some(Retry::Prepare),
            )
        }),
    };
    // The SDK's failure first: it says more (and its retry loads the customerKey again too).
    loaded.await.map_err(|e| failed_from_sdk(&e))?;
    payment_for(config, customer?)
}

/// A customerKey the page was given: no checkout session.
fn fixed(key: &CustomerKey) -> Customer {
    Customer {
        key: key.clone(),
        checkout_session: None,
        plan: None,
    }
}

/// What [`prepare`] gives at once when nothing has to be waited for: the SDK ran already (the
/// boot script starts it while the wasm loads) and the customerKey is fixed. `None` otherwise.
fn prepared_now(config: &Config) -> Option<Result<(Payment, Customer), RegisterState>> {
    let CustomerSource::Fixed(key) = &config.customer else {
        return None;
    };
    sdk::is_loaded().then(|| {
        page_protocol_allowed(config)?;
        payment_for(config, fixed(key))
    })
}

/// A live key on a plain-http page is refused before anything loads.
fn page_protocol_allowed(config: &Config) -> Result<(), RegisterState> {
    browser::check_page_protocol(config).map_err(|error| integration(error.to_string()))
}

/// The SDK's payment object for this customer.
fn payment_for(config: &Config, customer: Customer) -> Result<(Payment, Customer), RegisterState> {
    let payment = TossPayments::new(&config.client_key)
        .and_then(|toss| toss.payment(&customer.key))
        .map_err(|e| failed_from_sdk(&e))?;
    Ok((payment, customer))
}

/// Shows the busy button and loads the SDK and the customerKey (again, after a failure). When
/// both are at hand already, the page is ready in this same task: a first render is then the
/// working button, with no busy state to render and undo a moment later.
fn load(shared: &Rc<Shared>, state: RwSignal<RegisterState>, plan: RwSignal<Option<PlanSummary>>) {
    let settle = {
        let shared = shared.clone();
        move |outcome: Result<(Payment, Customer), RegisterState>| {
            state.set(match outcome {
                Ok(ready) => {
                    // A checkout session's terms are what the customer signs up for: they
                    // replace any summary the page was configured with.
                    if let Some(terms) = &ready.1.plan {
                        plan.set(Some(terms.clone()));
                    }
                    *shared.ready.borrow_mut() = Some(ready);
                    RegisterState::Ready
                }
                Err(failed) => failed,
            })
        }
    };
    if let Some(outcome) = prepared_now(&shared.config) {
        return settle(outcome);
    }
    state.set(RegisterState::Loading);
    let shared = shared.clone();
    spawn_local(async move { settle(prepare(&shared.config).await) });
}

/// Builds the request for this click; remembers the registration in the tab first. Returns the
/// request and the registration remembered (with its one-time `state`).
fn begin(
    config: &Config,
    customer: &Customer,
) -> Result<(CardBillingRequest, PendingRegistration), RegisterState> {
    begin_registration(
        config,
        customer.key.clone(),
        customer.checkout_session.clone(),
    )
}

/// The request of a registration the tab starts now (for `customer`, on a checkout session or
/// not), remembered in this tab first so the success page accepts Toss's redirect: the
/// registration page's click, and the portal's "change card".
pub fn begin_registration(
    config: &Config,
    customer: CustomerKey,
    checkout_session: Option<String>,
) -> Result<(CardBillingRequest, PendingRegistration), RegisterState> {
    let state = browser::random_token()
        .ok_or_else(|| integration("crypto.getRandomValues is unavailable".into()))?;
    let urls = callback_urls(
        &browser::address().origin,
        &config.success_path,
        &config.fail_path,
        &config.callback_query,
        &state,
    )
    .map_err(|e| integration(e.to_string()))?;
    let request = CardBillingRequest::for_config(config, urls, browser::is_mobile());
    let registration = PendingRegistration {
        customer_key: customer,
        state,
        checkout_session,
    };
    storage::save_pending(&registration).map_err(|e| {
        failed(
            Text::StorageBlocked,
            Some(e.to_string()),
            Some(Retry::Reopen),
        )
    })?;
    Ok((request, registration))
}

/// The register button's click: opens the card window, once.
fn open(
    shared: &Shared,
    state: RwSignal<RegisterState>,
    button: web_sys::HtmlElement,
    on_cancelled: Option<Callback<String>>,
) {
    // The double-click guard: only a click in `Ready` does anything, and it leaves `Ready` at once.
    if !state.with_untracked(RegisterState::takes_clicks) {
        return;
    }
    let Some((payment, customer)) = shared.ready.borrow().clone() else {
        return;
    };
    let (request, registration) = match begin(&shared.config, &customer) {
        Ok(begun) => begun,
        Err(failed) => return state.set(failed),
    };
    // The SDK first, then the re-render: the card window opens in the click's own task, and the
    // busy state follows (a second click in between cannot happen: it is the same task).
    let outcome = payment.request_billing_auth(&request);
    state.set(RegisterState::Opening);
    spawn_local(async move {
        match outcome.await {
            Ok(()) => state.set(RegisterState::Redirecting),
            Err(error) if error.is_cancel() => {
                // The buyer's cancel, not our own destroy() on unmount. The event goes to the
                // element the page is in: the page's root is the button's parent (a page that is
                // gone has none, and reports nothing).
                if let SdkError::UserCancel { .. } = error {
                    code_now(
                        button.parent_element(),
                        on_cancelled,
                        CANCELLED,
                        "USER_CANCEL",
                    );
                }
                storage::clear_pending_if(&registration);
                state.set(RegisterState::Cancelled);
                let _ = button.focus();
            }
            // Another window of this page is already open: nothing is wrong with this click.
            Err(SdkError::InvalidMethodTransaction { .. }) => state.set(RegisterState::Ready),
            Err(error) => {
                storage::clear_pending_if(&registration);
                state.set(failed_from_sdk(&error));
            }
        }
    });
}

/// The registration page: a title, a line of context, the plan summary (when configured) and the
/// button, with its states announced. On the server (`ssr`), and so in a hydrating browser's
/// first render, it is the busy button, until the SDK is ready; a client-side render whose SDK
/// and customerKey are at hand already starts with the working button.
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::{CardRegistration, PlanCycle, PlanSummary, RawConfig};
///
/// let config = RawConfig {
///     client_key: Some("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
///     customer_key_url: Some("/api/customer".into()),
///     plan: Some(PlanSummary {
///         name: "프리미엄 플랜".into(),
///         amount: 9_900,
///         cycle: PlanCycle::Monthly,
///         first_charge_date: None,
///         cancel_note: None,
///     }),
///     ..RawConfig::default()
/// }
/// .validate()
/// .expect("a valid configuration");
/// leptos::mount::mount_to_body(move || {
///     view! {
///         <CardRegistration
///             config
///             on_cancelled=|code: String| leptos::logging::log!("closed the card window: {code}")
///         />
///     }
/// });
/// ```
#[component]
pub fn CardRegistration(
    /// The validated configuration.
    config: Config,
    /// The buyer closed Toss's card window (`USER_CANCEL`); called a microtask later.
    #[prop(optional, into)]
    on_cancelled: Option<Callback<String>>,
) -> impl IntoView {
    let locale = config.locale;
    let mut config = config;
    let plan = RwSignal::new(config.plan.take());
    let state = RwSignal::new(RegisterState::Loading);
    let shared = Rc::new(Shared {
        config,
        ready: RefCell::new(None),
    });

    // The browser work: the SDK and the customerKey, and the back/forward cache.
    let start = {
        let shared = shared.clone();
        move || {
            load(&shared, state, plan);
            // Back from the card window (or Toss's page), the browser may restore this page from
            // its back/forward cache, frozen in `Opening`/`Redirecting`: make the button usable.
            let restored = window_event_listener_untyped("pageshow", move |event| {
                let persisted =
                    js_sys::Reflect::get(&event, &"persisted".into()).is_ok_and(|p| p.is_truthy());
                if persisted
                    && matches!(
                        state.try_get_untracked(),
                        Some(RegisterState::Opening | RegisterState::Redirecting)
                    )
                {
                    state.set(RegisterState::Ready);
                }
            });
            on_cleanup(move || restored.remove());
        }
    };
    browser::start_when_usable(start);

    let kept = SendWrapper::new(shared.clone());
    on_cleanup(move || {
        if let Some((payment, _)) = &*kept.ready.borrow() {
            payment.destroy();
        }
    });

    // Both buttons' clicks, heard on the page's root: the register button (it has a
    // `data-state`) opens the card window, the retry button does what the failure offers.
    let on_click = move |event: leptos::ev::MouseEvent| {
        let Some(button) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|target| target.closest("button").ok().flatten())
            .and_then(|button| button.dyn_into::<web_sys::HtmlElement>().ok())
        else {
            return;
        };
        if button.has_attribute("data-state") {
            return open(&shared, state, button, on_cancelled);
        }
        match state.with_untracked(|s| match s {
            RegisterState::Failed { retry, .. } => *retry,
            _ => None,
        }) {
            Some(Retry::Prepare) => load(&shared, state, plan),
            Some(Retry::Reopen) => state.set(RegisterState::Ready),
            None => {}
        }
    };

    let busy = move || state.with(|s| s.busy().is_some());
    view! {
        <section
            class="tbc tbc-register"
            lang=locale.tag()
            aria-labelledby="tbc-register-title"
            on:click=on_click
        >
            <h2 id="tbc-register-title" class="tbc-title">{Text::RegisterTitle.get(locale)}</h2>
            <p class="tbc-lead">{Text::RegisterLead.get(locale)}</p>
            {move || plan.get().map(|plan| view! { <PlanSummaryView locale plan /> })}
            <button
                type="button"
                class="tbc-button"
                data-state=move || state.with(RegisterState::name)
                disabled=move || !state.with(RegisterState::takes_clicks)
                aria-busy=move || if busy() { "true" } else { "false" }
            >
                <Spinner visible=busy />
                <span>
                    {move || state.with(RegisterState::busy).unwrap_or(Text::RegisterButton).get(locale)}
                </span>
            </button>
            <p class="tbc-status" role="status" aria-live="polite">
                {move || state.with(RegisterState::status).map_or("", |text| text.get(locale))}
            </p>
            {move || {
                let failure = state.with(|s| match s {
                    RegisterState::Failed { text, detail, retry } => {
                        Some((*text, detail.clone(), *retry))
                    }
                    _ => None,
                });
                failure.map(|(text, detail, retry)| view! {
                    <Alert locale text detail>
                        {retry.map(|_| view! {
                            <button type="button" class="tbc-button tbc-button-secondary">
                                {Text::TryAgain.get(locale)}
                            </button>
                        })}
                    </Alert>
                })
            }}
        </section>
    }
}
