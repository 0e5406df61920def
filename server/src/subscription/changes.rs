//! Changes of price and plan, and the customer's consent to them:
//!
//! - the operator announces a price change ([`Subscriptions::announce_price_change`]): an
//!   increase at least 30 days ahead, reaching each subscription from its first period starting
//!   on or after that date; it needs each customer's consent, asked for when the 30-day window
//!   before that period opens (전자상거래법 §13⑥); a decrease applies by itself;
//! - the customer answers ([`Subscriptions::answer_change`]), every answer kept as given
//!   (`consents`);
//! - the customer switches plan ([`Subscriptions::switch_plan`]): up now, paying the rest of the
//!   period pro rata (exactly the preview), or down at the period's end. Their own switch is
//!   their consent, recorded as such.

use serde::Serialize;
use serde_json::{json, Value};

use super::{event, ActionError, Subscriptions};
use crate::billing::lifecycle::{self, ChangeKind, ChangeStatus, Snapshot, Status};
use crate::billing::proration;
use crate::charge::ChargeRequest;
use crate::clock::{iso_kst, Millis};
use crate::store::changes::{ChangeRow, ConsentDecision, NewChange, NewConsent, PriceChangeRow};
use crate::store::charges::{ChargePurpose, ChargeStatus};
use crate::store::subscriptions::{SubscriptionRow, SubscriptionUpdate};
use crate::store::StoreError;

/// The version of the consent and notice texts this server words (`howToCancel`, `ifDeclined`).
pub const NOTICE_TEXT_VERSION: &str = "ko-2026-12-01";
/// The version of their English translation (`translations.en`).
pub const NOTICE_TEXT_VERSION_EN: &str = "en-2026-12-08";

/// How to cancel and what declining a change of `kind` taking effect on `date` (`YYYY-MM-DD`)
/// does, in Korean and in English: `(howToCancel, ifDeclined)`, `ifDeclined` empty when the
/// change needs no answer. Both go out with the terms, so a page shows the one in its own
/// language and an answer's record holds what either page showed.
fn change_wording(kind: ChangeKind, date: &str) -> [(&'static str, String); 2] {
    let (ko, en) = match kind {
        ChangeKind::TrialConversion => (
            format!("동의하지 않으면 무료 체험이 {date}에 끝나고 구독이 종료돼요. 결제되는 금액은 없어요."),
            format!("If you do not agree, the free trial ends on {date} and so does the subscription. Nothing is charged."),
        ),
        ChangeKind::PriceIncrease => (
            format!("동의하지 않으면 {date} 전까지 지금 가격으로 이용하고, {date}에 구독이 종료돼요. 새 가격으로 결제되지 않아요."),
            format!("If you do not agree, you keep the current price until {date}, when the subscription ends. The new price is never charged."),
        ),
        _ => (String::new(), String::new()),
    };
    [
        ("구독 관리에서 언제든 해지할 수 있어요. 해지해도 이미 결제한 기간이 끝날 때까지 이용할 수 있어요.", ko),
        ("You can cancel at any time on your subscription page. After cancelling, you keep the service until the end of the period you paid for.", en),
    ]
}

/// Charges below Toss's minimum for cards (100원) are waived, not attempted.
const MINIMUM_CHARGE: i64 = 100;

/// What a plan switch would do, shown before the customer confirms; the switch charges exactly
/// `charge_now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SwitchPreview {
    /// `UPGRADE` (now) or `DOWNGRADE` (at the period's end).
    #[schema(value_type = String)]
    pub kind: ChangeKind,
    /// The plan now.
    pub from_plan_id: String,
    /// The plan after.
    pub to_plan_id: String,
    /// Its name.
    pub to_plan_name: String,
    /// KRW per period now.
    pub from_amount: i64,
    /// KRW per period after.
    pub to_amount: i64,
    /// KRW charged now (an upgrade's difference for the rest of the period, rounded down; 0 for
    /// a downgrade, or below Toss's 100원 minimum).
    pub charge_now: i64,
    /// When the new plan starts (ISO 8601, KST).
    pub effective_at: String,
    /// The current period's end.
    pub period_end: String,
    /// The rounding rule, in words.
    pub rounding: &'static str,
}

/// What a confirmed switch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchOutcome {
    /// In effect (an upgrade paid, or charged nothing), or scheduled (a downgrade).
    Done(ChangeRow),
    /// The proration charge was declined: nothing switched (Toss's code).
    Declined(String),
    /// The proration charge's outcome is being confirmed; the switch follows it.
    Pending(ChangeRow),
}

