//! A subscription on the terms the customer agreed to (issue 31), told as customers live it:
//! a free trial they agree to convert, or do not; a price rise they accept, decline or ignore; a
//! first charge declined and a second card on the same checkout; an upgrade that charges exactly
//! its preview; a checkout session that cannot be used; two instances racing the consent
//! deadline.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;

use crate::subscriptions::{
    attempts_settled, events, fast, operator_view, register_answer, subscribed,
};
use crate::support::{
    eventually, good_card, server_env, Customer, Db, Env, Proc, OPERATOR, USER_HEADER,
};
use crate::{stories, BOTH};
use billing_server::clock::to_ms;
use toss_sim::sandbox_auth_key;

stories! {
    BOTH => a_trial_converts_only_after_the_customer_agrees,
    BOTH => a_trial_without_consent_ends_and_nothing_is_ever_charged,
    BOTH => a_price_rise_declined_or_ignored_ends_the_subscription_before_the_new_price,
    BOTH => a_price_rise_less_than_thirty_days_ahead_is_refused,
    BOTH => a_withdrawn_price_rise_changes_nothing,
    BOTH => a_first_charge_declined_is_incomplete_and_another_card_on_the_same_checkout_pays_it,
    BOTH => an_unpaid_first_charge_expires_after_23_hours_with_nothing_charged,
    BOTH => an_upgrade_charges_exactly_its_preview_and_a_downgrade_waits_for_the_period_end,
    BOTH => a_checkout_session_that_cannot_be_used_charges_nothing,
    BOTH => two_instances_racing_the_consent_deadline_reach_one_outcome,
}

const DAY: i64 = 86_400_000;

async fn operator(
    env: &Env,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = env
        .http
        .request(method, env.url(path))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// The customer answers the pending change, asking again while the answer is `BUSY` (the
/// scheduler holds the subscription for a moment; a retry is safe), as the portal does.
async fn answer(env: &Env, c: &Customer, yes: bool) -> (StatusCode, Value) {
    let (_, sub) = env.get_as(c, "/api/subscription").await;
    let id = sub["pendingChange"]["changeId"]
        .as_i64()
        .expect("a pending change");
    let verb = if yes { "accept" } else { "decline" };
    for _ in 0..20 {
        let (status, body) = env
            .post_as(
                c,
                &format!("/api/subscription/changes/{id}/{verb}"),
                json!({"textVersion": "portal-ko-test"}),
            )
            .await;
        if body["code"] != "BUSY" {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the subscription stayed busy");
}

async fn processed_charges(env: &Env) -> Vec<i64> {
    let mut amounts = Vec::new();
    for call in env.sim.calls("charge").await {
        if call.outcome == "processed" {
            let order = call.order_id.unwrap();
            let charge = env.store.charge(&order).await.unwrap().unwrap();
            amounts.push(charge.amount);
        }
    }
    amounts
}

async fn a_trial_converts_only_after_the_customer_agrees(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-03-01 10:00 +9)))
        .unwrap();
    let c = env.member("premium-trial").await;
    let (_, terms) = env.checkout_again(&c, "premium-trial").await;
    assert_eq!(
        (
            terms["terms"]["trialDays"].as_i64(),
            terms["terms"]["firstChargeDate"].as_str()
        ),
        (Some(14), Some("2027-03-15")),
        "the page is shown the trial and the first charge's date: {terms}"
    );
    let (answer_body, id) = register_answer(&env, &c, &good_card(&c.key)).await;
    assert_eq!(
        answer_body["subscription"],
        json!({"status": "trialing", "planName": "프리미엄 플랜 (14일 무료 체험)", "amount": 9900, "firstChargeDate": "2027-03-15"}),
        "the hand-off says what happened: a trial, nothing charged"
    );
    assert!(
        processed_charges(&env).await.is_empty(),
        "nothing charged at registration"
    );
    // A 14-day trial: the consent window (30 days before the conversion) is open from the start,
    // so the request goes out at once; the notice 7 days before the end follows.
    eventually("the consent request", 10, || async {
        events(&env, id)
            .await
            .contains(&"subscription.consent_requested".to_owned())
    })
    .await;
    env.clock
        .set(to_ms(datetime!(2027-03-08 10:00 +9)))
        .unwrap();
    eventually("the trial's end notice", 10, || async {
        events(&env, id)
            .await
            .contains(&"subscription.trial_will_end".to_owned())
    })
    .await;
    let (status, body) = answer(&env, &c, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["nextCharge"],
        json!({"at": "2027-03-15T10:00:00+09:00", "amount": 9900}),
        "what comes next, after consent"
    );
    let (status, _) = answer(&env, &c, true).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "answering the same again is a safe retry"
    );
    env.clock
        .set(to_ms(datetime!(2027-03-15 10:00 +9)))
        .unwrap();
    let attempts = attempts_settled(&env, id, 1).await;
    assert_eq!(
        (
            attempts[0]["status"].as_str(),
            attempts[0]["amount"].as_i64()
        ),
        (Some("DONE"), Some(9900))
    );
    let sub = subscribed(&env, id).await;
    assert_eq!(
        (
            sub["status"].as_str(),
            sub["currentPeriodStart"].as_str(),
            sub["currentPeriodEnd"].as_str()
        ),
        (
            Some("ACTIVE"),
            Some("2027-03-15T10:00:00+09:00"),
            Some("2027-04-15T10:00:00+09:00")
        )
    );
    assert_eq!(
        processed_charges(&env).await,
        [9900],
        "one charge, after the trial"
    );
    let view = operator_view(&env, id).await;
    let consents = view["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 1, "the repeat recorded nothing new");
    assert_eq!(
        (
            consents[0]["decision"].as_str(),
            consents[0]["textVersion"].as_str(),
            consents[0]["channel"].as_str()
        ),
        (Some("ACCEPT"), Some("portal-ko-test"), Some("customer_api"))
    );
    assert_eq!(consents[0]["terms"]["priceAfter"], 9900);
    // One trial per customer per plan; and no second subscription: the checkout page gives no
    // session to a subscriber (a card registered there becomes the live subscription's card).
    let (status, again) = env.checkout_again(&c, "premium-trial").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        (
            again["checkoutSession"].as_str(),
            again["subscribed"]["code"].as_str()
        ),
        (None, Some("ALREADY_SUBSCRIBED")),
        "{again}"
    );
}

