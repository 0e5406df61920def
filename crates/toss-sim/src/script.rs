//! Scripted outcomes: tests (over HTTP, `POST /__control/rules`, or from Rust) make the simulator
//! decline, fail, stall or drop chosen calls — "decline the 3rd monthly charge of this customer",
//! "answer the next issue call after 2 s", "drop the connection after charging".

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which API a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// `POST /v1/billing/authorizations/issue`.
    Issue,
    /// `POST /v1/billing/{billingKey}`.
    Charge,
    /// `GET /v1/payments/orders/{orderId}`.
    Lookup,
    /// `GET /v1/payments/{paymentKey}`.
    Payment,
    /// `POST /v1/payments/{paymentKey}/cancel` (refunds).
    Cancel,
    /// `DELETE /v1/billing/{billingKey}`.
    Delete,
    /// Any of them.
    Any,
}

/// When a connection is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// Before doing anything: the call never happened.
    Before,
    /// After doing it: the call happened, the answer is lost.
    After,
}

/// One scripted behaviour, applied to the calls it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Which API.
    pub api: Api,
    /// Only calls for this customer (a cancel's or a lookup by paymentKey's: the payment's
    /// customer; a deletion's: the billing key's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key: Option<String>,
    /// Only calls whose orderId starts with this (charges, lookups, and calls naming a payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id_prefix: Option<String>,
    /// Only cancels and lookups of this payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_key: Option<String>,
    /// Let this many matching calls through first.
    #[serde(default)]
    pub skip: u32,
    /// Apply to this many matching calls, then retire (`None`: for ever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Answer this Toss error code (as `TossPayments-Test-Code` would), processing nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Answer this HTTP status (a 5xx: `FAILED_INTERNAL_SYSTEM_PROCESSING`), processing nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Wait this long, then process (a duplicate meanwhile gets `409`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Process, then wait this long before answering (the caller may give up: a late answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_after_ms: Option<u64>,
    /// Close the connection without an answer, before or after processing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<When>,
    /// Issue answers without `card`, `cardCompany`, `cardNumber` (the billing key only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub omit_card_fields: bool,
}

/// What the matched rules make of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effect {
    /// Answer this code without processing.
    pub code: Option<String>,
    /// Answer this status without processing.
    pub status: Option<u16>,
    /// Wait before processing.
    pub delay: Option<Duration>,
    /// Wait after processing.
    pub delay_after: Option<Duration>,
    /// Drop the connection.
    pub drop: Option<When>,
    /// Strip the display fields of an issue answer.
    pub omit_card_fields: bool,
}

/// What a call is, for matching.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// Which API.
    pub api: Api,
    /// The customer, if the body names one.
    pub customer_key: Option<&'a str>,
    /// The orderId, if any.
    pub order_id: Option<&'a str>,
    /// The paymentKey, if the call names one.
    pub payment_key: Option<&'a str>,
}

impl Rule {
    fn matches(&self, call: &CallFacts<'_>) -> bool {
        (self.api == Api::Any || self.api == call.api)
            && self
                .customer_key
                .as_deref()
                .is_none_or(|ck| call.customer_key == Some(ck))
            && self
                .order_id_prefix
                .as_deref()
                .is_none_or(|p| call.order_id.is_some_and(|o| o.starts_with(p)))
            && self
                .payment_key
                .as_deref()
                .is_none_or(|pk| call.payment_key == Some(pk))
    }

    /// Whether the rule says anything at all.
    pub fn is_empty(&self) -> bool {
        self.code.is_none()
            && self.status.is_none()
            && self.delay_ms.is_none()
            && self.delay_after_ms.is_none()
            && self.drop.is_none()
            && !self.omit_card_fields
    }
}

