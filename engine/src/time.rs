//! Calendar arithmetic for event times: RFC 3339 text and the date parts of index names and keys.
//!
//! Hand-written because the pipeline formats a timestamp per event and a general date library
//! costs more than the conversion itself; days-to-civil follows the well-known proleptic
//! Gregorian algorithm on 400-year eras.

/// A UTC calendar time with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (may be negative for times before year 0).
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u32,
    /// Minute, 0 to 59.
    pub minute: u32,
    /// Second, 0 to 59.
    pub second: u32,
    /// Millisecond, 0 to 999.
    pub milli: u32,
}

impl Civil {
    /// The calendar time of `ms` milliseconds since the Unix epoch.
    pub fn from_millis(ms: i64) -> Civil {
        let days = ms.div_euclid(86_400_000);
        let ms_of_day = ms.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (ms_of_day / 3_600_000) as u32,
            minute: (ms_of_day / 60_000 % 60) as u32,
            second: (ms_of_day / 1000 % 60) as u32,
            milli: (ms_of_day % 1000) as u32,
        }
    }

    /// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>) {
        if (0..=9999).contains(&self.year) {
            push_digits(out, self.year as u32, 4);
        } else {
            // Outside 0..=9999 RFC 3339 has no form; an extended year keeps it readable.
            out.extend_from_slice(format!("{:+07}", self.year).as_bytes());
        }
        out.push(b'-');
        push_digits(out, self.month, 2);
        out.push(b'-');
        push_digits(out, self.day, 2);
        out.push(b'T');
        push_digits(out, self.hour, 2);
        out.push(b':');
        push_digits(out, self.minute, 2);
        out.push(b':');
        push_digits(out, self.second, 2);
        out.push(b'.');
        push_digits(out, self.milli, 3);
        out.push(b'Z');
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` as a string.
    pub fn rfc3339(&self) -> String {
        let mut out = Vec::with_capacity(24);
        self.write_rfc3339(&mut out);
        String::from_utf8(out).expect("rfc 3339 text is ascii")
    }
}

fn push_digits(out: &mut Vec<u8>, value: u32, width: u32) {
    let mut div = 10u32.pow(width - 1);
    while div > 0 {
        out.push(b'0' + (value / div % 10) as u8);
        div /= 10;
    }
}

/// Year, month, day of the day `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Milliseconds since the Unix epoch of an RFC 3339 / ISO 8601 timestamp, or `None`.
///
/// Accepts `YYYY-MM-DD[T ]HH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`; a missing offset means UTC.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if let Some((b'.', fraction)) = rest.split_first() {
        let n_digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n_digits == 0 {
            return None;
        }
        for (i, digit) in fraction[..n_digits].iter().enumerate().take(3) {
            millis += i64::from(digit - b'0') * 10i64.pow(2 - i as u32);
        }
        rest = &fraction[n_digits..];
    }
    let offset_minutes = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let value = i64::from(digits[0] - b'0') * 600
                + i64::from(digits[1] - b'0') * 60
                + i64::from(digits[2] - b'0') * 10
                + i64::from(digits[3] - b'0');
            if *sign == b'-' { -value } else { value }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    Some(((days * 24 + hour) * 60 + minute - offset_minutes) * 60_000 + second * 1000 + millis)
}

/// Days since 1970-01-01 of a calendar date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(Civil::from_millis(0).rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(Civil::from_millis(1_510_109_208_016).rfc3339(), "2017-11-08T02:46:48.016Z");
        assert_eq!(Civil::from_millis(951_782_400_000).rfc3339(), "2000-02-29T00:00:00.000Z");
        assert_eq!(Civil::from_millis(-1).rfc3339(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parse_round_trips_every_day_of_four_centuries() {
        // Walk day by day across leap years and century rules so that both conversions agree.
        let mut ms = -2_208_988_800_000i64; // 1900-01-01
        while ms < 10_413_792_000_000 {
            let text = Civil::from_millis(ms + 45_296_789).rfc3339();
            assert_eq!(parse_rfc3339(&text), Some(ms + 45_296_789), "{text}");
            ms += 86_400_000;
        }
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("2017-11-08T03:46:48.016+01:00"), Some(1_510_109_208_016));
        assert_eq!(parse_rfc3339("2017-11-08 02:46:48.0169"), Some(1_510_109_208_016));
        assert_eq!(parse_rfc3339("2017-11-08T02:46:48-0000"), Some(1_510_109_208_000));
        assert_eq!(parse_rfc3339("2017-13-08T02:46:48Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2017-11-08T02:46:48.Z"), None);
    }
}
