//! What a caller asks the engine (`SearchRequest`) and what it answers (`SearchResponse`).

use contracts::{Category, ContentKind, LanguageCode, PublishDate};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{EngineError, Result};

/// Deepest result reachable by paging (`page * per_page`).
pub const MAX_RESULT_WINDOW: u64 = 10_000;
pub const MAX_PER_PAGE: u32 = 100;
pub const DEFAULT_PER_PAGE: u32 = 20;
/// Longest query text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Most words (and phrases) one query may have.
pub const MAX_QUERY_TERMS: usize = 32;

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best match first; without query text, the same as `Newest`.
    #[default]
    Relevance,
    Newest,
    Oldest,
    /// Shortest first.
    Duration,
    /// Longest first.
    DurationDesc,
}

impl Sort {
    pub fn parse(input: &str) -> Result<Self> {
        Ok(match input {
            "relevance" => Self::Relevance,
            "newest" => Self::Newest,
            "oldest" => Self::Oldest,
            "duration" => Self::Duration,
            "duration_desc" => Self::DurationDesc,
            other => {
                return Err(EngineError::invalid(
                    "sort",
                    format!("unknown sort {other:?}; use relevance, newest, oldest, duration or duration_desc"),
                ));
            }
        })
    }
}

/// A search (with text) or a browse (without): filters, order and page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchRequest {
    pub text: Option<String>,
    pub kind: Option<ContentKind>,
    pub categories: Vec<Category>,
    pub languages: Vec<LanguageCode>,
    pub program_id: Option<Uuid>,
    pub min_duration: Option<u64>,
    pub max_duration: Option<u64>,
    /// Unix seconds, inclusive.
    pub published_after: Option<i64>,
    /// Unix seconds, inclusive.
    pub published_before: Option<i64>,
    pub sort: Sort,
    pub page: u32,
    pub per_page: u32,
    pub facets: bool,
    pub highlight: bool,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            text: None,
            kind: None,
            categories: Vec::new(),
            languages: Vec::new(),
            program_id: None,
            min_duration: None,
            max_duration: None,
            published_after: None,
            published_before: None,
            sort: Sort::Relevance,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            facets: true,
            highlight: true,
        }
    }
}

