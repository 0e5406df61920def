//! The pages rendered on the server (`ssr`), natively: what a Leptos SSR app sends before the
//! browser hydrates it. Each page's first render is the one the browser's hydration must find:
//! the registration page's busy button, title, lead and plan; the success page's "confirming"
//! state; the fail page's neutral heading (the address, which only the browser sees, is read
//! after hydration). Nothing here may touch a browser API: on a native target those panic.
//!
//! `cargo test -p toss-billing-checkout --features ssr --test ssr`
#![cfg(feature = "ssr")]

use leptos::prelude::*;
use serde_json::json;
use toss_billing_checkout::{
    CardRegistration, Checkout, Config, RawConfig, RegistrationFail, RegistrationSuccess,
};

fn config(patch: serde_json::Value) -> Config {
    let mut value = json!({
        "clientKey": "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq",
        "customerKeyUrl": "/api/customer",
        "plan": {"name": "프리미엄 플랜", "amount": 9900, "cycle": "monthly"},
    });
    for (name, field) in patch.as_object().unwrap() {
        value[name] = field.clone();
    }
    serde_json::from_value::<RawConfig>(value)
        .unwrap()
        .validate()
        .unwrap()
}

/// Renders `view` to HTML under its own reactive owner, as a server does per request.
fn render<V: IntoView + 'static>(view: impl FnOnce() -> V) -> String {
    let owner = Owner::new();
    owner.with(|| view().into_view().to_html())
}

fn assert_has(html: &str, parts: &[&str]) {
    for part in parts {
        assert!(html.contains(part), "expected {part:?} in {html}");
    }
}

#[test]
fn the_registration_page_renders_its_busy_button_copy_and_plan() {
    let config = config(json!({}));
    let html = render(move || view! { <CardRegistration config /> });
    assert_has(
        &html,
        &[
            r#"class="tbc tbc-register""#,
            r#"lang="ko""#,
            "결제 카드 등록",
            "정기결제에 사용할 카드를 등록해 주세요",
            "결제 모듈을 불러오는 중…",
            r#"data-state="loading""#,
            r#"aria-busy="true""#,
            "disabled",
            r#"<dl class="tbc-card tbc-plan">"#,
            "프리미엄 플랜",
            "9,900원",
            "매월",
            "카드 등록 즉시",
            "언제든 해지할 수 있어요",
        ],
    );
    assert!(!html.contains("tbc-alert"), "no error: {html}");
}

#[test]
fn the_registration_page_speaks_english_with_a_dated_plan() {
    let config = config(json!({
        "locale": "en",
        "plan": {"name": "Pro", "amount": 1234567, "cycle": {"everyDays": 14},
                 "firstChargeDate": "2026-12-01", "cancelNote": "Cancel in your account."},
    }));
    let html = render(move || view! { <CardRegistration config /> });
    assert_has(
        &html,
        &[
            "Register a payment card",
            "Loading the payment module…",
            "Pro",
            "₩1,234,567",
            "every 14 days",
            "1 December 2026",
            "Cancel in your account.",
        ],
    );
}

#[test]
fn without_a_plan_there_is_no_plan_block() {
    let mut raw: RawConfig = serde_json::from_value(json!({
        "clientKey": "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq", "customerKey": "customer-0001"
    }))
    .unwrap();
    raw.plan = None;
    let config = raw.validate().unwrap();
    let html = render(move || view! { <CardRegistration config /> });
    assert!(!html.contains("tbc-plan"), "{html}");
    assert_has(&html, &["결제 모듈을 불러오는 중…"]);
}

#[test]
fn the_success_page_renders_its_checking_state() {
    let config = config(json!({"continueUrl": "/account"}));
    let html = render(move || {
        view! { <RegistrationSuccess config on_registered=|_| panic!("nothing is decided on the server") /> }
    });
    assert_has(
        &html,
        &[
            r#"class="tbc tbc-success""#,
            "카드 등록을 확인하고 있어요…",
            r#"aria-busy="true""#,
            "tbc-spinner",
        ],
    );
    assert!(!html.contains("/account"), "no outcome yet: {html}");
}

#[test]
fn the_fail_page_renders_a_neutral_heading() {
    let config = config(json!({"locale": "en"}));
    let html = render(move || view! { <RegistrationFail config /> });
    assert_has(
        &html,
        &[
            r#"class="tbc tbc-fail""#,
            r#"id="tbc-fail-title""#,
            "Checking the registration result…",
        ],
    );
    assert!(!html.contains("tbc-alert"), "{html}");
}

#[test]
fn the_checkout_renders_the_page_for_the_path_it_is_given() {
    for (path, expected) in [
        ("/subscribe", "결제 모듈을 불러오는 중…"),
        ("/billing/success", "카드 등록을 확인하고 있어요…"),
        ("/billing/fail/", "카드 등록 결과를 확인하고 있어요…"),
    ] {
        let config = config(json!({}));
        let html = render(move || view! { <Checkout config path=path /> });
        assert_has(&html, &[expected]);
    }
    // No path on the server: the registration page.
    let config = config(json!({}));
    let html = render(move || view! { <Checkout config /> });
    assert_has(&html, &["결제 모듈을 불러오는 중…"]);
}
