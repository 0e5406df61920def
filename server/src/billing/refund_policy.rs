//! The customer's cancellation rights as pure rules (toss-billing-contract.md §11): which ways
//! to end a subscription exist right now, and exactly what each refunds. No I/O, no clock of its
//! own: the shell (`crate::subscription::actions`) loads a [`Situation`], asks [`options`] (the
//! preview) or [`decide`] (the action), and writes the refunds in the transaction that ends the
//! subscription.
//!
//! - **일반해지** ([`Choice::PeriodEnd`]): ends at the period's end, refunds nothing, undoable
//!   until then.
//! - **중도해지** ([`Choice::Now`]): ends now; each charge of the current period refunds its
//!   unused days pro rata ([`proration::split_at`]: KST days, the day of cancelling counts as
//!   used, the used part rounded down to the won — in the customer's favour — so that
//!   `paid = used + refunded` exactly), never more than is left of the charge
//!   (FSC rule for card-billed subscriptions, 2021: refunds in proportion to the days used).
//! - **청약철회** ([`Choice::Withdraw`]): within `withdrawal_days` of the period's charge (its KST
//!   day is day 1; day `withdrawal_days + 1` is too late), every charge of the period is refunded
//!   whole and the subscription ends (전자상거래법 §17–18) — unless the merchant marked the
//!   period as used (§17⑥: supply has started, which the customer was told beforehand), when
//!   the 중도해지 amount applies instead. Too late, it is refused and 중도해지 is offered.
//!
//! The charges a period consists of: its approved `PERIOD` charge, which covers the whole period
//! `[start, end)`, and the approved `PRORATION` charges of upgrades in it, each covering the days
//! from its own KST day (the day of the switch is on the new plan) to the period's end. A charge
//! whose outcome is not known yet blocks both refunding choices until it is settled.

use crate::billing::lifecycle::Status;
use crate::billing::proration::{self, kst_date};
use crate::clock::{to_ms, Millis};
use crate::store::charges::{ChargePurpose, ChargeStatus};

/// KRW.
pub type Won = i64;

/// What 중도해지 refunds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidTermRefund {
    /// The unused days of the period, pro rata (the default: the FSC rule).
    ProRata,
    /// Nothing (ends now with no refund; only where the law allows it).
    Nothing,
}

/// The merchant's cancellation policy (settings `WITHDRAWAL_DAYS`, `MID_TERM_REFUND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Days from a period's charge (its KST day is day 1) during which 청약철회 refunds the whole
    /// period; 0: not offered.
    pub withdrawal_days: u32,
    /// What 중도해지 refunds.
    pub mid_term: MidTermRefund,
}

impl Default for Policy {
    /// 7 days (전자상거래법 §17①), pro rata (the FSC rule).
    fn default() -> Policy {
        Policy {
            withdrawal_days: 7,
            mid_term: MidTermRefund::ProRata,
        }
    }
}

/// One charge of the current period, as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodCharge {
    /// Its orderId.
    pub order_id: String,
    /// The period's charge, or an upgrade's proration.
    pub purpose: ChargePurpose,
    /// Where it stands.
    pub status: ChargeStatus,
    /// KRW charged.
    pub amount: Won,
    /// KRW refunded already (refunds that did not fail, of any kind).
    pub refunded: Won,
    /// When it was charged.
    pub charged_at: Millis,
}

/// A subscription as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Situation {
    /// Its status.
    pub status: Status,
    /// The current period `[start, end)`.
    pub period: (Millis, Millis),
    /// The merchant marked the current period as used.
    pub period_used: bool,
    /// The current period's charges (any status).
    pub charges: Vec<PeriodCharge>,
}

/// A way to end the subscription.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// 일반해지.
    PeriodEnd,
    /// 중도해지.
    Now,
    /// 청약철회.
    Withdraw,
}

/// One refund a choice makes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// The charge.
    pub order_id: String,
    /// KRW, > 0.
    #[schema(value_type = i64)]
    pub amount: Won,
}

