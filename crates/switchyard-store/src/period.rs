//! LiteLLM's duration strings (`30s`, `24h`, `30d`, `1mo`, `monthly`...) in their two uses:
//! [`BudgetPeriod`], how often a budget starts over, with the window (start, end) that contains a
//! given moment (pure functions of the time, so every replica computes the same one without
//! talking to the others); and [`KeyDuration`], how long a key lives: an exact length, never a
//! calendar rule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
/// Monday 1970-01-05 00:00 UTC, the first Monday after the epoch (a Thursday).
const FIRST_MONDAY: i64 = 4 * DAY as i64;

/// How often a budget resets, as in LiteLLM's `budget_duration`.
///
/// Accepted: a positive number followed by `s`, `m`, `h`, `d`, `w` or `mo` (`30s`, `30m`,
/// `24h`, `1d`, `7d`, `2w`, `1mo`, `3mo`), and the words `daily`, `weekly` and `monthly`.
///
/// Windows, all in UTC:
/// - fixed lengths are aligned to the unix epoch, so days start at midnight and `6h` at
///   00:00, 06:00, 12:00 and 18:00;
/// - whole weeks (`7d`, `1w`, `weekly`, `14d`) start on Mondays, as LiteLLM's weekly resets do;
/// - months (`1mo`, `monthly`, `3mo` = calendar quarters, `12mo` = calendar years) start on the
///   first of a month, counted in whole multiples from January 1970. `30d` is a month too,
///   because LiteLLM resets a `30d` budget on the first of each month.
///
/// ```
/// use switchyard_store::BudgetPeriod;
///
/// let monthly: BudgetPeriod = "1mo".parse()?;
/// let now = 1_709_208_000; // 2024-02-29 12:00 UTC
/// assert_eq!(monthly.period_start(now), 1_706_745_600); // 2024-02-01
/// assert_eq!(monthly.period_end(now), 1_709_251_200); // 2024-03-01
/// # Ok::<(), switchyard_store::ParsePeriodError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BudgetPeriod(Length);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Length {
    /// A positive number of seconds, at most `i64::MAX`.
    Seconds(u64),
    /// A positive number of calendar months.
    Months(u32),
}

impl BudgetPeriod {
    /// A fixed period of `seconds` (`None` if zero or beyond `i64::MAX`).
    pub fn seconds(seconds: u64) -> Option<Self> {
        if seconds == 0 || i64::try_from(seconds).is_err() {
            return None;
        }
        Some(Self(Length::Seconds(seconds)))
    }

    /// A period of `months` calendar months (`None` if zero).
    pub fn months(months: u32) -> Option<Self> {
        (months > 0).then_some(Self(Length::Months(months)))
    }

    /// The length in seconds of a fixed period; `None` for calendar months.
    pub fn as_seconds(&self) -> Option<u64> {
        match self.0 {
            Length::Seconds(seconds) => Some(seconds),
            Length::Months(_) => None,
        }
    }

    /// The number of months of a calendar period; `None` for fixed periods.
    pub fn as_months(&self) -> Option<u32> {
        match self.0 {
            Length::Months(months) => Some(months),
            Length::Seconds(_) => None,
        }
    }

    /// The first second (unix time) of the window that contains `now`.
    pub fn period_start(&self, now: i64) -> i64 {
        match self.0 {
            Length::Seconds(seconds) => {
                // `seconds` fits an i64: checked by every constructor.
                let length = seconds as i64;
                let origin = if seconds % WEEK == 0 { FIRST_MONDAY } else { 0 };
                let offset = now.saturating_sub(origin).rem_euclid(length);
                now.saturating_sub(offset)
            }
            Length::Months(months) => {
                let index = month_index(now);
                month_start(index - index.rem_euclid(i64::from(months)))
            }
        }
    }

    /// The first second (unix time) after the window that contains `now`: when it resets.
    pub fn period_end(&self, now: i64) -> i64 {
        match self.0 {
            Length::Seconds(seconds) => self.period_start(now).saturating_add(seconds as i64),
            Length::Months(months) => {
                let index = month_index(now);
                month_start(index - index.rem_euclid(i64::from(months)) + i64::from(months))
            }
        }
    }

