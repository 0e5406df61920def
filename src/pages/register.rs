//! The registration page: loads the SDK, then opens the card window on the buyer's click.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::backend;
use crate::browser;
use crate::checkout::config::{Config, CustomerSource};
use crate::checkout::copy::{sdk_error_text, Text};
use crate::checkout::keys::CustomerKey;
use crate::checkout::redirect::PendingRegistration;
use crate::checkout::request::{CardBillingParams, CardBillingRequest, Flow};
use crate::checkout::urls::{callback_urls, choose_window_target};
use crate::components::{Alert, PlanSummaryView, Spinner};
use crate::events::{code_now, CANCELLED};
use crate::sdk::{self, Payment, ScriptSource, SdkError, TossPayments};
use crate::storage;

/// Where the registration page stands. Only `Ready` accepts a click.
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterState {
    /// Fetching the customerKey and loading the SDK; the button is disabled and says so.
    Loading,
    /// The button works.
    Ready,
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
    fn is_busy(&self) -> bool {
        matches!(self, Self::Loading | Self::Opening | Self::Redirecting)
    }
}

fn failed_from_sdk(error: &SdkError) -> RegisterState {
    let retry = if error.is_load_failure() {
        Some(Retry::Prepare)
    } else if error.is_integration_error() {
        None
    } else {
        Some(Retry::Reopen)
    };
    let detail =
        (error.is_integration_error() || error.is_load_failure()).then(|| error.to_string());
    RegisterState::Failed {
        text: sdk_error_text(error),
        detail,
        retry,
    }
}

/// Loads what the button needs, in parallel: the customerKey (fixed or from the backend) and the SDK.
async fn prepare(config: &Config) -> Result<(Payment, CustomerKey), RegisterState> {
    // A live key on a plain-http page is refused before anything loads.
    browser::check_page_protocol(config).map_err(|error| RegisterState::Failed {
        text: Text::IntegrationError,
        detail: Some(error.to_string()),
        retry: None,
    })?;
    let source = ScriptSource {
        url: config.sdk_url.clone(),
        timeout_ms: config.sdk_timeout_ms,
        nonce: config.sdk_nonce.clone(),
    };
    let customer = async {
        match &config.customer {
            CustomerSource::Fixed(key) => Ok(key.clone()),
            CustomerSource::Url(url) => {
                backend::fetch_customer_key(config, url)
                    .await
                    .map_err(|error| RegisterState::Failed {
                        text: Text::CustomerUnavailable,
                        detail: Some(error.to_string()),
                        retry: Some(Retry::Prepare),
                    })
            }
        }
    };
    let (customer, loaded) = futures::join!(customer, sdk::load_sdk(&source));
    loaded.map_err(|e| failed_from_sdk(&e))?;
    let customer = customer?;
    let payment = TossPayments::new(&config.client_key)
        .and_then(|toss| toss.payment(&customer))
        .map_err(|e| failed_from_sdk(&e))?;
    Ok((payment, customer))
}

/// Builds the request for this click; remembers the registration in the tab first. Returns the
/// request and the registration's one-time `state`.
fn begin(
    config: &Config,
    customer: &CustomerKey,
) -> Result<(CardBillingRequest, String), RegisterState> {
    let integration = |detail: String| RegisterState::Failed {
        text: Text::IntegrationError,
        detail: Some(detail),
        retry: None,
    };
    let state = browser::random_token()
        .ok_or_else(|| integration("crypto.getRandomValues is unavailable".into()))?;
    let origin = browser::address().origin;
    let urls = callback_urls(
        &origin,
        &config.success_path,
        &config.fail_path,
        &config.callback_query,
        &state,
    )
    .map_err(|e| integration(e.to_string()))?;
    let request = CardBillingRequest::new(CardBillingParams {
        success_url: urls.success_url,
        fail_url: urls.fail_url,
        customer_name: config.customer_name.clone(),
        customer_email: config.customer_email.clone(),
        window_target: choose_window_target(config.window_target, browser::is_mobile()),
        card_types: config.card_types.clone(),
        flow: Flow::Default,
    })
    .map_err(|e| integration(e.to_string()))?;
    storage::save_pending(&PendingRegistration {
        customer_key: customer.clone(),
        state: state.clone(),
    })
    .map_err(|e| RegisterState::Failed {
        text: Text::StorageBlocked,
        detail: Some(e.to_string()),
        retry: Some(Retry::Reopen),
    })?;
    Ok((request, state))
}

