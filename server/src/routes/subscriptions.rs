//! The customer's own subscription (by session, or the merchant's login), same-origin only for
//! anything that changes it, every action a safe retry:
//!
//! - `GET /api/subscription`: plan, status, the consented price, the current period, the next
//!   charge (date and amount, a pending change included), the card (masked), the outstanding
//!   change with the four items the law names;
//! - `GET /api/subscription/charges`: every charge with its receipt and its refunds;
//! - `GET /api/subscription/cancel/preview`: every way to end it now, with its exact refund
//!   (`billing::refund_policy`);
//! - `POST /api/subscription/cancel {"when": "period_end" | "now" | "withdraw", "expectedRefund"?}`
//!   (일반해지, 중도해지, 청약철회), `POST …/cancel/undo`;
//! - `POST /api/subscription/changes/{id}/accept` and `…/decline` (`{"textVersion"?}`);
//! - `GET /api/subscription/switch?plan=…` (the preview) and `POST /api/subscription/switch
//!   {"planId", "expectedCharge"}` (charges exactly the preview).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use toss_billing_contract::ErrorBody;
use utoipa::{IntoParams, ToSchema};

use super::{signed_in_customer, AppContext};
use crate::billing::lifecycle::Status;
use crate::billing::refund_policy::{Choice, Offer, Refusal};
use crate::checkout::wire_cycle;
use crate::clock::iso_kst;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::store::refunds::{RefundRow, RefundStatus};
use crate::store::subscriptions::SubscriptionRow;
use crate::subscription::changes::SwitchOutcome;
use crate::subscription::CancelWhen;

pub fn router() -> Router<AppContext> {
    Router::new()
        .route("/api/subscription", get(my_subscription))
        .route("/api/subscription/charges", get(my_charges))
        .route("/api/subscription/cancel", post(cancel_mine))
        .route("/api/subscription/cancel/preview", get(cancel_preview))
        .route("/api/subscription/cancel/undo", post(undo_cancel_mine))
        .route(
            "/api/subscription/changes/{id}/{answer}",
            post(answer_change),
        )
        .route(
            "/api/subscription/switch",
            get(preview_switch).post(switch_plan),
        )
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    my_subscription,
    my_charges,
    cancel_mine,
    cancel_preview,
    undo_cancel_mine,
    answer_change,
    preview_switch,
    switch_plan
))]
pub(super) struct Doc;

/// A subscription as its customer and the operator see it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SubscriptionView {
    /// Its id.
    id: i64,
    /// Its customer.
    customer_key: String,
    /// `INCOMPLETE`, `INCOMPLETE_EXPIRED`, `TRIALING`, `ACTIVE`, `PAST_DUE`, `CANCELED` or
    /// `UNPAID` (`server/README.md`, the lifecycle).
    status: String,
    /// Its plan.
    plan: Option<PlanRef>,
    /// The consented price, KRW per period.
    amount: i64,
    /// The current period's number (1 = the first).
    period: i64,
    /// The current period's start (ISO 8601, KST).
    current_period_start: String,
    /// Its end.
    current_period_end: String,
    /// Whether the current period is paid.
    period_paid: bool,
    /// When the scheduler next acts on it.
    next_charge_at: Option<String>,
    /// The next charge as things stand (a change that applies then included); `null` when none
    /// is coming (ending, or a trial waiting for consent).
    next_charge: Option<NextCharge>,
    /// When the trial ends.
    trial_ends_at: Option<String>,
    /// 일반해지 scheduled.
    cancel_at_period_end: bool,
    /// When it will end, if that is settled.
    ends_at: Option<String>,
    /// When it ended.
    canceled_at: Option<String>,
    /// Why it ended.
    ended_reason: Option<String>,
    /// `INCOMPLETE`: until when another card can pay the first period.
    incomplete_expires_at: Option<String>,
    /// The card it charges (masked); `null` once its customer removed it.
    card: Option<CardView>,
    /// The outstanding change (a price increase, a trial's conversion, a switch).
    pending_change: Option<ChangeTerms>,
    /// The version of the cancellation terms it was sold on.
    terms_version: Option<String>,
    /// When it was created.
    created_at: String,
}

