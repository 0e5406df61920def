//! Pure subscription rules, tested natively: when each billing period starts ([`period`]), what
//! to do after each charge attempt ([`dunning`]), the lifecycle as a declared state machine
//! ([`lifecycle`]), and the pro-rata arithmetic of plan switches and refunds ([`proration`]). No
//! I/O: the scheduler and the routes (`crate::subscription`) read the database, ask these, and
//! write the answer.

pub mod dunning;
pub mod lifecycle;
pub mod period;
pub mod proration;
