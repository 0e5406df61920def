//! The plan summary beside the register button: the `plan` setting's rules and its words.
//!
//! Numbers and dates are written by hand, digit by digit: `core::fmt`'s integer formatting and the
//! browser's `Intl` would each cost more wasm (or JS glue) than these few lines.

use super::copy::{Locale, Text};

/// The plan type is the contract's (billing-server's `GET /api/plan` answers the same shape).
pub use toss_billing_contract::{PlanCycle, PlanSummary};

/// Why a `plan` setting was refused: the sub-field and what is wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanProblem {
    /// `plan.name`, `plan.amount`, …
    pub field: &'static str,
    /// What is wrong, without repeating the value.
    pub problem: &'static str,
}

fn problem(field: &'static str, problem: &'static str) -> PlanProblem {
    PlanProblem { field, problem }
}

/// Trimmed; `None` when blank.
fn trimmed(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Checks a `plan` setting: a name of 1–100 characters, an amount above 0, a cycle of at least one
/// day, a real `YYYY-MM-DD` date, a cancellation note of at most 200 characters (blank: the
/// default note). Returns it trimmed.
pub fn check_plan(plan: PlanSummary) -> Result<PlanSummary, PlanProblem> {
    let name = trimmed(&plan.name)
        .filter(|name| name.chars().count() <= 100)
        .ok_or(problem("plan.name", "must be 1 to 100 characters"))?;
    if plan.amount == 0 {
        return Err(problem("plan.amount", "must be more than 0 (KRW)"));
    }
    if plan.cycle == PlanCycle::EveryDays(0) {
        return Err(problem("plan.cycle", "everyDays must be at least 1"));
    }
    if plan
        .first_charge_date
        .as_deref()
        .is_some_and(|d| date_parts(d).is_none())
    {
        return Err(problem(
            "plan.firstChargeDate",
            "must be a date written YYYY-MM-DD",
        ));
    }
    let cancel_note = plan.cancel_note.as_deref().and_then(trimmed);
    if cancel_note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 200)
    {
        return Err(problem("plan.cancelNote", "must be at most 200 characters"));
    }
    Ok(PlanSummary {
        name,
        cancel_note,
        ..plan
    })
}

/// `(year, month, day)` of a real calendar date written `YYYY-MM-DD`.
pub fn date_parts(date: &str) -> Option<(u32, u32, u32)> {
    let bytes = date.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (year >= 1 && (1..=days).contains(&day)).then_some((year, month, day))
}

/// Appends `n` in decimal, with a `,` between groups of three when `grouped`.
pub fn push_number(out: &mut String, mut n: u64, grouped: bool) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in (0..len).rev() {
        out.push(char::from(digits[i]));
        if grouped && i > 0 && i % 3 == 0 {
            out.push(',');
        }
    }
}

/// The amount in KRW: ko `9,900원`, en `₩9,900`.
pub fn amount_text(amount: u64, locale: Locale) -> String {
    let mut out = String::new();
    if locale == Locale::En {
        out.push('₩');
    }
    push_number(&mut out, amount, true);
    if locale == Locale::Ko {
        out.push('원');
    }
    out
}

/// The cycle: `매월`/`monthly`, `매년`/`yearly`, `14일마다`/`every 14 days` (`매일`/`every day`).
pub fn cycle_text(cycle: PlanCycle, locale: Locale) -> String {
    let days = match cycle {
        PlanCycle::Monthly => return Text::PlanMonthly.get(locale).to_owned(),
        PlanCycle::Yearly => return Text::PlanYearly.get(locale).to_owned(),
        PlanCycle::EveryDays(1) => return Text::PlanDaily.get(locale).to_owned(),
        PlanCycle::EveryDays(days) => days,
    };
    let mut out = String::new();
    if locale == Locale::En {
        out.push_str("every ");
    }
    push_number(&mut out, u64::from(days), true);
    out.push_str(match locale {
        Locale::Ko => "일마다",
        Locale::En => " days",
    });
    out
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The first charge: ko `2026년 12월 1일`, en `1 December 2026`; without a date, when billing-server
/// charges the first period: at registration (ko `카드 등록 즉시`, en `when you register`).
pub fn first_charge_text(date: Option<&str>, locale: Locale) -> String {
    let Some((year, month, day)) = date.and_then(date_parts) else {
        return Text::PlanFirstChargeNow.get(locale).to_owned();
    };
    let mut out = String::new();
    match locale {
        Locale::Ko => {
            push_then(&mut out, year, "년 ");
            push_then(&mut out, month, "월 ");
            push_then(&mut out, day, "일");
        }
        Locale::En => {
            push_then(&mut out, day, " ");
            out.push_str(MONTHS[month as usize - 1]);
            out.push(' ');
            push_then(&mut out, year, "");
        }
    }
    out
}

fn push_then(out: &mut String, n: u32, after: &str) {
    push_number(out, u64::from(n), false);
    out.push_str(after);
}

/// The cancellation note: the merchant's, or ours.
pub fn cancel_note_text(plan: &PlanSummary, locale: Locale) -> String {
    plan.cancel_note
        .clone()
        .unwrap_or_else(|| Text::PlanCancelNote.get(locale).to_owned())
}
