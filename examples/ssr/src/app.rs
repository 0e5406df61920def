//! The storefront: a shell, a header, the checkout's three pages and the customer's account page
//! (the subscription portal) on their routes.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use toss_billing_checkout::{
    CardRegistration, Config, PlanCycle, PlanSummary, RawConfig, RegistrationFail,
    RegistrationSuccess, SubscriptionPortal,
};

/// The checkout's configuration: the same on the server and in the browser (both render with it).
/// The offline sandbox SDK and the public docs test client key, as in the demo.
pub fn checkout_config() -> Config {
    RawConfig {
        client_key: Some("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
        customer_key_url: Some("/api/customer".into()),
        sdk_url: Some("/sandbox/tosspayments-sandbox.js".into()),
        customer_name: Some("김토스".into()),
        continue_url: Some("/".into()),
        plan: Some(PlanSummary {
            name: "프리미엄 플랜".into(),
            amount: 9_900,
            cycle: PlanCycle::Monthly,
            first_charge_date: None,
            cancel_note: None,
        }),
        ..RawConfig::default()
    }
    .validate()
    .expect("the example's configuration is valid")
}

/// The account page's configuration: the portal needs no customerKey (the customer API knows
/// the caller); the SDK and client key are for "change card".
pub fn portal_config() -> Config {
    RawConfig {
        client_key: Some("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq".into()),
        sdk_url: Some("/sandbox/tosspayments-sandbox.js".into()),
        customer_name: Some("김토스".into()),
        ..RawConfig::default()
    }
    .validate_for_portal()
    .expect("the example's portal configuration is valid")
}

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="ko">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="referrer" content="same-origin" />
                <link rel="icon" href="data:," />
                <link rel="stylesheet" href="/pkg/checkout.css" />
                <link rel="stylesheet" href="/pkg/shop.css" />
                <HydrationScripts options />
                <leptos_meta::MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The app: the same on the server and in the browser.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let config = checkout_config();
    let (register, success, fail) = (config.clone(), config.clone(), config);
    let account = portal_config();
    view! {
        <Title text="SSR 스토어 · 카드 등록" />
        <Router>
            <main class="ssr-shop">
                <header class="ssr-header">
                    <h1 class="ssr-brand">"Leptos SSR 스토어 " <span class="ssr-badge">"SSR + hydrate"</span></h1>
                </header>
                <Routes fallback=|| view! { <p>"페이지를 찾을 수 없어요."</p> }>
                    <Route path=path!("/") view=move || view! { <CardRegistration config=register.clone() /> } />
                    <Route path=path!("/billing/success") view=move || view! { <RegistrationSuccess config=success.clone() /> } />
                    <Route path=path!("/billing/fail") view=move || view! { <RegistrationFail config=fail.clone() /> } />
                    <Route path=path!("/account") view=move || view! { <SubscriptionPortal config=account.clone() /> } />
                </Routes>
            </main>
        </Router>
    }
}
