//! Refunds (Toss calls them cancels, contract §10) as pure decisions: what a cancel body says,
//! whether a payment can give that much back, and what the Payment looks like afterwards. The
//! storage shell (`state`) loads the payment, asks [`plan_cancel`], and stores [`apply_cancel`]'s
//! result with the webhook it causes, in one transaction.

use serde_json::{json, Map, Value};

use crate::fields::{integer, only_known, text};
use crate::{coded, error, invalid, Answer};

/// Two cancels of one payment closer than this: only the first is processed (contract §10).
pub(crate) const CONSECUTIVE_WINDOW_MS: i64 = 1_000;

/// A validated cancel body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CancelRequest {
    /// `cancelReason`, 1–200 characters.
    pub reason: String,
    /// `cancelAmount`; `None`: whatever is left.
    pub amount: Option<i64>,
    /// `taxFreeAmount` (default 0).
    pub tax_free: i64,
    /// `taxExemptionAmount` (default 0).
    pub tax_exemption: i64,
}

/// Reads a cancel body: unknown, missing or mistyped fields are `400 INVALID_REQUEST`, and so is
/// `refundReceiveAccount`, which only a virtual-account payment may carry (every simulated payment
/// is a card payment).
pub(crate) fn parse_cancel(body: &Map<String, Value>) -> Result<CancelRequest, Answer> {
    const KNOWN: &[&str] = &[
        "cancelReason",
        "cancelAmount",
        "taxFreeAmount",
        "taxExemptionAmount",
        "refundReceiveAccount",
    ];
    only_known(body, KNOWN)?;
    if body.contains_key("refundReceiveAccount") {
        return Err(error(
            400,
            "INVALID_REQUEST",
            "잘못된 요청입니다. (refundReceiveAccount: 가상계좌 결제에만 쓸 수 있습니다)",
        ));
    }
    let reason = text(body, "cancelReason", true)?.unwrap_or_default();
    if !(1..=200).contains(&reason.chars().count()) {
        return Err(invalid("cancelReason"));
    }
    let amount = integer(body, "cancelAmount", false)?;
    if amount.is_some_and(|a| a <= 0) {
        return Err(invalid("cancelAmount"));
    }
    let tax_free = integer(body, "taxFreeAmount", false)?.unwrap_or(0);
    let tax_exemption = integer(body, "taxExemptionAmount", false)?.unwrap_or(0);
    if tax_free < 0 {
        return Err(invalid("taxFreeAmount"));
    }
    if tax_exemption < 0 {
        return Err(invalid("taxExemptionAmount"));
    }
    Ok(CancelRequest {
        reason: reason.to_owned(),
        amount,
        tax_free,
        tax_exemption,
    })
}

/// What deciding a cancel needs to know of the stored payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cancelable {
    /// The payment's `status`.
    pub status: String,
    /// What is left to refund (`balanceAmount`).
    pub balance: i64,
    /// `isPartialCancelable`.
    pub partial_cancelable: bool,
    /// When the last cancel of this payment was processed (simulator clock, ms).
    pub last_cancel_at: Option<i64>,
}

impl Cancelable {
    /// Reads it off a stored Payment object (a payment stored before refunds existed has no
    /// `isPartialCancelable`: it was partial-cancelable, as payments are by default).
    pub fn of(payment: &Value, last_cancel_at: Option<i64>) -> Cancelable {
        Cancelable {
            status: payment["status"].as_str().unwrap_or("").to_owned(),
            balance: payment["balanceAmount"].as_i64().unwrap_or(0),
            partial_cancelable: payment["isPartialCancelable"].as_bool().unwrap_or(true),
            last_cancel_at,
        }
    }
}

