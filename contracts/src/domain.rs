//! Validated domain values. Each constructor rejects what the rules forbid, so a value of one of
//! these types is valid wherever it is seen: the edges parse, the core trusts.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// A value that broke a domain rule: which field, and what the caller should send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DomainError {
    pub field: String,
    pub message: String,
}

impl DomainError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// A title: 1 to 300 characters once surrounding white space is trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Title(String);

impl Title {
    pub const MAX_CHARS: usize = 300;

    pub fn parse(input: impl AsRef<str>) -> Result<Self, DomainError> {
        let trimmed = input.as_ref().trim();
        let chars = trimmed.chars().count();
        if chars == 0 {
            return Err(DomainError::new("title", "must not be empty"));
        }
        if chars > Self::MAX_CHARS {
            return Err(DomainError::new(
                "title",
                format!("must be at most {} characters, got {chars}", Self::MAX_CHARS),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description: at most 10,000 characters (it may be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(input: impl AsRef<str>) -> Result<Self, DomainError> {
        let trimmed = input.as_ref().trim();
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(DomainError::new(
                "description",
                format!("must be at most {} characters, got {chars}", Self::MAX_CHARS),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A duration in whole seconds, from 1 second to 48 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct DurationSeconds(u32);

impl DurationSeconds {
    pub const MAX: u64 = 48 * 60 * 60;

    pub fn new(seconds: u64) -> Result<Self, DomainError> {
        if seconds == 0 || seconds > Self::MAX {
            return Err(DomainError::new(
                "duration_seconds",
                format!("must be between 1 and {} seconds (48 h), got {seconds}", Self::MAX),
            ));
        }
        Ok(Self(seconds as u32))
    }

    pub fn get(self) -> u64 {
        u64::from(self.0)
    }
}

/// A publish date, given and shown as RFC 3339, kept in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublishDate(DateTime<Utc>);

impl PublishDate {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        DateTime::parse_from_rfc3339(input.trim()).map(|date| Self(date.with_timezone(&Utc))).map_err(|error| {
            DomainError::new(
                "publish_date",
                format!("must be an RFC 3339 date-time such as 2024-05-01T08:00:00Z ({error})"),
            )
        })
    }

    pub fn from_datetime(date: DateTime<Utc>) -> Self {
        Self(date)
    }

    /// From whole seconds since the Unix epoch; `None` outside chrono's range.
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        DateTime::from_timestamp(seconds, 0).map(Self)
    }

    pub fn datetime(self) -> DateTime<Utc> {
        self.0
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.timestamp()
    }

    pub fn to_rfc3339(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Whether an item is a program (a show) or one of its episodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ContentKind {
    Program,
    Episode,
}

impl ContentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Program => "program",
            Self::Episode => "episode",
        }
    }

    pub fn parse(input: &str) -> Result<Self, DomainError> {
        match input {
            "program" => Ok(Self::Program),
            "episode" => Ok(Self::Episode),
            other => Err(DomainError::new("kind", format!("must be program or episode, got {other:?}"))),
        }
    }
}

/// Where an item is in the editorial workflow. Only `Published` items are visible to discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ContentStatus {
    Draft,
    /// Published with a future publish date: hidden until the scheduler publishes it then.
    Scheduled,
    Published,
    Unpublished,
    Deleted,
}

impl ContentStatus {
    pub const ALL: [Self; 5] = [Self::Draft, Self::Scheduled, Self::Published, Self::Unpublished, Self::Deleted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Published => "published",
            Self::Unpublished => "unpublished",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(input: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|status| status.as_str() == input).ok_or_else(|| {
            DomainError::new("status", "must be one of draft, scheduled, published, unpublished, deleted")
        })
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0.to_string()
            }
        }
    )*};
}
string_conversions!(Title, Description);

impl TryFrom<String> for PublishDate {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PublishDate> for String {
    fn from(value: PublishDate) -> Self {
        value.to_rfc3339()
    }
}

impl TryFrom<u64> for DurationSeconds {
    type Error = DomainError;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<DurationSeconds> for u64 {
    fn from(value: DurationSeconds) -> Self {
        value.get()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn title_bounds() {
        assert!(Title::parse("").is_err());
        assert!(Title::parse("   ").is_err());
        assert_eq!(Title::parse("  Serial  ").map(|t| t.as_str().to_owned()), Ok("Serial".into()));
        assert!(Title::parse("x".repeat(300)).is_ok());
        let error = Title::parse("x".repeat(301)).expect_err("301 chars");
        assert_eq!(error.field, "title");
        // Characters, not bytes: 300 Japanese characters are 900 bytes and still valid.
        assert!(Title::parse("東".repeat(300)).is_ok());
    }

    #[test]
    fn description_bounds() {
        assert!(Description::parse("").is_ok());
        assert!(Description::parse("a".repeat(10_000)).is_ok());
        assert_eq!(Description::parse("a".repeat(10_001)).expect_err("too long").field, "description");
    }

    #[test]
    fn duration_bounds() {
        assert!(DurationSeconds::new(0).is_err());
        assert!(DurationSeconds::new(1).is_ok());
        assert!(DurationSeconds::new(48 * 3600).is_ok());
        assert_eq!(DurationSeconds::new(48 * 3600 + 1).expect_err("too long").field, "duration_seconds");
        assert!(serde_json::from_str::<DurationSeconds>("0").is_err());
    }

    #[test]
    fn publish_dates_are_rfc3339_and_normalised_to_utc() {
        let date = PublishDate::parse("2024-05-01T10:00:00+02:00").expect("valid date");
        assert_eq!(date.to_rfc3339(), "2024-05-01T08:00:00Z");
        for bad in ["2024-05-01", "yesterday", "2024-13-01T00:00:00Z", "Wed, 01 May 2024 08:00:00 GMT"] {
            assert_eq!(PublishDate::parse(bad).expect_err(bad).field, "publish_date");
        }
        let json: Result<PublishDate, _> = serde_json::from_str("\"not a date\"");
        assert!(json.is_err());
    }

    proptest! {
        #[test]
        fn any_string_either_parses_or_names_the_field(input in ".{0,400}") {
            match Title::parse(&input) {
                Ok(title) => prop_assert!((1..=300).contains(&title.as_str().chars().count())),
                Err(error) => prop_assert_eq!(error.field, "title"),
            }
            if let Err(error) = PublishDate::parse(&input) {
                prop_assert_eq!(error.field, "publish_date");
            }
        }
    }
}
