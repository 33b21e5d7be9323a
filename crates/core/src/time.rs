//! ISO-8601 timestamps as the package managers' documents write them.

use reliquary_types::Timestamp;

/// `2026-11-26T09:00:00.000Z`.
#[must_use]
pub fn iso8601(at: Timestamp) -> String {
    let seconds = at.0.div_euclid(1000);
    let millis = at.0.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let rem = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `2026-11-26T09:00:00[.fff]Z` (the fraction is ignored); `None` for anything else.
#[must_use]
pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
    let date = text.get(0..10)?;
    let mut parts = date.split('-').map(str::parse::<i64>);
    let (y, m, d) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let time = text.get(11..19)?;
    let mut hms = time.split(':').map(str::parse::<i64>);
    let (h, mi, s) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    Some(Timestamp(
        (days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000,
    ))
}

// Howard Hinnant's civil-calendar algorithms (public-domain arithmetic).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_iso8601() {
        let at = Timestamp(1_795_683_956_934);
        let text = iso8601(at);
        assert_eq!(text, "2026-11-26T09:05:56.934Z");
        assert_eq!(parse_iso8601(&text), Some(Timestamp(1_795_683_956_000)));
        assert_eq!(iso8601(Timestamp(0)), "1970-01-01T00:00:00.000Z");
    }
}
