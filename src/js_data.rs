//! Reading plain JS data (parsed JSON, configuration objects) into our types, and writing our
//! types as plain JS objects, by hand.
//!
//! Why not serde-wasm-bindgen: its generic deserializer and serializer and serde's error messages
//! (which format floats) cost tens of KB of wasm on a page that must load fast; these few readers
//! and writers cost a fraction of that. The shapes are the serde ones (`checkout::*` derives): the
//! native tests pin the field names, and a browser test compares every writer's JSON with
//! serde-wasm-bindgen's.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::checkout::config::RawConfig;
use crate::checkout::copy::Locale;
use crate::checkout::handoff::{
    CardSummary, DeclineClass, ErrorBody, HandoffRecord, HandoffStatus, SubscriptionOutcome,
};
use crate::checkout::keys::CustomerKey;
use crate::checkout::plan::{PlanCycle, PlanSummary};
use crate::checkout::portal::{
    status_named, CancelOption, Charge, Field, PendingChange, PlanInfo, Subscription,
};
use crate::checkout::redirect::{AuthKey, PendingRegistration};
use crate::checkout::request::{CardOwnerType, WireRequest};
use crate::checkout::urls::WindowTarget;

/// "`name` what is wrong" (written without `format!`: its machinery is kilobytes of wasm).
fn problem(name: &str, what: &str) -> String {
    ["`", name, "` ", what].concat()
}

/// The fields of a plain JS object.
pub struct Fields(JsValue);

impl Fields {
    /// `Some` for a plain object (not null, not an array).
    pub fn of(value: JsValue) -> Option<Self> {
        (value.is_object() && !Array::is_array(&value)).then_some(Self(value))
    }

    /// Parses JSON text with the browser's parser.
    pub fn parse(text: &str) -> Option<Self> {
        Self::of(js_sys::JSON::parse(text).ok()?)
    }

    /// The object's own keys.
    pub fn keys(&self) -> Vec<String> {
        Object::keys(self.0.unchecked_ref::<Object>())
            .iter()
            .filter_map(|k| k.as_string())
            .collect()
    }

    fn get(&self, name: &str) -> Option<JsValue> {
        let value = Reflect::get(&self.0, &JsValue::from_str(name)).ok()?;
        (!value.is_undefined() && !value.is_null()).then_some(value)
    }

