//! The simulator's cards: what a sandbox authKey (`sbx.` + base64url JSON, minted by
//! `sandbox/tosspayments-sandbox.js`) says about the card typed in the sandbox window, and the
//! test cards' behaviour (this crate's README, "Test cards").

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A card behind a simulated billing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    /// Issuer code.
    pub issuer_code: String,
    /// Company, e.g. 현대.
    pub company: String,
    /// Masked number.
    pub number: String,
    /// 신용 or 체크.
    pub card_type: String,
    /// 개인 or 법인.
    pub owner_type: String,
    /// Every charge answers `REJECT_CARD_PAYMENT` (last 4 digits 5001).
    pub reject_payments: bool,
    /// Its payments are `isPartialCancelable: false`: only a whole cancel (last 4 digits 5002).
    /// Absent from cards stored before refunds existed: they allowed partial cancels.
    #[serde(default)]
    pub whole_cancel_only: bool,
}

impl Card {
    /// Toss's `card` object.
    pub fn json(&self) -> Value {
        json!({
            "issuerCode": self.issuer_code,
            "acquirerCode": self.issuer_code,
            "number": self.number,
            "cardType": self.card_type,
            "ownerType": self.owner_type,
        })
    }
}

/// Card companies by 6-digit BIN (simulator data, not real issuer tables).
const BINS: &[(&str, &str, &str)] = &[
    ("433012", "61", "현대"),
    ("451842", "41", "신한"),
    ("536181", "51", "삼성"),
    ("457972", "11", "KB국민"),
    ("540926", "71", "롯데"),
    ("465887", "21", "하나"),
    ("942003", "31", "BC"),
    ("546112", "91", "NH농협"),
];

fn company_for_bin(bin: &str) -> (&'static str, &'static str) {
    if let Some((_, code, name)) = BINS.iter().find(|(b, _, _)| *b == bin) {
        return (code, name);
    }
    let index = bin.bytes().map(usize::from).sum::<usize>() % BINS.len();
    (BINS[index].1, BINS[index].2)
}

/// The card of a non-sandbox authKey.
pub fn default_card() -> Card {
    Card {
        issuer_code: "61".into(),
        company: "현대".into(),
        number: "433012******123*".into(),
        card_type: "신용".into(),
        owner_type: "개인".into(),
        reject_payments: false,
        whole_cancel_only: false,
    }
}

fn all_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Decodes a sandbox authKey's payload and checks it against the request's customerKey and the
/// date `(year, month)`: the card, or the Toss error code to answer.
pub fn sandbox_card(
    payload: &str,
    customer_key: &str,
    today: (i32, u8),
) -> Result<Card, &'static str> {
    let raw = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| "INVALID_REQUEST")?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| "INVALID_REQUEST")?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    if s("ck") != customer_key {
        return Err("NOT_MATCHES_CUSTOMER_KEY");
    }
    let (bin, last4, exp) = (s("bin"), s("last4"), s("exp"));
    if !all_digits(bin, 6) || !all_digits(last4, 4) {
        return Err("INVALID_CARD_NUMBER");
    }
    if !all_digits(exp, 4) {
        return Err("INVALID_CARD_EXPIRATION");
    }
    let month: u8 = exp[..2].parse().unwrap_or(0);
    let year: i32 = 2000 + exp[2..].parse::<i32>().unwrap_or(0);
    if !(1..=12).contains(&month) || (year, month) < today {
        return Err("INVALID_CARD_EXPIRATION");
    }
    match last4 {
        "4001" => return Err("INVALID_STOPPED_CARD"),
        "4002" => return Err("REJECT_CARD_COMPANY"),
        "4003" => return Err("INVALID_CARD_NUMBER"),
        "4004" => return Err("EXCEED_MAX_AUTH_COUNT"),
        "4005" => return Err("NOT_SUPPORTED_METHOD"),
        _ => {}
    }
    let (issuer_code, company) = company_for_bin(bin);
    Ok(Card {
        issuer_code: issuer_code.into(),
        company: company.into(),
        number: format!("{bin}******{}*", &last4[..3]),
        card_type: if last4.starts_with('7') {
            "체크"
        } else {
            "신용"
        }
        .into(),
        owner_type: if s("owner") == "CORPORATE" {
            "법인"
        } else {
            "개인"
        }
        .into(),
        reject_payments: last4 == "5001",
        whole_cancel_only: last4 == "5002",
    })
}

/// Builds a sandbox authKey as the sandbox SDK does (for tests and tools).
pub fn sandbox_auth_key(
    customer_key: &str,
    bin: &str,
    last4: &str,
    exp: &str,
    owner: &str,
) -> String {
    let payload = json!({
        "ck": customer_key,
        "bin": bin,
        "last4": last4,
        "exp": exp,
        "owner": owner,
        "nonce": crate::ids::hex(&crate::ids::random_bytes::<8>()),
    });
    format!("sbx.{}", URL_SAFE_NO_PAD.encode(payload.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_cards() {
        let today = (2026, 12);
        let key = sandbox_auth_key("ck-1", "451842", "1234", "1230", "PERSONAL");
        let payload = key.strip_prefix("sbx.").unwrap();
        let card = sandbox_card(payload, "ck-1", today).unwrap();
        assert_eq!(card.company, "신한");
        assert_eq!(card.number, "451842******123*");
        assert_eq!(
            sandbox_card(payload, "other", today),
            Err("NOT_MATCHES_CUSTOMER_KEY")
        );
        let old = sandbox_auth_key("ck-1", "451842", "1234", "0120", "PERSONAL");
        assert_eq!(
            sandbox_card(old.strip_prefix("sbx.").unwrap(), "ck-1", today),
            Err("INVALID_CARD_EXPIRATION")
        );
        let stop = sandbox_auth_key("ck-1", "451842", "4001", "1230", "PERSONAL");
        assert_eq!(
            sandbox_card(stop.strip_prefix("sbx.").unwrap(), "ck-1", today),
            Err("INVALID_STOPPED_CARD")
        );
        let reject = sandbox_auth_key("ck-1", "451842", "5001", "1230", "CORPORATE");
        let card = sandbox_card(reject.strip_prefix("sbx.").unwrap(), "ck-1", today).unwrap();
        assert!(card.reject_payments);
        assert_eq!(card.owner_type, "법인");
        let whole = sandbox_auth_key("ck-1", "451842", "5002", "1230", "PERSONAL");
        let card = sandbox_card(whole.strip_prefix("sbx.").unwrap(), "ck-1", today).unwrap();
        assert!(card.whole_cancel_only && !card.reject_payments);
        let stored_before_refunds: Card = serde_json::from_str(
            r#"{"issuerCode": "61", "company": "현대", "number": "433012******123*", "cardType": "신용", "ownerType": "개인", "rejectPayments": false}"#,
        )
        .unwrap();
        assert!(!stored_before_refunds.whole_cancel_only);
    }
}
