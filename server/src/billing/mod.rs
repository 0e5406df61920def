//! Pure subscription rules, tested natively: when each billing period starts ([`period`]), what
//! to do after each charge attempt ([`dunning`]), the lifecycle as a declared state machine
//! ([`lifecycle`]), the pro-rata arithmetic of plan switches and refunds ([`proration`]), and the
//! customer's cancellation rights with what each refunds ([`refund_policy`]). No
//! I/O: the scheduler and the routes (`crate::subscription`) read the database, ask these, and
//! write the answer.

pub mod dunning;
pub mod lifecycle;
pub mod period;
pub mod proration;
pub mod refund_policy;
