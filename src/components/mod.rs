//! Small presentational pieces shared by the pages.

use leptos::prelude::*;

use crate::checkout::copy::{Locale, Text};
use crate::checkout::handoff::CardSummary;
use crate::checkout::plan::{plan_rows_html, PlanSummary};

/// A busy indicator, hidden from assistive technology (the button's `aria-busy` and the status
/// line say the same in words).
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::components::Spinner;
///
/// let busy = RwSignal::new(true);
/// let view = view! { <Spinner visible=move || busy.get() /> };
/// ```
#[component]
pub fn Spinner(
    /// Whether it shows (a plain closure: a `Signal` would add a memo's code to the wasm).
    visible: impl Fn() -> bool + Send + Sync + 'static,
) -> impl IntoView {
    view! { <span class="tbc-spinner" aria-hidden="true" hidden=move || !visible()></span> }
}

/// Moves the keyboard focus to `element` once it is in the page: a microtask after it is built,
/// since a view is attached in the task that builds it. For `use:focus_when_shown` on an element
/// with a `tabindex`. (A directive, not a `NodeRef` read in an `Effect`: the effect's machinery is
/// ~3 KB of a bundle's wasm that nothing else in the registration page needs.)
pub fn focus_when_shown(element: web_sys::Element) {
    queue_microtask(move || {
        if let Some(element) = wasm_bindgen::JsCast::dyn_ref::<web_sys::HtmlElement>(&element) {
            let _ = element.focus();
        }
    });
}

/// An error panel that takes keyboard focus when it appears, so the reason is read out at once.
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::checkout::copy::{Locale, Text};
/// use toss_billing_checkout::components::Alert;
///
/// let view = view! {
///     <Alert locale=Locale::En text=Text::LoadFailed code=Some("NETWORK_ERROR".to_owned())>
///         <button type="button">{Text::TryAgain.get(Locale::En)}</button>
///     </Alert>
/// };
/// ```
#[component]
pub fn Alert(
    /// Copy language.
    locale: Locale,
    /// The customer-facing message.
    text: Text,
    /// Words that replace `text`: the merchant's own message for a refusal our copy does not
    /// know (`copy::merchant_message`). A text node, never markup.
    #[prop(default = None)]
    said: Option<String>,
    /// Optional developer detail, folded away.
    #[prop(default = None)]
    detail: Option<String>,
    /// Optional error code, shown for support.
    #[prop(default = None)]
    code: Option<String>,
    /// Actions (retry buttons, links).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="tbc-alert" role="alert" tabindex="-1" use:focus_when_shown>
            <p class="tbc-alert-text">{said.unwrap_or_else(|| text.get(locale).to_owned())}</p>
            {code.map(|code| view! {
                <p class="tbc-code">{Text::ErrorCode.get(locale)}": "<code>{code}</code></p>
            })}
            {detail.map(|detail| view! {
                <details class="tbc-detail">
                    <summary>{Text::DeveloperDetail.get(locale)}</summary>
                    <p>{detail}</p>
                </details>
            })}
            {children.map(|children| view! { <div class="tbc-actions">{children()}</div> })}
        </div>
    }
}

/// The registered card, as the backend described it (already masked). Every field is optional:
/// only the rows with something in them are shown, and nothing at all for a card without details.
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::checkout::copy::Locale;
/// use toss_billing_checkout::components::CardSummaryView;
/// use toss_billing_checkout::CardSummary;
///
/// let card = CardSummary {
///     company: Some("현대".into()),
///     number: Some("433012******123*".into()),
///     ..CardSummary::default()
/// };
/// let view = view! { <CardSummaryView locale=Locale::Ko card /> };
/// ```
#[component]
pub fn CardSummaryView(
    /// Copy language.
    locale: Locale,
    /// The card.
    card: CardSummary,
) -> impl IntoView {
    let kind = [card.card_type, card.owner_type]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let kind = (!kind.is_empty()).then_some(kind);
    // The kind goes with the company when there is one, on its own row when there is not.
    let (company, kind) = match (card.company, kind) {
        (Some(company), Some(kind)) => (Some([&*company, " (", &kind, ")"].concat()), None),
        (company, kind) => (company, kind),
    };
    let number = card.number;
    let any = company.is_some() || kind.is_some() || number.is_some();
    any.then(move || {
        view! {
            <dl class="tbc-card">
                {card_row(locale, Text::CardCompany, "tbc-card-company", company)}
                {card_row(locale, Text::CardKind, "tbc-card-kind", kind)}
                {card_row(locale, Text::CardNumber, "tbc-card-number", number)}
            </dl>
        }
    })
}

/// What the customer signs up for (the `plan` setting), beside the register button: the plan, its
/// price in KRW, how often it is charged, the first charge, and how to cancel. Themed by the
/// `--tbc-*` custom properties, like the card summary.
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::checkout::copy::Locale;
/// use toss_billing_checkout::components::PlanSummaryView;
/// use toss_billing_checkout::{PlanCycle, PlanSummary};
///
/// let plan = PlanSummary {
///     name: "Pro".into(),
///     amount: 12_900,
///     cycle: PlanCycle::EveryDays(14),
///     first_charge_date: Some("2026-12-01".into()),
///     cancel_note: None,
/// };
/// // Plan · Pro, Price · ₩12,900, Billed · every 14 days, First charge · 1 December 2026, …
/// let view = view! { <PlanSummaryView locale=Locale::En plan /> };
/// ```
#[component]
pub fn PlanSummaryView(
    /// Copy language.
    locale: Locale,
    /// The plan.
    plan: PlanSummary,
) -> impl IntoView {
    // The rows as escaped markup from the pure layer (checkout::plan, tested natively): five
    // typed rows cost ~2 KB of wasm on the page whose every kilobyte is measured, and these
    // never change once rendered.
    view! { <dl class="tbc-card tbc-plan" inner_html=plan_rows_html(&plan, locale)></dl> }
}

/// One row of the card, only when it has a value. (One function for the three rows: one view type,
/// so its rendering code is in the wasm once.)
fn card_row(
    locale: Locale,
    label: Text,
    class: &'static str,
    value: Option<String>,
) -> impl IntoView {
    value.map(|value| view! { <dt>{label.get(locale)}</dt><dd class=class>{value}</dd> })
}

/// A link back to the registration page.
///
/// ```no_run
/// use leptos::prelude::*;
/// use toss_billing_checkout::checkout::copy::Locale;
/// use toss_billing_checkout::components::BackLink;
///
/// let view = view! { <BackLink locale=Locale::Ko href="/subscribe".to_owned() /> };
/// ```
#[component]
pub fn BackLink(
    /// Copy language.
    locale: Locale,
    /// The registration page path.
    href: String,
    /// The link text.
    #[prop(default = Text::BackToRegister)]
    text: Text,
) -> impl IntoView {
    view! { <a class="tbc-button tbc-button-secondary tbc-link" href=href>{text.get(locale)}</a> }
}