    /// Both ends of the window that contains `now`, start inclusive, end exclusive.
    pub fn window(&self, now: i64) -> (i64, i64) {
        (self.period_start(now), self.period_end(now))
    }
}

/// Months since January 1970 of the UTC month that contains `now`.
fn month_index(now: i64) -> i64 {
    let (year, month, _) = civil_from_days(now.div_euclid(DAY as i64));
    (year - 1970) * 12 + i64::from(month) - 1
}

/// The unix time of the first second of month `index` (months since January 1970).
fn month_start(index: i64) -> i64 {
    let year = 1970 + index.div_euclid(12);
    // In 1..=12 by construction.
    let month = index.rem_euclid(12) as u32 + 1;
    days_from_civil(year, month, 1).saturating_mul(DAY as i64)
}

/// (year, month 1..=12, day 1..=31) of a day counted from 1970-01-01, in the proleptic
/// Gregorian calendar. Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to a civil date; the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400); // [0, 399]
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 }; // [0, 11]
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// A `budget_duration` that is not a positive number with a known unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid budget period {0:?}: expected a positive number with s, m, h, d, w or mo \
     (\"30d\", \"1mo\"), or daily, weekly, monthly"
)]
pub struct ParsePeriodError(String);

impl Length {
    /// Parses `text` exactly as written: `30d` is thirty days, `1mo` one calendar month.
    fn parse(text: &str) -> Option<Self> {
        let trimmed = text.trim().to_ascii_lowercase();
        match trimmed.as_str() {
            "daily" => return Some(Self::Seconds(DAY)),
            "weekly" => return Some(Self::Seconds(WEEK)),
            "monthly" => return Some(Self::Months(1)),
            _ => {}
        }
        let split = trimmed.find(|c: char| !c.is_ascii_digit())?;
        let (number, unit) = trimmed.split_at(split);
        let number: u64 = number.parse().ok()?;
        let unit = match unit {
            "s" => 1,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => DAY,
            "w" => WEEK,
            "mo" => {
                let months = u32::try_from(number).ok()?;
                return (months > 0).then_some(Self::Months(months));
            }
            _ => return None,
        };
        let seconds = number.checked_mul(unit)?;
        (seconds > 0 && i64::try_from(seconds).is_ok()).then_some(Self::Seconds(seconds))
    }
}

impl FromStr for BudgetPeriod {
    type Err = ParsePeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // LiteLLM resets a `30d` budget on the first of each month.
        if text.trim().eq_ignore_ascii_case("30d") {
            return Ok(Self(Length::Months(1)));
        }
        Length::parse(text)
            .map(Self)
            .ok_or_else(|| ParsePeriodError(text.to_owned()))
    }
}

impl fmt::Display for BudgetPeriod {
    /// The shortest string that parses back to this period (`86400` seconds is `1d`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Length::Months(months) => write!(f, "{months}mo"),
            Length::Seconds(seconds) => {
                let (unit, name) = [(DAY, "d"), (HOUR, "h"), (MINUTE, "m")]
                    .into_iter()
                    // `30d` would parse as a month.
                    .find(|&(unit, _)| seconds % unit == 0 && seconds != 30 * DAY)
                    .unwrap_or((1, "s"));
                write!(f, "{}{name}", seconds / unit)
            }
        }
    }
}

/// How long a key works from the moment it is made or updated (LiteLLM's key `duration`).
///
/// The same strings as [`BudgetPeriod`], read as exact lengths: `30d` is 30 × 24 hours whatever
/// the month, `1mo` ends on the same day and time of the next month (the month's last day when it
/// has fewer days), as LiteLLM computes a key's expiry.
///
/// ```
/// use switchyard_store::KeyDuration;
///
/// let thirty_days: KeyDuration = "30d".parse()?;
/// let now = 1_796_601_600; // 2026-12-07 00:00 UTC
/// assert_eq!(thirty_days.expires_at(now), now + 30 * 86_400); // 2027-01-06
/// # Ok::<(), switchyard_store::ParsePeriodError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDuration(Length);