/// Why a cancel is refused, once its body is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `400 ALREADY_CANCELED_PAYMENT`: nothing is left.
    AlreadyCanceled,
    /// `403 NOT_CANCELABLE_PAYMENT`: never approved (a declined `ABORTED` payment).
    NotCancelablePayment,
    /// `403 FORBIDDEN_CONSECUTIVE_REQUEST`: another cancel of it less than a second ago.
    Consecutive,
    /// `403 NOT_CANCELABLE_AMOUNT`: more than the balance.
    OverBalance,
    /// `403 NOT_ALLOWED_PARTIAL_REFUND`: this payment can only be cancelled whole.
    PartialNotAllowed,
    /// `400 INVALID_REQUEST`: a tax-free or tax-exempt part larger than the amount cancelled.
    TaxAboveAmount,
}

impl Refusal {
    /// The Toss error answer.
    pub fn answer(self) -> Answer {
        match self {
            Refusal::AlreadyCanceled => coded("ALREADY_CANCELED_PAYMENT"),
            Refusal::NotCancelablePayment => coded("NOT_CANCELABLE_PAYMENT"),
            Refusal::Consecutive => coded("FORBIDDEN_CONSECUTIVE_REQUEST"),
            Refusal::OverBalance => coded("NOT_CANCELABLE_AMOUNT"),
            Refusal::PartialNotAllowed => coded("NOT_ALLOWED_PARTIAL_REFUND"),
            Refusal::TaxAboveAmount => invalid("taxFreeAmount"),
        }
    }
}

/// Whether a cancel's answer is kept for Idempotency-Key replays. Every answer is, like a
/// charge's, except `FORBIDDEN_CONSECUTIVE_REQUEST`: it refuses the call before anything is
/// processed (like a `409`), so a retry with the same key a second later is processed (inferred:
/// Toss documents neither way).
pub(crate) fn kept_for_replays(answer: &Answer) -> bool {
    answer.1["code"] != "FORBIDDEN_CONSECUTIVE_REQUEST"
}

/// A cancel that will happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CancelPlan {
    /// What is refunded now.
    pub amount: i64,
    /// What is left after it (the new `balanceAmount`, and the entry's `refundableAmount`).
    pub refundable_after: i64,
    /// `CANCELED` when nothing is left, else `PARTIAL_CANCELED`.
    pub status_after: &'static str,
}

/// Decides a cancel of `payment` at `now` (ms, simulator clock).
pub(crate) fn plan_cancel(
    payment: &Cancelable,
    request: &CancelRequest,
    now: i64,
) -> Result<CancelPlan, Refusal> {
    match payment.status.as_str() {
        "DONE" | "PARTIAL_CANCELED" => {}
        "CANCELED" => return Err(Refusal::AlreadyCanceled),
        _ => return Err(Refusal::NotCancelablePayment),
    }
    if payment
        .last_cancel_at
        .is_some_and(|at| now - at < CONSECUTIVE_WINDOW_MS)
    {
        return Err(Refusal::Consecutive);
    }
    let amount = request.amount.unwrap_or(payment.balance);
    if amount > payment.balance {
        return Err(Refusal::OverBalance);
    }
    if amount < payment.balance && !payment.partial_cancelable {
        return Err(Refusal::PartialNotAllowed);
    }
    if request.tax_free > amount || request.tax_exemption > amount {
        return Err(Refusal::TaxAboveAmount);
    }
    let refundable_after = payment.balance - amount;
    Ok(CancelPlan {
        amount,
        refundable_after,
        status_after: if refundable_after == 0 {
            "CANCELED"
        } else {
            "PARTIAL_CANCELED"
        },
    })
}

/// The identifiers and time a processed cancel is stamped with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CancelStamp {
    /// `canceledAt`, ISO 8601 in KST.
    pub canceled_at: String,
    /// Unique per cancel.
    pub transaction_key: String,
    /// The cancel's receipt.
    pub receipt_key: String,
}