impl Subscriptions {
    /// Price changes whose date came: new subscriptions start at the new price.
    pub(crate) async fn apply_due_price_changes(&self) -> Result<(), StoreError> {
        let now = self.0.clock.now_ms();
        for change in self.0.store.due_price_changes(now).await? {
            if self.0.store.apply_price_change(&change, now).await? {
                tracing::info!(
                    plan = change.plan_id,
                    amount = change.to_amount,
                    "a price change took effect for new subscriptions"
                );
            }
        }
        Ok(())
    }

    /// The operator announces a new price for a plan, effective at `effective_at`. An increase
    /// must be at least 30 days ahead (the law's consent window); a decrease may be now. Returns
    /// the price change and how many subscriptions it reaches now. No `effective_at`: now.
    pub async fn announce_price_change(
        &self,
        plan_id: &str,
        to_amount: i64,
        effective_at: Option<Millis>,
    ) -> Result<(PriceChangeRow, usize), ActionError> {
        let store = &self.0.store;
        let now = self.0.clock.now_ms();
        let effective_at = effective_at.unwrap_or(now);
        let plan = store.plan(plan_id).await?.ok_or(ActionError::NotFound)?;
        if to_amount == plan.amount {
            return Err(ActionError::Invalid(format!(
                "amount: the plan costs {to_amount} already"
            )));
        }
        if effective_at < now {
            return Err(ActionError::Invalid(
                "effectiveAt must not be in the past".into(),
            ));
        }
        if to_amount > plan.amount && effective_at < now + lifecycle::CONSENT_WINDOW_MS {
            return Err(ActionError::conflict(
                "PRICE_INCREASE_TOO_SOON",
                format!(
                    "a price increase takes effect at least 30 days after it is announced (전자상거래법 §13⑥): effectiveAt must be on or after {}",
                    iso_kst(now + lifecycle::CONSENT_WINDOW_MS)
                ),
            ));
        }
        let mut attach = Vec::new();
        for sub in store.live_subscriptions_of_plan(plan_id).await? {
            if store.outstanding_change(sub.id).await?.is_some() || sub.amount == to_amount {
                continue; // attached when its outstanding change is settled
            }
            let change = self
                .price_change_for(&sub, &plan, to_amount, effective_at)
                .await?;
            let detail = scheduled_event(&change);
            attach.push((sub.id, change, detail));
        }
        let id = store
            .insert_price_change(plan_id, plan.amount, to_amount, effective_at, &attach, now)
            .await?;
        let row = store.price_change(id).await?.ok_or(ActionError::NotFound)?;
        Ok((row, attach.len()))
    }

    /// The change a price change makes for one subscription: from its first period starting on
    /// or after the date; consent asked for in the 30 days before that period (increases only).
    async fn price_change_for(
        &self,
        sub: &SubscriptionRow,
        plan: &crate::store::subscriptions::PlanRow,
        to_amount: i64,
        effective_at: Millis,
    ) -> Result<NewChange, StoreError> {
        let snapshot = Snapshot {
            attempts: vec![],
            change: None,
            ..light_snapshot(sub, plan)
        };
        let applies_from = lifecycle::first_period_start_on_or_after(&snapshot, effective_at);
        let increase = to_amount > sub.amount;
        Ok(NewChange {
            kind: if increase {
                ChangeKind::PriceIncrease
            } else {
                ChangeKind::PriceDecrease
            },
            price_change_id: None,
            from_plan_id: sub.plan_id.clone(),
            to_plan_id: sub.plan_id.clone(),
            from_amount: sub.amount,
            to_amount,
            effective_at: applies_from,
            consent_opens_at: increase.then(|| lifecycle::consent_opens_at(applies_from)),
            status: ChangeStatus::Pending,
            order_id: None,
        })
    }