/// Why a choice is not available now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The subscription has ended.
    Ended,
    /// A charge of the period is still being confirmed with Toss.
    ChargeInProgress,
    /// 청약철회: nothing was charged for this period (a trial, an unpaid period).
    NothingCharged,
    /// 청약철회: the window closed at this moment (the start of day `withdrawal_days + 1`).
    WindowOver {
        /// When it closed.
        closed_at: Millis,
    },
    /// 청약철회 is not offered (`WITHDRAWAL_DAYS=0`).
    NotOffered,
}

impl Refusal {
    /// The API's code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Ended => "SUBSCRIPTION_ENDED",
            Refusal::ChargeInProgress => "CHARGE_IN_PROGRESS",
            Refusal::NothingCharged => "NOTHING_TO_WITHDRAW",
            Refusal::WindowOver { .. } => "WITHDRAWAL_PERIOD_OVER",
            Refusal::NotOffered => "WITHDRAWAL_NOT_OFFERED",
        }
    }
}

/// What one choice does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The refunds, one per charge with something to refund.
    pub refunds: Vec<Refund>,
    /// Their sum.
    pub total: Won,
    /// The amounts hold until this moment (the next KST midnight for pro-rata amounts, the
    /// window's end for a whole withdrawal, the period's end for 일반해지).
    pub holds_until: Millis,
    /// 청약철회 of a period marked as used: the 중도해지 amount.
    pub as_mid_term: bool,
}

/// Every choice at one moment: the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// 일반해지.
    pub period_end: Result<Offer, Refusal>,
    /// 중도해지.
    pub now: Result<Offer, Refusal>,
    /// 청약철회.
    pub withdraw: Result<Offer, Refusal>,
    /// Days of the period used by the end of today (KST), and the period's days.
    pub days: (i64, i64),
    /// When the withdrawal window closes (or closed), if the period has a charge.
    pub withdrawal_closes_at: Option<Millis>,
}

/// The start of the KST day after the one `at` falls on.
pub fn next_kst_midnight(at: Millis) -> Millis {
    let date = kst_date(at).next_day().unwrap_or(kst_date(at));
    to_ms(date.midnight().assume_offset(time::macros::offset!(+9)))
}

/// The start of the KST day `days` days after the one `at` falls on.
fn kst_midnight_after(at: Millis, days: u32) -> Millis {
    let date = kst_date(at) + time::Duration::days(i64::from(days));
    to_ms(date.midnight().assume_offset(time::macros::offset!(+9)))
}

/// What is left of a charge to refund.
fn left(charge: &PeriodCharge) -> Won {
    (charge.amount - charge.refunded).max(0)
}

fn offer(refunds: Vec<Refund>, holds_until: Millis, as_mid_term: bool) -> Offer {
    let refunds: Vec<Refund> = refunds.into_iter().filter(|r| r.amount > 0).collect();
    Offer {
        total: refunds.iter().map(|r| r.amount).sum(),
        refunds,
        holds_until,
        as_mid_term,
    }
}

fn paid(s: &Situation) -> impl Iterator<Item = &PeriodCharge> {
    s.charges.iter().filter(|c| c.status == ChargeStatus::Done)
}

/// 중도해지's refunds: each approved charge's unused days, pro rata.
fn mid_term(s: &Situation, policy: &Policy, now: Millis) -> Offer {
    let refunds = paid(s)
        .map(|c| Refund {
            order_id: c.order_id.clone(),
            amount: match policy.mid_term {
                MidTermRefund::ProRata => pro_rata(c, s.period.0, s.period.1, now).min(left(c)),
                MidTermRefund::Nothing => 0,
            },
        })
        .collect();
    offer(refunds, next_kst_midnight(now).min(s.period.1), false)
}

/// The unused share of a charge: a period charge covers the period, a proration the days from its
/// own day to the period's end.
fn pro_rata(c: &PeriodCharge, start: Millis, end: Millis, now: Millis) -> Won {
    let from = match c.purpose {
        ChargePurpose::Period => start,
        ChargePurpose::Proration => c.charged_at.max(start),
    };
    proration::split_at(c.amount, from, end, now).1
}