impl KeyDuration {
    /// When a key made at `now` (unix seconds) stops working.
    pub fn expires_at(&self, now: i64) -> i64 {
        match self.0 {
            Length::Seconds(seconds) => {
                now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX))
            }
            Length::Months(months) => add_months(now, months),
        }
    }
}

impl FromStr for KeyDuration {
    type Err = ParsePeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Length::parse(text)
            .map(Self)
            .ok_or_else(|| ParsePeriodError(text.to_owned()))
    }
}

impl<'de> Deserialize<'de> for KeyDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `now` moved `months` calendar months on: the same day and time of day, or the last day of
/// the target month when it is shorter.
fn add_months(now: i64, months: u32) -> i64 {
    let day_seconds = DAY as i64;
    let days = now.div_euclid(day_seconds);
    let time_of_day = now.rem_euclid(day_seconds);
    let (year, month, day) = civil_from_days(days);
    let index = (year - 1970) * 12 + i64::from(month) - 1 + i64::from(months);
    let target_year = 1970 + index.div_euclid(12);
    let target_month = index.rem_euclid(12) as u32 + 1;
    let next_month_start = month_start(index + 1) / day_seconds;
    let month_days = next_month_start - days_from_civil(target_year, target_month, 1);
    let target_day = i64::from(day).min(month_days) as u32;
    days_from_civil(target_year, target_month, target_day)
        .saturating_mul(day_seconds)
        .saturating_add(time_of_day)
}