    /// Attaches the plan's announced price change that reaches `sub`, if it has no outstanding
    /// change now (a subscription that started, or settled its own change, after the
    /// announcement).
    pub(crate) async fn attach_scheduled_changes(
        &self,
        sub: &SubscriptionRow,
    ) -> Result<(), StoreError> {
        let store = &self.0.store;
        if !sub.status.is_live() || store.outstanding_change(sub.id).await?.is_some() {
            return Ok(());
        }
        let attached: Vec<i64> = store
            .changes_of(sub.id)
            .await?
            .iter()
            .filter_map(|c| c.price_change_id)
            .collect();
        let Some(price) = store
            .scheduled_price_changes(&sub.plan_id)
            .await?
            .into_iter()
            .rev()
            .find(|p| p.from_amount == sub.amount && !attached.contains(&p.id))
        else {
            return Ok(());
        };
        let Some(plan) = store.plan(&sub.plan_id).await? else {
            return Ok(());
        };
        let now = self.0.clock.now_ms();
        let mut change = self
            .price_change_for(sub, &plan, price.to_amount, price.effective_at.max(now))
            .await?;
        change.price_change_id = Some(price.id);
        let detail = scheduled_event(&change);
        match store
            .attach_change(
                sub.id,
                &change,
                false,
                ("subscription.change_scheduled", &detail),
                now,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => Ok(()), // someone attached one meanwhile
            Err(e) => Err(e),
        }
    }

    /// The operator withdraws an announced price change: nothing changes for anyone. Returns how
    /// many subscriptions were told.
    pub async fn withdraw_price_change(&self, id: i64) -> Result<u64, ActionError> {
        self.0
            .store
            .withdraw_price_change(id, self.0.clock.now_ms())
            .await?
            .ok_or_else(|| {
                ActionError::conflict(
                    "NOT_SCHEDULED",
                    "only a scheduled price change can be withdrawn",
                )
            })
    }

    /// What the customer is asked to agree to: the four items the law names (the date, the price
    /// before and after, the payment method), how to cancel and what declining does.
    pub async fn change_terms(
        &self,
        sub: &SubscriptionRow,
        change: &ChangeRow,
    ) -> Result<Value, StoreError> {
        let store = &self.0.store;
        let card = store.billing_key(sub.billing_key_id).await?;
        let from_plan = store.plan(&change.from_plan_id).await?;
        let to_plan = store.plan(&change.to_plan_id).await?;
        let date = iso_kst(change.effective_at)[..10].to_owned();
        let [(how_to_cancel, if_declined), (how_to_cancel_en, if_declined_en)] =
            change_wording(change.kind, &date);
        Ok(json!({
            "changeId": change.id,
            "kind": change.kind,
            "status": change.status,
            "effectiveAt": iso_kst(change.effective_at),
            "effectiveDate": date,
            "fromPlan": from_plan.as_ref().map_or(change.from_plan_id.clone(), |p| p.name.clone()),
            "toPlan": to_plan.as_ref().map_or(change.to_plan_id.clone(), |p| p.name.clone()),
            "priceBefore": change.from_amount,
            "priceAfter": change.to_amount,
            "paymentMethod": card.map(|c| json!({ "company": c.card_company, "number": c.card_number, "usable": c.is_usable() })),
            "needsConsent": change.kind.needs_consent(),
            "consentOpensAt": change.consent_opens_at.map(iso_kst),
            "consentClosesAt": change.kind.needs_consent().then(|| iso_kst(change.effective_at)),
            "howToCancel": how_to_cancel,
            "ifDeclined": if_declined,
            "textVersion": NOTICE_TEXT_VERSION,
            "translations": { "en": {
                "howToCancel": how_to_cancel_en,
                "ifDeclined": if_declined_en,
                "textVersion": NOTICE_TEXT_VERSION_EN,
            } },
        }))
    }

    /// The customer's answer to the outstanding change that needs consent. A "yes" counts only
    /// within the 30 days before the change (an earlier one is refused, not kept); an answer may
    /// be changed until then; repeating the same answer records nothing new.
    ///
    /// It holds the subscription's lease while it answers, so it never races the scheduler's
    /// decision at the change's date: either the answer is in before that decision, or it is
    /// refused after it (`CHANGE_CLOSED`) — never an accepted answer the decision did not see.
    pub async fn answer_change(
        &self,
        sub: &SubscriptionRow,
        change_id: i64,
        accept: bool,
        channel: &str,
        text_version: Option<&str>,
        client: Option<&str>,
    ) -> Result<ChangeRow, ActionError> {
        let (sub, owner) = self.claim_for_action(sub.id).await?;
        let answered = self
            .answer_change_leased(&sub, change_id, accept, channel, text_version, client)
            .await;
        self.release(&sub, &owner, sub.next_charge_at, vec![])
            .await?;
        answered
    }