async fn a_trial_without_consent_ends_and_nothing_is_ever_charged(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-03-01 10:00 +9)))
        .unwrap();
    let c = env.member("premium-trial").await;
    let (_, id) = register_answer(&env, &c, &good_card(&c.key)).await;
    // Consent asked for before the window is refused, not kept: here the window is open, so a
    // "no" is the customer's answer; a silent customer is the same as a "no".
    env.clock
        .set(to_ms(datetime!(2027-03-15 10:00 +9)))
        .unwrap();
    eventually("the trial ends", 10, || async {
        subscribed(&env, id).await["status"] == "CANCELED"
    })
    .await;
    let sub = subscribed(&env, id).await;
    assert_eq!(sub["endedReason"], "trial_not_converted");
    env.clock.advance(60 * DAY).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        processed_charges(&env).await.is_empty(),
        "nothing ever charged"
    );
    assert_eq!(env.sim.calls("charge").await.len(), 0, "not even tried");
    // Trying the trial again: no second trial on this plan.
    let (status, terms) = env.checkout_again(&c, "premium-trial").await;
    assert_eq!(status, StatusCode::OK, "{terms}");
    assert_eq!(
        terms["terms"]["trialDays"], 0,
        "the plan without its trial: {terms}"
    );
}

/// A customer on premium-monthly since 2027-01-10 and a rise to 12,900원 announced on
/// 2027-01-20 for 2027-02-20: it reaches the subscription from 2027-03-10 (its first period
/// starting on or after that date), and consent is asked for from 2027-02-08.
async fn rise_announced(env: &Env) -> (Customer, i64) {
    env.clock
        .set(to_ms(datetime!(2027-01-10 10:00 +9)))
        .unwrap();
    let c = env.member("premium-monthly").await;
    let (_, id) = register_answer(env, &c, &good_card(&c.key)).await;
    env.clock
        .set(to_ms(datetime!(2027-01-20 10:00 +9)))
        .unwrap();
    let (status, body) = operator(
        env,
        reqwest::Method::PATCH,
        "/api/admin/plans/premium-monthly",
        json!({"amount": 12900, "effectiveAt": "2027-02-20T10:00:00+09:00"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subscriptionsTold"], 1);
    let (_, sub) = env.get_as(&c, "/api/subscription").await;
    assert_eq!(sub["pendingChange"]["effectiveDate"], "2027-03-10", "{sub}");
    // What declining does, in Korean and in English (an English page shows the translation).
    let change = &sub["pendingChange"];
    assert!(
        change["ifDeclined"]
            .as_str()
            .is_some_and(|t| t.contains("2027-03-10에 구독이 종료돼요")),
        "{change}"
    );
    assert_eq!(
        change["translations"]["en"]["ifDeclined"],
        "If you do not agree, you keep the current price until 2027-03-10, when the subscription ends. The new price is never charged.",
        "{change}"
    );
    assert!(
        change["translations"]["en"]["howToCancel"]
            .as_str()
            .is_some_and(|t| t.starts_with("You can cancel at any time")),
        "{change}"
    );
    assert_eq!(change["translations"]["en"]["textVersion"], "en-2026-12-08");
    assert_eq!(
        sub["pendingChange"]["answerable"], false,
        "the portal asks nothing before the window opens: {sub}"
    );
    // Too early: a "yes" before the 30-day window does not count and is not kept.
    let (status, early) = answer(env, &c, true).await;
    assert_eq!(
        (status, early["code"].as_str()),
        (StatusCode::CONFLICT, Some("CONSENT_WINDOW_NOT_OPEN")),
        "{early}"
    );
    env.clock
        .set(to_ms(datetime!(2027-02-08 11:00 +9)))
        .unwrap();
    eventually("the consent request", 10, || async {
        events(env, id)
            .await
            .contains(&"subscription.consent_requested".to_owned())
    })
    .await;
    let (_, sub) = env.get_as(&c, "/api/subscription").await;
    assert_eq!(
        sub["pendingChange"]["answerable"], true,
        "by the server's clock, an answer counts now: {sub}"
    );
    (c, id)
}

async fn a_price_rise_declined_or_ignored_ends_the_subscription_before_the_new_price(db: Db) {
    for declines in [true, false] {
        let env = Env::start_with(db, fast).await;
        let (c, id) = rise_announced(&env).await;
        if declines {
            let (status, body) = answer(&env, &c, false).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(
                (
                    body["nextCharge"]["amount"].as_i64(),
                    body["endsAt"].as_str()
                ),
                (Some(9900), Some("2027-03-10T10:00:00+09:00")),
                "one more month at the old price, then the end: {body}"
            );
        }
        // The old-price period that starts on 2027-02-10 is charged at the old price.
        env.clock
            .set(to_ms(datetime!(2027-02-10 10:00 +9)))
            .unwrap();
        attempts_settled(&env, id, 2).await;
        env.clock
            .set(to_ms(datetime!(2027-03-10 10:00 +9)))
            .unwrap();
        eventually("the subscription ends", 10, || async {
            subscribed(&env, id).await["status"] == "CANCELED"
        })
        .await;
        let sub = subscribed(&env, id).await;
        assert_eq!(sub["endedReason"], "price_increase_not_accepted");
        env.clock.advance(90 * DAY).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            processed_charges(&env).await,
            [9900, 9900],
            "declined={declines}: never charged the new price"
        );
        let consents = operator_view(&env, id).await["consents"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(
            consents,
            usize::from(declines),
            "a decline is kept; silence is not an answer"
        );
    }
}

async fn a_withdrawn_price_rise_changes_nothing(db: Db) {
    let env = Env::start_with(db, fast).await;
    let (c, id) = rise_announced(&env).await;
    let (status, list) = operator(
        &env,
        reqwest::Method::GET,
        "/api/admin/price-changes",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let price_change = list["priceChanges"][0]["id"].as_i64().unwrap();
    let withdraw = format!("/api/admin/price-changes/{price_change}/withdraw");
    let (status, body) = operator(&env, reqwest::Method::POST, &withdraw, json!({})).await;
    assert_eq!(
        (status, body["subscriptionsTold"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (status, again) = operator(&env, reqwest::Method::POST, &withdraw, json!({})).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::CONFLICT, Some("NOT_SCHEDULED")),
        "{again}"
    );
    let (_, sub) = env.get_as(&c, "/api/subscription").await;
    assert_eq!(sub["pendingChange"], Value::Null, "{sub}");
    assert!(events(&env, id)
        .await
        .contains(&"subscription.change_withdrawn".to_owned()));
    // A "yes" to a withdrawn change counts for nothing.
    let (status, closed) = env
        .post_as(&c, "/api/subscription/changes/1/accept", json!({}))
        .await;
    assert_eq!(
        (status, closed["code"].as_str()),
        (StatusCode::CONFLICT, Some("CHANGE_CLOSED")),
        "{closed}"
    );
    for month in [
        to_ms(datetime!(2027-02-10 10:00 +9)),
        to_ms(datetime!(2027-03-10 10:00 +9)),
        to_ms(datetime!(2027-04-10 10:00 +9)),
    ] {
        env.clock.set(month).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    attempts_settled(&env, id, 4).await;
    assert_eq!(
        processed_charges(&env).await,
        [9900, 9900, 9900, 9900],
        "the old price, on and on"
    );
    assert_eq!(subscribed(&env, id).await["status"], "ACTIVE");
}

async fn a_price_rise_less_than_thirty_days_ahead_is_refused(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-01-10 10:00 +9)))
        .unwrap();
    let (status, body) = operator(
        &env,
        reqwest::Method::PATCH,
        "/api/admin/plans/premium-monthly",
        json!({"amount": 12900, "effectiveAt": "2027-02-08T10:00:00+09:00"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("PRICE_INCREASE_TOO_SOON")),
        "29 days: {body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("2027-02-09"),
        "{body}"
    );
    let (status, body) = operator(
        &env,
        reqwest::Method::PUT,
        "/api/admin/plans/premium-monthly",
        json!({"name": "프리미엄 플랜", "amount": 12900, "cycle": "monthly"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("PRICE_CHANGE_NEEDS_SCHEDULE")),
        "no back door: {body}"
    );
    // A decrease needs no notice and no consent: from the next period on.
    let c = env.member("premium-monthly").await;
    let (_, id) = register_answer(&env, &c, &good_card(&c.key)).await;
    let (status, body) = operator(
        &env,
        reqwest::Method::PATCH,
        "/api/admin/plans/premium-monthly",
        json!({"amount": 7900}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    env.clock
        .set(to_ms(datetime!(2027-02-10 10:00 +9)))
        .unwrap();
    let attempts = attempts_settled(&env, id, 2).await;
    assert_eq!(attempts[1]["amount"], 7900);
    let (status, plan) = env
        .checkout_again(&env.member("basic-monthly").await, "premium-monthly")
        .await;
    assert_eq!(
        (status, plan["terms"]["amount"].as_i64()),
        (StatusCode::OK, Some(7900))
    );
}

async fn a_first_charge_declined_is_incomplete_and_another_card_on_the_same_checkout_pays_it(
    db: Db,
) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-03-10 09:00 +9)))
        .unwrap();
    let c = env.member("premium-monthly").await;
    let broke = sandbox_auth_key(&c.key, "433012", "5001", "1299", "PERSONAL");
    let (answer_body, id) = register_answer(&env, &c, &broke).await;
    assert_eq!(
        answer_body["subscription"],
        json!({"status": "incomplete", "planName": "프리미엄 플랜", "amount": 9900,
               "code": "REJECT_CARD_PAYMENT", "decline": "soft",
               "retryUntil": "2027-03-11T08:00:00+09:00"}),
        "the page is told the truth: {answer_body}"
    );
    let sub = subscribed(&env, id).await;
    assert_eq!(sub["status"], "INCOMPLETE");
    // No dunning for a customer who never paid: days pass, nothing is retried.
    env.clock.advance(DAY / 2).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        env.sim.calls("charge").await.len(),
        1,
        "no retry of the declined first charge"
    );
    // Another card, on the same checkout session (다른 카드로 등록하기): the checkout page gives the
    // same session again.
    let (status, again) = env.checkout_again(&c, "premium-monthly").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let reissued = crate::support::Customer {
        session: again["checkoutSession"].as_str().map(str::to_owned),
        ..c.clone()
    };
    let (second, same_id) = register_answer(
        &env,
        &reissued,
        &sandbox_auth_key(&c.key, "451842", "1234", "1299", "PERSONAL"),
    )
    .await;
    assert_eq!(same_id, id, "the same subscription");
    assert_eq!(second["subscription"]["status"], "active", "{second}");
    assert_eq!(second["subscription"]["amount"], 9900);
    assert!(
        second["subscription"]["receiptUrl"].as_str().is_some(),
        "{second}"
    );
    assert_eq!(
        second["subscription"]["nextChargeDate"], "2027-04-10",
        "{second}"
    );
    let sub = subscribed(&env, id).await;
    assert_eq!(
        (sub["status"].as_str(), sub["card"]["company"].as_str()),
        (Some("ACTIVE"), Some("신한"))
    );
    assert_eq!(
        processed_charges(&env).await,
        [9900],
        "exactly one successful charge"
    );
    let kinds = events(&env, id).await;
    assert!(
        kinds.contains(&"subscription.incomplete".to_owned())
            && kinds.contains(&"subscription.activated".to_owned()),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&"subscription.past_due".to_owned()),
        "never past due: {kinds:?}"
    );
}

async fn an_unpaid_first_charge_expires_after_23_hours_with_nothing_charged(db: Db) {
    let env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-03-10 09:00 +9)))
        .unwrap();
    let c = env.member("premium-monthly").await;
    let broke = sandbox_auth_key(&c.key, "433012", "4001", "1299", "PERSONAL");
    // 4001 is refused at registration (a stopped card): no billing key, no subscription.
    let (status, refused) = env.hand_off_until_final(&c, &broke).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("INVALID_STOPPED_CARD"))
    );
    let (_, id) = register_answer(
        &env,
        &c,
        &sandbox_auth_key(&c.key, "433012", "5001", "1299", "PERSONAL"),
    )
    .await;
    env.clock
        .set(to_ms(datetime!(2027-03-11 08:00 +9)))
        .unwrap();
    eventually("the subscription expires", 10, || async {
        subscribed(&env, id).await["status"] == "INCOMPLETE_EXPIRED"
    })
    .await;
    // The session is used up now: its subscription ended.
    let (status, late) = env
        .hand_off_until_final(
            &c,
            &sandbox_auth_key(&c.key, "451842", "1234", "1299", "PERSONAL"),
        )
        .await;
    assert_eq!(
        (status, late["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("CHECKOUT_SESSION_USED")
        ),
        "{late}"
    );
    assert!(processed_charges(&env).await.is_empty());
    // A new checkout starts afresh.
    let (status, fresh) = env.checkout_again(&c, "premium-monthly").await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
}