/// A plan as a subscription shows it.
#[derive(Serialize, ToSchema)]
pub(super) struct PlanRef {
    /// Its id.
    id: String,
    /// Its name.
    name: String,
    /// Its price now, KRW per period.
    amount: i64,
    /// How often it charges.
    cycle: toss_billing_contract::PlanCycle,
}

/// The next charge.
#[derive(Serialize, ToSchema)]
pub(super) struct NextCharge {
    /// When (ISO 8601, KST).
    at: Option<String>,
    /// KRW.
    amount: i64,
}

/// A card, masked.
#[derive(Serialize, ToSchema)]
pub(super) struct CardView {
    /// Card company.
    company: Option<String>,
    /// Masked number.
    number: Option<String>,
    /// False once deleted at Toss (Toss deleted it, or a removal is still telling Toss).
    usable: bool,
}

/// A change and the four items the law names (date, price before and after, payment method),
/// how to cancel and what declining does.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ChangeTerms {
    /// Its id (to accept or decline it).
    change_id: i64,
    /// `PRICE_INCREASE`, `PRICE_DECREASE`, `TRIAL_CONVERSION`, `UPGRADE`, `DOWNGRADE`.
    kind: String,
    /// `SCHEDULED`, `ACCEPTED`, `DECLINED`, `APPLIED`, `WITHDRAWN`, …
    status: String,
    /// When it applies (ISO 8601, KST).
    effective_at: String,
    /// Its date, `YYYY-MM-DD` (KST).
    effective_date: String,
    /// The plan before.
    from_plan: String,
    /// The plan after.
    to_plan: String,
    /// KRW per period before.
    price_before: i64,
    /// KRW per period after.
    price_after: i64,
    /// The card it will charge.
    payment_method: Option<CardView>,
    /// Whether it needs the customer's "yes".
    needs_consent: bool,
    /// From when an answer counts.
    consent_opens_at: Option<String>,
    /// Until when.
    consent_closes_at: Option<String>,
    /// How to cancel, in words.
    how_to_cancel: String,
    /// What declining (or silence) does, in words.
    if_declined: String,
    /// The version of this text.
    text_version: String,
    /// The same texts in other languages, by language tag (`en`): what a page in that language
    /// shows instead.
    translations: std::collections::BTreeMap<String, ChangeTermsText>,
}

/// `howToCancel`, `ifDeclined` and their version in one language.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ChangeTermsText {
    /// How to cancel.
    how_to_cancel: String,
    /// What declining (or silence) does.
    if_declined: String,
    /// The version of this text.
    text_version: String,
}

/// A charge as the customer's history shows it, with its refunds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ChargeView {
    /// Its orderId.
    order_id: String,
    /// Its name at Toss.
    order_name: String,
    /// KRW.
    amount: i64,
    /// `PENDING`, `UNKNOWN` (being confirmed), `DONE`, `FAILED`.
    status: String,
    /// `PERIOD` or `PRORATION`.
    purpose: String,
    /// The period it pays.
    period: Option<i64>,
    /// Toss's code when declined.
    code: Option<String>,
    /// When Toss approved it.
    approved_at: Option<String>,
    /// The card approval number.
    approve_no: Option<String>,
    /// The card sales slip (Toss's `receipt.url`).
    receipt_url: Option<String>,
    /// When it was recorded.
    created_at: String,
    /// Its refunds.
    refunds: Vec<RefundView>,
    /// KRW refunded (`DONE`).
    refunded_amount: i64,
    /// What is left to refund (approved charges only).
    balance: Option<i64>,
}

