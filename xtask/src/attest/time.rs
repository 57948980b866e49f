//! Timestamps in the one form SLSA and SPDX both accept: `YYYY-MM-DDThh:mm:ssZ` (UTC).

use anyhow::{bail, Result};

/// A point in time given either as an RFC 3339 UTC string or as unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Timestamp {
    /// `2024-05-01T12:00:00Z` (fractional seconds are dropped; only `Z` is accepted).
    Rfc3339(String),
    /// Seconds since 1970-01-01T00:00:00Z (e.g. a commit time from `git log -1 --format=%ct`).
    Unix(i64),
}

impl Timestamp {
    /// `YYYY-MM-DDThh:mm:ssZ`, or an error that says which form is expected.
    pub fn to_utc_string(&self) -> Result<String> {
        match self {
            Timestamp::Unix(secs) => Ok(from_unix(*secs)),
            Timestamp::Rfc3339(s) => normalize_rfc3339(s),
        }
    }
}

fn normalize_rfc3339(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let shape = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let tail = s.get(19..).unwrap_or("");
    let fraction_ok = match tail.strip_prefix('.') {
        Some(rest) => rest
            .strip_suffix('Z')
            .is_some_and(|f| !f.is_empty() && f.bytes().all(|d| d.is_ascii_digit())),
        None => tail == "Z",
    };
    if !shape || !fraction_ok {
        bail!(
            "timestamp {s:?} is not RFC 3339 in UTC: write it as YYYY-MM-DDThh:mm:ssZ (e.g. 2024-05-01T12:00:00Z), or pass unix seconds"
        );
    }
    Ok(format!("{}Z", &s[..19]))
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (proleptic Gregorian calendar).
fn from_unix(secs: i64) -> String {
    crate::plan::version::iso8601(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_format_as_utc() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_714_564_800, "2024-05-01T12:00:00Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(
                Timestamp::Unix(secs).to_utc_string().unwrap(),
                want,
                "{secs}"
            );
        }
    }

    #[test]
    fn rfc3339_utc_is_accepted_and_fractions_dropped() {
        for (given, want) in [
            ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
            ("2024-05-01T12:00:00.123456Z", "2024-05-01T12:00:00Z"),
        ] {
            let got = Timestamp::Rfc3339(given.into()).to_utc_string().unwrap();
            assert_eq!(got, want, "{given}");
        }
    }

    #[test]
    fn non_utc_or_malformed_times_are_refused_with_the_expected_form() {
        for bad in [
            "2024-05-01T12:00:00+02:00",
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00Z",
            "2024-05-01T12:00:00.Z",
            "",
        ] {
            let err = Timestamp::Rfc3339(bad.into()).to_utc_string().unwrap_err();
            assert!(
                err.to_string().contains("YYYY-MM-DDThh:mm:ssZ"),
                "{bad}: {err}"
            );
        }
    }
}