    async fn answer_change_leased(
        &self,
        sub: &SubscriptionRow,
        change_id: i64,
        accept: bool,
        channel: &str,
        text_version: Option<&str>,
        client: Option<&str>,
    ) -> Result<ChangeRow, ActionError> {
        let store = &self.0.store;
        let now = self.0.clock.now_ms();
        let change = store
            .change(change_id)
            .await?
            .filter(|c| c.subscription_id == sub.id)
            .ok_or(ActionError::NotFound)?;
        if !change.kind.needs_consent() {
            return Err(ActionError::conflict(
                "NO_ANSWER_NEEDED",
                "this change needs no answer",
            ));
        }
        if !change.status.is_outstanding() || !sub.status.is_live() {
            return Err(ActionError::conflict(
                "CHANGE_CLOSED",
                "this change is no longer open for an answer",
            ));
        }
        let wanted = if accept {
            ChangeStatus::Accepted
        } else {
            ChangeStatus::Declined
        };
        if change.status == wanted {
            return Ok(change);
        }
        if now >= change.effective_at {
            return Err(ActionError::conflict(
                "CHANGE_CLOSED",
                "the change's date has passed",
            ));
        }
        if accept && !lifecycle::consent_counts(now, change.effective_at) {
            let opens = change
                .consent_opens_at
                .unwrap_or(lifecycle::consent_opens_at(change.effective_at));
            return Err(ActionError::conflict(
                "CONSENT_WINDOW_NOT_OPEN",
                format!(
                    "consent counts only within the 30 days before the change: from {}",
                    iso_kst(opens)
                ),
            ));
        }
        let terms = self.change_terms(sub, &change).await?;
        let text_version = text_version.unwrap_or(NOTICE_TEXT_VERSION);
        let consent = NewConsent {
            subscription_id: sub.id,
            change_id,
            customer_key: &sub.customer_key,
            decision: if accept {
                ConsentDecision::Accept
            } else {
                ConsentDecision::Decline
            },
            channel,
            terms: &terms.to_string(),
            text_version,
            client,
        };
        let (kind, detail) = if accept {
            (
                "subscription.change_accepted",
                json!({ "changeId": change_id, "priceAfter": change.to_amount, "effectiveAt": iso_kst(change.effective_at) }),
            )
        } else {
            (
                "subscription.change_declined",
                json!({ "changeId": change_id, "endsAt": iso_kst(change.effective_at) }),
            )
        };
        let detail = detail.to_string();
        if !store
            .record_consent(&consent, wanted, (kind, &detail), now)
            .await?
        {
            return Err(ActionError::conflict(
                "CHANGE_CLOSED",
                "this change is no longer open for an answer",
            ));
        }
        store.change(change_id).await?.ok_or(ActionError::NotFound)
    }

    /// What switching `sub` to `to_plan_id` would do now.
    pub async fn preview_switch(
        &self,
        sub: &SubscriptionRow,
        to_plan_id: &str,
    ) -> Result<SwitchPreview, ActionError> {
        let store = &self.0.store;
        if sub.status != Status::Active || !sub.period_paid {
            return Err(ActionError::conflict(
                "NOT_ACTIVE",
                "only an active, paid-up subscription can switch plans",
            ));
        }
        if to_plan_id == sub.plan_id {
            return Err(ActionError::conflict(
                "SAME_PLAN",
                "the subscription is on this plan already",
            ));
        }
        let from = store
            .plan(&sub.plan_id)
            .await?
            .ok_or(ActionError::NotFound)?;
        let to = store.plan(to_plan_id).await?.ok_or(ActionError::NotFound)?;
        if from.period_cycle() != to.period_cycle() {
            return Err(ActionError::conflict(
                "CYCLE_DIFFERS",
                "a plan with another billing cycle cannot be switched to mid-subscription",
            ));
        }
        let now = self.0.clock.now_ms();
        let (kind, charge_now, effective_at) = if to.amount > sub.amount {
            let charge = proration::upgrade_charge(
                sub.amount,
                to.amount,
                sub.current_period_start,
                sub.current_period_end,
                now,
            );
            let charge = if charge < MINIMUM_CHARGE { 0 } else { charge };
            (ChangeKind::Upgrade, charge, now)
        } else {
            (ChangeKind::Downgrade, 0, sub.current_period_end)
        };
        Ok(SwitchPreview {
            kind,
            from_plan_id: from.id,
            to_plan_id: to.id,
            to_plan_name: to.name,
            from_amount: sub.amount,
            to_amount: to.amount,
            charge_now,
            effective_at: iso_kst(effective_at),
            period_end: iso_kst(sub.current_period_end),
            rounding: "the difference for the days left in this period (KST days, the day of the switch included), rounded down to the won; below 100원 nothing is charged",
        })
    }