/// A refund as the customer's history shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RefundView {
    /// Its id.
    refund_id: String,
    /// KRW.
    amount: i64,
    /// `PENDING`, `UNKNOWN` (being confirmed), `DONE`, `FAILED`.
    status: String,
    /// `OPERATOR`, `MID_TERM` (중도해지), `WITHDRAWAL` (청약철회), `EXTERNAL` (Toss's console).
    kind: String,
    /// Its reason.
    reason: String,
    /// When Toss cancelled it.
    canceled_at: Option<String>,
    /// When it was asked for.
    requested_at: String,
}

/// The customer's charges.
#[derive(Serialize, ToSchema)]
pub(super) struct ChargeList {
    /// Newest first.
    charges: Vec<ChargeView>,
}

/// A subscription ended now, with its refunds (중도해지, 청약철회).
#[derive(Serialize, ToSchema)]
pub(super) struct EndedWithRefunds {
    /// The subscription.
    #[serde(flatten)]
    subscription: SubscriptionView,
    /// KRW refunded in total.
    refund: i64,
    /// Each refund: `DONE`, `FAILED`, or still `PENDING`/`UNKNOWN` while Toss confirms it.
    refunds: Vec<RefundView>,
}

/// `POST /api/subscription/cancel`'s answer.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "names the answer's two shapes for the OpenAPI description; the handler builds them as JSON"
)]
pub(super) enum CancelAnswer {
    /// 중도해지, 청약철회: ended, with its refunds.
    Ended(EndedWithRefunds),
    /// 일반해지: scheduled for the period's end.
    Scheduled(SubscriptionView),
}

/// Each way to end the subscription now, with its exact refund.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CancelPreview {
    /// The subscription.
    subscription_id: i64,
    /// Its status.
    status: String,
    /// The current period.
    period: i64,
    /// Its start.
    current_period_start: String,
    /// Its end.
    current_period_end: String,
    /// The moment of this preview.
    as_of: String,
    /// KST days of the period used (today counts).
    used_days: i64,
    /// KST days of the period.
    period_days: i64,
    /// The merchant marked the period as used (청약철회 refunds the 중도해지 amount).
    period_marked_used: bool,
    /// `WITHDRAWAL_DAYS`.
    withdrawal_days: i64,
    /// 일반해지 (`periodEnd`), 중도해지 (`now`), 청약철회 (`withdraw`).
    options: CancelOptions,
}

/// The three choices.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CancelOptions {
    /// 일반해지: `endsAt`, `undoableUntil`, `scheduled`, `rule` besides the offer.
    period_end: CancelOffer,
    /// 중도해지: `rule` besides the offer.
    now: CancelOffer,
    /// 청약철회: `until`, `asMidTerm`, `rule`; when over, `closedAt`, `message`, `instead`.
    withdraw: CancelOffer,
}

/// One choice: available with its exact refund, or why not (and other fields per choice).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct CancelOffer {
    /// Whether it can be chosen now.
    available: bool,
    /// KRW refunded in total (`null` when not available).
    refund: Option<i64>,
    /// Each refund (`orderId`, `amount`).
    refunds: Option<Vec<crate::billing::refund_policy::Refund>>,
    /// Until when this amount holds (the next KST midnight for pro-rata amounts).
    holds_until: Option<String>,
    /// Why not: `SUBSCRIPTION_ENDED`, `CHARGE_IN_PROGRESS`, `NOTHING_CHARGED`,
    /// `WITHDRAWAL_PERIOD_OVER`, …
    code: Option<String>,
    /// The rule it follows, in words.
    rule: Option<String>,
}

/// `GET /api/subscription/switch`'s answer.
#[derive(Serialize, ToSchema)]
pub(super) struct SwitchPreviewAnswer {
    /// The exact preview the switch will charge.
    preview: crate::subscription::changes::SwitchPreview,
}

/// A switch done or scheduled; `202` adds `code: SWITCH_PENDING` and `message` while its charge
/// is confirmed.
#[derive(Serialize, ToSchema)]
pub(super) struct Switched {
    /// `SWITCH_PENDING` while the charge is being confirmed.
    code: Option<String>,
    /// Why it is pending.
    message: Option<String>,
    /// The subscription now.
    subscription: SubscriptionView,
}