/// Every choice at `now` (the preview).
pub fn options(s: &Situation, policy: &Policy, now: Millis) -> Options {
    let days = (
        proration::days_used(s.period.0, s.period.1, now),
        proration::period_days(s.period.0, s.period.1),
    );
    let period_charge = paid(s).find(|c| c.purpose == ChargePurpose::Period);
    let withdrawal_closes_at = period_charge
        .filter(|_| policy.withdrawal_days > 0)
        .map(|c| kst_midnight_after(c.charged_at, policy.withdrawal_days));
    if !s.status.is_live() {
        return Options {
            period_end: Err(Refusal::Ended),
            now: Err(Refusal::Ended),
            withdraw: Err(Refusal::Ended),
            days,
            withdrawal_closes_at,
        };
    }
    let period_end = Ok(offer(vec![], s.period.1, false));
    let in_progress = s.charges.iter().any(|c| !c.status.is_final());
    if in_progress {
        return Options {
            period_end,
            now: Err(Refusal::ChargeInProgress),
            withdraw: Err(Refusal::ChargeInProgress),
            days,
            withdrawal_closes_at,
        };
    }
    let mid = mid_term(s, policy, now);
    let withdraw = if policy.withdrawal_days == 0 {
        Err(Refusal::NotOffered)
    } else {
        match withdrawal_closes_at {
            None => Err(Refusal::NothingCharged),
            Some(closed_at) if now >= closed_at => Err(Refusal::WindowOver { closed_at }),
            Some(closes_at) if s.period_used => Ok(Offer {
                holds_until: mid.holds_until.min(closes_at),
                as_mid_term: true,
                ..mid.clone()
            }),
            Some(closes_at) => {
                let refunds = paid(s)
                    .map(|c| Refund {
                        order_id: c.order_id.clone(),
                        amount: left(c),
                    })
                    .collect();
                Ok(offer(refunds, closes_at, false))
            }
        }
    };
    Options {
        period_end,
        now: Ok(mid),
        withdraw,
        days,
        withdrawal_closes_at,
    }
}

