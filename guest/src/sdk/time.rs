//! Rex's common utilities: `DateTime` (UTC, nanosecond precision) and `DateTimeFormat`,
//! `random_alphanumeric`, the `CommonUtilsErrorKind` module. Date arithmetic and formatting
//! are pure computation here (the `time` crate); only `now` and randomness ask the host
//! (`wrex:sdk/clock`), since the guest has no clock and no random source of its own.
//!
//! Unlike Rex, a `DateTime` is checked when it is made (Rex accepted a 13th month and
//! panicked later) and arithmetic that leaves the representable range is an error.

use std::fmt;

use rhai::{Engine, EvalAltResult, Module};
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::bindings::wrex::sdk::clock;
use crate::sdk::error::{self, error_kinds};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

error_kinds!(
    /// Rex's `CommonUtilsErrorKind`.
    CommonUtilsErrorKind,
    [InvalidArguments, ParseError, FormatError, Other]
);

fn fail(kind: CommonUtilsErrorKind, message: impl Into<String>) -> Box<EvalAltResult> {
    error::sdk_error(kind, message)
}

fn invalid(message: impl Into<String>) -> Box<EvalAltResult> {
    fail(CommonUtilsErrorKind::InvalidArguments, message)
}

/// Rex's `DateTimeFormat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateTimeFormat {
    Rfc3339,
    Rfc2822,
}

impl fmt::Display for DateTimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rfc3339 => "RFC3339",
            Self::Rfc2822 => "RFC2822",
        })
    }
}

/// Rex's `DateTime`: an instant in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(OffsetDateTime);

const MONTHS: [(&str, &str); 12] = [
    ("January", "Jan"),
    ("February", "Feb"),
    ("March", "Mar"),
    ("April", "Apr"),
    ("May", "May"),
    ("June", "Jun"),
    ("July", "Jul"),
    ("August", "Aug"),
    ("September", "Sep"),
    ("October", "Oct"),
    ("November", "Nov"),
    ("December", "Dec"),
];

fn field<T: TryFrom<i64>>(value: i64, what: &str) -> Result<T> {
    T::try_from(value).map_err(|_| invalid(format!("DateTime: {what} {value} is out of range")))
}

impl DateTime {
    /// `DateTime(year, month, day, hour, minute, second, nanosecond)`, checked.
    fn new(parts: [i64; 7]) -> Result<Self> {
        let [year, month, day, hour, minute, second, nanos] = parts;
        let month = Month::try_from(field::<u8>(month, "month")?)
            .map_err(|e| invalid(format!("DateTime: {e}")))?;
        let date = Date::from_calendar_date(field(year, "year")?, month, field(day, "day")?)
            .map_err(|e| invalid(format!("DateTime: {e}")))?;
        let time = Time::from_hms_nano(
            field(hour, "hour")?,
            field(minute, "minute")?,
            field(second, "second")?,
            field(nanos, "nanosecond")?,
        )
        .map_err(|e| invalid(format!("DateTime: {e}")))?;
        Ok(Self(PrimitiveDateTime::new(date, time).assume_utc()))
    }

    fn from_epoch(seconds: i64, nanos: i64) -> Result<Self> {
        if !(0..=999_999_999).contains(&nanos) {
            return Err(invalid(format!(
                "Invalid nanos portion: {nanos}. Must be 0-999,999,999"
            )));
        }
        let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
        OffsetDateTime::from_unix_timestamp_nanos(total)
            .map(Self)
            .map_err(|e| invalid(format!("epoch {seconds}: {e}")))
    }

    fn now(with_nanos: bool) -> Result<Self> {
        let (seconds, nanos) = clock::now();
        Self::from_epoch(seconds, if with_nanos { i64::from(nanos) } else { 0 })
    }

    fn parse(text: &str, format: DateTimeFormat) -> Result<Self> {
        let parsed = match format {
            DateTimeFormat::Rfc3339 => OffsetDateTime::parse(text, &Rfc3339),
            DateTimeFormat::Rfc2822 => OffsetDateTime::parse(text, &Rfc2822),
        };
        parsed
            .map(|t| Self(t.to_offset(time::UtcOffset::UTC)))
            .map_err(|e| {
                fail(
                    CommonUtilsErrorKind::ParseError,
                    format!("cannot parse {text:?} as {format}: {e}"),
                )
            })
    }

    fn format(&self, format: DateTimeFormat) -> Result<String> {
        let formatted = match format {
            DateTimeFormat::Rfc3339 => self.0.format(&Rfc3339),
            DateTimeFormat::Rfc2822 => self.0.format(&Rfc2822),
        };
        formatted.map_err(|e| fail(CommonUtilsErrorKind::FormatError, format!("{format}: {e}")))
    }

