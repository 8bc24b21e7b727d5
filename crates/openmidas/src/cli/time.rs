//! Times and durations as people type and read them, for the emulator commands: RFC 3339
//! (any offset read, UTC written; `jiff`) or epoch milliseconds, and durations such as
//! `48h`, `90m`, `2d`, `1h30m` (`humantime`) or a plain number of seconds.

use anyhow::{bail, Context};

/// `2026-01-01T00:00:00.000Z`.
pub fn format_utc_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(at) => format!("{at:.3}"),
        Err(_) => format!("{ms} ms"),
    }
}

/// Milliseconds since the UNIX epoch, from an integer (already milliseconds) or an RFC 3339
/// time (`2026-01-01T08:00:00+08:00`, `2026-01-01T00:00:00.5Z`; a date alone is its
/// midnight UTC).
pub fn parse_instant_ms(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().context("epoch milliseconds out of range");
    }
    let usage = || {
        format!("{text:?} is not a time: give RFC 3339 (2026-01-01T08:00:00+08:00, 2026-01-01T00:00:00Z) or epoch milliseconds")
    };
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at.as_millisecond());
    }
    // A date alone (`2026-01-01`), never a time without its offset.
    if text.len() != "2026-01-01".len() {
        bail!(usage());
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| anyhow::anyhow!(usage()))?;
    let midnight = date
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|_| anyhow::anyhow!(usage()))?;
    Ok(midnight.timestamp().as_millisecond())
}

/// Seconds, from `48h`, `90m`, `3600s`, `2d`, `1w`, `1h30m`, a plain integer (seconds), any
/// of them after a `-` to go back.
pub fn parse_duration_secs(text: &str) -> anyhow::Result<i64> {
    let usage = || {
        format!(
            "{text:?} is not a duration: give e.g. 48h, 90m, 3600s, 2d, 1h30m or a number of seconds (- to go back)"
        )
    };
    let trimmed = text.trim();
    let (negative, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let secs = if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
        rest.parse::<i64>().map_err(|_| anyhow::anyhow!(usage()))?
    } else {
        let duration = humantime::parse_duration(rest).map_err(|_| anyhow::anyhow!(usage()))?;
        if duration.subsec_nanos() != 0 {
            bail!(usage());
        }
        i64::try_from(duration.as_secs()).map_err(|_| anyhow::anyhow!(usage()))?
    };
    Ok(if negative { -secs } else { secs })
}

/// A signed span of milliseconds, shortest first: `+2d`, `-1h30m`, `+4.250s`, `0s`.
pub fn format_span_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let sign = if ms < 0 { '-' } else { '+' };
    let ms = ms.unsigned_abs();
    let secs = ms / 1000;
    let (days, hours, minutes, seconds, millis) =
        (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60, ms % 1000);
    let mut out = String::from(sign);
    for (amount, unit) in [(days, "d"), (hours, "h"), (minutes, "m")] {
        if amount > 0 {
            out.push_str(&format!("{amount}{unit}"));
        }
    }
    match (seconds, millis) {
        (0, 0) => {}
        (s, 0) => out.push_str(&format!("{s}s")),
        (s, m) => out.push_str(&format!("{s}.{m:03}s")),
    }
    out
}

/// A latency for a table: `0.4 ms`, `12 ms`, `1500 ms` (always milliseconds, so columns
/// compare at a glance).
pub fn format_latency_us(us: u64) -> String {
    if us < 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{} ms", us / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_every_offset_and_write_utc() {
        let new_year_utc = 1_767_225_600_000;
        assert_eq!(parse_instant_ms("2026-01-01T00:00:00Z").unwrap(), new_year_utc);
        assert_eq!(parse_instant_ms("2026-01-01T08:00:00+08:00").unwrap(), new_year_utc);
        assert_eq!(parse_instant_ms("2025-12-31t19:00:00-05:00").unwrap(), new_year_utc);
        assert_eq!(parse_instant_ms("2026-01-01 00:00:00.5Z").unwrap(), new_year_utc + 500);
        assert_eq!(
            parse_instant_ms("2026-01-01T00:00:00.123456789Z").unwrap(),
            new_year_utc + 123
        );
        assert_eq!(parse_instant_ms("2026-01-01").unwrap(), new_year_utc);
        assert_eq!(parse_instant_ms("1767225600000").unwrap(), new_year_utc);
        assert_eq!(format_utc_ms(new_year_utc + 86_400_000 + 1), "2026-01-02T00:00:00.001Z");
        assert_eq!(format_utc_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_utc_ms(253_402_128_000_000), "9999-12-30T00:00:00.000Z");
        // Past what a calendar library represents: shown as milliseconds.
        assert_eq!(format_utc_ms(253_402_300_799_999), "253402300799999 ms");
        for text in [
            "2026-01-01T00:00:00",
            "2026-02-30T00:00:00Z",
            "2026-13-01",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "yesterday",
            "",
        ] {
            assert!(parse_instant_ms(text).is_err(), "{text}");
        }
    }

    #[test]
    fn durations_in_units_or_seconds() {
        assert_eq!(parse_duration_secs("48h").unwrap(), 172_800);
        assert_eq!(parse_duration_secs("2d").unwrap(), 172_800);
        assert_eq!(parse_duration_secs("90m").unwrap(), 5400);
        assert_eq!(parse_duration_secs("3600s").unwrap(), 3600);
        assert_eq!(parse_duration_secs("3600").unwrap(), 3600);
        assert_eq!(parse_duration_secs("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration_secs("-1w").unwrap(), -604_800);
        assert_eq!(parse_duration_secs("+15s").unwrap(), 15);
        assert_eq!(parse_duration_secs("1.5h").unwrap(), 5400);
        assert_eq!(parse_duration_secs("2 days").unwrap(), 172_800);
        for text in ["", "-", "h", "1.5s5ms", "1 fortnight", "99999999999999999999d"] {
            assert!(parse_duration_secs(text).is_err(), "{text}");
        }
    }

    #[test]
    fn spans_and_latencies_read_at_a_glance() {
        assert_eq!(format_span_ms(0), "0s");
        assert_eq!(format_span_ms(172_800_000), "+2d");
        assert_eq!(format_span_ms(-5_400_000), "-1h30m");
        assert_eq!(format_span_ms(4_250), "+4.250s");
        assert_eq!(format_span_ms(90_061_001), "+1d1h1m1.001s");
        assert_eq!(format_latency_us(412), "0.4 ms");
        assert_eq!(format_latency_us(12_345), "12 ms");
        assert_eq!(format_latency_us(1_500_000), "1500 ms");
    }
}