/// The Payment after the cancel: status, balance, one more `cancels[]` entry.
pub(crate) fn apply_cancel(
    payment: &mut Value,
    plan: &CancelPlan,
    request: &CancelRequest,
    stamp: &CancelStamp,
) {
    let entry = json!({
        "cancelAmount": plan.amount,
        "cancelReason": request.reason,
        "taxFreeAmount": request.tax_free,
        "taxExemptionAmount": request.tax_exemption,
        "refundableAmount": plan.refundable_after,
        "easyPayDiscountAmount": 0,
        "transferDiscountAmount": 0,
        "canceledAt": stamp.canceled_at,
        "transactionKey": stamp.transaction_key,
        "receiptKey": stamp.receipt_key,
        "cancelStatus": "DONE",
        "cancelRequestId": null,
    });
    let Some(fields) = payment.as_object_mut() else {
        return;
    };
    fields.insert("status".into(), json!(plan.status_after));
    fields.insert("balanceAmount".into(), json!(plan.refundable_after));
    fields.insert("lastTransactionKey".into(), json!(stamp.transaction_key));
    fields
        .entry("isPartialCancelable")
        .or_insert(Value::Bool(true));
    match fields.get_mut("cancels") {
        Some(Value::Array(cancels)) => cancels.push(entry),
        _ => {
            fields.insert("cancels".into(), json!([entry]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn code(answer: Answer) -> (u16, String) {
        (answer.0, answer.1["code"].as_str().unwrap().to_owned())
    }

    fn refused(v: Value) -> String {
        let answer = parse_cancel(&body(v)).unwrap_err();
        assert_eq!(code(answer.clone()), (400, "INVALID_REQUEST".into()));
        answer.1["message"].as_str().unwrap().to_owned()
    }

    fn done(balance: i64) -> Cancelable {
        Cancelable {
            status: "DONE".into(),
            balance,
            partial_cancelable: true,
            last_cancel_at: None,
        }
    }

    fn request(amount: Option<i64>) -> CancelRequest {
        CancelRequest {
            reason: "고객 요청".into(),
            amount,
            tax_free: 0,
            tax_exemption: 0,
        }
    }

    #[test]
    fn a_cancel_body_is_validated_like_a_charge() {
        let ok = parse_cancel(&body(json!({"cancelReason": "고객 요청"}))).unwrap();
        assert_eq!(ok, request(None));
        let partial = parse_cancel(&body(
            json!({"cancelReason": "r", "cancelAmount": 1000, "taxFreeAmount": 100}),
        ))
        .unwrap();
        assert_eq!((partial.amount, partial.tax_free), (Some(1000), 100));
        assert!(refused(json!({})).contains("cancelReason"));
        assert!(refused(json!({"cancelReason": ""})).contains("cancelReason"));
        assert!(refused(json!({"cancelReason": "가".repeat(201)})).contains("cancelReason"));
        parse_cancel(&body(json!({"cancelReason": "가".repeat(200)}))).unwrap();
        assert!(refused(json!({"cancelReason": 5})).contains("cancelReason"));
        assert!(
            refused(json!({"cancelReason": "r", "cancelAmount": "1000"})).contains("cancelAmount")
        );
        assert!(
            refused(json!({"cancelReason": "r", "cancelAmount": 10.5})).contains("cancelAmount")
        );
        assert!(refused(json!({"cancelReason": "r", "cancelAmount": 0})).contains("cancelAmount"));
        assert!(refused(json!({"cancelReason": "r", "cancelAmount": -5})).contains("cancelAmount"));
        assert!(
            refused(json!({"cancelReason": "r", "taxFreeAmount": -1})).contains("taxFreeAmount")
        );
        assert!(refused(json!({"cancelReason": "r", "amount": 1})).contains("amount"));
        assert!(refused(
            json!({"cancelReason": "r", "refundReceiveAccount": {"bank": "20", "accountNumber": "1", "holderName": "x"}})
        )
        .contains("refundReceiveAccount"));
    }

    #[test]
    fn partial_cancels_run_the_balance_down_to_zero() {
        let mut balance = 10_000;
        let mut statuses = Vec::new();
        for amount in [3_000, 3_000, 4_000] {
            let payment = Cancelable {
                status: if balance == 10_000 {
                    "DONE"
                } else {
                    "PARTIAL_CANCELED"
                }
                .into(),
                ..done(balance)
            };
            let plan = plan_cancel(&payment, &request(Some(amount)), 0).unwrap();
            assert_eq!(plan.refundable_after, balance - amount);
            balance = plan.refundable_after;
            statuses.push(plan.status_after);
        }
        assert_eq!(
            statuses,
            ["PARTIAL_CANCELED", "PARTIAL_CANCELED", "CANCELED"]
        );
        let whole = plan_cancel(&done(9_900), &request(None), 0).unwrap();
        assert_eq!((whole.amount, whole.status_after), (9_900, "CANCELED"));
    }

    #[test]
    fn refusals_in_the_documented_order() {
        let canceled = Cancelable {
            status: "CANCELED".into(),
            ..done(0)
        };
        let aborted = Cancelable {
            status: "ABORTED".into(),
            ..done(9_900)
        };
        let just_cancelled = Cancelable {
            last_cancel_at: Some(10_000),
            ..done(9_900)
        };
        let whole_only = Cancelable {
            partial_cancelable: false,
            ..done(9_900)
        };
        let cases = [
            (&canceled, request(None), 0, Refusal::AlreadyCanceled),
            (&aborted, request(None), 0, Refusal::NotCancelablePayment),
            (&just_cancelled, request(None), 10_999, Refusal::Consecutive),
            (&done(9_900), request(Some(9_901)), 0, Refusal::OverBalance),
            (
                &whole_only,
                request(Some(100)),
                0,
                Refusal::PartialNotAllowed,
            ),
        ];
        for (payment, request, now, refusal) in cases {
            assert_eq!(plan_cancel(payment, &request, now), Err(refusal));
        }
        assert!(plan_cancel(&just_cancelled, &request(None), 11_000).is_ok());
        assert!(plan_cancel(&whole_only, &request(Some(9_900)), 0).is_ok());
        let taxed = CancelRequest {
            tax_free: 200,
            ..request(Some(100))
        };
        assert_eq!(
            plan_cancel(&done(9_900), &taxed, 0),
            Err(Refusal::TaxAboveAmount)
        );
        assert_eq!(
            code(Refusal::OverBalance.answer()),
            (403, "NOT_CANCELABLE_AMOUNT".into())
        );
        assert_eq!(
            code(Refusal::AlreadyCanceled.answer()),
            (400, "ALREADY_CANCELED_PAYMENT".into())
        );
        assert!(!kept_for_replays(&Refusal::Consecutive.answer()));
        assert!(kept_for_replays(&Refusal::OverBalance.answer()));
    }

    #[test]
    fn the_payment_keeps_its_total_and_gains_one_entry_per_cancel() {
        let mut payment = json!({"status": "DONE", "totalAmount": 9_900, "balanceAmount": 9_900, "cancels": null});
        let stamp = |n: u8| CancelStamp {
            canceled_at: "2026-01-01T09:00:00+09:00".into(),
            transaction_key: format!("tx{n}"),
            receipt_key: format!("rc{n}"),
        };
        let first = plan_cancel(&Cancelable::of(&payment, None), &request(Some(900)), 0).unwrap();
        apply_cancel(&mut payment, &first, &request(Some(900)), &stamp(1));
        let second =
            plan_cancel(&Cancelable::of(&payment, Some(0)), &request(None), 1_000).unwrap();
        apply_cancel(&mut payment, &second, &request(None), &stamp(2));
        assert_eq!(payment["status"], "CANCELED");
        assert_eq!(payment["totalAmount"], 9_900);
        assert_eq!(payment["balanceAmount"], 0);
        assert_eq!(payment["isPartialCancelable"], true);
        assert_eq!(payment["lastTransactionKey"], "tx2");
        let cancels = payment["cancels"].as_array().unwrap();
        assert_eq!(cancels.len(), 2);
        assert_eq!(cancels[0]["cancelAmount"], 900);
        assert_eq!(cancels[0]["refundableAmount"], 9_000);
        assert_eq!(cancels[1]["cancelAmount"], 9_000);
        assert_eq!(cancels[1]["refundableAmount"], 0);
        assert_eq!(cancels[1]["cancelStatus"], "DONE");
        assert_eq!(cancels[1]["easyPayDiscountAmount"], 0);
        assert!(cancels[1]["cancelRequestId"].is_null());
    }
}