/// The subscription as its customer and the operator see it.
pub(super) async fn subscription_view(ctx: &AppContext, sub: &SubscriptionRow) -> ApiResult<Value> {
    let store = &ctx.store;
    let plan = store.plan(&sub.plan_id).await?;
    // A card its customer removed is not on file any more, whatever the subscription once used.
    let card = store
        .billing_key(sub.billing_key_id)
        .await?
        .filter(|k| k.erased_at.is_none());
    let change = store.outstanding_change(sub.id).await?;
    let pending_change = match &change {
        Some(c) => {
            let mut terms = ctx.subscriptions.change_terms(sub, c).await?;
            // Whether a "yes" would count now, by the server's clock (the page's may differ): the
            // portal asks for an answer only then (the same rule `answer_change` applies).
            terms["answerable"] = json!(
                c.kind.needs_consent()
                    && c.status.is_outstanding()
                    && sub.status.is_live()
                    && crate::billing::lifecycle::consent_counts(
                        ctx.clock.now_ms(),
                        c.effective_at
                    )
            );
            Some(terms)
        }
        None => None,
    };
    // The next charge: when and how much, as things stand (a change that applies then included;
    // nothing while the trial waits for consent, or when it ends instead).
    let next_charge = next_charge(sub, change.as_ref());
    // When it will end, if that is settled: 일반해지, or a change the customer declined.
    let ends_at = if sub.status.is_live() && sub.cancel_at_period_end {
        Some(sub.current_period_end)
    } else {
        change
            .as_ref()
            .filter(|c| c.status == crate::billing::lifecycle::ChangeStatus::Declined)
            .map(|c| c.effective_at)
    };
    Ok(json!({
        "id": sub.id,
        "customerKey": sub.customer_key,
        "status": sub.status,
        "plan": plan.as_ref().map(|p| json!({
            "id": p.id, "name": p.name, "amount": p.amount,
            "cycle": wire_cycle(p.cycle, p.interval_days),
        })),
        "amount": sub.amount,
        "period": sub.period_no,
        "currentPeriodStart": iso_kst(sub.current_period_start),
        "currentPeriodEnd": iso_kst(sub.current_period_end),
        "periodPaid": sub.period_paid,
        "nextChargeAt": sub.next_charge_at.map(iso_kst),
        "nextCharge": next_charge,
        "trialEndsAt": sub.trial_ends_at.map(iso_kst),
        "cancelAtPeriodEnd": sub.cancel_at_period_end,
        "endsAt": ends_at.map(iso_kst),
        "canceledAt": sub.canceled_at.map(iso_kst),
        "endedReason": sub.ended_reason,
        "incompleteExpiresAt": (sub.status == Status::Incomplete).then(|| sub.incomplete_expires_at.map(iso_kst)).flatten(),
        "card": card.map(|c| json!({ "company": c.card_company, "number": c.card_number, "usable": c.is_usable() })),
        "pendingChange": pending_change,
        "termsVersion": sub.terms_version,
        "createdAt": iso_kst(sub.created_at),
    }))
}

fn next_charge(sub: &SubscriptionRow, change: Option<&crate::store::changes::ChangeRow>) -> Value {
    use crate::billing::lifecycle::{ChangeKind, ChangeStatus};
    if !sub.status.is_live() || sub.cancel_at_period_end {
        return Value::Null;
    }
    if !sub.period_paid {
        return json!({ "at": sub.next_charge_at.map(iso_kst), "amount": sub.amount });
    }
    let at = sub.current_period_end;
    match change.filter(|c| c.effective_at <= at && c.kind != ChangeKind::Upgrade) {
        Some(c) if c.kind.needs_consent() && c.status != ChangeStatus::Accepted => Value::Null,
        Some(c) => json!({ "at": iso_kst(at), "amount": c.to_amount }),
        None if sub.status == Status::Trialing => Value::Null,
        None => json!({ "at": iso_kst(at), "amount": sub.amount }),
    }
}

