//! The content model: programs (shows) and their episodes, as stored by the CMS and carried in
//! events, and the DTOs editors send to create and change them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    Category, ContentKind, ContentStatus, Description, DurationSeconds, ErrorCode, LanguageCode, Problem, PublishDate,
    Title,
};

/// A program (a podcast or documentary series) as the CMS stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Program {
    pub id: Uuid,
    pub title: Title,
    #[serde(default)]
    pub description: Description,
    pub category: Category,
    pub language: LanguageCode,
    #[serde(default)]
    pub duration_seconds: Option<DurationSeconds>,
    #[serde(default)]
    pub publish_date: Option<PublishDate>,
    #[serde(default)]
    pub artwork_url: Option<String>,
    #[serde(default)]
    pub explicit: bool,
    #[serde(default)]
    pub external_guid: Option<String>,
    pub status: ContentStatus,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An episode of a program as the CMS stores it. It carries its own category and language (copied
/// from the program unless the editor set them), so it can be searched without its program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Episode {
    pub id: Uuid,
    pub program_id: Uuid,
    pub title: Title,
    #[serde(default)]
    pub description: Description,
    pub category: Category,
    pub language: LanguageCode,
    pub duration_seconds: DurationSeconds,
    #[serde(default)]
    pub publish_date: Option<PublishDate>,
    #[serde(default)]
    pub artwork_url: Option<String>,
    #[serde(default)]
    pub explicit: bool,
    #[serde(default)]
    pub season: Option<u32>,
    #[serde(default)]
    pub episode_number: Option<u32>,
    #[serde(default)]
    pub external_guid: Option<String>,
    pub status: ContentStatus,
    /// Whether the episode's program is published. An episode is discoverable only when both are;
    /// the CMS re-announces a program's episodes (each at a new version) when this changes.
    #[serde(default = "yes")]
    pub program_visible: bool,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn yes() -> bool {
    true
}

/// The full state of one item after a change: the `data` of every content event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ContentSnapshot {
    Program(Program),
    Episode(Episode),
}

impl ContentSnapshot {
    pub fn kind(&self) -> ContentKind {
        match self {
            Self::Program(_) => ContentKind::Program,
            Self::Episode(_) => ContentKind::Episode,
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Self::Program(program) => program.id,
            Self::Episode(episode) => episode.id,
        }
    }

    /// The program this item belongs to: itself for a program. Kafka messages are keyed by it.
    pub fn program_id(&self) -> Uuid {
        match self {
            Self::Program(program) => program.id,
            Self::Episode(episode) => episode.program_id,
        }
    }

    pub fn version(&self) -> u64 {
        match self {
            Self::Program(program) => program.version,
            Self::Episode(episode) => episode.version,
        }
    }

    pub fn status(&self) -> ContentStatus {
        match self {
            Self::Program(program) => program.status,
            Self::Episode(episode) => episode.status,
        }
    }

    /// Whether discovery shows the item: published, and for an episode, its program too.
    pub fn is_discoverable(&self) -> bool {
        self.status() == ContentStatus::Published
            && match self {
                Self::Program(_) => true,
                Self::Episode(episode) => episode.program_visible,
            }
    }
}

/// `POST /v1/programs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateProgram {
    pub title: Title,
    #[serde(default)]
    pub description: Description,
    pub category: Category,
    pub language: LanguageCode,
    #[serde(default)]
    pub duration_seconds: Option<DurationSeconds>,
    #[serde(default)]
    pub publish_date: Option<PublishDate>,
    #[serde(default)]
    pub artwork_url: Option<String>,
    #[serde(default)]
    pub explicit: bool,
    #[serde(default)]
    pub external_guid: Option<String>,
}

/// `PATCH /v1/programs/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateProgram {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub category: Option<Category>,
    pub language: Option<LanguageCode>,
    pub duration_seconds: Option<DurationSeconds>,
    pub publish_date: Option<PublishDate>,
    pub artwork_url: Option<String>,
    pub explicit: Option<bool>,
}

/// `POST /v1/programs/{id}/episodes`. Category and language default to the program's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateEpisode {
    pub title: Title,
    #[serde(default)]
    pub description: Description,
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub language: Option<LanguageCode>,
    pub duration_seconds: DurationSeconds,
    #[serde(default)]
    pub publish_date: Option<PublishDate>,
    #[serde(default)]
    pub artwork_url: Option<String>,
    #[serde(default)]
    pub explicit: bool,
    #[serde(default)]
    pub season: Option<u32>,
    #[serde(default)]
    pub episode_number: Option<u32>,
    #[serde(default)]
    pub external_guid: Option<String>,
}

