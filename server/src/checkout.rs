//! Checkout sessions: the terms a customer is shown before Toss's card window opens — plan, price,
//! cycle, trial, first charge date, the cancellation terms' version — signed with the server's
//! key and carried by the page through the redirect to the hand-off. The subscription starts on
//! exactly these terms (`crate::subscription`), never on what the plan says by then.
//!
//! A session costs the database nothing until a card is registered: the terms travel in the
//! token (like a visitor's cookie), so a flood of page loads writes no rows. It is used once: the
//! subscription it starts records its id (`subscriptions.checkout_session` is unique); a first
//! charge that was declined leaves that subscription waiting for another card on the same
//! session for [`crate::billing::lifecycle::INCOMPLETE_FOR_MS`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use toss_billing_contract::{CheckoutTerms, PlanCycle as WireCycle};

use crate::clock::{iso_kst, Millis};
use crate::crypto::Keyring;
use crate::ids;
use crate::store::subscriptions::{PlanCycle, PlanRow};

/// How long a session may be used to start a registration (page load → card window → redirect).
pub const SESSION_LIFETIME_MS: Millis = 2 * 3_600_000;

const PREFIX: &str = "cs1.";
const DOMAIN: &[u8] = b"checkout-session\0";

/// The signed terms. Field names are short: the token travels in the page's storage and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTerms {
    /// The session's id (random): at most one subscription per session.
    pub id: String,
    /// The customer it was issued to.
    pub customer_key: String,
    /// The plan.
    pub plan_id: String,
    /// Its name as shown.
    pub plan_name: String,
    /// KRW per period, as shown.
    pub amount: i64,
    /// `MONTHLY`, `YEARLY` or `DAYS`.
    pub cycle: PlanCycle,
    /// For `DAYS`.
    pub interval_days: Option<i64>,
    /// Free days before the first charge (0: charged at registration).
    pub trial_days: i64,
    /// The version of the cancellation terms' text shown next to the button.
    pub terms_version: String,
    /// Issued (ms).
    pub issued_at: Millis,
    /// A registration must start before this (ms).
    pub expires_at: Millis,
}

/// Why a session is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not a token this server issued (or tampered with).
    #[error("unknown checkout session")]
    Unknown,
    /// Issued to another customer.
    #[error("the checkout session belongs to another customer")]
    OtherCustomer,
    /// Too old to start a registration.
    #[error("the checkout session has expired")]
    Expired,
}

impl SessionTerms {
    /// The terms for `plan` as `customer_key` is shown them now; `trial_days` is 0 for a
    /// customer who already had this plan's trial.
    pub fn new(
        customer_key: &str,
        plan: &PlanRow,
        trial_days: i64,
        terms_version: &str,
        now: Millis,
    ) -> SessionTerms {
        SessionTerms {
            id: format!("cs_{}", ids::random_token::<15>()),
            customer_key: customer_key.to_owned(),
            plan_id: plan.id.clone(),
            plan_name: plan.name.clone(),
            amount: plan.amount,
            cycle: plan.cycle,
            interval_days: plan.interval_days,
            trial_days,
            terms_version: terms_version.to_owned(),
            issued_at: now,
            expires_at: now + SESSION_LIFETIME_MS,
        }
    }

    /// The plan as these terms describe it (for period arithmetic).
    pub fn plan(&self) -> PlanRow {
        PlanRow {
            id: self.plan_id.clone(),
            name: self.plan_name.clone(),
            amount: self.amount,
            cycle: self.cycle,
            interval_days: self.interval_days,
            trial_days: self.trial_days,
        }
    }

    /// When the first charge falls for a registration at `at`.
    pub fn first_charge_at(&self, at: Millis) -> Millis {
        at + self.trial_days * 86_400_000
    }

