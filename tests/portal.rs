//! The subscription portal's rules, natively: what a customer may do in each state, what each
//! action sends, how cancellation is offered (§11: no harder than signing up, both kinds side by
//! side), when a price change is asked about, and what the success page is told.

use toss_billing_checkout::checkout::copy::{Locale, Text};
use toss_billing_checkout::checkout::handoff::{CardSummary, DeclineClass, SubscriptionOutcome};
use toss_billing_checkout::checkout::plan::PlanCycle;
use toss_billing_checkout::checkout::portal::*;

fn plan() -> PlanInfo {
    PlanInfo {
        id: "premium-monthly".into(),
        name: "프리미엄 월간".into(),
        amount: 9_900,
        cycle: PlanCycle::Monthly,
    }
}

fn subscription(status: Status) -> Subscription {
    Subscription {
        status,
        customer_key: "cus_0123456789".into(),
        plan: Some(plan()),
        amount: 9_900,
        period_end: "2027-01-07T00:00:00+09:00".into(),
        next_charge: Some(("2027-01-07T00:00:00+09:00".into(), 9_900)),
        ends_at: None,
        trial_ends_at: None,
        cancel_at_period_end: false,
        card: Some(CardSummary {
            company: Some("현대".into()),
            number: Some("433012******123*".into()),
            ..CardSummary::default()
        }),
        pending_change: None,
    }
}

fn price_rise(status: &str, answerable: bool) -> PendingChange {
    PendingChange {
        id: 7,
        kind: "PRICE_INCREASE".into(),
        status: status.into(),
        effective_date: "2027-02-07".into(),
        price_before: 9_900,
        price_after: 12_900,
        to_plan: "프리미엄 월간".into(),
        payment_method: CardSummary::default(),
        needs_consent: true,
        consent_opens_at: Some("2027-01-08T00:00:00+09:00".into()),
        answerable,
        how_to_cancel: "구독 관리에서 언제든".into(),
        if_declined: "변경일 전날 해지돼요".into(),
    }
}

#[test]
fn a_paying_customer_can_change_card_switch_plan_and_cancel() {
    let can = actions(Some(&subscription(Status::Active)));
    assert_eq!(
        can,
        Actions {
            change_card: true,
            switch_plan: true,
            cancel: true,
            undo_cancel: false,
            remove_card: false,
        }
    );
}

#[test]
fn after_cancelling_at_the_periods_end_the_customer_can_undo_it_and_nothing_else_but_the_card() {
    let ending = Subscription {
        cancel_at_period_end: true,
        ends_at: Some("2027-01-07T00:00:00+09:00".into()),
        ..subscription(Status::Active)
    };
    let can = actions(Some(&ending));
    assert!(can.undo_cancel && can.change_card);
    assert!(!can.cancel && !can.switch_plan && !can.remove_card);
}

#[test]
fn a_trial_a_declined_first_charge_and_an_overdue_renewal_can_be_cancelled_and_get_a_new_card() {
    for status in [Status::Trialing, Status::Incomplete, Status::PastDue] {
        let can = actions(Some(&subscription(status)));
        assert!(
            can.cancel,
            "{status:?}: cancelling is never harder than signing up"
        );
        assert!(can.change_card, "{status:?}");
        assert!(
            !can.switch_plan,
            "{status:?}: switching is for paid-up subscriptions"
        );
    }
}

#[test]
fn without_a_subscription_a_card_on_file_can_only_be_removed() {
    let card = CardSummary {
        company: Some("현대".into()),
        number: Some("433012******123*".into()),
        ..CardSummary::default()
    };
    assert_eq!(
        actions_without_subscription(Some(&card)),
        Actions {
            remove_card: true,
            ..Actions::default()
        }
    );
    assert_eq!(actions_without_subscription(None), Actions::default());
}

#[test]
fn an_ended_subscription_offers_only_removing_the_card() {
    for status in [Status::Canceled, Status::Unpaid, Status::IncompleteExpired] {
        let can = actions(Some(&subscription(status)));
        assert_eq!(
            can,
            Actions {
                remove_card: true,
                ..Actions::default()
            },
            "{status:?}"
        );
        let no_card = Subscription {
            card: None,
            ..subscription(status)
        };
        assert_eq!(actions(Some(&no_card)), Actions::default());
    }
    assert_eq!(
        actions(None),
        Actions::default(),
        "no subscription, nothing to do"
    );
}