/// The caller's most recent subscription.
async fn mine(ctx: &AppContext, headers: &HeaderMap) -> ApiResult<SubscriptionRow> {
    let customer_key = &signed_in_customer(ctx, headers).await?;
    ctx.store
        .subscription_of(customer_key)
        .await?
        .ok_or(ApiError::NotFound)
}

fn client_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(200).collect())
}

#[utoipa::path(
    get,
    path = "/api/subscription",
    tag = "subscription",
    summary = "The caller's subscription",
    description = "The caller's most recent subscription: status, plan, consented price, the current period, the next charge, the card (masked) and the outstanding change with the four items the law names.",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in (the merchant's login is the identity).", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: the caller has no subscription.", body = ErrorBody),
    )
)]
async fn my_subscription(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

/// A charge as the customer's history shows it.
pub(super) fn charge_view(c: &crate::store::charges::ChargeRow) -> Value {
    json!({
        "orderId": c.order_id, "orderName": c.order_name, "amount": c.amount, "status": c.status,
        "purpose": c.purpose, "period": c.period_no, "code": c.result_code,
        "approvedAt": c.approved_at, "approveNo": c.approve_no, "receiptUrl": c.receipt_url,
        "createdAt": iso_kst(c.created_at),
    })
}

/// A refund as the customer's history shows it.
pub(super) fn refund_view(r: &RefundRow) -> Value {
    json!({
        "refundId": r.id, "amount": r.amount, "status": r.status, "kind": r.kind,
        "reason": r.reason, "canceledAt": r.canceled_at, "requestedAt": iso_kst(r.created_at),
    })
}

/// A charge with its refunds: what was refunded (DONE) and what is left.
pub(super) async fn charge_with_refunds(
    ctx: &AppContext,
    c: &crate::store::charges::ChargeRow,
) -> ApiResult<Value> {
    let refunds = ctx.store.refunds_of_charge(&c.order_id).await?;
    let refunded: i64 = refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Done)
        .map(|r| r.amount)
        .sum();
    let mut view = charge_view(c);
    view["refunds"] = refunds.iter().map(refund_view).collect();
    view["refundedAmount"] = json!(refunded);
    if c.status == crate::store::charges::ChargeStatus::Done {
        let pending: i64 = refunds
            .iter()
            .filter(|r| !r.status.is_final())
            .map(|r| r.amount)
            .sum();
        view["balance"] = json!(c.amount - refunded - pending);
    }
    Ok(view)
}

#[utoipa::path(
    get,
    path = "/api/subscription/charges",
    tag = "subscription",
    summary = "The caller's charges, with receipts and refunds",
    description = "Every charge of the caller (up to 200, newest first) with its card sales slip (`receiptUrl`), `approveNo`, `approvedAt`, its refunds, `refundedAmount` and `balance`.",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    responses(
        (status = 200, description = "The charges.", body = ChargeList),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in.", body = ErrorBody),
    )
)]
async fn my_charges(State(ctx): State<AppContext>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let customer_key = &signed_in_customer(&ctx, &headers).await?;
    let mut charges = Vec::new();
    for c in ctx.store.customer_charges(customer_key, 200).await? {
        charges.push(charge_with_refunds(&ctx, &c).await?);
    }
    Ok(Json(json!({ "charges": charges })))
}

/// The operator's cancel: 일반해지 or ending now (the operator's own refunds go through
/// `POST /api/admin/charges/{orderId}/refunds`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelBody {
    pub when: CancelWhen,
}

/// The customer's cancel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CustomerCancelBody {
    /// 일반해지, 중도해지 or 청약철회.
    when: Choice,
    /// The refund total the customer was shown (the preview's); refused if it changed.
    expected_refund: Option<i64>,
}