    /// The signed token.
    pub fn seal(&self, keyring: &Keyring) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("plain data"));
        let tag = URL_SAFE_NO_PAD.encode(keyring.sign(&signed_bytes(&payload)));
        format!("{PREFIX}{payload}.{tag}")
    }

    /// The terms of a token this server signed, whatever its age (a replayed hand-off needs them
    /// after the session expired); [`SessionTerms::check`] decides whether it may start one.
    pub fn open(token: &str, keyring: &Keyring) -> Result<SessionTerms, SessionError> {
        let rest = token.strip_prefix(PREFIX).ok_or(SessionError::Unknown)?;
        let (payload, tag) = rest.split_once('.').ok_or(SessionError::Unknown)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| SessionError::Unknown)?;
        if !keyring.verify(&signed_bytes(payload), &tag) {
            return Err(SessionError::Unknown);
        }
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SessionError::Unknown)?;
        serde_json::from_slice(&json).map_err(|_| SessionError::Unknown)
    }

    /// Whether these terms may start a registration for `customer_key` at `now`.
    pub fn check(&self, customer_key: &str, now: Millis) -> Result<(), SessionError> {
        if self.customer_key != customer_key {
            return Err(SessionError::OtherCustomer);
        }
        if now >= self.expires_at {
            return Err(SessionError::Expired);
        }
        Ok(())
    }

    /// What the page shows (`toss_billing_contract::CheckoutTerms`).
    pub fn wire(&self, cancel_note: Option<&str>) -> CheckoutTerms {
        let first_charge = self.first_charge_at(self.issued_at);
        CheckoutTerms {
            plan_id: self.plan_id.clone(),
            name: self.plan_name.clone(),
            amount: self.amount.max(0) as u64,
            cycle: wire_cycle(self.cycle, self.interval_days),
            trial_days: self.trial_days.clamp(0, 3650) as u32,
            first_charge_date: iso_kst(first_charge)[..10].to_owned(),
            terms_version: self.terms_version.clone(),
            expires_at: iso_kst(self.expires_at),
            cancel_note: cancel_note.map(str::to_owned),
        }
    }
}

/// The contract's cycle of a stored plan.
pub fn wire_cycle(cycle: PlanCycle, interval_days: Option<i64>) -> WireCycle {
    match cycle {
        PlanCycle::Monthly => WireCycle::Monthly,
        PlanCycle::Yearly => WireCycle::Yearly,
        PlanCycle::Days => WireCycle::EveryDays(interval_days.unwrap_or(30).clamp(1, 3650) as u32),
    }
}

fn signed_bytes(payload: &str) -> Vec<u8> {
    [DOMAIN, payload.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap()
    }

    fn plan() -> PlanRow {
        PlanRow {
            id: "premium-monthly".into(),
            name: "프리미엄 플랜".into(),
            amount: 9_900,
            cycle: PlanCycle::Monthly,
            interval_days: None,
            trial_days: 14,
        }
    }

    #[test]
    fn a_session_round_trips_and_refuses_tampering() {
        let ring = keyring();
        let terms = SessionTerms::new("ck-1", &plan(), 14, "2026-12-01", 1_000);
        let token = terms.seal(&ring);
        assert_eq!(SessionTerms::open(&token, &ring), Ok(terms.clone()));
        assert_eq!(terms.check("ck-1", 2_000), Ok(()));
        assert_eq!(terms.check("ck-2", 2_000), Err(SessionError::OtherCustomer));
        assert_eq!(
            terms.check("ck-1", 1_000 + SESSION_LIFETIME_MS),
            Err(SessionError::Expired)
        );
        // A cheaper price written into the payload breaks the signature.
        let (payload, tag) = token[PREFIX.len()..].split_once('.').unwrap();
        let mut json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        json["amount"] = 100.into();
        let forged = format!("{PREFIX}{}.{tag}", URL_SAFE_NO_PAD.encode(json.to_string()));
        assert_eq!(
            SessionTerms::open(&forged, &ring),
            Err(SessionError::Unknown)
        );
        assert_eq!(
            SessionTerms::open("cs1.x", &ring),
            Err(SessionError::Unknown)
        );
        let other = Keyring::parse("k2:HxwdGhsYGRYXFBUSExAREA8ODQwLCgkIBwYFBAMCAQA=").unwrap();
        assert_eq!(
            SessionTerms::open(&token, &other),
            Err(SessionError::Unknown)
        );
    }

    #[test]
    fn the_page_sees_the_first_charge_after_the_trial() {
        let terms = SessionTerms::new("ck-1", &plan(), 14, "v1", 1_800_000_000_000);
        let wire = terms.wire(None);
        assert_eq!(wire.trial_days, 14);
        assert_eq!(
            wire.first_charge_date,
            iso_kst(1_800_000_000_000 + 14 * 86_400_000)[..10]
        );
    }
}