/// `PATCH /v1/episodes/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateEpisode {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub category: Option<Category>,
    pub language: Option<LanguageCode>,
    pub duration_seconds: Option<DurationSeconds>,
    pub publish_date: Option<PublishDate>,
    pub artwork_url: Option<String>,
    pub explicit: Option<bool>,
    pub season: Option<u32>,
    pub episode_number: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_program_rejects_invalid_values_and_unknown_fields() {
        let valid = r#"{"title":"Serial","category":"true-crime","language":"en-US"}"#;
        let program: CreateProgram = serde_json::from_str(valid).expect("valid create");
        assert_eq!(program.language.code(), "en");

        for (body, needle) in [
            (r#"{"title":"","category":"news","language":"en"}"#, "title"),
            (r#"{"title":"A","category":"podcasts","language":"en"}"#, "category"),
            (r#"{"title":"A","category":"news","language":"english"}"#, "language"),
            (r#"{"title":"A","category":"news","language":"en","duration_seconds":0}"#, "duration_seconds"),
            (r#"{"title":"A","category":"news","language":"en","publish_date":"May 1"}"#, "publish_date"),
            (r#"{"title":"A","category":"news","language":"en","colour":"red"}"#, "colour"),
        ] {
            let error = serde_json::from_str::<CreateProgram>(body).expect_err(body).to_string();
            assert!(error.contains(needle), "{body}: {error}");
        }
    }

    #[test]
    fn snapshots_are_tagged_by_kind() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("valid timestamp");
        let snapshot = ContentSnapshot::Episode(Episode {
            id: Uuid::nil(),
            program_id: Uuid::max(),
            title: Title::parse("Pilot").expect("title"),
            description: Description::default(),
            category: Category::parse("history").expect("category"),
            language: LanguageCode::parse("de").expect("language"),
            duration_seconds: DurationSeconds::new(1800).expect("duration"),
            publish_date: PublishDate::from_unix_seconds(1_700_000_000),
            artwork_url: None,
            explicit: false,
            season: Some(1),
            episode_number: Some(1),
            external_guid: None,
            status: ContentStatus::Published,
            program_visible: true,
            version: 3,
            created_at: now,
            updated_at: now,
        });
        let json = serde_json::to_value(&snapshot).expect("serialises");
        assert_eq!(json["kind"], "episode");
        assert_eq!(json["publish_date"], "2023-11-14T22:13:20Z");
        let back: ContentSnapshot = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, snapshot);
        assert_eq!(back.program_id(), Uuid::max());
    }
}

/// Most items one page of a CMS listing holds.
pub const MAX_LIST_PAGE_SIZE: u32 = 100;

/// The query string of the CMS list routes (`GET /v1/programs`, `GET /v1/programs/{id}/episodes`):
/// `status`, `category`, `language`, `q` (words the title must contain), `page`, `per_page`.
/// cms-core answers with it and gateway-cms checks requests with it before forwarding them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub status: Option<ContentStatus>,
    pub category: Option<Category>,
    pub language: Option<LanguageCode>,
    pub text: Option<String>,
    pub page: u32,
    pub per_page: u32,
}

impl Default for ListParams {
    /// Every item, the first page of 20.
    fn default() -> Self {
        Self { status: None, category: None, language: None, text: None, page: 1, per_page: 20 }
    }
}

impl ListParams {
    /// From decoded query pairs; a 400 problem names the parameter at fault.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, Problem> {
        let mut params = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "status" => {
                    params.status = Some(ContentStatus::parse(&value).map_err(|e| invalid("status", &e.message))?)
                }
                "category" => {
                    params.category = Some(Category::parse(&value).map_err(|e| invalid("category", &e.message))?)
                }
                "language" => {
                    params.language = Some(LanguageCode::parse(&value).map_err(|e| invalid("language", &e.message))?);
                }
                "q" => params.text = Some(value).filter(|t| !t.trim().is_empty()),
                "page" => params.page = whole_number("page", &value)?,
                "per_page" => params.per_page = whole_number("per_page", &value)?,
                other => return Err(invalid(other, "is not a parameter of this route")),
            }
        }
        if params.page == 0 {
            return Err(invalid("page", "must be 1 or more"));
        }
        if !(1..=MAX_LIST_PAGE_SIZE).contains(&params.per_page) {
            return Err(invalid("per_page", "must be between 1 and 100"));
        }
        Ok(params)
    }
}

/// The query string of `GET /v1/audit`: entries about one `item` (or all), `after` an entry id,
/// at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditParams {
    pub item: Option<Uuid>,
    pub after: i64,
    pub limit: u32,
}

impl AuditParams {
    /// From decoded query pairs; a 400 problem names the parameter at fault.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, Problem> {
        let mut params = Self { item: None, after: 0, limit: 100 };
        for (key, value) in pairs {
            match key.as_str() {
                "item" => params.item = Some(Uuid::parse_str(&value).map_err(|_| invalid("item", "must be a UUID"))?),
                "after" => params.after = whole_number("after", &value)?,
                "limit" => params.limit = whole_number("limit", &value)?,
                other => return Err(invalid(other, "is not a parameter of this route")),
            }
        }
        Ok(params)
    }
}

fn whole_number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, Problem> {
    text.parse().map_err(|_| invalid(name, "must be a non-negative whole number"))
}

fn invalid(name: &str, message: &str) -> Problem {
    Problem::for_field(ErrorCode::InvalidParameter, name, message)
}
