//! RFC 3339 timestamps as kiro-cli and the AWS CLI write them: `Z` or a
//! numeric offset, and zero to nine fractional digits.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses a timestamp; `None` when it is not RFC 3339.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// Formats a timestamp in UTC with a `Z`, the way kiro-cli writes it.
pub fn format(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Formats a timestamp the way the AWS CLI writes `expiresAt`
/// (`2025-01-01T00:00:00Z`, whole seconds).
pub fn format_seconds(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    format(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_zero_to_nine_fraction_digits_and_offsets() {
        let base = parse("2025-03-01T10:00:00Z").unwrap();
        for s in [
            "2025-03-01T10:00:00.1Z",
            "2025-03-01T10:00:00.123456Z",
            "2025-03-01T10:00:00.123456789Z",
            "2025-03-01T12:00:00.123456789+02:00",
            "2025-03-01T05:30:00.5-04:30",
        ] {
            let t = parse(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(t.unix_timestamp(), base.unix_timestamp(), "{s}");
        }
        assert_eq!(
            parse("2025-03-01T10:00:00.123456789Z")
                .unwrap()
                .nanosecond(),
            123_456_789
        );
        assert!(parse("yesterday").is_none());
        assert!(parse("2025-03-01 10:00:00").is_none());
    }

    #[test]
    fn formats_in_utc() {
        let t = parse("2025-03-01T12:00:00.25+02:00").unwrap();
        assert_eq!(format(t), "2025-03-01T10:00:00.25Z");
        assert_eq!(format_seconds(t), "2025-03-01T10:00:00Z");
    }
}
