//! Units: byte sizes (`4k`, `1m`, `1GiB`, `512`) and durations (`30s`, `500ms`, `1m30s`).
//!
//! Shared by the job model and by anything else that reads the same vocabulary (benchmark
//! plans embed jobs). All byte units are binary, as in fio: `k`, `kb` and `kib` all mean
//! 1024 bytes. A bare number is bytes. Units are case-insensitive.
//!
//! # The duration grammar
//!
//! One grammar for every duration nfslab reads: command-line flags, the configuration file,
//! benchmark plans, scenario files and job files. A duration is one or more terms
//! `<whole number><unit>`, largest unit first, without spaces: `30s`, `500ms`, `2m`,
//! `1m30s`, `1h30m`, `250us`. Units: `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`, `d`. A bare
//! number is refused (`2` could mean seconds or minutes): the message suggests `2s`.
//! Fractions (`1.5s`) and negative values are refused. Each use states its accepted range
//! with a [`DurationRange`], whose message names the bounds.
//!
//! Written by hand rather than with humantime: humantime accepts spaces, words (`2 hours`)
//! and bare numbers only in some positions, and cannot say which range a field accepts.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a size or duration text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Nothing was given.
    #[error("empty value (hint: give a number with an optional unit, e.g. `4k`, `1m`, `1g`)")]
    Empty,
    /// A leading minus sign.
    #[error("`{value}` is negative (hint: sizes and durations are positive)")]
    Negative {
        /// The text as given.
        value: String,
    },
    /// No leading digits, or a fraction.
    #[error("`{value}` is not a whole number with a unit (hint: e.g. `512`, `4k`, `1m`, `1GiB`)")]
    NotANumber {
        /// The text as given.
        value: String,
    },
    /// Digits followed by a unit this parser does not know.
    #[error("`{value}` has an unknown unit `{unit}` (hint: use {known})")]
    UnknownUnit {
        /// The text as given.
        value: String,
        /// The unit part.
        unit: String,
        /// The units accepted, for the hint.
        known: &'static str,
    },
    /// A number without a unit where a duration belongs.
    #[error(
        "`{value}` has no unit (hint: write `{value}s` for seconds, or `{value}m`, `{value}ms`...)"
    )]
    NoUnit {
        /// The text as given.
        value: String,
    },
    /// Not the duration grammar: a fraction, units out of order, letters first.
    #[error(
        "`{value}` is not a duration (hint: whole numbers with units, largest first, e.g. \
         `30s`, `500ms`, `1m30s`)"
    )]
    NotADuration {
        /// The text as given.
        value: String,
    },
    /// The value does not fit in 64 bits.
    #[error("`{value}` is too large")]
    Overflow {
        /// The text as given.
        value: String,
    },
}

const SIZE_UNITS: &str =
    "no unit (bytes) or k, m, g, t (also kb/KiB, mb/MiB, ...), all powers of 1024";
const DURATION_UNITS: &str = "ns, us, ms, s, m, h, d, combined largest first as in `1m30s`";

/// Splits `text` into its leading digits and the rest, after the common checks.
fn split_number(text: &str) -> Result<(u64, &str), UnitError> {
    let value = text.trim();
    if value.is_empty() {
        return Err(UnitError::Empty);
    }
    if value.starts_with('-') {
        return Err(UnitError::Negative {
            value: value.to_owned(),
        });
    }
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(digits_end);
    if digits.is_empty() || unit.starts_with('.') || unit.starts_with(',') {
        return Err(UnitError::NotANumber {
            value: value.to_owned(),
        });
    }
    let number = digits.parse::<u64>().map_err(|_| UnitError::Overflow {
        value: value.to_owned(),
    })?;
    Ok((number, unit.trim_start()))
}

/// Parses a byte size: `512`, `4k`, `4K`, `4kb`, `4KiB`, `1m`, `1g`, `2t`.
///
/// Zero is returned as zero; callers that need a positive size check that themselves so
/// their message can name the field.
pub(crate) fn parse_size(text: &str) -> Result<u64, UnitError> {
    let (number, unit) = split_number(text)?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(UnitError::UnknownUnit {
                value: text.trim().to_owned(),
                unit: unit.to_owned(),
                known: SIZE_UNITS,
            });
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| UnitError::Overflow {
            value: text.trim().to_owned(),
        })
}

