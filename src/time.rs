//! The one conversion between `SystemTime` and what crosses a boundary: Unix seconds and
//! nanoseconds (the state image, gRPC), and the UTC calendar date and time of day (backup
//! names, `memfs ls -l`).
//!
//! Times before 1970 are kept exactly: `(secs, nanos)` always has `0 <= nanos < 1e9`, so
//! 0.25 s before the epoch is `(-1, 750_000_000)`, as `struct timespec` has it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds in a second: the exclusive upper bound of the `nanos` part.
pub const NANOS_PER_SEC: u32 = 1_000_000_000;

/// `t` as Unix seconds and nanoseconds (`0 <= nanos < 1e9`, `secs` negative before 1970).
pub fn to_unix(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            if d.subsec_nanos() == 0 {
                (-(d.as_secs() as i64), 0)
            } else {
                (-(d.as_secs() as i64) - 1, NANOS_PER_SEC - d.subsec_nanos())
            }
        }
    }
}

/// The time `secs` seconds and `nanos` nanoseconds after the epoch; `None` if `nanos` is not
/// below 1e9 or the time is out of `SystemTime`'s range (a corrupt or hostile input).
pub fn from_unix(secs: i64, nanos: u32) -> Option<SystemTime> {
    if nanos >= NANOS_PER_SEC {
        return None;
    }
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs as u64, nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(nanos))))
    }
}

/// A UTC date and time of day, proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
}

impl Utc {
    /// The UTC calendar date and time of `t`.
    pub fn of(t: SystemTime) -> Utc {
        let (secs, nanos) = to_unix(t);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            nanos,
        }
    }
}

/// The date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_round_trips_on_both_sides_of_the_epoch() {
        for (secs, nanos) in [
            (0, 0),
            (1, 5),
            (1_764_079_920, 123_456_789),
            (-1, 750_000_000),
            (-1, 0),
            (-86_400 * 365 * 300, 1),
        ] {
            let t = from_unix(secs, nanos).unwrap();
            assert_eq!(to_unix(t), (secs, nanos));
        }
        assert_eq!(
            to_unix(UNIX_EPOCH - Duration::from_millis(250)),
            (-1, 750_000_000)
        );
        assert_eq!(from_unix(0, NANOS_PER_SEC), None);
    }

    #[test]
    fn calendar_dates() {
        let at = |secs| Utc::of(from_unix(secs, 0).unwrap());
        let ymd = |u: Utc| (u.year, u.month, u.day, u.hour, u.minute, u.second);
        assert_eq!(ymd(at(0)), (1970, 1, 1, 0, 0, 0));
        assert_eq!(ymd(at(951_782_400)), (2000, 2, 29, 0, 0, 0));
        assert_eq!(ymd(at(1_764_079_200)), (2025, 11, 25, 14, 0, 0));
        assert_eq!(ymd(at(-1)), (1969, 12, 31, 23, 59, 59));
        assert_eq!(ymd(at(4_107_542_400)), (2100, 3, 1, 0, 0, 0)); // 2100 is no leap year
    }
}