    /// An optional string field; any other type is an error naming the field.
    pub fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_string()
                .map(Some)
                .ok_or_else(|| problem(name, "must be a string")),
        }
    }

    /// An optional whole number from 0 to 2³²−1.
    pub fn whole_number(&self, name: &str) -> Result<Option<u32>, String> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => {
                Ok(Some(n as u32))
            }
            _ => Err(problem(name, "must be a whole number")),
        }
    }

    /// Refuses any key not in `known`, by name (as serde's `deny_unknown_fields` does).
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self
            .keys()
            .into_iter()
            .find(|key| !known.contains(&key.as_str()))
        {
            Some(unknown) => Err(["unknown field `", &unknown, "`"].concat()),
            None => Ok(()),
        }
    }

    /// An optional flag: `true` only when the field is `true`.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).and_then(|v| v.as_bool()).unwrap_or(false)
    }

    /// An optional nested object.
    pub fn object(&self, name: &str) -> Result<Option<Fields>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => Fields::of(value)
                .map(Some)
                .ok_or_else(|| problem(name, "must be an object")),
        }
    }

    /// An optional `{ "name": "value", … }` of strings, as pairs in the object's key order.
    pub fn string_pairs(&self, name: &str) -> Result<Option<Vec<(String, String)>>, String> {
        let Some(map) = self.object(name)? else {
            return Ok(None);
        };
        let mut out = vec![];
        for key in map.keys() {
            let value = map
                .string(&key)
                .ok()
                .flatten()
                .ok_or_else(|| problem(&[name, ".", &key].concat(), "must be a string"))?;
            out.push((key, value));
        }
        Ok(Some(out))
    }

    /// An optional array of objects (anything else in it is left out).
    pub fn objects(&self, name: &str) -> Vec<Fields> {
        match self.get(name) {
            Some(value) if Array::is_array(&value) => value
                .unchecked_into::<Array>()
                .iter()
                .filter_map(Fields::of)
                .collect(),
            _ => vec![],
        }
    }

    /// An optional array of strings.
    pub fn string_list(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        if !Array::is_array(&value) {
            return Err(problem(name, "must be a list"));
        }
        let items: Array = value.unchecked_into();
        items
            .iter()
            .map(|item| {
                item.as_string()
                    .ok_or_else(|| problem(name, "must list strings"))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

/// The page's configuration object, as `RawConfig` (unknown fields refused by name).
pub fn raw_config(value: JsValue) -> Result<RawConfig, String> {
    let f = Fields::of(value).ok_or("the configuration must be a JSON object")?;
    f.only(&RawConfig::FIELDS)?;
    let window_target = match f.string("windowTarget")?.as_deref() {
        None => None,
        Some("iframe") => Some(WindowTarget::Iframe),
        Some("self") => Some(WindowTarget::SelfWindow),
        Some(_) => return Err("`windowTarget` must be \"iframe\" or \"self\"".to_owned()),
    };
    let card_types = f
        .string_list("selectableCardTypes")?
        .map(|types| {
            types
                .iter()
                .map(|t| match t.as_str() {
                    "PERSONAL" => Ok(CardOwnerType::Personal),
                    "CORPORATE" => Ok(CardOwnerType::Corporate),
                    _ => Err(
                        "`selectableCardTypes` may list only \"PERSONAL\" and \"CORPORATE\""
                            .to_owned(),
                    ),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    // Field by field into one value, in loops: one error path for all the fields of a kind,
    // where a struct literal of `?`s has one per field, each dropping the fields before it.
    let mut raw = RawConfig {
        window_target,
        selectable_card_types: card_types,
        ..RawConfig::default()
    };
    for (slot, name) in [
        (&mut raw.client_key, "clientKey"),
        (&mut raw.customer_key, "customerKey"),
        (&mut raw.customer_key_url, "customerKeyUrl"),
        (&mut raw.plan_id, "planId"),
        (&mut raw.backend_url, "backendUrl"),
        (&mut raw.register_path, "registerPath"),
        (&mut raw.success_path, "successPath"),
        (&mut raw.fail_path, "failPath"),
        (&mut raw.customer_name, "customerName"),
        (&mut raw.customer_email, "customerEmail"),
        (&mut raw.locale, "locale"),
        (&mut raw.sdk_url, "sdkUrl"),
        (&mut raw.sdk_nonce, "sdkNonce"),
        (&mut raw.credentials, "credentials"),
        (&mut raw.continue_url, "continueUrl"),
        (&mut raw.continue_label, "continueLabel"),
        (&mut raw.subscription_url, "subscriptionUrl"),
        (&mut raw.plans_url, "plansUrl"),
        (&mut raw.card_url, "cardUrl"),
    ] {
        *slot = f.string(name)?;
    }
    for (slot, name) in [
        (&mut raw.sdk_timeout_ms, "sdkTimeoutMs"),
        (&mut raw.backend_timeout_ms, "backendTimeoutMs"),
        (&mut raw.backend_max_attempts, "backendMaxAttempts"),
        (&mut raw.confirm_timeout_ms, "confirmTimeoutMs"),
    ] {
        *slot = f.whole_number(name)?;
    }
    for (slot, name) in [
        (&mut raw.callback_query, "callbackQuery"),
        (&mut raw.backend_headers, "backendHeaders"),
    ] {
        *slot = f.string_pairs(name)?;
    }
    if let Some(plan) = f.object("plan")? {
        raw.plan = Some(plan_summary(&plan).ok_or(PLAN_SHAPE)?);
    }
    Ok(raw)
}

/// What `plan` must look like (one message for any shape problem: the README has the details).
const PLAN_SHAPE: &str =
    "`plan` must be {\"name\", \"amount\", \"cycle\": \"monthly\" | \"yearly\" | \
                          {\"everyDays\": n}, \"firstChargeDate\"?, \"cancelNote\"?}";

/// `{name, amount, cycle: "monthly" | "yearly" | {"everyDays": n}, firstChargeDate?, cancelNote?}`,
/// the shape the contract's serde reads (unknown fields refused); `amount` at most 2³²−1 here.
fn plan_summary(f: &Fields) -> Option<PlanSummary> {
    f.only(&["name", "amount", "cycle", "firstChargeDate", "cancelNote"])
        .ok()?;
    plan_fields(f)
}

/// The plan summary's fields of a checkout session's `terms` (which has more: `planId`,
/// `trialDays`, `termsVersion`, `expiresAt`).
pub fn plan_fields(f: &Fields) -> Option<PlanSummary> {
    let cycle = match f.string("cycle") {
        Ok(Some(cycle)) if cycle == "monthly" => PlanCycle::Monthly,
        Ok(Some(cycle)) if cycle == "yearly" => PlanCycle::Yearly,
        _ => {
            let cycle = f.object("cycle").ok()??;
            cycle.only(&["everyDays"]).ok()?;
            PlanCycle::EveryDays(cycle.whole_number("everyDays").ok()??)
        }
    };
    Some(PlanSummary {
        name: f.string("name").ok()??,
        amount: u64::from(f.whole_number("amount").ok()??),
        cycle,
        first_charge_date: f.string("firstChargeDate").ok()?,
        cancel_note: f.string("cancelNote").ok()?,
    })
}

/// `{company?, number?, cardType?, ownerType?}`. Every field is for display only: one that is
/// missing or not a string is left out rather than losing the card (the backend stored it).
pub fn card_summary(f: &Fields) -> CardSummary {
    let text = |name| f.string(name).ok().flatten();
    CardSummary {
        company: text("company"),
        number: text("number"),
        card_type: text("cardType"),
        owner_type: text("ownerType"),
    }
}

/// `{code, message?, retryAfterMs?}`. Strict about `code` and `message` (a final refusal is read
/// only from the documented body); a `retryAfterMs` that is no whole number is ignored.
pub fn error_body(f: &Fields) -> Option<ErrorBody> {
    Some(ErrorBody {
        code: f.string("code").ok()??,
        message: f.string("message").ok()?.unwrap_or_default(),
        retry_after_ms: f.whole_number("retryAfterMs").ok().flatten(),
    })
}

fn customer_key(f: &Fields) -> Option<CustomerKey> {
    CustomerKey::parse(&f.string("customerKey").ok()??).ok()
}

/// The hand-off answer's `subscription` (`SubscriptionOutcome`, tagged by `status`); `None` when
/// it is not of the documented shape (the page then says only "registered").
pub fn subscription_outcome(f: &Fields) -> Option<SubscriptionOutcome> {
    let text = |name: &str| f.string(name).ok().flatten();
    let amount = || f.whole_number("amount").ok().flatten().map(u64::from);
    let outcome = match text("status")?.as_str() {
        "active" => SubscriptionOutcome::Active {
            plan_name: text("planName")?,
            amount: amount()?,
            paid_at: text("paidAt")?,
            receipt_url: text("receiptUrl"),
            next_charge_date: text("nextChargeDate")?,
        },
        "trialing" => SubscriptionOutcome::Trialing {
            plan_name: text("planName")?,
            amount: amount()?,
            first_charge_date: text("firstChargeDate")?,
        },
        "incomplete" => SubscriptionOutcome::Incomplete {
            plan_name: text("planName")?,
            amount: amount()?,
            code: text("code")?,
            decline: match text("decline")?.as_str() {
                "soft" => DeclineClass::Soft,
                "hard" => DeclineClass::Hard,
                _ => return None,
            },
            retry_until: text("retryUntil")?,
        },
        "cardChanged" => SubscriptionOutcome::CardChanged {
            plan_name: text("planName")?,
            subscription_status: text("subscriptionStatus")?,
        },
        "notStarted" => SubscriptionOutcome::NotStarted {
            code: text("code")?,
        },
        _ => return None,
    };
    outcome.plausible()
}

/// A `SubscriptionOutcome` as a JS object, as serde writes it (stored with the hand-off, and the
/// `registered` event's `detail.subscription`).
pub fn subscription_outcome_js(outcome: &SubscriptionOutcome) -> JsValue {
    // Amounts as JS numbers: `JsValue::from(u64)` would be a BigInt, which JSON cannot write.
    let won = |amount: &u64| *amount as f64;
    let writer = ObjectWriter::default();
    match outcome {
        SubscriptionOutcome::Active {
            plan_name,
            amount,
            paid_at,
            receipt_url,
            next_charge_date,
        } => writer
            .set("status", "active")
            .set("planName", plan_name.as_str())
            .set("amount", won(amount))
            .set("paidAt", paid_at.as_str())
            .set_some("receiptUrl", receipt_url.as_deref())
            .set("nextChargeDate", next_charge_date.as_str()),
        SubscriptionOutcome::Trialing {
            plan_name,
            amount,
            first_charge_date,
        } => writer
            .set("status", "trialing")
            .set("planName", plan_name.as_str())
            .set("amount", won(amount))
            .set("firstChargeDate", first_charge_date.as_str()),
        SubscriptionOutcome::Incomplete {
            plan_name,
            amount,
            code,
            decline,
            retry_until,
        } => writer
            .set("status", "incomplete")
            .set("planName", plan_name.as_str())
            .set("amount", won(amount))
            .set("code", code.as_str())
            .set(
                "decline",
                match decline {
                    DeclineClass::Soft => "soft",
                    DeclineClass::Hard => "hard",
                },
            )
            .set("retryUntil", retry_until.as_str()),
        SubscriptionOutcome::CardChanged {
            plan_name,
            subscription_status,
        } => writer
            .set("status", "cardChanged")
            .set("planName", plan_name.as_str())
            .set("subscriptionStatus", subscription_status.as_str()),
        SubscriptionOutcome::NotStarted { code } => writer
            .set("status", "notStarted")
            .set("code", code.as_str()),
    }
    .into_js()
}

/// A stored `PendingRegistration`.
pub fn pending_registration(f: &Fields) -> Option<PendingRegistration> {
    Some(PendingRegistration {
        customer_key: customer_key(f)?,
        state: f.string("state").ok()??,
        checkout_session: f.string("checkoutSession").ok()?,
    })
}

/// A stored `HandoffRecord` (the status tag flattened into it, as serde writes it).
pub fn handoff_record(f: &Fields) -> Option<HandoffRecord> {
    let status = match f.string("status").ok()??.as_str() {
        "sending" => HandoffStatus::Sending,
        "registered" => HandoffStatus::Registered {
            card: card_summary(&f.object("card").ok()??),
            subscription: f
                .object("subscription")
                .ok()
                .flatten()
                .and_then(|s| subscription_outcome(&s)),
        },
        "refused" => HandoffStatus::Refused {
            error: error_body(&f.object("error").ok()??)?,
        },
        "unconfirmed" => HandoffStatus::Unconfirmed {
            error: error_body(&f.object("error").ok()??)?,
            still_confirming: f.flag("stillConfirming"),
        },
        _ => return None,
    };
    let auth_key = match f.string("authKey").ok()? {
        Some(raw) => Some(AuthKey::parse(&raw).ok()?),
        None => None,
    };
    Some(HandoffRecord {
        state: f.string("state").ok()??,
        customer_key: customer_key(f)?,
        auth_key,
        idempotency_key: f.string("idempotencyKey").ok()??,
        checkout_session: f.string("checkoutSession").ok()?,
        status,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// A plain JS object under construction; fields appear in the order they are set (as serde
/// writes a struct's).
pub struct ObjectWriter(Object);

impl Default for ObjectWriter {
    fn default() -> Self {
        Self(Object::new())
    }
}

impl ObjectWriter {
    /// Sets `name` to `value`.
    pub fn set(self, name: &str, value: impl Into<JsValue>) -> Self {
        let _ = Reflect::set(&self.0, &JsValue::from_str(name), &value.into());
        self
    }

    /// Sets `name` only when there is a value: absent optionals are left out, never `null`.
    pub fn set_some(self, name: &str, value: Option<impl Into<JsValue>>) -> Self {
        match value {
            Some(value) => self.set(name, value),
            None => self,
        }
    }

    /// The object.
    pub fn into_js(self) -> JsValue {
        self.0.into()
    }

    /// The object as JSON text (the browser's `JSON.stringify`).
    pub fn into_json(self) -> Option<String> {
        js_sys::JSON::stringify(&self.0).ok().map(String::from)
    }
}

/// The `requestBillingAuth` parameters.
pub fn wire_request(w: &WireRequest<'_>) -> JsValue {
    let card_types = w.selectable_card_types.map(|types| {
        types
            .iter()
            .map(|t| JsValue::from_str(t.as_str()))
            .collect::<Array>()
    });
    ObjectWriter::default()
        .set("method", w.method)
        .set("successUrl", w.success_url)
        .set("failUrl", w.fail_url)
        .set_some("customerName", w.customer_name)
        .set_some("customerEmail", w.customer_email)
        .set_some("windowTarget", w.window_target.map(WindowTarget::as_str))
        .set_some("selectableCardTypes", card_types)
        .set_some("flowMode", w.flow_mode)
        .set_some("easyPay", w.easy_pay.map(|e| e.as_str()))
        .set_some("cardCompany", w.card_company)
        .into_js()
}

/// A `PendingRegistration`, as stored.
pub fn pending_registration_json(p: &PendingRegistration) -> Option<String> {
    ObjectWriter::default()
        .set("customerKey", p.customer_key.as_str())
        .set("state", p.state.as_str())
        .set_some("checkoutSession", p.checkout_session.as_deref())
        .into_json()
}

/// `{company?, number?, cardType?, ownerType?}` as a JS object (the `registered` event's detail).
pub fn card_summary_js(card: &CardSummary) -> JsValue {
    ObjectWriter::default()
        .set_some("company", card.company.as_deref())
        .set_some("number", card.number.as_deref())
        .set_some("cardType", card.card_type.as_deref())
        .set_some("ownerType", card.owner_type.as_deref())
        .into_js()
}

/// `{code}` as a JS object (the detail of the `failed`, `cancelled` and `unconfirmed` events).
pub fn code_js(code: &str) -> JsValue {
    ObjectWriter::default().set("code", code).into_js()
}

fn error_body_js(error: &ErrorBody) -> JsValue {
    ObjectWriter::default()
        .set("code", error.code.as_str())
        .set("message", error.message.as_str())
        .set_some("retryAfterMs", error.retry_after_ms)
        .into_js()
}

/// A `HandoffRecord`, as stored (the status tag flattened into it, as serde writes it).
pub fn handoff_record_json(r: &HandoffRecord) -> Option<String> {
    let record = ObjectWriter::default()
        .set("state", r.state.as_str())
        .set("customerKey", r.customer_key.as_str())
        .set_some("authKey", r.auth_key.as_ref().map(AuthKey::expose))
        .set("idempotencyKey", r.idempotency_key.as_str())
        .set_some("checkoutSession", r.checkout_session.as_deref());
    match &r.status {
        HandoffStatus::Sending => record.set("status", "sending"),
        HandoffStatus::Registered { card, subscription } => record
            .set("status", "registered")
            .set("card", card_summary_js(card))
            .set_some(
                "subscription",
                subscription.as_ref().map(subscription_outcome_js),
            ),
        HandoffStatus::Refused { error } => record
            .set("status", "refused")
            .set("error", error_body_js(error)),
        HandoffStatus::Unconfirmed {
            error,
            still_confirming,
        } => record
            .set("status", "unconfirmed")
            .set("error", error_body_js(error))
            .set_some("stillConfirming", still_confirming.then_some(true)),
    }
    .into_json()
}

/// The hand-off body: `{"authKey": …, "customerKey": …, "checkoutSession"?: …}`
/// (docs/handoff-contract.md).
pub fn issue_request_json(
    auth_key: &AuthKey,
    customer_key: &CustomerKey,
    checkout_session: Option<&str>,
) -> Option<String> {
    ObjectWriter::default()
        .set("authKey", auth_key.expose())
        .set("customerKey", customer_key.as_str())
        .set_some("checkoutSession", checkout_session)
        .into_json()
}

// --- the subscription portal's answers (docs/portal-contract.md) --------------------------------

fn text_of(f: &Fields, name: &str) -> Option<String> {
    f.string(name).ok().flatten()
}

fn won_of(f: &Fields, name: &str) -> u64 {
    f.whole_number(name).ok().flatten().map_or(0, u64::from)
}

fn cycle_of(f: &Fields) -> Option<PlanCycle> {
    match f.string("cycle") {
        Ok(Some(cycle)) if cycle == "monthly" => Some(PlanCycle::Monthly),
        Ok(Some(cycle)) if cycle == "yearly" => Some(PlanCycle::Yearly),
        _ => Some(PlanCycle::EveryDays(
            f.object("cycle").ok()??.whole_number("everyDays").ok()??,
        )),
    }
}

/// A plan (`{id, name, amount, cycle}`).
pub fn plan_info(f: &Fields) -> Option<PlanInfo> {
    Some(PlanInfo {
        id: text_of(f, "id")?,
        name: text_of(f, "name")?,
        amount: u64::from(f.whole_number("amount").ok()??),
        cycle: cycle_of(f)?,
    })
}

/// `GET {subscriptionUrl}`; `None` when its shape is not the documented one. The change's texts
/// are read in `locale` when the server translated them (`translations.<tag>`), else as given.
pub fn subscription(f: &Fields, locale: Locale) -> Option<Subscription> {
    let change = f.object("pendingChange").ok().flatten().and_then(|c| {
        let translated = c
            .object("translations")
            .ok()
            .flatten()
            .and_then(|t| t.object(locale.tag()).ok().flatten());
        let words = |name| {
            translated
                .as_ref()
                .and_then(|t| text_of(t, name))
                .or_else(|| text_of(&c, name))
                .unwrap_or_default()
        };
        Some(PendingChange {
            id: c.whole_number("changeId").ok()??,
            kind: text_of(&c, "kind")?,
            status: text_of(&c, "status")?,
            effective_date: text_of(&c, "effectiveDate")?,
            price_before: won_of(&c, "priceBefore"),
            price_after: won_of(&c, "priceAfter"),
            to_plan: text_of(&c, "toPlan").unwrap_or_default(),
            payment_method: c
                .object("paymentMethod")
                .ok()
                .flatten()
                .map(|m| card_summary(&m))
                .unwrap_or_default(),
            needs_consent: c.flag("needsConsent"),
            consent_opens_at: text_of(&c, "consentOpensAt"),
            answerable: c.flag("answerable"),
            how_to_cancel: words("howToCancel"),
            if_declined: words("ifDeclined"),
        })
    });
    let next_charge = f
        .object("nextCharge")
        .ok()
        .flatten()
        .and_then(|n| Some((text_of(&n, "at")?, won_of(&n, "amount"))));
    Some(Subscription {
        status: status_named(&text_of(f, "status")?),
        customer_key: text_of(f, "customerKey")?,
        plan: f.object("plan").ok().flatten().and_then(|p| plan_info(&p)),
        amount: won_of(f, "amount"),
        period_end: text_of(f, "currentPeriodEnd").unwrap_or_default(),
        next_charge,
        ends_at: text_of(f, "endsAt"),
        trial_ends_at: text_of(f, "trialEndsAt"),
        cancel_at_period_end: f.flag("cancelAtPeriodEnd"),
        card: f.object("card").ok().flatten().map(|c| card_summary(&c)),
        pending_change: change,
    })
}

/// `GET {subscriptionUrl}/charges`: the charges, newest first.
pub fn charges(f: &Fields) -> Vec<Charge> {
    f.objects("charges")
        .iter()
        .filter_map(|c| {
            Some(Charge {
                order_name: text_of(c, "orderName").unwrap_or_default(),
                amount: won_of(c, "amount"),
                status: text_of(c, "status")?,
                at: text_of(c, "approvedAt").or_else(|| text_of(c, "createdAt"))?,
                receipt_url: text_of(c, "receiptUrl")
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
                refunded: won_of(c, "refundedAmount"),
            })
        })
        .collect()
}

/// `GET {plansUrl}`: the plans.
pub fn plans(f: &Fields) -> Vec<PlanInfo> {
    f.objects("plans").iter().filter_map(plan_info).collect()
}

/// `GET {subscriptionUrl}/cancel/preview`: the available options.
pub fn cancel_preview(f: &Fields) -> Vec<CancelOption> {
    let Some(options) = f.object("options").ok().flatten() else {
        return vec![];
    };
    [
        ("periodEnd", "period_end"),
        ("now", "now"),
        ("withdraw", "withdraw"),
    ]
    .into_iter()
    .filter_map(|(name, when)| {
        let o = options.object(name).ok()??;
        o.flag("available").then(|| CancelOption {
            when,
            refund: won_of(&o, "refund"),
            ends_at: text_of(&o, "endsAt"),
            until: text_of(&o, "until"),
        })
    })
    .collect()
}

/// `GET {subscriptionUrl}/switch?plan=`: `(chargeNow, effectiveAt)`.
pub fn switch_preview(f: &Fields) -> Option<(u64, String)> {
    let preview = f.object("preview").ok()??;
    Some((
        won_of(&preview, "chargeNow"),
        text_of(&preview, "effectiveAt")?,
    ))
}

/// An action's JSON body from its fields (the browser writes it).
pub fn action_body(fields: &[(&str, Field)]) -> Option<String> {
    let mut writer = ObjectWriter::default();
    for (name, value) in fields {
        writer = match value {
            Field::Text(text) => writer.set(name, *text),
            Field::Owned(text) => writer.set(name, text.as_str()),
            Field::Number(n) => writer.set(name, *n as f64),
        };
    }
    writer.into_json()
}