async fn an_upgrade_charges_exactly_its_preview_and_a_downgrade_waits_for_the_period_end(db: Db) {
    let env = Env::start_with(db, fast).await;
    // Registered on 2027-01-01: the period [Jan 1, Feb 1) has 31 KST days.
    env.clock
        .set(to_ms(datetime!(2027-01-01 09:00 +9)))
        .unwrap();
    let c = env.member("basic-monthly").await;
    let (_, id) = register_answer(&env, &c, &good_card(&c.key)).await;
    env.clock
        .set(to_ms(datetime!(2027-01-10 15:00 +9)))
        .unwrap();
    let (status, preview) = env
        .get_as(&c, "/api/subscription/switch?plan=premium-monthly")
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    // (9,900 − 4,900) × 22 / 31 = 3,548.3… → 3,548: the 22 days from Jan 10 on, rounded down.
    assert_eq!(preview["preview"]["chargeNow"], 3548, "{preview}");
    assert_eq!(preview["preview"]["kind"], "UPGRADE");
    let (status, stale) = env
        .post_as(
            &c,
            "/api/subscription/switch",
            json!({"planId": "premium-monthly", "expectedCharge": 3000}),
        )
        .await;
    assert_eq!(
        (status, stale["code"].as_str()),
        (StatusCode::CONFLICT, Some("PREVIEW_CHANGED")),
        "{stale}"
    );
    let (status, switched) = env
        .post_as(
            &c,
            "/api/subscription/switch",
            json!({"planId": "premium-monthly", "expectedCharge": 3548}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(
        (
            switched["subscription"]["plan"]["id"].as_str(),
            switched["subscription"]["amount"].as_i64()
        ),
        (Some("premium-monthly"), Some(9900))
    );
    let calls = env.sim.calls("charge").await;
    let proration = calls
        .iter()
        .find(|c| c.order_id.as_deref().is_some_and(|o| o.contains("-u")))
        .expect("a proration charge");
    let charged = env
        .store
        .charge(proration.order_id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (charged.amount, proration.outcome.as_str()),
        (3548, "processed"),
        "Toss charged exactly the preview"
    );
    // The next period at the new price.
    env.clock
        .set(to_ms(datetime!(2027-02-01 09:00 +9)))
        .unwrap();
    let attempts = attempts_settled(&env, id, 2).await;
    assert_eq!(attempts[1]["amount"], 9900);
    // A downgrade: nothing now, the cheaper plan from the next period.
    let (status, down) = env
        .post_as(
            &c,
            "/api/subscription/switch",
            json!({"planId": "basic-monthly", "expectedCharge": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{down}");
    assert_eq!(
        down["subscription"]["nextCharge"],
        json!({"at": "2027-03-01T09:00:00+09:00", "amount": 4900})
    );
    env.clock
        .set(to_ms(datetime!(2027-03-01 09:00 +9)))
        .unwrap();
    let attempts = attempts_settled(&env, id, 3).await;
    assert_eq!(attempts[2]["amount"], 4900);
    assert_eq!(subscribed(&env, id).await["plan"]["id"], "basic-monthly");
    let consents = operator_view(&env, id).await["consents"]
        .as_array()
        .unwrap()
        .clone();
    let channels: Vec<&str> = consents
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    assert_eq!(
        channels,
        ["customer_api", "customer_api"],
        "the customer's own switches are their consent"
    );
    assert_eq!(processed_charges(&env).await, [4900, 3548, 9900, 4900]);
}

async fn a_checkout_session_that_cannot_be_used_charges_nothing(db: Db) {
    let env = Env::start_with(db, fast).await;
    let c = env.member("premium-monthly").await;
    let tampered = Customer {
        session: Some(format!("{}x", c.session.as_deref().unwrap())),
        ..c.clone()
    };
    let (status, body) = env.hand_off(&tampered, &good_card(&c.key)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CHECKOUT_SESSION_INVALID")),
        "{body}"
    );
    let other = env.member("premium-monthly").await;
    let stolen = Customer {
        session: other.session.clone(),
        ..c.clone()
    };
    let (status, body) = env.hand_off(&stolen, &good_card(&c.key)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("CUSTOMER_KEY_MISMATCH")),
        "{body}"
    );
    env.clock.advance(2 * 3_600_000 + 1).unwrap();
    let (status, body) = env.hand_off(&c, &good_card(&c.key)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::GONE, Some("CHECKOUT_SESSION_EXPIRED")),
        "{body}"
    );
    let (status, body) = env.checkout_again(&c, "no-such-plan").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("UNKNOWN_PLAN")),
        "{body}"
    );
    assert!(
        env.sim.calls("issue").await.is_empty(),
        "no billing key minted"
    );
    assert!(env.sim.calls("charge").await.is_empty(), "nothing charged");
    // A used session: its subscription started (and is active), so it cannot start another.
    let fresh = env.member("premium-monthly").await;
    let card = good_card(&fresh.key);
    register_answer(&env, &fresh, &card).await;
    let (status, body) = env.hand_off(&fresh, &card).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a replay of the same authKey is the same answer: {body}"
    );
    let (status, body) = env
        .hand_off(
            &fresh,
            &sandbox_auth_key(&fresh.key, "451842", "1234", "1299", "PERSONAL"),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("CHECKOUT_SESSION_USED")
        ),
        "{body}"
    );
    assert_eq!(processed_charges(&env).await, [9900]);
}