/// What `choice` does at `now`, or why it cannot be made.
pub fn decide(
    s: &Situation,
    policy: &Policy,
    choice: Choice,
    now: Millis,
) -> Result<Offer, Refusal> {
    let all = options(s, policy, now);
    match choice {
        Choice::PeriodEnd => all.period_end,
        Choice::Now => all.now,
        Choice::Withdraw => all.withdraw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const DAY: Millis = 86_400_000;

    fn jan() -> (Millis, Millis) {
        // January 2027: [Jan 1 09:00, Feb 1 09:00) KST, 31 days.
        (
            to_ms(datetime!(2027-01-01 09:00 +9)),
            to_ms(datetime!(2027-02-01 09:00 +9)),
        )
    }

    fn charge(purpose: ChargePurpose, amount: Won, at: Millis) -> PeriodCharge {
        PeriodCharge {
            order_id: format!("o-{amount}"),
            purpose,
            status: ChargeStatus::Done,
            amount,
            refunded: 0,
            charged_at: at,
        }
    }

    fn active(charges: Vec<PeriodCharge>) -> Situation {
        Situation {
            status: Status::Active,
            period: jan(),
            period_used: false,
            charges,
        }
    }

    fn on(day: u8, hour: u8) -> Millis {
        let date = time::Date::from_calendar_date(2027, time::Month::January, day).unwrap();
        to_ms(
            date.with_hms(hour, 0, 0)
                .unwrap()
                .assume_offset(time::macros::offset!(+9)),
        )
    }

    #[test]
    fn a_mid_term_cancellation_on_day_ten_refunds_6707_of_9900() {
        let s = active(vec![charge(ChargePurpose::Period, 9_900, jan().0)]);
        let offer = decide(&s, &Policy::default(), Choice::Now, on(10, 15)).unwrap();
        assert_eq!(offer.total, 6_707);
        assert_eq!(
            offer.refunds,
            vec![Refund {
                order_id: "o-9900".into(),
                amount: 6_707
            }]
        );
        assert_eq!(
            offer.holds_until,
            on(11, 0),
            "the amount holds until midnight (KST)"
        );
        assert_eq!(options(&s, &Policy::default(), on(10, 15)).days, (10, 31));
    }

    #[test]
    fn a_withdrawal_refunds_the_whole_charge_until_day_seven_and_is_refused_on_day_eight() {
        let s = active(vec![charge(ChargePurpose::Period, 9_900, jan().0)]);
        let policy = Policy::default();
        let day3 = decide(&s, &policy, Choice::Withdraw, on(3, 12)).unwrap();
        assert_eq!((day3.total, day3.as_mid_term), (9_900, false));
        assert_eq!(day3.holds_until, on(8, 0));
        assert_eq!(
            decide(&s, &policy, Choice::Withdraw, on(7, 23))
                .unwrap()
                .total,
            9_900,
            "the last minute of day 7"
        );
        assert_eq!(
            decide(&s, &policy, Choice::Withdraw, on(8, 0)),
            Err(Refusal::WindowOver {
                closed_at: on(8, 0)
            })
        );
        // Day 8: 9,900 × 8 / 31 = 2,554.8… → 2,554 used, 7,346 back: the 중도해지 offer.
        assert_eq!(
            decide(&s, &policy, Choice::Now, on(8, 10)).unwrap().total,
            7_346
        );
    }

    #[test]
    fn a_period_marked_used_withdraws_at_the_mid_term_amount() {
        let mut s = active(vec![charge(ChargePurpose::Period, 9_900, jan().0)]);
        s.period_used = true;
        let offer = decide(&s, &Policy::default(), Choice::Withdraw, on(3, 12)).unwrap();
        // 9,900 × 3 / 31 = 958.0… → 958 used, 8,942 back.
        assert_eq!((offer.total, offer.as_mid_term), (8_942, true));
    }

    #[test]
    fn an_upgrade_is_refunded_for_its_own_days() {
        // 9,900 on Jan 1; an upgrade on Jan 10 charged 3,548 for Jan 10..Jan 31 (22 days).
        let s = active(vec![
            charge(ChargePurpose::Period, 9_900, jan().0),
            charge(ChargePurpose::Proration, 3_548, on(10, 15)),
        ]);
        let offer = decide(&s, &Policy::default(), Choice::Now, on(20, 9)).unwrap();
        // Period: 9,900 × 20 / 31 = 6,387.0… used → 3,513 back. Proration: 11 of its 22 days
        // used (Jan 10..20): 3,548 × 11 / 22 = 1,774 used → 1,774 back.
        assert_eq!(
            offer.refunds,
            vec![
                Refund {
                    order_id: "o-9900".into(),
                    amount: 3_513
                },
                Refund {
                    order_id: "o-3548".into(),
                    amount: 1_774
                },
            ]
        );
        let whole = decide(&s, &Policy::default(), Choice::Withdraw, on(5, 9));
        assert_eq!(whole.unwrap().total, 9_900 + 3_548);
    }

    #[test]
    fn refunds_never_exceed_what_is_left() {
        let mut c = charge(ChargePurpose::Period, 9_900, jan().0);
        c.refunded = 9_000;
        let s = active(vec![c]);
        assert_eq!(
            decide(&s, &Policy::default(), Choice::Now, on(2, 9))
                .unwrap()
                .total,
            900
        );
        assert_eq!(
            decide(&s, &Policy::default(), Choice::Withdraw, on(2, 9))
                .unwrap()
                .total,
            900
        );
    }

    #[test]
    fn nothing_charged_nothing_withdrawn_and_a_charge_in_flight_blocks_refunds() {
        let mut trial = active(vec![]);
        trial.status = Status::Trialing;
        let policy = Policy::default();
        assert_eq!(
            decide(&trial, &policy, Choice::Withdraw, on(3, 9)),
            Err(Refusal::NothingCharged)
        );
        assert_eq!(
            decide(&trial, &policy, Choice::Now, on(3, 9))
                .unwrap()
                .total,
            0
        );
        let mut flying = charge(ChargePurpose::Period, 9_900, jan().0);
        flying.status = ChargeStatus::Unknown;
        let s = active(vec![flying]);
        assert_eq!(
            decide(&s, &policy, Choice::Now, on(3, 9)),
            Err(Refusal::ChargeInProgress)
        );
        assert!(decide(&s, &policy, Choice::PeriodEnd, on(3, 9)).is_ok());
        let mut ended = active(vec![]);
        ended.status = Status::Canceled;
        assert_eq!(
            decide(&ended, &policy, Choice::PeriodEnd, on(3, 9)),
            Err(Refusal::Ended)
        );
        let off = Policy {
            withdrawal_days: 0,
            mid_term: MidTermRefund::Nothing,
        };
        let s = active(vec![charge(ChargePurpose::Period, 9_900, jan().0)]);
        assert_eq!(
            decide(&s, &off, Choice::Withdraw, on(3, 9)),
            Err(Refusal::NotOffered)
        );
        assert_eq!(decide(&s, &off, Choice::Now, on(3, 9)).unwrap().total, 0);
    }

    fn situation() -> impl Strategy<Value = (Situation, i64)> {
        (
            100i64..2_000_000,
            1i64..400,
            proptest::option::of((100i64..1_000_000, 0i64..400)),
            0i64..1_000,
            any::<bool>(),
        )
            .prop_map(|(amount, days, upgrade, refunded_per_mille, used)| {
                let start = jan().0;
                let end = start + days * DAY;
                let mut first = charge(ChargePurpose::Period, amount, start);
                first.refunded = amount * refunded_per_mille / 1_000 / 2;
                let mut charges = vec![first];
                if let Some((extra, at_day)) = upgrade {
                    charges.push(charge(
                        ChargePurpose::Proration,
                        extra,
                        start + (at_day % days) * DAY,
                    ));
                }
                let s = Situation {
                    status: Status::Active,
                    period: (start, end),
                    period_used: used,
                    charges,
                };
                (s, days)
            })
    }

    proptest! {
        #[test]
        fn refunds_stay_within_each_charge_and_withdrawal_refunds_at_least_mid_term(
            (s, days) in situation(),
            at_day in 0i64..400,
            hour in 0i64..24,
            withdrawal_days in 0u32..15,
        ) {
            let policy = Policy { withdrawal_days, mid_term: MidTermRefund::ProRata };
            let now = s.period.0 + (at_day % days) * DAY + hour * 3_600_000;
            let all = options(&s, &policy, now);
            let mid = all.now.clone().unwrap();
            for r in &mid.refunds {
                let c = s.charges.iter().find(|c| c.order_id == r.order_id).unwrap();
                prop_assert!(r.amount > 0 && r.amount <= c.amount - c.refunded);
            }
            prop_assert_eq!(mid.total, mid.refunds.iter().map(|r| r.amount).sum::<i64>());
            // A fresh period charge: paid = used + refunded, the used part rounded down.
            let first = &s.charges[0];
            if first.refunded == 0 {
                let (used, back) = proration::split_at(first.amount, s.period.0, s.period.1, now);
                let refund = mid.refunds.iter().find(|r| r.order_id == first.order_id).map_or(0, |r| r.amount);
                prop_assert_eq!(refund, back);
                prop_assert_eq!(used + refund, first.amount);
            }
            // Later never refunds more.
            let later = options(&s, &policy, now + DAY).now.unwrap();
            prop_assert!(later.total <= mid.total);
            match &all.withdraw {
                Ok(w) => {
                    prop_assert!(w.total >= mid.total);
                    prop_assert_eq!(w.as_mid_term, s.period_used);
                    let closes = all.withdrawal_closes_at.unwrap();
                    prop_assert!(now < closes);
                    prop_assert!(
                        (kst_date(now) - kst_date(s.period.0)).whole_days() < i64::from(withdrawal_days),
                        "never after day {}", withdrawal_days
                    );
                }
                Err(Refusal::WindowOver { closed_at }) => {
                    prop_assert!(now >= *closed_at);
                    prop_assert!((kst_date(now) - kst_date(s.period.0)).whole_days() >= i64::from(withdrawal_days));
                }
                Err(Refusal::NotOffered) => prop_assert_eq!(withdrawal_days, 0),
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
