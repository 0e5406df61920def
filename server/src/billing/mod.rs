//! Pure subscription rules, tested natively: when each billing period starts ([`period`]), and
//! what to do after each charge attempt ([`dunning`]). No I/O: the scheduler (`crate::scheduler`)
//! reads the database, asks these, and writes the answer.

pub mod dunning;
pub mod period;