/// Applies the rules to a call: each matching rule either lets it through (counting down its
/// `skip`) or acts on it (counting down its `times`; spent rules are removed). Several rules may
/// act on one call (a delay and a code, say); the first to set a field wins.
pub fn apply(rules: &mut Vec<Rule>, call: &CallFacts<'_>) -> Effect {
    let mut effect = Effect::default();
    for rule in rules.iter_mut().filter(|r| r.matches(call)) {
        if rule.skip > 0 {
            rule.skip -= 1;
            continue;
        }
        if let Some(times) = rule.times.as_mut() {
            if *times == 0 {
                continue;
            }
            *times -= 1;
        }
        effect.code = effect.code.or(rule.code.clone());
        effect.status = effect.status.or(rule.status);
        effect.delay = effect.delay.or(rule.delay_ms.map(Duration::from_millis));
        effect.delay_after = effect
            .delay_after
            .or(rule.delay_after_ms.map(Duration::from_millis));
        effect.drop = effect.drop.or(rule.drop);
        effect.omit_card_fields |= rule.omit_card_fields;
    }
    rules.retain(|r| r.times != Some(0));
    effect
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> Rule {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn third_charge_declined_then_spent() {
        let mut rules = vec![rule(
            r#"{"api": "charge", "customerKey": "ck", "skip": 2, "times": 1, "code": "REJECT_CARD_PAYMENT"}"#,
        )];
        let call = CallFacts {
            api: Api::Charge,
            customer_key: Some("ck"),
            order_id: Some("o"),
            payment_key: None,
        };
        let other = CallFacts {
            customer_key: Some("other"),
            ..call
        };
        assert_eq!(apply(&mut rules, &other), Effect::default());
        assert_eq!(apply(&mut rules, &call), Effect::default());
        assert_eq!(apply(&mut rules, &call), Effect::default());
        assert_eq!(
            apply(&mut rules, &call).code.as_deref(),
            Some("REJECT_CARD_PAYMENT")
        );
        assert!(rules.is_empty());
        assert_eq!(apply(&mut rules, &call), Effect::default());
    }

    #[test]
    fn rules_combine_and_unknown_fields_are_refused() {
        let mut rules = vec![
            rule(r#"{"api": "any", "delayMs": 100}"#),
            rule(r#"{"api": "issue", "status": 503, "times": 1}"#),
        ];
        let issue = CallFacts {
            api: Api::Issue,
            customer_key: None,
            order_id: None,
            payment_key: None,
        };
        let effect = apply(&mut rules, &issue);
        assert_eq!(effect.delay, Some(Duration::from_millis(100)));
        assert_eq!(effect.status, Some(503));
        assert_eq!(rules.len(), 1);
        assert!(serde_json::from_str::<Rule>(r#"{"api": "issue", "oops": 1}"#).is_err());
    }

    #[test]
    fn cancels_match_by_the_payments_customer_and_key() {
        let mut rules = vec![
            rule(
                r#"{"api": "cancel", "customerKey": "ck", "times": 1, "code": "FAILED_REFUND_PROCESS"}"#,
            ),
            rule(r#"{"api": "cancel", "paymentKey": "pk-2", "status": 503}"#),
            rule(r#"{"api": "delete", "drop": "after"}"#),
        ];
        let cancel = CallFacts {
            api: Api::Cancel,
            customer_key: Some("ck"),
            order_id: Some("order-1"),
            payment_key: Some("pk-1"),
        };
        assert_eq!(
            apply(&mut rules, &cancel).code.as_deref(),
            Some("FAILED_REFUND_PROCESS")
        );
        assert_eq!(apply(&mut rules, &cancel), Effect::default());
        let other = CallFacts {
            payment_key: Some("pk-2"),
            ..cancel
        };
        assert_eq!(apply(&mut rules, &other).status, Some(503));
        let delete = CallFacts {
            api: Api::Delete,
            ..cancel
        };
        assert_eq!(apply(&mut rules, &delete).drop, Some(When::After));
        let lookup = CallFacts {
            api: Api::Payment,
            ..other
        };
        assert_eq!(apply(&mut rules, &lookup), Effect::default());
    }
}