impl Serialize for BudgetPeriod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BudgetPeriod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(text: &str) -> BudgetPeriod {
        text.parse().expect(text)
    }

    // Unix times of UTC dates, from Python's `calendar.timegm`.
    const JAN_1_1970: i64 = 0;
    const DEC_1_1969: i64 = -2_678_400;
    const JAN_1_2000: i64 = 946_684_800;
    const FEB_29_2000: i64 = 951_782_400;
    const MAR_1_2000: i64 = 951_868_800;
    const FEB_1_2023: i64 = 1_675_209_600;
    const MAR_1_2023: i64 = 1_677_628_800;
    const DEC_1_2023: i64 = 1_701_388_800;
    const DEC_31_2023_235959: i64 = 1_704_067_199;
    const JAN_1_2024: i64 = 1_704_067_200;
    const FEB_1_2024: i64 = 1_706_745_600;
    const FEB_29_2024_NOON: i64 = 1_709_208_000;
    const MAR_1_2024: i64 = 1_709_251_200;
    const APR_1_2024: i64 = 1_711_929_600;
    const MAY_15_2024: i64 = 1_715_731_200;
    const JUL_1_2024: i64 = 1_719_792_000;
    const MON_NOV_18_2024: i64 = 1_731_888_000;
    const THU_NOV_21_2024_10H: i64 = 1_732_183_200;
    const MON_NOV_25_2024: i64 = 1_732_492_800;
    const FEB_1_2100: i64 = 4_105_123_200;
    const MAR_1_2100: i64 = 4_107_542_400;

    #[test]
    fn parses_litellm_durations_and_words() {
        assert_eq!(period("30s").as_seconds(), Some(30));
        assert_eq!(period("30m").as_seconds(), Some(1_800));
        assert_eq!(period("24h").as_seconds(), Some(86_400));
        assert_eq!(period("1d").as_seconds(), Some(86_400));
        assert_eq!(period("daily"), period("1d"));
        assert_eq!(period("7d").as_seconds(), Some(604_800));
        assert_eq!(period("weekly"), period("7d"));
        assert_eq!(period("1w"), period("7d"));
        assert_eq!(period("1mo").as_months(), Some(1));
        assert_eq!(period("monthly"), period("1mo"));
        assert_eq!(period("30d"), period("1mo"));
        assert_eq!(period("3mo").as_months(), Some(3));
        assert_eq!(period(" Monthly "), period("1mo"));
        assert_eq!(period("31d").as_seconds(), Some(31 * 86_400));
    }

    fn lifetime(text: &str) -> KeyDuration {
        text.parse().expect(text)
    }

    // Unix times of UTC moments in months of 28, 30 and 31 days.
    const FEB_1_2026: i64 = 1_769_904_000;
    const APR_1_2026: i64 = 1_775_001_600;
    const DEC_7_2026: i64 = 1_796_601_600;
    const JAN_31_2026_NOON: i64 = 1_769_860_800;
    const FEB_28_2026_NOON: i64 = 1_772_280_000;

    #[test]
    fn a_key_duration_is_an_exact_length_in_every_month() {
        let thirty = lifetime("30d");
        // February of a common year (28 days), of a leap year (29), April (30), December (31).
        for start in [FEB_1_2026, FEB_1_2024, APR_1_2026, DEC_7_2026, DEC_1_2023] {
            assert_eq!(
                thirty.expires_at(start),
                start + 30 * 86_400,
                "from {start}"
            );
        }
        assert_eq!(
            lifetime("31d").expires_at(DEC_7_2026),
            DEC_7_2026 + 31 * 86_400
        );
        assert_eq!(lifetime("1h").expires_at(DEC_7_2026), DEC_7_2026 + 3_600);
        assert_eq!(
            lifetime("daily").expires_at(DEC_7_2026),
            DEC_7_2026 + 86_400
        );
    }

    #[test]
    fn a_key_duration_in_months_ends_on_the_same_day_or_the_months_last() {
        assert_eq!(lifetime("1mo").expires_at(FEB_1_2024), MAR_1_2024);
        assert_eq!(lifetime("1mo").expires_at(FEB_1_2023), MAR_1_2023);
        assert_eq!(lifetime("2mo").expires_at(FEB_1_2024), APR_1_2024);
        assert_eq!(lifetime("1mo").expires_at(DEC_1_2023), JAN_1_2024);
        // January 31st plus a month is the last day of February.
        assert_eq!(
            lifetime("1mo").expires_at(JAN_31_2026_NOON),
            FEB_28_2026_NOON
        );
        assert_eq!(lifetime("monthly"), lifetime("1mo"));
    }

    #[test]
    fn rejects_what_is_not_a_period() {
        for bad in [
            "",
            "d",
            "30",
            "0d",
            "0mo",
            "-1d",
            "1.5h",
            "1y",
            "30dd",
            "1 d",
            "mo",
            "None",
            "99999999999999999999s",
            "9999999999999999d",
            "5000000000mo",
        ] {
            assert!(bad.parse::<BudgetPeriod>().is_err(), "{bad:?} parsed");
            assert!(bad.parse::<KeyDuration>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn displays_the_shortest_form_and_round_trips_through_serde() {
        for (text, shown) in [
            ("30s", "30s"),
            ("90s", "90s"),
            ("120s", "2m"),
            ("24h", "1d"),
            ("weekly", "7d"),
            ("60d", "60d"),
            ("monthly", "1mo"),
            ("30d", "1mo"),
            ("2592000s", "2592000s"),
        ] {
            let parsed = period(text);
            assert_eq!(parsed.to_string(), shown, "{text}");
            assert_eq!(period(shown), parsed, "{shown} parses back");
            let json = serde_json::to_string(&parsed).expect("serializes");
            assert_eq!(
                serde_json::from_str::<BudgetPeriod>(&json).expect("deserializes"),
                parsed
            );
        }
        assert!(serde_json::from_str::<BudgetPeriod>("\"1y\"").is_err());
    }

    #[test]
    fn fixed_periods_align_to_the_epoch() {
        let day = period("1d");
        assert_eq!(
            day.window(THU_NOV_21_2024_10H),
            (
                THU_NOV_21_2024_10H - 10 * 3_600,
                THU_NOV_21_2024_10H + 14 * 3_600
            )
        );
        assert_eq!(day.window(JAN_1_2024), (JAN_1_2024, JAN_1_2024 + 86_400));
        assert_eq!(
            day.window(JAN_1_2024 - 1),
            (JAN_1_2024 - 86_400, JAN_1_2024)
        );

        let six_hours = period("6h");
        assert_eq!(
            six_hours.period_start(THU_NOV_21_2024_10H),
            THU_NOV_21_2024_10H - 4 * 3_600
        );

        let thirty_seconds = period("30s");
        assert_eq!(thirty_seconds.window(89), (60, 90));
        assert_eq!(thirty_seconds.window(90), (90, 120));
        // Before the epoch the window still contains `now`.
        assert_eq!(thirty_seconds.window(-1), (-30, 0));
        assert_eq!(day.window(-1), (-86_400, 0));
    }

    #[test]
    fn weeks_start_on_monday() {
        let week = period("weekly");
        assert_eq!(
            week.window(THU_NOV_21_2024_10H),
            (MON_NOV_18_2024, MON_NOV_25_2024)
        );
        assert_eq!(
            week.window(MON_NOV_25_2024),
            (MON_NOV_25_2024, MON_NOV_25_2024 + 604_800)
        );
        assert_eq!(week.period_start(MON_NOV_25_2024 - 1), MON_NOV_18_2024);
        // Before the first Monday after the epoch.
        assert_eq!(
            week.window(JAN_1_1970),
            (FIRST_MONDAY - 604_800, FIRST_MONDAY)
        );
        let two_weeks = period("2w");
        let (start, end) = two_weeks.window(THU_NOV_21_2024_10H);
        assert_eq!(end - start, 2 * 604_800);
        assert!(start <= THU_NOV_21_2024_10H && THU_NOV_21_2024_10H < end);
        assert_eq!((start - FIRST_MONDAY) % 604_800, 0);
    }

    #[test]
    fn months_follow_the_calendar_across_leap_years() {
        let month = period("1mo");
        // 2024 is a leap year: February has 29 days.
        assert_eq!(month.window(FEB_29_2024_NOON), (FEB_1_2024, MAR_1_2024));
        assert_eq!(month.window(MAR_1_2024), (MAR_1_2024, APR_1_2024));
        assert_eq!(month.window(MAR_1_2024 - 1), (FEB_1_2024, MAR_1_2024));
        // 2023 is not: 28 days.
        assert_eq!(month.window(FEB_1_2023), (FEB_1_2023, MAR_1_2023));
        assert_eq!(MAR_1_2023 - FEB_1_2023, 28 * 86_400);
        // 2000 is (divisible by 400), 2100 is not (divisible by 100).
        assert_eq!(
            month.window(FEB_29_2000),
            (FEB_29_2000 - 28 * 86_400, MAR_1_2000)
        );
        assert_eq!(month.window(FEB_1_2100), (FEB_1_2100, MAR_1_2100));
        assert_eq!(MAR_1_2100 - FEB_1_2100, 28 * 86_400);
        // Year end.
        assert_eq!(month.window(DEC_31_2023_235959), (DEC_1_2023, JAN_1_2024));
        assert_eq!(
            month.window(JAN_1_2024),
            (JAN_1_2024, JAN_1_2024 + 31 * 86_400)
        );
        // Before the epoch.
        assert_eq!(month.window(-1), (DEC_1_1969, JAN_1_1970));
        assert_eq!(month.period_start(JAN_1_2000), JAN_1_2000);
    }

    #[test]
    fn several_months_are_counted_from_january_1970() {
        let quarter = period("3mo");
        assert_eq!(quarter.window(MAY_15_2024), (APR_1_2024, JUL_1_2024));
        assert_eq!(quarter.window(FEB_29_2024_NOON), (JAN_1_2024, APR_1_2024));
        let year = period("12mo");
        assert_eq!(year.window(FEB_29_2024_NOON), (JAN_1_2024, 1_735_689_600));
        assert_eq!(year.window(DEC_31_2023_235959).1, JAN_1_2024);
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in (-800_000..800_000).step_by(97) {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=12).contains(&month) && (1..=31).contains(&day));
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(FEB_29_2024_NOON / 86_400), (2024, 2, 29));
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        for text in ["1s", "7d", "1mo", "12mo"] {
            let period = period(text);
            for now in [i64::MIN / 2, -1, 0, i64::MAX / 2] {
                let (start, end) = period.window(now);
                assert!(start <= now && now < end, "{text} at {now}");
            }
        }
    }
}
