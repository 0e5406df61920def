//! Billing periods. Period `n` of a subscription starts at the anchor moved by `n` cycles, on the
//! KST wall clock: monthly keeps the anchor's day (the 31st becomes the 30th, or the 28th/29th
//! in February), yearly its date (29 February becomes the 28th), "every N days" adds N days.
//! Each period is computed from the anchor, never from the previous period, so a clamped month
//! does not pull every later charge earlier.

use time::{Date, Duration, Month, OffsetDateTime};

use crate::clock::{from_ms, to_ms, Millis};

/// How often a plan charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cycle {
    /// Every month on the anchor's day (clamped to the month's length).
    Monthly,
    /// Every year on the anchor's date (29 February clamped to the 28th).
    Yearly,
    /// Every `n` days.
    Days(u32),
}

fn clamp_day(year: i32, month: Month, day: u8) -> Date {
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, day.min(last)).expect("a clamped day is a valid date")
}

/// The start of period `n` (0 = the anchor itself).
pub fn period_start(cycle: Cycle, anchor: Millis, n: u32) -> Millis {
    let at: OffsetDateTime = from_ms(anchor);
    let moved = match cycle {
        Cycle::Monthly => {
            let months = i64::from(at.month() as u8) - 1 + i64::from(n);
            let year = at.year() + (months / 12) as i32;
            let month = Month::try_from((months % 12) as u8 + 1).expect("1..=12");
            at.replace_date(clamp_day(year, month, at.day()))
        }
        Cycle::Yearly => at.replace_date(clamp_day(at.year() + n as i32, at.month(), at.day())),
        Cycle::Days(days) => at + Duration::days(i64::from(days) * i64::from(n)),
    };
    to_ms(moved)
}

/// `[start, end)` of period `n`.
pub fn period(cycle: Cycle, anchor: Millis, n: u32) -> (Millis, Millis) {
    (
        period_start(cycle, anchor, n),
        period_start(cycle, anchor, n + 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn ms(at: OffsetDateTime) -> Millis {
        to_ms(at)
    }

    fn dates(cycle: Cycle, anchor: OffsetDateTime, count: u32) -> Vec<String> {
        (0..count)
            .map(|n| crate::clock::iso_kst(period_start(cycle, ms(anchor), n))[..10].to_owned())
            .collect()
    }

    #[test]
    fn monthly_on_the_31st_clamps_each_month_from_the_anchor() {
        let anchor = datetime!(2027-01-31 10:00 +9);
        assert_eq!(
            dates(Cycle::Monthly, anchor, 13),
            [
                "2027-01-31",
                "2027-02-28",
                "2027-03-31",
                "2027-04-30",
                "2027-05-31",
                "2027-06-30",
                "2027-07-31",
                "2027-08-31",
                "2027-09-30",
                "2027-10-31",
                "2027-11-30",
                "2027-12-31",
                "2028-01-31"
            ]
        );
        assert_eq!(
            dates(Cycle::Monthly, datetime!(2028-01-30 10:00 +9), 2)[1],
            "2028-02-29"
        );
        // The time of day is the anchor's, in KST.
        assert_eq!(
            crate::clock::iso_kst(period_start(Cycle::Monthly, ms(anchor), 1)),
            "2027-02-28T10:00:00+09:00"
        );
    }

    #[test]
    fn yearly_and_every_n_days() {
        assert_eq!(
            dates(Cycle::Yearly, datetime!(2028-02-29 00:30 +9), 3),
            ["2028-02-29", "2029-02-28", "2030-02-28"]
        );
        assert_eq!(
            dates(Cycle::Days(10), datetime!(2027-12-25 09:00 +9), 3),
            ["2027-12-25", "2028-01-04", "2028-01-14"]
        );
        let (start, end) = period(Cycle::Monthly, ms(datetime!(2027-12-15 09:00 +9)), 0);
        assert_eq!(end - start, 31 * 86_400_000);
    }
}
