//! The plan summary beside the register button: the `plan` setting's rules and its words.
//!
//! Numbers and dates are written by hand, digit by digit: `core::fmt`'s integer formatting and the
//! browser's `Intl` would each cost more wasm (or JS glue) than these few lines.

use super::copy::{Locale, Text};
pub use super::words::push_number;

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

/// Checks a `plan` setting: a name of 1–100 characters, an amount of 1 to 2³²−1 KRW (what the
/// browser reads), a cycle of at least one
/// day, a real `YYYY-MM-DD` date, a cancellation note of at most 200 characters (blank: the
/// default note). Surrounding spaces do not count ([`tidy_plan`] removes them).
pub fn check_plan(plan: &PlanSummary) -> Result<(), PlanProblem> {
    if !(1..=100).contains(&plan.name.trim().chars().count()) {
        return Err(problem("plan.name", "must be 1 to 100 characters"));
    }
    if !(1..=u64::from(u32::MAX)).contains(&plan.amount) {
        return Err(problem("plan.amount", "must be 1 to 4294967295 (KRW)"));
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
            "must be a real date, YYYY-MM-DD",
        ));
    }
    if plan
        .cancel_note
        .as_deref()
        .is_some_and(|n| n.trim().chars().count() > 200)
    {
        return Err(problem("plan.cancelNote", "must be at most 200 characters"));
    }
    Ok(())
}

/// A checked plan with its text trimmed; a blank cancellation note is none (the default note).
pub fn tidy_plan(plan: PlanSummary) -> PlanSummary {
    PlanSummary {
        name: plan.name.trim().to_owned(),
        cancel_note: plan.cancel_note.as_deref().and_then(trimmed),
        ..plan
    }
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

fn number(n: u64, grouped: bool) -> String {
    let mut out = String::new();
    push_number(&mut out, n, grouped);
    out
}

/// Appends `template` with `\u{1}` … `\u{9}` replaced by `values[0]` … `values[8]`, each written as HTML
/// text (`& < > "` escaped; a missing value is empty). One small loop builds every line of the
/// plan summary.
pub fn fill_into(out: &mut String, template: &str, values: &[&str]) {
    for c in template.chars() {
        let value = match c {
            '\u{1}'..='\u{9}' => Some(values.get(c as usize - 1).copied().unwrap_or_default()),
            _ => None,
        };
        let Some(value) = value else {
            out.push(c);
            continue;
        };
        for c in value.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                c => out.push(c),
            }
        }
    }
}

/// [`fill_into`] a new string.
pub fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::new();
    fill_into(&mut out, template, values);
    out
}

/// The template of a cycle, and its number of days (for `everyDays`).
fn cycle_template(cycle: PlanCycle) -> (Text, u64) {
    match cycle {
        PlanCycle::Monthly => (Text::PlanMonthly, 0),
        PlanCycle::Yearly => (Text::PlanYearly, 0),
        PlanCycle::EveryDays(1) => (Text::PlanDaily, 0),
        PlanCycle::EveryDays(days) => (Text::PlanEveryDays, u64::from(days)),
    }
}

/// The amount in KRW: ko `9,900원`, en `₩9,900`.
pub fn amount_text(amount: u64, locale: Locale) -> String {
    fill(Text::PlanAmount.get(locale), &[&number(amount, true)])
}

/// The cycle: `매월`/`monthly`, `매년`/`yearly`, `14일마다`/`every 14 days` (`매일`/`every day`).
pub fn cycle_text(cycle: PlanCycle, locale: Locale) -> String {
    let (template, days) = cycle_template(cycle);
    fill(template.get(locale), &[&number(days, true)])
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

/// The first charge's template and values: the date (ko `2026년 12월 1일`, en `1 December
/// 2026`), or, without one, when billing-server charges the first period: at registration (ko
/// `카드 등록 즉시`, en `when you register`).
fn first_charge_parts(date: Option<&str>) -> (Text, [String; 3], &'static str) {
    let (template, (year, month, day)) = match date.and_then(date_parts) {
        Some(date) => (Text::PlanDate, date),
        None => (Text::PlanFirstChargeNow, (0, 1, 0)),
    };
    let numbers = [year, month, day].map(|n| number(u64::from(n), false));
    (template, numbers, MONTHS[month as usize - 1])
}

/// The first charge, as [`plan_rows_html`] writes it.
pub fn first_charge_text(date: Option<&str>, locale: Locale) -> String {
    let (template, [year, month, day], name) = first_charge_parts(date);
    fill(template.get(locale), &[&year, &month, &day, name])
}

/// A date or time of the server's (ISO 8601, its first ten characters the `YYYY-MM-DD` date) as
/// the page writes dates.
pub fn date_text(iso: &str, locale: Locale) -> String {
    first_charge_text(iso.get(..10), locale)
}

/// The plan summary's rows, as the markup inside its `<dl>`: the plan, its price in KRW, how
/// often it is charged, the first charge, and how to cancel (the merchant's note, or ours).
/// Every value is escaped: the name and the note are the page's own text.
pub fn plan_rows_html(plan: &PlanSummary, locale: Locale) -> String {
    let (cycle, days) = cycle_template(plan.cycle);
    let (first, [year, month, day], month_name) =
        first_charge_parts(plan.first_charge_date.as_deref());
    let (amount, days) = (number(plan.amount, true), number(days, true));
    let note = plan
        .cancel_note
        .as_deref()
        .unwrap_or(Text::PlanCancelNote.get(locale));
    let mut out = String::new();
    for (label, class, template, values) in [
        (Text::PlanName, "name", "\u{1}", [&*plan.name, "", "", ""]),
        (
            Text::PlanPrice,
            "amount",
            Text::PlanAmount.get(locale),
            [&amount, "", "", ""],
        ),
        (
            Text::PlanBilled,
            "cycle",
            cycle.get(locale),
            [&days, "", "", ""],
        ),
        (
            Text::PlanFirstCharge,
            "first",
            first.get(locale),
            [&year, &month, &day, month_name],
        ),
        (Text::PlanCancel, "cancel", "\u{1}", [note, "", "", ""]),
    ] {
        let start = "<dt>\u{1}</dt><dd class=\"tbc-plan-\u{2}\">";
        fill_into(&mut out, start, &[label.get(locale), class]);
        fill_into(&mut out, template, &values);
        out.push_str("</dd>");
    }
    out
}