    /// Switches plan, charging exactly `expected_charge` (the preview the customer confirmed):
    /// a different amount now (a day passed, a price changed) is refused with the new preview.
    /// It holds the subscription's lease meanwhile: a period cannot open under it.
    pub async fn switch_plan(
        &self,
        sub: &SubscriptionRow,
        to_plan_id: &str,
        expected_charge: i64,
        channel: &str,
        client: Option<&str>,
    ) -> Result<SwitchOutcome, ActionError> {
        let (sub, owner) = self.claim_for_action(sub.id).await?;
        let switched = self
            .switch_plan_leased(&sub, to_plan_id, expected_charge, channel, client)
            .await;
        self.release(&sub, &owner, sub.next_charge_at, vec![])
            .await?;
        switched
    }

    async fn switch_plan_leased(
        &self,
        sub: &SubscriptionRow,
        to_plan_id: &str,
        expected_charge: i64,
        channel: &str,
        client: Option<&str>,
    ) -> Result<SwitchOutcome, ActionError> {
        let preview = self.preview_switch(sub, to_plan_id).await?;
        if preview.charge_now != expected_charge {
            return Err(ActionError::conflict(
                "PREVIEW_CHANGED",
                format!(
                    "the switch now charges {}원, not {expected_charge}원: confirm the new preview",
                    preview.charge_now
                ),
            ));
        }
        let store = &self.0.store;
        let now = self.0.clock.now_ms();
        let upgrade = preview.kind == ChangeKind::Upgrade;
        let previous_upgrades = store
            .changes_of(sub.id)
            .await?
            .iter()
            .filter(|c| c.kind == ChangeKind::Upgrade)
            .count();
        let attempt_no = previous_upgrades as i64 + 1;
        let order_id = (upgrade && preview.charge_now > 0)
            .then(|| format!("{}-{}-u{attempt_no}", sub.order_prefix, sub.period_no));
        let change = NewChange {
            kind: preview.kind,
            price_change_id: None,
            from_plan_id: sub.plan_id.clone(),
            to_plan_id: to_plan_id.to_owned(),
            from_amount: sub.amount,
            to_amount: preview.to_amount,
            effective_at: if upgrade { now } else { sub.current_period_end },
            consent_opens_at: None,
            status: ChangeStatus::Pending,
            order_id: order_id.clone(),
        };
        let detail = json!({
            "kind": preview.kind, "toPlanId": to_plan_id, "fromAmount": sub.amount,
            "toAmount": preview.to_amount, "chargeNow": preview.charge_now,
            "effectiveAt": preview.effective_at,
        })
        .to_string();
        let change_id = store
            .attach_change(
                sub.id,
                &change,
                true,
                ("subscription.plan_switch_requested", &detail),
                now,
            )
            .await?;
        // The customer's own switch is their consent to its price: kept like any other answer.
        let change_row = store
            .change(change_id)
            .await?
            .ok_or(ActionError::NotFound)?;
        let terms = self.change_terms(sub, &change_row).await?;
        let consent = NewConsent {
            subscription_id: sub.id,
            change_id,
            customer_key: &sub.customer_key,
            decision: ConsentDecision::Accept,
            channel,
            terms: &json!({ "preview": preview, "terms": terms }).to_string(),
            text_version: NOTICE_TEXT_VERSION,
            client,
        };
        let accepted = json!({ "changeId": change_id, "kind": preview.kind }).to_string();
        let status = if upgrade {
            ChangeStatus::Pending
        } else {
            ChangeStatus::Accepted
        };
        store
            .record_consent(
                &consent,
                status,
                ("subscription.change_accepted", &accepted),
                now,
            )
            .await?;
        if !upgrade {
            let row = store
                .change(change_id)
                .await?
                .ok_or(ActionError::NotFound)?;
            return Ok(SwitchOutcome::Done(row));
        }
        let Some(order_id) = order_id else {
            self.apply_upgrade(sub.id, change_id).await?;
            let row = store
                .change(change_id)
                .await?
                .ok_or(ActionError::NotFound)?;
            return Ok(SwitchOutcome::Done(row));
        };
        let to_plan = store.plan(to_plan_id).await?.ok_or(ActionError::NotFound)?;
        let request = ChargeRequest {
            order_id,
            customer_key: sub.customer_key.clone(),
            amount: preview.charge_now,
            order_name: format!("{} (플랜 변경)", to_plan.name)
                .chars()
                .take(100)
                .collect(),
            billing_key_id: Some(sub.billing_key_id),
            subscription: Some((sub.id, sub.period_no, attempt_no)),
            purpose: ChargePurpose::Proration,
        };
        let charge = self.0.charges.submit(&request).await.map_err(|e| match e {
            crate::charge::ChargeError::Store(e) => ActionError::Store(e),
            other => ActionError::Invalid(other.to_string()),
        })?;
        self.settle_upgrade(sub.id).await?;
        let row = store
            .change(change_id)
            .await?
            .ok_or(ActionError::NotFound)?;
        Ok(match charge.status {
            ChargeStatus::Done => SwitchOutcome::Done(row),
            ChargeStatus::Failed => SwitchOutcome::Declined(charge.result_code.unwrap_or_default()),
            _ => SwitchOutcome::Pending(row),
        })
    }