    /// This instant moved by `seconds` (an error past the representable range).
    fn plus(self, seconds: i64) -> Result<Self> {
        self.0
            .checked_add(time::Duration::seconds(seconds))
            .map(Self)
            .ok_or_else(|| invalid(format!("DateTime {self} + {seconds} s is out of range")))
    }

    fn month_names(&self) -> (&'static str, &'static str) {
        MONTHS[usize::from(u8::from(self.0.month())) - 1]
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{}", self.0.unix_timestamp()),
        }
    }
}

/// `random_alphanumeric(len)`: `len` characters of `A-Za-z0-9`, uniformly, from the host's
/// random source.
fn random_alphanumeric(len: i64) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const MAX: i64 = 1 << 20;
    if !(0..=MAX).contains(&len) {
        return Err(invalid(format!(
            "random_alphanumeric: length {len}; between 0 and {MAX}"
        )));
    }
    let mut out = String::with_capacity(len as usize);
    while (out.len() as i64) < len {
        // Rejection sampling: bytes 248..=255 would make the first 8 letters likelier.
        let want = ((len - out.len() as i64) as u32).saturating_mul(2).max(16);
        let bytes = clock::random_bytes(want.min(1 << 20)).map_err(invalid)?;
        for b in bytes {
            if (out.len() as i64) == len {
                break;
            }
            if b < 248 {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

pub fn register(engine: &mut Engine) {
    error::register::<CommonUtilsErrorKind>(engine);
    crate::sdk::enums::register_enum_named(
        engine,
        "DateTimeFormat",
        [
            ("RFC3339", DateTimeFormat::Rfc3339),
            ("RFC2822", DateTimeFormat::Rfc2822),
        ],
    );
    engine
        .register_type_with_name::<DateTime>("DateTime")
        .register_fn(
            "DateTime",
            |y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, ns: i64| {
                DateTime::new([y, mo, d, h, mi, s, ns])
            },
        )
        .register_fn("now", || DateTime::now(false))
        .register_fn("now_nanos", || DateTime::now(true))
        .register_fn("from_epoch_seconds", |s: i64| DateTime::from_epoch(s, 0))
        .register_fn("from_epoch_nanos", DateTime::from_epoch)
        .register_fn("parse_datetime", |s: &str, f: DateTimeFormat| {
            DateTime::parse(s, f)
        })
        .register_fn("epoch_seconds", |d: &mut DateTime| d.0.unix_timestamp())
        .register_fn("nanos", |d: &mut DateTime| i64::from(d.0.nanosecond()))
        .register_fn("to_string", |d: &mut DateTime, f: DateTimeFormat| {
            d.format(f)
        })
        .register_fn("to_string", |d: &mut DateTime| d.to_string())
        .register_fn("to_debug", |d: &mut DateTime| d.to_string())
        .register_fn("month_str", |d: &mut DateTime| {
            d.month_names().0.to_string()
        })
        .register_fn("month_str_short", |d: &mut DateTime| {
            d.month_names().1.to_string()
        })
        .register_get("year", |d: &mut DateTime| i64::from(d.0.year()))
        .register_get("month", |d: &mut DateTime| i64::from(u8::from(d.0.month())))
        .register_get("day", |d: &mut DateTime| i64::from(d.0.day()))
        .register_get("hour", |d: &mut DateTime| i64::from(d.0.hour()))
        .register_get("minute", |d: &mut DateTime| i64::from(d.0.minute()))
        .register_get("second", |d: &mut DateTime| i64::from(d.0.second()))
        .register_get("nanosecond", |d: &mut DateTime| i64::from(d.0.nanosecond()))
        .register_fn("random_alphanumeric", random_alphanumeric);

    // The operators, as Rex registers them: `+ i64` and `- i64` seconds, `dt - dt` seconds,
    // comparisons.
    let mut ops = Module::new();
    ops.set_native_fn("+", |d: DateTime, s: i64| d.plus(s));
    ops.set_native_fn("-", |d: DateTime, s: i64| {
        d.plus(
            s.checked_neg()
                .ok_or_else(|| invalid("seconds out of range"))?,
        )
    });
    ops.set_native_fn("-", |a: DateTime, b: DateTime| {
        Ok(a.0.unix_timestamp() - b.0.unix_timestamp())
    });
    ops.set_native_fn("==", |a: DateTime, b: DateTime| Ok(a == b));
    ops.set_native_fn("!=", |a: DateTime, b: DateTime| Ok(a != b));
    ops.set_native_fn("<", |a: DateTime, b: DateTime| Ok(a < b));
    ops.set_native_fn("<=", |a: DateTime, b: DateTime| Ok(a <= b));
    ops.set_native_fn(">", |a: DateTime, b: DateTime| Ok(a > b));
    ops.set_native_fn(">=", |a: DateTime, b: DateTime| Ok(a >= b));
    engine.register_global_module(ops.into());
}
