//! Pro-rata arithmetic on KST calendar days, to the won.
//!
//! A period `[start, end)` has `total` days: the KST dates from `start`'s date up to (not
//! including) `end`'s date. On a given KST day, the days *used* are the period's days before that
//! day plus the day itself (service was given that day), and the days *left* are the rest.
//!
//! Rounding, always in the customer's favour and always whole won:
//! - an upgrade mid-period charges the price difference for the days left, **rounded down**;
//! - a mid-period cancellation (중도해지) keeps the price of the days used, **rounded down**, and
//!   refunds the rest, so `paid = used + refunded` holds exactly.

use time::Date;

use crate::clock::{from_ms, Millis};

/// A price or an amount of money in KRW.
pub type Won = i64;

/// The KST calendar date of a moment.
pub fn kst_date(at: Millis) -> Date {
    from_ms(at).date()
}

/// Days of `[start, end)` in KST dates (at least 1).
pub fn period_days(start: Millis, end: Millis) -> i64 {
    i64::from((kst_date(end) - kst_date(start)).whole_days() as i32).max(1)
}

/// Days of `[start, end)` used by the end of the KST day of `at` (the day itself counts as used),
/// between 1 and the period's days.
pub fn days_used(start: Millis, end: Millis, at: Millis) -> i64 {
    let used = (kst_date(at) - kst_date(start)).whole_days() + 1;
    used.clamp(1, period_days(start, end))
}

/// What a period's payment of `paid` splits into when the service stops on the KST day of `at`:
/// `(used, refunded)`, `used + refunded == paid`.
pub fn split_at(paid: Won, start: Millis, end: Millis, at: Millis) -> (Won, Won) {
    let total = period_days(start, end);
    let used_days = days_used(start, end, at);
    // Rounded down: the customer pays no part of a won for days used.
    let used = paid * used_days / total;
    (used, paid - used)
}

/// The charge for moving from `from` to `to` per period on the KST day of `at`: the difference for
/// the days from that day to the period's end (the day of the switch is on the new plan), rounded
/// down; 0 when `to <= from`.
pub fn upgrade_charge(from: Won, to: Won, start: Millis, end: Millis, at: Millis) -> Won {
    if to <= from {
        return 0;
    }
    let total = period_days(start, end);
    let used_days = days_used(start, end, at) - 1; // the day of the switch is on the new plan
    let left = total - used_days;
    (to - from) * left / total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::to_ms;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn a_mid_term_cancellation_on_day_ten_of_thirty_one() {
        // January 2027: [Jan 1 09:00, Feb 1 09:00) KST is 31 days; January 10 is day 10.
        let start = to_ms(datetime!(2027-01-01 09:00 +9));
        let end = to_ms(datetime!(2027-02-01 09:00 +9));
        let at = to_ms(datetime!(2027-01-10 15:00 +9));
        assert_eq!(period_days(start, end), 31);
        assert_eq!(days_used(start, end, at), 10);
        // 9,900 × 10 / 31 = 3,193.5… → 3,193 used, 6,707 refunded.
        assert_eq!(split_at(9_900, start, end, at), (3_193, 6_707));
    }

    #[test]
    fn an_upgrade_on_day_ten_pays_the_difference_for_twenty_two_days() {
        let start = to_ms(datetime!(2027-01-01 09:00 +9));
        let end = to_ms(datetime!(2027-02-01 09:00 +9));
        let at = to_ms(datetime!(2027-01-10 15:00 +9));
        // (14,900 − 9,900) × 22 / 31 = 3,548.3… → 3,548.
        assert_eq!(upgrade_charge(9_900, 14_900, start, end, at), 3_548);
        assert_eq!(upgrade_charge(14_900, 9_900, start, end, at), 0);
        assert_eq!(
            upgrade_charge(9_900, 14_900, start, end, start),
            5_000,
            "on the first day, the whole difference"
        );
    }

    #[test]
    fn days_are_kst_dates_not_24_hour_spans() {
        // 23:30 KST on Jan 1 and 00:30 KST on Jan 2 are one hour apart and two different days.
        let start = to_ms(datetime!(2027-01-01 23:30 +9));
        let end = to_ms(datetime!(2027-01-31 23:30 +9));
        assert_eq!(period_days(start, end), 30);
        assert_eq!(
            days_used(start, end, to_ms(datetime!(2027-01-02 00:30 +9))),
            2
        );
    }

    proptest! {
        #[test]
        fn paid_is_used_plus_refunded_and_an_upgrade_never_exceeds_the_difference(
            paid in 100i64..10_000_000,
            to in 100i64..10_000_000,
            days in 1i64..400,
            at_day in 0i64..400,
            hour in 0i64..24,
        ) {
            let start = to_ms(datetime!(2027-01-01 09:00 +9));
            let end = start + days * 86_400_000;
            let at = start + (at_day % days) * 86_400_000 + hour * 3_600_000;
            let (used, refunded) = split_at(paid, start, end, at);
            prop_assert_eq!(used + refunded, paid);
            prop_assert!(used >= 0 && refunded >= 0);
            let charge = upgrade_charge(paid, to, start, end, at);
            prop_assert!(charge >= 0 && charge <= (to - paid).max(0));
            // Switching up and then cancelling the same day never leaves the customer paying
            // more for the rest of the period than the new plan's share of it.
            let total = period_days(start, end);
            let left = total - (days_used(start, end, at) - 1);
            prop_assert!(charge * total <= (to - paid).max(0) * left);
        }
    }
}