#[test]
fn an_unknown_status_reads_as_ended_so_nothing_is_offered_on_a_guess() {
    assert_eq!(status_named("PAUSED"), Status::Canceled);
    assert_eq!(status_named("PAST_DUE"), Status::PastDue);
    assert!(!status_named("SOMETHING_NEW").is_live());
}

#[test]
fn both_kinds_of_cancellation_are_shown_side_by_side_then_withdrawal() {
    let option = |when, refund| CancelOption {
        when,
        refund,
        ends_at: None,
        until: None,
    };
    let shown = cancel_options(vec![
        option("withdraw", 9_900),
        option("now", 6_707),
        option("period_end", 0),
    ]);
    let order: Vec<_> = shown.iter().map(|o| o.when).collect();
    assert_eq!(order, ["period_end", "now", "withdraw"]);
    assert_eq!(shown[1].refund, 6_707, "each with its exact amount");
}

#[test]
fn a_price_rise_is_asked_about_only_when_the_server_says_an_answer_counts_now() {
    assert!(price_rise("PENDING", true).asks_now());
    assert!(
        !price_rise("PENDING", false).asks_now(),
        "a yes given before the window opens would not count: not asked yet"
    );
    assert!(
        price_rise("DECLINED", true).asks_now(),
        "an answer can be changed until the date"
    );
    assert!(!price_rise("LAPSED", true).asks_now());
    assert!(!price_rise("APPLIED", true).asks_now());
    let decrease = PendingChange {
        kind: "PRICE_DECREASE".into(),
        needs_consent: false,
        ..price_rise("PENDING", true)
    };
    assert!(!decrease.asks_now(), "a cheaper price needs no consent");
}

#[test]
fn each_action_is_one_request_with_the_amount_the_customer_saw() {
    let (method, target, body) = Action::Cancel {
        when: "now",
        expected_refund: 6_707,
    }
    .request();
    assert_eq!(method, "POST");
    assert_eq!(target, Target::Subscription("/cancel".into()));
    assert_eq!(
        body,
        vec![
            ("when", Field::Text("now")),
            ("expectedRefund", Field::Number(6_707)),
        ]
    );

    let (_, target, body) = Action::Answer {
        change: 7,
        accept: false,
        locale: Locale::Ko,
    }
    .request();
    assert_eq!(target, Target::Subscription("/changes/7/decline".into()));
    assert_eq!(
        body,
        vec![("textVersion", Field::Text(CONSENT_TEXT_VERSION))]
    );
    // Read in English: the record says so.
    let (_, _, body) = Action::Answer {
        change: 7,
        accept: true,
        locale: Locale::En,
    }
    .request();
    assert_eq!(
        body,
        vec![("textVersion", Field::Text("portal-2026-12-08-en"))]
    );

    let (_, target, body) = Action::Switch {
        plan: "basic-monthly".into(),
        expected_charge: 3_548,
    }
    .request();
    assert_eq!(target, Target::Subscription("/switch".into()));
    assert_eq!(body[1], ("expectedCharge", Field::Number(3_548)));

    let (method, target, body) = Action::RemoveCard.request();
    assert_eq!((method, target, body.len()), ("DELETE", Target::Card, 0));
}

#[test]
fn each_action_has_its_own_event_name() {
    let names = [
        Action::Cancel {
            when: "period_end",
            expected_refund: 0,
        },
        Action::Cancel {
            when: "now",
            expected_refund: 1,
        },
        Action::Cancel {
            when: "withdraw",
            expected_refund: 1,
        },
        Action::UndoCancel,
        Action::Answer {
            change: 1,
            accept: true,
            locale: Locale::Ko,
        },
        Action::Answer {
            change: 1,
            accept: false,
            locale: Locale::Ko,
        },
        Action::Switch {
            plan: "p".into(),
            expected_charge: 0,
        },
        Action::RemoveCard,
    ]
    .map(|a| a.event());
    assert_eq!(
        names,
        [
            "cancel-scheduled",
            "canceled",
            "withdrawn",
            "cancel-undone",
            "change-accepted",
            "change-declined",
            "plan-switched",
            "card-removed",
        ]
    );
}