    /// Settles an upgrade whose proration charge has an outcome: applied when paid, failed when
    /// declined; nothing while unknown (the charge is reconciled first).
    pub(crate) async fn settle_upgrade(&self, subscription_id: i64) -> Result<(), StoreError> {
        let store = &self.0.store;
        let Some(change) = store
            .outstanding_change(subscription_id)
            .await?
            .filter(|c| c.kind == ChangeKind::Upgrade)
        else {
            return Ok(());
        };
        let Some(order_id) = &change.order_id else {
            return self.apply_upgrade(subscription_id, change.id).await;
        };
        let Some(charge) = store.charge(order_id).await? else {
            return Ok(());
        };
        let now = self.0.clock.now_ms();
        match charge.status {
            ChargeStatus::Done => self.apply_upgrade(subscription_id, change.id).await,
            ChargeStatus::Failed => {
                let update = SubscriptionUpdate {
                    change: Some((change.id, ChangeStatus::Failed)),
                    events: vec![event(
                        "subscription.plan_switch_failed",
                        json!({ "changeId": change.id, "orderId": order_id, "code": charge.result_code }),
                    )],
                    ..SubscriptionUpdate::default()
                };
                store
                    .update_subscription(subscription_id, None, &update, false, now)
                    .await?;
                Ok(())
            }
            _ => {
                self.0.charges.start(order_id).await?;
                Ok(())
            }
        }
    }

    async fn apply_upgrade(&self, subscription_id: i64, change_id: i64) -> Result<(), StoreError> {
        let store = &self.0.store;
        let Some(change) = store.change(change_id).await? else {
            return Ok(());
        };
        if !change.status.is_outstanding() {
            return Ok(());
        }
        let update = SubscriptionUpdate {
            plan_id: Some(change.to_plan_id.clone()),
            amount: Some(change.to_amount),
            change: Some((change_id, ChangeStatus::Applied)),
            events: vec![event(
                "subscription.plan_changed",
                json!({ "changeId": change_id, "fromPlanId": change.from_plan_id, "toPlanId": change.to_plan_id,
                        "fromAmount": change.from_amount, "toAmount": change.to_amount, "orderId": change.order_id }),
            )],
            ..SubscriptionUpdate::default()
        };
        store
            .update_subscription(subscription_id, None, &update, false, self.0.clock.now_ms())
            .await?;
        Ok(())
    }
}

/// The lifecycle's view of a subscription, without its attempts and change (period arithmetic).
pub(crate) fn light_snapshot(
    sub: &SubscriptionRow,
    plan: &crate::store::subscriptions::PlanRow,
) -> Snapshot {
    Snapshot {
        status: sub.status,
        period_no: sub.period_no,
        period: (sub.current_period_start, sub.current_period_end),
        period_paid: sub.period_paid,
        amount: sub.amount,
        cycle: plan.period_cycle(),
        anchor_at: sub.anchor_at,
        anchor_period_no: sub.anchor_period_no,
        trial_ends_at: sub.trial_ends_at,
        trial_notice_at: sub.trial_notice_at,
        cancel_at_period_end: sub.cancel_at_period_end,
        incomplete_expires_at: sub.incomplete_expires_at,
        billing_key_id: sub.billing_key_id,
        card_changed_at: sub.card_changed_at,
        card_usable: true,
        attempts: vec![],
        change: None,
    }
}

fn scheduled_event(change: &NewChange) -> String {
    json!({
        "kind": change.kind, "fromAmount": change.from_amount, "toAmount": change.to_amount,
        "effectiveAt": iso_kst(change.effective_at), "consentOpensAt": change.consent_opens_at.map(iso_kst),
    })
    .to_string()
}