/// The registration page: a title, a line of context, the plan summary (when configured) and the
/// button, with its states announced. It renders the same on the server (`ssr`) as in the
/// browser's first render: the busy button, until the SDK is ready.
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
    let plan = config.plan.take();
    // Shared, not cloned, by the tasks that need it: a Config's clone is a kilobyte of wasm.
    let config = StoredValue::new(std::sync::Arc::new(config));
    let state = RwSignal::new(RegisterState::Loading);
    let notice = RwSignal::new(None::<Text>);
    let payment = StoredValue::new_local(None::<(Payment, CustomerKey)>);
    let button = NodeRef::<leptos::html::Button>::new();

    let load = move || {
        state.set(RegisterState::Loading);
        spawn_local(async move {
            let Some(config) = config.try_get_value() else {
                return;
            };
            match prepare(&config).await {
                Ok(ready) => {
                    if payment.try_set_value(Some(ready)).is_none() {
                        state.set(RegisterState::Ready);
                    }
                }
                Err(failed) => state.set(failed),
            }
        });
    };

    // The browser work: the SDK and the customerKey, and the back/forward cache.
    let start = move || {
        load();
        // Back from the card window (or Toss's page), the browser may restore this page from its
        // back/forward cache, frozen in `Opening`/`Redirecting`: make the button usable again.
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
    };
    // Client-side rendering starts at once; on the server nothing starts, and a hydrating page
    // starts in an effect, after its first render has matched the server's.
    if browser::can_use_now() {
        start();
    } else {
        Effect::new(move |_| start());
    }

    on_cleanup(move || {
        payment.try_with_value(|p| {
            if let Some((payment, _)) = p {
                payment.destroy();
            }
        });
    });

    let open = move |_| {
        // The double-click guard: only a click in `Ready` does anything, and it leaves `Ready` at once.
        if state.get_untracked() != RegisterState::Ready {
            return;
        }
        let Some(Some((payment, customer))) = payment.try_get_value() else {
            return;
        };
        let Some(config) = config.try_get_value() else {
            return;
        };
        notice.set(None);
        let (request, registration) = match begin(&config, &customer) {
            Ok(begun) => begun,
            Err(failed) => return state.set(failed),
        };
        state.set(RegisterState::Opening);
        spawn_local(async move {
            match payment.request_billing_auth(&request).await {
                Ok(()) => state.set(RegisterState::Redirecting),
                Err(error) if error.is_cancel() => {
                    // The buyer's cancel, not our own destroy() on unmount.
                    if let SdkError::UserCancel { .. } = error {
                        // The page's root is the button's parent (no NodeRef of its own: each
                        // NodeRef type costs the page's wasm most of a kilobyte).
                        let root = button.try_get_untracked().flatten();
                        let root = root.and_then(|button| button.parent_element());
                        code_now(root, on_cancelled, CANCELLED, "USER_CANCEL");
                    }
                    storage::clear_pending_if(&registration);
                    state.set(RegisterState::Ready);
                    notice.set(Some(Text::Cancelled));
                    // `try_`: the page may be gone (destroy() on unmount rejects with a cancel).
                    if let Some(Some(button)) = button.try_get_untracked() {
                        let _ = button.focus();
                    }
                }
                // Another window of this page is already open: nothing is wrong with this click.
                Err(SdkError::InvalidMethodTransaction { .. }) => state.set(RegisterState::Ready),
                Err(error) => {
                    storage::clear_pending_if(&registration);
                    state.set(failed_from_sdk(&error));
                }
            }
        });
    };

    let retry = move |what: Retry| match what {
        Retry::Prepare => load(),
        Retry::Reopen => state.set(RegisterState::Ready),
    };

    let busy = move || state.with(RegisterState::is_busy);
    let label = move || {
        match state.get() {
            RegisterState::Loading => Text::LoadingSdk,
            RegisterState::Opening => Text::OpeningWindow,
            RegisterState::Redirecting => Text::Redirecting,
            _ => Text::RegisterButton,
        }
        .get(locale)
    };
    let status = move || match state.get() {
        RegisterState::Loading => Some(Text::LoadingSdk),
        RegisterState::Opening => Some(Text::OpeningWindow),
        RegisterState::Redirecting => Some(Text::Redirecting),
        _ => notice.get(),
    };

    view! {
        <section class="tbc tbc-register" lang=locale.tag() aria-labelledby="tbc-register-title">
            <h2 id="tbc-register-title" class="tbc-title">{Text::RegisterTitle.get(locale)}</h2>
            <p class="tbc-lead">{Text::RegisterLead.get(locale)}</p>
            {plan.map(|plan| view! { <PlanSummaryView locale plan /> })}
            <button
                type="button"
                class="tbc-button"
                data-state=move || match state.get() {
                    RegisterState::Loading => "loading",
                    RegisterState::Ready => "ready",
                    RegisterState::Opening => "opening",
                    RegisterState::Redirecting => "redirecting",
                    RegisterState::Failed { .. } => "failed",
                }
                node_ref=button
                disabled=move || state.get() != RegisterState::Ready
                aria-busy=move || if busy() { "true" } else { "false" }
                on:click=open
            >
                <Spinner visible=busy />
                <span>{label}</span>
            </button>
            <p class="tbc-status" role="status" aria-live="polite">{move || status().map(|t| t.get(locale))}</p>
            {move || match state.get() {
                RegisterState::Failed { text, detail, retry: offer } => Some(view! {
                    <Alert locale text detail>
                        {offer.map(|what| view! {
                            <button type="button" class="tbc-button tbc-button-secondary" on:click=move |_| retry(what)>
                                {Text::TryAgain.get(locale)}
                            </button>
                        })}
                    </Alert>
                }),
                _ => None,
            }}
        </section>
    }
}