impl SearchRequest {
    /// A text search with default filters.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: Some(text.into()), ..Self::default() }
    }

    /// A browse (no text, newest first) with default filters.
    pub fn browse() -> Self {
        Self { sort: Sort::Newest, ..Self::default() }
    }

    /// Parses HTTP query parameters (`q`, `kind`, `category`, `language`, `program_id`, `sort`,
    /// `min_duration`, `max_duration`, `published_after`, `published_before`, `page`, `per_page`).
    /// `category` and `language` may repeat or hold comma-separated values. Every error names the
    /// parameter at fault; unknown parameters are rejected so a typo never silently widens a search.
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut request = Self::default();
        let mut sort_given = false;
        for (name, value) in params {
            match name {
                "q" => request.text = Some(value.to_owned()),
                "kind" => {
                    request.kind = Some(ContentKind::parse(value).map_err(|e| EngineError::invalid("kind", e.message))?)
                }
                "category" => {
                    for slug in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let category =
                            Category::parse(slug).map_err(|e| EngineError::invalid("category", e.message))?;
                        request.categories.push(category);
                    }
                }
                "language" => {
                    for code in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let language =
                            LanguageCode::parse(code).map_err(|e| EngineError::invalid("language", e.message))?;
                        request.languages.push(language);
                    }
                }
                "program_id" => {
                    request.program_id =
                        Some(Uuid::parse_str(value).map_err(|_| EngineError::invalid("program_id", "must be a UUID"))?)
                }
                "sort" => {
                    request.sort = Sort::parse(value)?;
                    sort_given = true;
                }
                "min_duration" => request.min_duration = Some(parse_number(name, value)?),
                "max_duration" => request.max_duration = Some(parse_number(name, value)?),
                "published_after" => request.published_after = Some(parse_date(name, value)?),
                "published_before" => request.published_before = Some(parse_date(name, value)?),
                "page" => request.page = parse_number(name, value)?,
                "per_page" => request.per_page = parse_number(name, value)?,
                other => {
                    return Err(EngineError::invalid(other, "unknown parameter"));
                }
            }
        }
        if !sort_given && request.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            request.sort = Sort::Newest;
        }
        request.validate()?;
        Ok(request)
    }

    /// Checks ranges that no single parameter can check alone.
    pub fn validate(&self) -> Result<()> {
        if self.page == 0 {
            return Err(EngineError::invalid("page", "must be 1 or more"));
        }
        if self.per_page == 0 || self.per_page > MAX_PER_PAGE {
            return Err(EngineError::invalid("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
        }
        if u64::from(self.page) * u64::from(self.per_page) > MAX_RESULT_WINDOW {
            return Err(EngineError::invalid(
                "page",
                format!(
                    "results are reachable up to {MAX_RESULT_WINDOW} deep (page * per_page); narrow the search instead"
                ),
            ));
        }
        if let (Some(min), Some(max)) = (self.min_duration, self.max_duration)
            && min > max
        {
            return Err(EngineError::invalid("min_duration", "must not be greater than max_duration"));
        }
        if let (Some(after), Some(before)) = (self.published_after, self.published_before)
            && after > before
        {
            return Err(EngineError::invalid("published_after", "must not be later than published_before"));
        }
        if let Some(text) = &self.text {
            let chars = text.chars().count();
            if chars > MAX_QUERY_CHARS {
                return Err(EngineError::invalid(
                    "q",
                    format!("must be at most {MAX_QUERY_CHARS} characters, got {chars}"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the request has text to match (otherwise it is a browse).
    pub fn has_text(&self) -> bool {
        self.text.as_deref().is_some_and(|t| !t.trim().is_empty())
    }

    /// The request with list filters sorted and text whitespace-normalised, so equivalent requests
    /// share cache entries.
    pub(crate) fn normalised(&self) -> Self {
        let mut normal = self.clone();
        normal.categories.sort();
        normal.categories.dedup();
        normal.languages.sort();
        normal.languages.dedup();
        normal.text = self.text.as_deref().map(normalise_text).filter(|t| !t.is_empty());
        if normal.text.is_none() && normal.sort == Sort::Relevance {
            normal.sort = Sort::Newest;
        }
        normal
    }
}

/// Collapses white space and case, keeping one trailing space when there was one: it says the last
/// word is finished (no prefix match), so it changes the answer.
pub(crate) fn normalise_text(text: &str) -> String {
    let mut normal = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    if !normal.is_empty() && text.ends_with(char::is_whitespace) {
        normal.push(' ');
    }
    normal
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T> {
    value.trim().parse().map_err(|_| EngineError::invalid(name, format!("must be a whole number, got {value:?}")))
}

/// An RFC 3339 date-time, or a calendar date (`2024-05-01`) meaning the whole day: its start for
/// `published_after`, its last second for `published_before`.
fn parse_date(name: &str, value: &str) -> Result<i64> {
    let value = value.trim();
    let is_day = value.len() == 10 && value.as_bytes().get(4) == Some(&b'-') && value.as_bytes().get(7) == Some(&b'-');
    let full = match (is_day, name) {
        (true, "published_before") => format!("{value}T23:59:59Z"),
        (true, _) => format!("{value}T00:00:00Z"),
        (false, _) => value.to_owned(),
    };
    PublishDate::parse(&full).map(PublishDate::unix_seconds).map_err(|e| {
        EngineError::invalid(name, format!("must be an RFC 3339 date-time or a date (YYYY-MM-DD): {}", e.message))
    })
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResponse {
    /// Exact number of matching items.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

/// One matching item, with everything needed to render it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub id: String,
    pub kind: ContentKind,
    pub program_id: String,
    pub title: String,
    pub description: String,
    pub category: Option<Category>,
    pub language: Option<LanguageCode>,
    pub duration_seconds: Option<u64>,
    /// RFC 3339.
    pub publish_date: Option<String>,
    pub artwork_url: Option<String>,
    pub version: u64,
    #[serde(skip)]
    pub score: f32,
    pub highlights: Highlights,
}

/// Title and description with matched words wrapped in `<em>`, HTML-escaped; `None` where
/// nothing matched (or for a browse).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Highlights {
    pub title: Option<String>,
    pub description: Option<String>,
}

/// Disjunctive facet counts: each facet counted with every filter applied except its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facets {
    pub category: Vec<FacetCount>,
    pub language: Vec<FacetCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// A title completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub id: String,
    pub kind: ContentKind,
    pub title: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<SearchRequest> {
        let pairs: Vec<(&str, &str)> =
            query.split('&').filter(|p| !p.is_empty()).filter_map(|p| p.split_once('=')).collect();
        SearchRequest::from_params(pairs)
    }

    fn parameter_of(query: &str) -> String {
        match parse(query) {
            Err(EngineError::InvalidParameter { parameter, .. }) => parameter,
            other => panic!("{query}: expected an invalid parameter, got {other:?}"),
        }
    }

    #[test]
    fn parameters_parse_with_repeats_and_commas() {
        let request = parse("q=history&category=history,news&category=arts&language=en&language=pt-BR&sort=oldest&page=2&per_page=50&min_duration=60&published_after=2020-01-01T00:00:00Z")
            .expect("valid request");
        assert_eq!(request.categories.len(), 3);
        assert_eq!(request.languages.iter().map(|l| l.code()).collect::<Vec<_>>(), ["en", "pt"]);
        assert_eq!((request.sort, request.page, request.per_page), (Sort::Oldest, 2, 50));
        assert_eq!(request.published_after, Some(1_577_836_800));
        let days = parse("published_after=2020-01-01&published_before=2020-01-01").expect("whole days");
        assert_eq!((days.published_after, days.published_before), (Some(1_577_836_800), Some(1_577_923_199)));
        assert_eq!(parse("").expect("empty is a browse").sort, Sort::Newest);
        assert_eq!(parse("q=x").expect("text").sort, Sort::Relevance);
    }

    #[test]
    fn every_bad_parameter_is_named() {
        assert_eq!(parameter_of("category=podcasts"), "category");
        assert_eq!(parameter_of("language=klingon"), "language");
        assert_eq!(parameter_of("kind=movie"), "kind");
        assert_eq!(parameter_of("sort=best"), "sort");
        assert_eq!(parameter_of("page=0"), "page");
        assert_eq!(parameter_of("page=-1"), "page");
        assert_eq!(parameter_of("per_page=101"), "per_page");
        assert_eq!(parameter_of("page=101&per_page=100"), "page");
        assert_eq!(parameter_of("min_duration=abc"), "min_duration");
        assert_eq!(parameter_of("min_duration=100&max_duration=10"), "min_duration");
        assert_eq!(parameter_of("published_before=yesterday"), "published_before");
        assert_eq!(parameter_of("program_id=42"), "program_id");
        assert_eq!(parameter_of("colour=red"), "colour");
        assert_eq!(parameter_of(&format!("q={}", "a".repeat(1001))), "q");
        assert!(parse("page=100&per_page=100").is_ok(), "10,000 deep is reachable");
    }
}
