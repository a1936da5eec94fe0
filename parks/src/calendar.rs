//! Civil calendar arithmetic for drivers (proleptic Gregorian, no time zones).
//!
//! `days_from_civil` and `civil_from_days` follow H. Hinnant, "chrono-Compatible Low-Level Date
//! Algorithms" (public domain).

/// A parsed start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// Days since 1970-01-01.
    pub days: i64,
    /// Minutes after midnight.
    pub minutes: u32,
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date `(year, month 1–12, day 1–31)` of days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `"YYYY-MM-DDTHH:MM"` (seconds optional and ignored).
pub fn parse_start(s: &str) -> Option<Start> {
    let (date, time) = s.split_once('T')?;
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut tp = time.split(':');
    let hh: u32 = tp.next()?.parse().ok()?;
    let mm: u32 = tp.next()?.parse().ok()?;
    if hh > 23 || mm > 59 {
        return None;
    }
    Some(Start {
        days: days_from_civil(y, m, d),
        minutes: hh * 60 + mm,
    })
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Calendar position of an instant `hours` after `start`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instant {
    /// Hour of day, 0–23.
    pub hour: u32,
    /// Weekday, Monday = 0.
    pub weekday: u32,
    /// Month, 0–11.
    pub month: u32,
    /// Day of year, 0-based.
    pub day_of_year: u32,
    /// Fractional hour of day.
    pub hour_f: f64,
}

/// Where `hours` after `start` falls in the calendar.
pub fn instant(start: Start, hours: f64) -> Instant {
    let total_min = start.minutes as f64 + hours * 60.0;
    let day_off = (total_min / 1440.0).floor();
    let days = start.days + day_off as i64;
    let min_of_day = total_min - day_off * 1440.0;
    let (y, m, _) = civil_from_days(days);
    let jan1 = days_from_civil(y, 1, 1);
    Instant {
        hour: ((min_of_day / 60.0).floor() as u32).min(23),
        weekday: (days + 3).rem_euclid(7) as u32,
        month: m - 1,
        day_of_year: (days - jan1) as u32,
        hour_f: min_of_day / 60.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        // 2025-01-01 was a Wednesday (weekday 2 with Monday = 0).
        let s = parse_start("2025-01-01T00:00").unwrap();
        assert_eq!(instant(s, 0.0).weekday, 2);
        // 2025-03-01 00:00 is 59 days later: month index 2, day of year 59.
        let i = instant(s, 59.0 * 24.0 + 5.5);
        assert_eq!((i.month, i.day_of_year, i.hour), (2, 59, 5));
        assert!(parse_start("2025-02-30T00:00").is_none());
        assert!(parse_start("2025-01-01 00:00").is_none());
    }
}
