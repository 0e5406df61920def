//! The one source of time for everything that schedules: sessions, exchanges' deadlines, charges,
//! subscriptions, the simulator. Production reads the system clock; demo and test mode can move
//! it forward (`POST /__clock`), so a year of monthly charges runs in seconds. A clock that can be
//! moved never exists next to a live key (`settings`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::{OffsetDateTime, UtcOffset};

/// Korea Standard Time, the offset Toss writes its times in.
pub const KST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(offset) => offset,
    Err(_) => panic!("+09:00 is a valid offset"),
};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The clock. Cheap to clone; clones share their offset.
#[derive(Debug, Clone)]
pub struct Clock {
    /// Added to the system time; only ever non-zero when `movable`.
    offset_ms: Arc<AtomicI64>,
    movable: bool,
}

/// Why the clock was not moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// This clock is the system's (production).
    #[error("this server's clock cannot be moved (it only can in demo and test mode)")]
    Fixed,
    /// Time only moves forward: schedules must never see it go back.
    #[error("the clock only moves forward")]
    Backwards,
}

impl Clock {
    /// The system clock, immovable.
    pub fn system() -> Clock {
        Clock {
            offset_ms: Arc::new(AtomicI64::new(0)),
            movable: false,
        }
    }

    /// The system clock that tests and the demo may move forward, starting `offset_ms` ahead.
    pub fn movable(offset_ms: i64) -> Clock {
        Clock {
            offset_ms: Arc::new(AtomicI64::new(offset_ms.max(0))),
            movable: true,
        }
    }

    /// Whether [`Clock::advance`] works.
    pub fn is_movable(&self) -> bool {
        self.movable
    }

    /// Now, in milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> Millis {
        let system = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        system + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Now, as a date-time in KST.
    pub fn now(&self) -> OffsetDateTime {
        from_ms(self.now_ms())
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) -> Result<Millis, ClockError> {
        if !self.movable {
            return Err(ClockError::Fixed);
        }
        if ms < 0 {
            return Err(ClockError::Backwards);
        }
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
        Ok(self.now_ms())
    }

    /// Moves the clock forward to `target_ms` (refused if that is in the past).
    pub fn set(&self, target_ms: Millis) -> Result<Millis, ClockError> {
        let now = self.now_ms();
        self.advance(target_ms.checked_sub(now).ok_or(ClockError::Backwards)?)
    }
}

/// The mounted simulator reads this clock, so a moved demo clock moves Toss's time too.
impl toss_sim::TimeSource for Clock {
    fn now_ms(&self) -> Millis {
        Clock::now_ms(self)
    }
}

/// A millisecond timestamp as a KST date-time.
pub fn from_ms(ms: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(KST)
}

/// A date-time as milliseconds since the Unix epoch.
pub fn to_ms(at: OffsetDateTime) -> Millis {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// ISO 8601 with the KST offset, the way Toss writes times: `2024-01-31T09:15:00+09:00`.
pub fn iso_kst(ms: Millis) -> String {
    let at = from_ms(ms);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+09:00");
    at.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_toss() {
        assert_eq!(iso_kst(0), "1970-01-01T09:00:00+09:00");
        assert_eq!(iso_kst(1_709_251_199_000), "2024-03-01T08:59:59+09:00");
    }

    #[test]
    fn only_movable_clocks_move_and_only_forward() {
        assert_eq!(Clock::system().advance(1), Err(ClockError::Fixed));
        let clock = Clock::movable(0);
        let before = clock.now_ms();
        let after = clock.advance(86_400_000).unwrap();
        assert!(after >= before + 86_400_000);
        assert_eq!(clock.advance(-1), Err(ClockError::Backwards));
        assert_eq!(clock.set(before), Err(ClockError::Backwards));
        let shared = clock.clone();
        shared.advance(1000).unwrap();
        assert!(clock.now_ms() >= after + 1000);
    }
}