/// The customer answers "yes" right at the deadline while two instances' schedulers reach the
/// change's date: either the answer is in before the decision (the new price applies) or it is
/// refused after it (the subscription ends) — one outcome, never both, never a price the
/// customer did not consent to.
async fn two_instances_racing_the_consent_deadline_reach_one_outcome(db: Db) {
    // Set up in this process: a subscription and a rise that applies at its next period.
    let mut env = Env::start_with(db, fast).await;
    env.clock
        .set(to_ms(datetime!(2027-01-10 10:00 +9)))
        .unwrap();
    let c = env.member("premium-monthly").await;
    let (_, id) = register_answer(&env, &c, &good_card(&c.key)).await;
    let (status, body) = operator(
        &env,
        reqwest::Method::PATCH,
        "/api/admin/plans/premium-monthly",
        json!({"amount": 12900, "effectiveAt": "2027-02-10T10:00:00+09:00"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let effective = to_ms(datetime!(2027-02-10 10:00 +9));
    if let Some(server) = env.server.take() {
        server.shutdown().await;
    }
    let database = env.database.clone();
    // Both instances start 1.5 s before the change's date, schedulers looking every 50 ms.
    let offset = effective - 1_500 - billing_server::clock::Clock::system().now_ms();
    let mut envs = Vec::new();
    for name in ["race-a", "race-b"] {
        let mut e = server_env(&database, &env.dir.path().join(name), &env.sim.url, name);
        e.push(("CLOCK_OFFSET_MS", offset.to_string()));
        e.push(("SCHEDULER_INTERVAL_MS", "50".into()));
        e.push(("SIGNED_IN_USER_HEADER", USER_HEADER.into()));
        envs.push(e);
    }
    let a = Proc::spawn("race-a", &[], &envs[0]).await;
    let b = Proc::spawn("race-b", &[], &envs[1]).await;
    let http = reqwest::Client::new();
    let user = c.user.clone().unwrap();
    let change_id = {
        let r: Value = http
            .get(format!("{}/api/subscription", a.url))
            .header(USER_HEADER, &user)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["pendingChange"]["changeId"]
            .as_i64()
            .expect("the pending rise")
    };
    // "Yes", again and again, to either instance, until it is accepted or closed.
    let mut accepted = false;
    for i in 0..200 {
        let base = if i % 2 == 0 { &a.url } else { &b.url };
        let r = http
            .post(format!(
                "{base}/api/subscription/changes/{change_id}/accept"
            ))
            .header(USER_HEADER, &user)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        if status == StatusCode::OK {
            accepted = true;
            break;
        }
        if body["code"] == "CHANGE_CLOSED" || body["code"] == "SUBSCRIPTION_ENDED" {
            break;
        }
        assert!(
            body["code"] == "BUSY" || body["code"] == "CONSENT_WINDOW_NOT_OPEN",
            "{status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let status_of = || {
        crate::support::count(
            &database,
            "SELECT COUNT(*) FROM subscriptions WHERE status = 'CANCELED'",
        )
    };
    let renewals = || {
        crate::support::count(
            &database,
            "SELECT COUNT(*) FROM charges WHERE period_no = 1 AND status = 'DONE'",
        )
    };
    eventually("the date is decided", 30, || async {
        status_of().await == 1 || renewals().await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (canceled, renewed) = (status_of().await, renewals().await);
    let new_price = crate::support::count(
        &database,
        "SELECT COUNT(*) FROM charges WHERE amount = 12900",
    )
    .await;
    if accepted {
        assert_eq!(
            (canceled, renewed, new_price),
            (0, 1, 1),
            "accepted: the new price, once"
        );
    } else {
        assert_eq!(
            (canceled, renewed, new_price),
            (1, 0, 0),
            "refused: ended, never charged the new price"
        );
    }
    assert_eq!(
        crate::support::count(
            &database,
            &format!("SELECT COUNT(*) FROM consents WHERE subscription_id = {id}")
        )
        .await,
        i64::from(accepted),
        "a consent is kept only when it counted"
    );
    drop((a, b));
}