#[test]
fn a_busy_server_is_retried_a_stale_preview_reloaded_and_a_refusal_shown_in_its_words() {
    assert_eq!(refusal(409, Some("BUSY"), Some("busy")), Refusal::Retry);
    assert_eq!(refusal(503, None, None), Refusal::Retry);
    assert_eq!(refusal(0, None, None), Refusal::Retry, "no answer at all");
    assert_eq!(
        refusal(409, Some("PREVIEW_CHANGED"), Some("the refund changed")),
        Refusal::Stale
    );
    assert_eq!(
        refusal(409, Some("SHOP_CLOSED_TODAY"), Some("오늘은 휴무예요")),
        Refusal::Said("오늘은 휴무예요".into()),
        "a code we have no copy for: the merchant's words"
    );
    // A documented code: our copy, in the page's language, never the server's developer words.
    assert_eq!(
        refusal(
            402,
            Some("SWITCH_DECLINED"),
            Some("the card declined the charge (REJECT_CARD_PAYMENT); the plan did not change")
        ),
        Refusal::Known(Text::PortalSwitchDeclined)
    );
    assert_eq!(
        refusal(409, Some("WITHDRAWAL_PERIOD_OVER"), Some("…")),
        Refusal::Known(Text::PortalWithdrawClosed)
    );
    assert_eq!(
        refusal(409, Some("LIVE_SUBSCRIPTION"), None),
        Refusal::Known(Text::PortalCardInUse)
    );
    let long = "가".repeat(500);
    let Refusal::Said(shown) = refusal(422, Some("X"), Some(&long)) else {
        panic!("a refusal")
    };
    assert_eq!(
        shown.chars().count(),
        MESSAGE_CHARS,
        "a long message is cut, not dropped"
    );
}

fn paid() -> SubscriptionOutcome {
    SubscriptionOutcome::Active {
        plan_name: "프리미엄 월간".into(),
        amount: 9_900,
        paid_at: "2026-12-07T10:00:00+09:00".into(),
        receipt_url: Some("https://sim.example/receipts/p1".into()),
        next_charge_date: "2027-01-07".into(),
    }
}

#[test]
fn the_success_page_shows_an_outcome_only_when_every_field_it_renders_is_plausible() {
    assert_eq!(paid().plausible(), Some(paid()));
    let SubscriptionOutcome::Active { plan_name, .. } = paid() else {
        unreachable!()
    };
    let blank = SubscriptionOutcome::Active {
        plan_name: " ".into(),
        amount: 9_900,
        paid_at: "2026-12-07T10:00:00+09:00".into(),
        receipt_url: None,
        next_charge_date: "2027-01-07".into(),
    };
    assert_eq!(
        blank.plausible(),
        None,
        "no plan name, no outcome: the page says only 'registered'"
    );
    let bad_date = SubscriptionOutcome::Trialing {
        plan_name: plan_name.clone(),
        amount: 9_900,
        first_charge_date: "soon".into(),
    };
    assert_eq!(bad_date.plausible(), None);
    let bad_code = SubscriptionOutcome::Incomplete {
        plan_name,
        amount: 9_900,
        code: "<script>".into(),
        decline: DeclineClass::Hard,
        retry_until: "2026-12-08T10:00:00+09:00".into(),
    };
    assert_eq!(bad_code.plausible(), None);
}

#[test]
fn a_receipt_link_that_is_not_http_is_dropped_not_rendered() {
    let SubscriptionOutcome::Active {
        plan_name,
        amount,
        paid_at,
        next_charge_date,
        ..
    } = paid()
    else {
        unreachable!()
    };
    let script = SubscriptionOutcome::Active {
        plan_name,
        amount,
        paid_at,
        receipt_url: Some("javascript:alert(1)".into()),
        next_charge_date,
    };
    let Some(SubscriptionOutcome::Active { receipt_url, .. }) = script.plausible() else {
        panic!("the outcome stays")
    };
    assert_eq!(receipt_url, None);
}

#[test]
fn a_backend_that_does_not_know_the_customer_is_not_a_failure_to_retry() {
    assert_eq!(SubscriptionAnswer::of(Some(200)), SubscriptionAnswer::Found);
    assert_eq!(
        SubscriptionAnswer::of(Some(404)),
        SubscriptionAnswer::NoSubscription
    );
    // A new browser, an expired cookie, a shop's login missing: "try again shortly" would be untrue.
    assert_eq!(
        SubscriptionAnswer::of(Some(401)),
        SubscriptionAnswer::NotSignedIn
    );
    for failed in [Some(500), Some(503), Some(403), Some(429), None] {
        assert_eq!(
            SubscriptionAnswer::of(failed),
            SubscriptionAnswer::Failed,
            "{failed:?}"
        );
    }
}