/// Parses a duration in the grammar of the module documentation: `30s`, `500ms`, `1m30s`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let value = text.trim();
    if value.is_empty() {
        return Err(UnitError::Empty);
    }
    if value.starts_with('-') {
        return Err(UnitError::Negative {
            value: value.to_owned(),
        });
    }
    let overflow = || UnitError::Overflow {
        value: value.to_owned(),
    };
    let mut total = Duration::ZERO;
    let mut rest = value;
    let mut last_scale: Option<u128> = None;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, after) = rest.split_at(digits_end);
        if digits.is_empty() || after.starts_with('.') || after.starts_with(',') {
            return Err(UnitError::NotADuration {
                value: value.to_owned(),
            });
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        if unit.is_empty() {
            return Err(UnitError::NoUnit {
                value: value.to_owned(),
            });
        }
        let nanos_per: u128 = match unit.to_ascii_lowercase().as_str() {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" | "sec" => 1_000_000_000,
            "m" | "min" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => {
                return Err(UnitError::UnknownUnit {
                    value: value.to_owned(),
                    unit: unit.to_owned(),
                    known: DURATION_UNITS,
                });
            }
        };
        if last_scale.is_some_and(|last| nanos_per >= last) {
            return Err(UnitError::NotADuration {
                value: value.to_owned(),
            });
        }
        last_scale = Some(nanos_per);
        let number = digits.parse::<u128>().map_err(|_| overflow())?;
        let nanos = number.checked_mul(nanos_per).ok_or_else(overflow)?;
        let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| overflow())?;
        let sub = u32::try_from(nanos % 1_000_000_000).map_err(|_| overflow())?;
        total = total
            .checked_add(Duration::new(secs, sub))
            .ok_or_else(overflow)?;
        rest = next;
    }
    Ok(total)
}

/// The accepted range of one duration field; [`DurationRange::check`] says which bound a
/// value breaks, in the grammar's own spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationRange {
    /// Shortest accepted.
    pub min: Duration,
    /// Longest accepted.
    pub max: Duration,
}

/// A duration outside its field's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is {problem}; give a duration from {min} to {max}", value = format_duration(*.value), min = format_duration(.range.min), max = format_duration(.range.max))]
pub struct RangeError {
    /// The value given.
    pub value: Duration,
    /// The accepted range.
    pub range: DurationRange,
    /// `zero`, `too short` or `too long`.
    pub problem: &'static str,
}

impl DurationRange {
    /// A range from `min` to `max`, both included.
    #[must_use]
    pub const fn new(min: Duration, max: Duration) -> Self {
        Self { min, max }
    }

    /// Whether `value` is within the range.
    ///
    /// # Errors
    /// `RangeError` naming the bound broken.
    pub fn check(self, value: Duration) -> Result<Duration, RangeError> {
        let problem = if value < self.min {
            if value.is_zero() { "zero" } else { "too short" }
        } else if value > self.max {
            "too long"
        } else {
            return Ok(value);
        };
        Err(RangeError {
            value,
            range: self,
            problem,
        })
    }
}

/// `#[serde(with = "nfslab_workload::duration_text")]` for `Duration` fields written
/// in the duration grammar (the configuration file).
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Span, format_duration};

    /// Writes the duration in its shortest exact form.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*value))
    }

    /// Reads a duration in the grammar.
    ///
    /// # Errors
    /// A value outside the grammar.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Span::deserialize(deserializer).map(Span::duration)
    }
}

/// Formats a byte count in the shortest exact form this module parses back (`4k`, `1g`,
/// `1536`), so error messages show values the way users write them.
pub(crate) fn format_size(bytes: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "t"), (30, "g"), (20, "m"), (10, "k")];
    for (shift, unit) in UNITS {
        let scale = 1u64 << shift;
        if bytes >= scale && bytes.is_multiple_of(scale) {
            return format!("{}{unit}", bytes / scale);
        }
    }
    bytes.to_string()
}

/// Formats a duration exactly, in the grammar [`parse_duration`] reads back: terms largest
/// unit first, without spaces, zero terms left out (`30s`, `1m30s`, `2h`, `1s500ms`,
/// `26h`; hours are the largest unit, as limits are said in hours). The one way nfslab shows a duration in messages, records and manifests, so
/// what it prints can be pasted back into a flag or a file.
pub fn format_duration(duration: Duration) -> String {
    const UNITS: [(u128, &str); 6] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let mut nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (scale, unit) in UNITS {
        let whole = nanos / scale;
        if whole > 0 {
            out.push_str(&whole.to_string());
            out.push_str(unit);
            nanos %= scale;
        }
    }
    out
}

/// A byte size read from a number or a unit string; serialized as a plain byte count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

impl Size {
    /// The size in bytes.
    #[must_use]
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_size(self.0))
    }
}