/// `POST /api/subscription/cancel`: `period_end` answers the subscription; `now` and `withdraw`
/// answer `{"subscription", "refund", "refunds"}` (each refund `DONE`, `FAILED`, or still
/// `PENDING`/`UNKNOWN` while Toss confirms it). Asking again the same way answers the same.
#[utoipa::path(
    post,
    path = "/api/subscription/cancel",
    tag = "subscription",
    summary = "Cancel: 일반해지, 중도해지 or 청약철회",
    description = "`period_end` (일반해지): service until the period's end, undoable until then, nothing refunded. `now` (중도해지): ends now, each charge of the period refunds its unused days. `withdraw` (청약철회): ends now, the period's charges refunded whole, within `WITHDRAWAL_DAYS`. `expectedRefund` is the total the customer was shown (`…/cancel/preview`). Asking again the same way answers the same; the refunds run exactly once (`server/README.md`, Refunds).",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    request_body = CustomerCancelBody,
    responses(
        (status = 200, description = "Scheduled (`period_end`: the subscription), or ended with its refunds (`now`, `withdraw`).", body = CancelAnswer),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no subscription.", body = ErrorBody),
        (status = 409, description = "`PREVIEW_CHANGED`: the refund is no longer the one shown. `WITHDRAWAL_PERIOD_OVER`: 청약철회 is over; `offer` (`{when: \"now\", refund, holdsUntil}`) beside `code` and `message` is the 중도해지 instead. `CHARGE_IN_PROGRESS`: a charge of the period is being confirmed with Toss. `NOTHING_CHARGED`, `SUBSCRIPTION_ENDED`, `BUSY` (the scheduler holds it for a moment: ask again), `CONFLICT`.", body = ErrorBody),
    )
)]
async fn cancel_mine(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CustomerCancelBody>,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    if body.when == Choice::PeriodEnd {
        let sub = ctx
            .subscriptions
            .cancel(sub.id, CancelWhen::PeriodEnd, "customer")
            .await?;
        return Ok(Json(subscription_view(&ctx, &sub).await?));
    }
    let ended = ctx
        .subscriptions
        .end_with_refund(sub.id, body.when, body.expected_refund, "customer")
        .await?;
    let refunds: Vec<Value> = ended.refunds.iter().map(refund_view).collect();
    let mut view = subscription_view(&ctx, &ended.subscription).await?;
    let total: i64 = ended.refunds.iter().map(|r| r.amount).sum();
    view["refund"] = json!(total);
    view["refunds"] = Value::Array(refunds);
    Ok(Json(view))
}

/// `GET /api/subscription/cancel/preview`: each way to end the subscription now — available or
/// why not, and exactly what it refunds (until when that amount holds).
#[utoipa::path(
    get,
    path = "/api/subscription/cancel/preview",
    tag = "subscription",
    summary = "Each way to end the subscription, with its exact refund",
    description = "일반해지, 중도해지 and 청약철회: available or why not, and exactly what each refunds until when that amount holds (the next KST midnight for pro-rata amounts).",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    responses(
        (status = 200, description = "The preview.", body = CancelPreview),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no subscription.", body = ErrorBody),
    )
)]
async fn cancel_preview(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    let (situation, options, now) = ctx.subscriptions.cancel_options(&sub).await?;
    let policy = ctx.subscriptions.settings().cancellation;
    let offer_json = |offer: &Result<Offer, Refusal>, extra: Value| -> Value {
        let mut v = match offer {
            Ok(o) => json!({
                "available": true, "refund": o.total, "refunds": o.refunds,
                "holdsUntil": iso_kst(o.holds_until),
            }),
            Err(refusal) => {
                json!({ "available": false, "code": refusal.code(), "refund": Value::Null })
            }
        };
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in extra {
                v.insert(k.clone(), x.clone());
            }
        }
        v
    };
    let mid_term = options.now.as_ref().ok().map(|o| o.total);
    let withdraw_extra = match &options.withdraw {
        Ok(o) => json!({
            "until": options.withdrawal_closes_at.map(iso_kst),
            "asMidTerm": o.as_mid_term,
            "rule": if o.as_mid_term {
                "청약철회: the merchant marked this period as used, so the unused days are refunded (the 중도해지 amount)"
            } else {
                "청약철회: every charge of this period refunded whole; the subscription ends now"
            },
        }),
        Err(Refusal::WindowOver { closed_at }) => json!({
            "closedAt": iso_kst(*closed_at),
            "message": format!("the withdrawal period (청약철회, {} days from the charge) is over", policy.withdrawal_days),
            "instead": { "when": "now", "refund": mid_term },
        }),
        Err(_) => json!({}),
    };
    Ok(Json(json!({
        "subscriptionId": sub.id,
        "status": sub.status,
        "period": sub.period_no,
        "currentPeriodStart": iso_kst(sub.current_period_start),
        "currentPeriodEnd": iso_kst(sub.current_period_end),
        "asOf": iso_kst(now),
        "usedDays": options.days.0,
        "periodDays": options.days.1,
        "periodMarkedUsed": situation.period_used,
        "withdrawalDays": policy.withdrawal_days,
        "options": {
            "periodEnd": offer_json(&options.period_end, json!({
                "endsAt": iso_kst(sub.current_period_end),
                "undoableUntil": iso_kst(sub.current_period_end),
                "scheduled": sub.cancel_at_period_end,
                "rule": "일반해지: service until the period's end, nothing refunded, undoable until then",
            })),
            "now": offer_json(&options.now, json!({
                "rule": "중도해지: ends now; each charge of this period refunds its unused days (KST days, today counts as used; the used part rounded down to the won, so paid = used + refunded)",
            })),
            "withdraw": offer_json(&options.withdraw, withdraw_extra),
        },
    })))
}

