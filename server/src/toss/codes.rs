//! What Toss's error codes mean for us: which are final for an authKey, which declines are worth
//! retrying (contract §6, §9). Everything not listed is treated as "not final": kept and retried,
//! never stored as a customer's refusal.

/// Codes after which the same authKey can never be exchanged: Toss refused the card or the key.
/// An allowlist: a code Toss adds tomorrow is retryable until someone puts it here.
pub const FINAL_FOR_AUTH_KEY: &[&str] = &[
    "INVALID_CARD_NUMBER",
    "INVALID_CARD_EXPIRATION",
    "INVALID_STOPPED_CARD",
    "INVALID_CARD_LOST_OR_STOLEN",
    "INVALID_CARD_COMPANY",
    "REJECT_CARD_COMPANY",
    "EXCEED_MAX_AUTH_COUNT",
    "NOT_SUPPORTED_METHOD",
    "NOT_SUPPORTED_CARD_TYPE",
    "NOT_MATCHES_CUSTOMER_KEY",
    // A reused authKey (the simulator's code; Toss does not document one).
    "INVALID_AUTH_KEY",
    // Toss found the request itself malformed: the same request gets the same answer.
    "INVALID_REQUEST",
];

/// Whether a Toss 4xx `code` is a final answer for the authKey.
pub fn is_final_for_auth_key(status: u16, code: &str) -> bool {
    (400..500).contains(&status)
        && !matches!(status, 408 | 409 | 425 | 429)
        && FINAL_FOR_AUTH_KEY.contains(&code)
}

/// Toss refusing *our* credentials: a configuration problem for the operator, never the
/// customer's fault, never final for the work in hand.
pub fn is_credentials_problem(status: u16, code: &str) -> bool {
    status == 401 || code == "UNAUTHORIZED_KEY" || code == "FORBIDDEN_REQUEST"
}

/// How a declined charge may be retried (card-network rules penalise retrying "never approve").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeclineClass {
    /// Limit, balance, a provider hiccup: retry on the dunning schedule.
    Soft,
    /// Stopped, lost, expired, invalid card, wrong customer or billing key: never retry this card.
    Hard,
}

/// Hard declines (contract §9): retrying them is refused by the card networks.
const HARD_DECLINES: &[&str] = &[
    "INVALID_STOPPED_CARD",
    "INVALID_CARD_LOST_OR_STOLEN",
    "INVALID_CARD_EXPIRATION",
    "INVALID_CARD_NUMBER",
    "NOT_MATCHES_CUSTOMER_KEY",
    "INVALID_BILL_KEY_REQUEST",
    "NOT_FOUND_BILLING",
    "INVALID_CARD_COMPANY",
    "NOT_SUPPORTED_CARD_TYPE",
    // Ours, not Toss's: the card was deleted (at Toss, or by its customer); nothing was sent.
    "BILLING_KEY_DELETED",
];

/// The retry class of a charge's refusal code. Anything that is not a known hard decline is soft:
/// the worst a wrong "soft" does is one more polite attempt on the schedule.
pub fn decline_class(code: &str) -> DeclineClass {
    if HARD_DECLINES.contains(&code) {
        DeclineClass::Hard
    } else {
        DeclineClass::Soft
    }
}

/// A charge refusal that says nothing about the card but about the request: not a decline at all
/// (nothing was charged; a retry with the same request cannot help).
pub fn is_request_problem(code: &str) -> bool {
    matches!(
        code,
        "INVALID_REQUEST" | "BELOW_MINIMUM_AMOUNT" | "EXCEED_MAX_AMOUNT" | "INVALID_ORDER_ID"
    )
}

/// A cancel (refund) refusal after which Toss has certainly refunded nothing and never will for
/// this request: the refund is FAILED (its amount counts toward the charge's balance again).
/// An allowlist, like [`FINAL_FOR_AUTH_KEY`]: anything else — `ALREADY_CANCELED_PAYMENT` (after a
/// lost answer it may be our own refund), `FORBIDDEN_CONSECUTIVE_REQUEST` (another cancel of the
/// payment within a second: try again), `PROVIDER_ERROR`, a credentials problem, a code Toss adds
/// tomorrow — is looked up and tried again later, never final by itself.
pub const FINAL_FOR_REFUND: &[&str] = &[
    "NOT_CANCELABLE_AMOUNT",
    "NOT_CANCELABLE_PAYMENT",
    "NOT_ALLOWED_PARTIAL_REFUND",
    "NOT_MATCHES_REFUNDABLE_AMOUNT",
    "REFUND_REJECTED",
    "NOT_FOUND_PAYMENT",
    "INVALID_REQUEST",
];

/// Whether a cancel refusal is final for the refund ([`FINAL_FOR_REFUND`]).
pub fn is_final_for_refund(status: u16, code: &str) -> bool {
    (400..500).contains(&status)
        && !matches!(status, 401 | 408 | 409 | 425 | 429)
        && FINAL_FOR_REFUND.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowlisted_4xx_are_final() {
        assert!(is_final_for_auth_key(403, "INVALID_STOPPED_CARD"));
        assert!(!is_final_for_auth_key(409, "IDEMPOTENT_REQUEST_PROCESSING"));
        assert!(!is_final_for_auth_key(429, "INVALID_REQUEST"));
        assert!(!is_final_for_auth_key(400, "SOMETHING_NEW"));
        assert!(!is_final_for_auth_key(500, "INVALID_CARD_NUMBER"));
        assert!(!is_final_for_auth_key(401, "UNAUTHORIZED_KEY"));
        assert!(is_credentials_problem(401, "UNAUTHORIZED_KEY"));
    }

    #[test]
    fn refund_refusals_that_are_final() {
        assert!(is_final_for_refund(403, "NOT_CANCELABLE_AMOUNT"));
        assert!(!is_final_for_refund(400, "ALREADY_CANCELED_PAYMENT"));
        assert!(!is_final_for_refund(403, "FORBIDDEN_CONSECUTIVE_REQUEST"));
        assert!(!is_final_for_refund(409, "IDEMPOTENT_REQUEST_PROCESSING"));
        assert!(!is_final_for_refund(500, "FAILED_REFUND_PROCESS"));
        assert!(!is_final_for_refund(400, "PROVIDER_ERROR"));
        assert!(!is_final_for_refund(400, "SOMETHING_NEW"));
    }

    #[test]
    fn declines() {
        assert_eq!(decline_class("REJECT_CARD_PAYMENT"), DeclineClass::Soft);
        assert_eq!(
            decline_class("FAILED_CARD_COMPANY_RESPONSE"),
            DeclineClass::Soft
        );
        assert_eq!(decline_class("INVALID_STOPPED_CARD"), DeclineClass::Hard);
        assert_eq!(
            decline_class("NOT_MATCHES_CUSTOMER_KEY"),
            DeclineClass::Hard
        );
        assert_eq!(
            decline_class("INVALID_BILL_KEY_REQUEST"),
            DeclineClass::Hard
        );
    }
}