impl FromStr for Size {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_size(s).map(Size)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 4096, `4k`, `1m` or `1GiB`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v).map(Size).map_err(|_| {
                    E::custom(UnitError::Negative {
                        value: v.to_string(),
                    })
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Size, E> {
                Err(E::custom(UnitError::NotANumber {
                    value: v.to_string(),
                }))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A duration read in the grammar of the module documentation; serialized as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(pub Duration);

impl Span {
    /// The duration.
    #[must_use]
    pub const fn duration(self) -> Duration {
        self.0
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl FromStr for Span {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(Span)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpanVisitor;
        impl Visitor<'_> for SpanVisitor {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s`, `500ms` or `1m30s`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
                Err(E::custom(UnitError::NoUnit {
                    value: v.to_string(),
                }))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                Err(E::custom(if v < 0 {
                    UnitError::Negative {
                        value: v.to_string(),
                    }
                } else {
                    UnitError::NoUnit {
                        value: v.to_string(),
                    }
                }))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Span, E> {
                Err(E::custom(UnitError::NotADuration {
                    value: v.to_string(),
                }))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                parse_duration(v).map(Span).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(SpanVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_accepted_spelling() {
        let cases = [
            ("512", 512),
            ("0", 0),
            ("4k", 4096),
            ("4K", 4096),
            ("4kb", 4096),
            ("4KiB", 4096),
            ("1m", 1 << 20),
            ("1MiB", 1 << 20),
            ("1g", 1 << 30),
            ("1GiB", 1 << 30),
            ("1GB", 1 << 30),
            ("2t", 2 << 40),
            (" 8k ", 8192),
            ("16b", 16),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_named() {
        assert!(
            matches!(parse_size("1Gx"), Err(UnitError::UnknownUnit { unit, .. }) if unit == "Gx")
        );
        assert!(matches!(parse_size("-1"), Err(UnitError::Negative { .. })));
        assert!(matches!(parse_size("-4k"), Err(UnitError::Negative { .. })));
        assert!(matches!(parse_size(""), Err(UnitError::Empty)));
        assert!(matches!(parse_size("k"), Err(UnitError::NotANumber { .. })));
        assert!(matches!(
            parse_size("1.5g"),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(
            parse_size("99999999999t"),
            Err(UnitError::Overflow { .. })
        ));
        assert!(matches!(
            parse_size("99999999999999999999999"),
            Err(UnitError::Overflow { .. })
        ));
        let message = parse_size("1Gx").unwrap_err().to_string();
        assert!(
            message.contains("`1Gx`") && message.contains("`Gx`"),
            "{message}"
        );
    }

    #[test]
    fn one_duration_grammar() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
        assert!(matches!(parse_duration("2"), Err(UnitError::NoUnit { .. })));
        assert!(matches!(
            parse_duration("1m30"),
            Err(UnitError::NoUnit { .. })
        ));
        assert!(matches!(
            parse_duration("30s1m"),
            Err(UnitError::NotADuration { .. })
        ));
        assert!(matches!(
            parse_duration("1.5s"),
            Err(UnitError::NotADuration { .. })
        ));
        assert!(matches!(
            parse_duration("s"),
            Err(UnitError::NotADuration { .. })
        ));
        assert!(matches!(
            parse_duration("1 m"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999h"),
            Err(UnitError::Overflow { .. })
        ));
        let yaml_number: Result<Span, _> = serde_json::from_str("2");
        assert!(
            yaml_number
                .unwrap_err()
                .to_string()
                .contains("`2` has no unit")
        );
        let text: Span = serde_json::from_str("\"1m30s\"").expect("text");
        assert_eq!(text.duration(), Duration::from_secs(90));
    }

    #[test]
    fn ranges_name_their_bounds() {
        let range = DurationRange::new(Duration::from_secs(1), Duration::from_secs(3600));
        assert_eq!(
            range.check(Duration::from_secs(5)),
            Ok(Duration::from_secs(5))
        );
        assert_eq!(
            range.check(Duration::ZERO).unwrap_err().to_string(),
            "`0s` is zero; give a duration from 1s to 1h"
        );
        assert_eq!(
            range
                .check(Duration::from_secs(7200))
                .unwrap_err()
                .to_string(),
            "`2h` is too long; give a duration from 1s to 1h"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert!(matches!(
            parse_duration("3w"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("-3s"),
            Err(UnitError::Negative { .. })
        ));
    }

    #[test]
    fn formatting_round_trips() {
        for bytes in [1, 512, 1536, 4096, 1 << 20, 3 << 30, 5 << 40, 4097] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }
        for d in [
            Duration::from_secs(30),
            Duration::from_millis(1500),
            Duration::from_secs(7200),
            Duration::from_nanos(17),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_size(4096), "4k");
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_millis(1500), "1s500ms"),
            (Duration::from_secs(86_400 + 7_200), "26h"),
            (Duration::from_micros(250), "250us"),
            (Duration::from_nanos(90_000_000_017), "1m30s17ns"),
        ] {
            assert_eq!(format_duration(d), text, "{d:?}");
        }
    }
}