#[utoipa::path(
    post,
    path = "/api/subscription/cancel/undo",
    tag = "subscription",
    summary = "Undo a 일반해지",
    description = "Until the period's end, a scheduled 일반해지 can be undone: the subscription renews as before.",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no subscription.", body = ErrorBody),
        (status = 409, description = "`SUBSCRIPTION_ENDED`, `BUSY` (ask again), or `CONFLICT`: nothing to undo.", body = ErrorBody),
    )
)]
async fn undo_cancel_mine(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    let sub = ctx.subscriptions.undo_cancel(sub.id, "customer").await?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

/// An answer to a change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AnswerBody {
    /// The version of the text the customer was shown (the portal's copy).
    text_version: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/subscription/changes/{id}/{answer}",
    tag = "subscription",
    summary = "Accept or decline a change (a price increase, a trial's conversion)",
    description = "The customer's explicit answer, kept as given (who, when, through what, the exact terms and the text version). A \"yes\" counts only within the 30 days before the change; an answer may be changed until then. The body is optional (`{}` or empty).",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    params(
        ("id" = i64, Path, description = "The change (`pendingChange.changeId`)."),
        ("answer" = String, Path, description = "`accept` or `decline`."),
    ),
    request_body(content = AnswerBody, description = "Optional: the version of the text the customer was shown."),
    responses(
        (status = 200, description = "The subscription with the answer.", body = SubscriptionView),
        (status = 400, description = "`INVALID_REQUEST`: the body is not `{}` or `{\"textVersion\"}` (1-40 characters).", body = ErrorBody),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no subscription, no such change, or an answer other than accept/decline.", body = ErrorBody),
        (status = 409, description = "`CONSENT_WINDOW_NOT_OPEN`: a \"yes\" before the 30-day window. `CHANGE_CLOSED`: after the date. `SUBSCRIPTION_ENDED`, `BUSY` (ask again), `CONFLICT`.", body = ErrorBody),
    )
)]
async fn answer_change(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiPath((id, answer)): ApiPath<(i64, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let accept = match answer.as_str() {
        "accept" => true,
        "decline" => false,
        _ => return Err(ApiError::NotFound),
    };
    // The body is optional: an empty one means no textVersion.
    let body: AnswerBody = if body.iter().all(u8::is_ascii_whitespace) {
        AnswerBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::InvalidRequest("the body must be {} or {\"textVersion\": \"…\"}".into())
        })?
    };
    if body
        .text_version
        .as_deref()
        .is_some_and(|v| v.is_empty() || v.len() > 40)
    {
        return Err(ApiError::InvalidRequest(
            "textVersion must be 1-40 characters".into(),
        ));
    }
    let sub = mine(&ctx, &headers).await?;
    let client = client_of(&headers);
    ctx.subscriptions
        .answer_change(
            &sub,
            id,
            accept,
            "customer_api",
            body.text_version.as_deref(),
            client.as_deref(),
        )
        .await?;
    let sub = ctx
        .store
        .subscription(sub.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(subscription_view(&ctx, &sub).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
    /// The plan to switch to.
    plan: String,
}

#[utoipa::path(
    get,
    path = "/api/subscription/switch",
    tag = "subscription",
    summary = "Preview a plan switch",
    description = "The exact charge of switching to `plan`: up now (the difference for the rest of the period, KST days, rounded down), down at the period's end (nothing now).",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    params(PreviewQuery),
    responses(
        (status = 200, description = "The preview.", body = SwitchPreviewAnswer),
        (status = 400, description = "`INVALID_REQUEST`: no `plan`, or an unknown parameter.", body = ErrorBody),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no subscription, or no such plan.", body = ErrorBody),
        (status = 409, description = "`SUBSCRIPTION_ENDED`, or `CONFLICT` (the same plan, a switch pending).", body = ErrorBody),
    )
)]
async fn preview_switch(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PreviewQuery>,
) -> ApiResult<Json<Value>> {
    let sub = mine(&ctx, &headers).await?;
    let preview = ctx.subscriptions.preview_switch(&sub, &q.plan).await?;
    Ok(Json(json!({ "preview": preview })))
}

