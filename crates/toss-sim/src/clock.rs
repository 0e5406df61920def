//! The simulator's time: what it stamps on payments (`approvedAt`, `requestedAt`) and what it
//! checks card expiry dates against. A host that moves its own clock (billing-server's demo and
//! tests) hands the simulator that clock through [`TimeSource`], so both agree on "now".

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{OffsetDateTime, UtcOffset};

/// Korea Standard Time, the offset Toss writes its times in.
pub const KST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("+09:00 is a valid offset"),
};

/// Where the simulator reads the time, in milliseconds since the Unix epoch.
pub trait TimeSource: Send + Sync + 'static {
    /// Now.
    fn now_ms(&self) -> i64;
}

/// The system clock, optionally `offset_ms` ahead (`CLOCK_OFFSET_MS` of the standalone binary),
/// movable forward through [`OffsetClock::advance`]. Cheap to clone; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock {
    offset_ms: Arc<AtomicI64>,
}

impl OffsetClock {
    /// The system clock moved `offset_ms` ahead (never back).
    pub fn new(offset_ms: i64) -> OffsetClock {
        OffsetClock {
            offset_ms: Arc::new(AtomicI64::new(offset_ms.max(0))),
        }
    }

    /// Moves it forward by `ms` (a negative amount is ignored: time never goes back).
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
    }
}

impl TimeSource for OffsetClock {
    fn now_ms(&self) -> i64 {
        system_ms() + self.offset_ms.load(Ordering::SeqCst)
    }
}

fn system_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A millisecond timestamp as a KST date-time.
pub fn kst(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(KST)
}

/// ISO 8601 with the KST offset, the way Toss writes times: `2024-01-31T09:15:00+09:00`.
pub fn iso_kst(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+09:00");
    kst(ms).format(&format).unwrap_or_default()
}

/// The webhook body's `createdAt`: `yyyy-MM-dd'T'HH:mm:ss.SSSSSS` in KST, without a zone
/// (contract §10).
pub fn webhook_time(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
    );
    kst(ms).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_toss() {
        assert_eq!(iso_kst(0), "1970-01-01T09:00:00+09:00");
        assert_eq!(iso_kst(1_709_251_199_000), "2024-03-01T08:59:59+09:00");
        assert_eq!(
            webhook_time(1_709_251_199_123),
            "2024-03-01T08:59:59.123000"
        );
    }

    #[test]
    fn the_offset_clock_only_moves_forward() {
        let clock = OffsetClock::new(1000);
        let before = clock.now_ms();
        clock.advance(-50_000);
        assert!(clock.now_ms() >= before);
        clock.clone().advance(86_400_000);
        assert!(clock.now_ms() >= before + 86_400_000);
    }
}