/// A plan switch, confirmed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SwitchBody {
    /// The plan to switch to.
    plan_id: String,
    /// KRW charged now, as the preview said (0 for a downgrade).
    expected_charge: i64,
}

#[utoipa::path(
    post,
    path = "/api/subscription/switch",
    tag = "subscription",
    summary = "Switch plan, charging exactly the preview",
    description = "The customer's own consent to the switch, kept as such. An upgrade charges exactly `expectedCharge` now (its own orderId, exactly once); a downgrade applies at the period's end.",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    request_body = SwitchBody,
    responses(
        (status = 200, description = "Switched (or scheduled).", body = Switched),
        (status = 202, description = "`SWITCH_PENDING`: the charge is being confirmed; the switch follows it.", body = Switched),
        (status = 401, description = "`NOT_SIGNED_IN`: nobody is signed in.", body = ErrorBody),
        (status = 402, description = "`SWITCH_DECLINED`: the card declined the charge; nothing switched.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no subscription, or no such plan.", body = ErrorBody),
        (status = 409, description = "`PREVIEW_CHANGED`: the charge is no longer `expectedCharge`. `SUBSCRIPTION_ENDED`, `BUSY` (ask again), `CONFLICT`.", body = ErrorBody),
    )
)]
async fn switch_plan(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SwitchBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let sub = mine(&ctx, &headers).await?;
    let client = client_of(&headers);
    let outcome = ctx
        .subscriptions
        .switch_plan(
            &sub,
            &body.plan_id,
            body.expected_charge,
            "customer_api",
            client.as_deref(),
        )
        .await?;
    let sub = ctx
        .store
        .subscription(sub.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let view = subscription_view(&ctx, &sub).await?;
    Ok(match outcome {
        SwitchOutcome::Done(_) => (StatusCode::OK, Json(json!({ "subscription": view }))),
        SwitchOutcome::Pending(_) => (
            StatusCode::ACCEPTED,
            Json(
                json!({ "code": "SWITCH_PENDING", "message": "the charge is being confirmed; the switch follows it", "subscription": view }),
            ),
        ),
        SwitchOutcome::Declined(code) => {
            return Err(ApiError::Refused {
                status: StatusCode::PAYMENT_REQUIRED,
                code: "SWITCH_DECLINED",
                message: format!("the card declined the charge ({code}); the plan did not change"),
            })
        }
    })
}
