//! The category taxonomy: the Apple Podcasts top-level categories plus `documentary`, stored as
//! stable slugs. A slug is never renamed; new categories are appended.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::DomainError;

/// One category of the taxonomy. Internally an index into [`CATEGORIES`], so it is `Copy` and can be
/// used directly as a facet ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category(u8);

/// `(slug, display name)` for every category, in ordinal order.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("arts", "Arts"),
    ("business", "Business"),
    ("comedy", "Comedy"),
    ("education", "Education"),
    ("fiction", "Fiction"),
    ("government", "Government"),
    ("history", "History"),
    ("health-fitness", "Health & Fitness"),
    ("kids-family", "Kids & Family"),
    ("leisure", "Leisure"),
    ("music", "Music"),
    ("news", "News"),
    ("religion-spirituality", "Religion & Spirituality"),
    ("science", "Science"),
    ("society-culture", "Society & Culture"),
    ("sports", "Sports"),
    ("technology", "Technology"),
    ("true-crime", "True Crime"),
    ("tv-film", "TV & Film"),
    ("documentary", "Documentary"),
];

impl Category {
    /// Parses a slug (`"true-crime"`); anything outside the taxonomy is rejected.
    pub fn parse(slug: &str) -> Result<Self, DomainError> {
        CATEGORIES.iter().position(|(known, _)| *known == slug).map(|index| Self(index as u8)).ok_or_else(|| {
            DomainError::new(
                "category",
                format!("unknown category {slug:?}; use one of the slugs listed by /v1/categories"),
            )
        })
    }

    /// Maps a free-form category label, as feeds and catalogs write them ("Health &amp; Fitness",
    /// "TV Shows", "Documentaries"), onto the taxonomy when it names one of its categories.
    pub fn from_label(label: &str) -> Option<Self> {
        let folded: String =
            label.chars().filter(|c| c.is_alphanumeric() || c.is_whitespace()).collect::<String>().to_lowercase();
        let words: Vec<&str> = folded.split_whitespace().collect();
        let has = |word: &str| words.iter().any(|w| w.starts_with(word));
        // Specific words first: "Kids' TV" is about kids before it is about TV.
        const KEYWORDS: &[(&[&str], &str)] = &[
            (&["documentar", "docuseries"], "documentary"),
            (&["crime"], "true-crime"),
            (&["kid", "famil", "children"], "kids-family"),
            (&["health", "fitness"], "health-fitness"),
            (&["religio", "spiritual", "faith"], "religion-spirituality"),
            (&["society", "culture"], "society-culture"),
            (&["tech"], "technology"),
            (&["sport"], "sports"),
            (&["comed", "stand"], "comedy"),
            (&["news", "politic"], "news"),
            (&["music"], "music"),
            (&["science", "nature"], "science"),
            (&["histor"], "history"),
            (&["fiction", "drama", "thriller", "horror", "fantasy", "myster"], "fiction"),
            (&["film", "tv", "movie", "anime", "series"], "tv-film"),
        ];
        let slug =
            KEYWORDS.iter().find(|(keywords, _)| keywords.iter().any(|k| has(k))).map(|(_, slug)| *slug).or_else(
                || {
                    CATEGORIES
                        .iter()
                        .find(|(slug, name)| words.iter().any(|w| w == slug || *w == name.to_lowercase()))
                        .map(|(slug, _)| *slug)
                },
            )?;
        Self::parse(slug).ok()
    }

    /// The category with this ordinal, if the taxonomy has one.
    pub fn from_ordinal(ordinal: u64) -> Option<Self> {
        (ordinal < CATEGORIES.len() as u64).then_some(Self(ordinal as u8))
    }

    pub fn ordinal(self) -> u64 {
        u64::from(self.0)
    }

    pub fn slug(self) -> &'static str {
        CATEGORIES[usize::from(self.0)].0
    }

    pub fn display_name(self) -> &'static str {
        CATEGORIES[usize::from(self.0)].1
    }

    /// Every category, in ordinal order.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..CATEGORIES.len() as u8).map(Self)
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.slug())
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.slug())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let slug = String::deserialize(deserializer)?;
        Self::parse(&slug).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_parse_and_round_trip() {
        for category in Category::all() {
            assert_eq!(Category::parse(category.slug()), Ok(category));
        }
        assert_eq!(Category::all().count(), 20);
        assert!(Category::parse("Documentary").is_err(), "slugs are lowercase");
        assert!(Category::parse("podcasts").is_err());
    }

    #[test]
    fn labels_from_feeds_and_catalogs_map_onto_the_taxonomy() {
        let slug = |label: &str| Category::from_label(label).map(Category::slug);
        assert_eq!(slug("Documentaries"), Some("documentary"));
        assert_eq!(slug("Docuseries, Science & Nature TV"), Some("documentary"));
        assert_eq!(slug("Health &amp; Fitness"), Some("health-fitness"));
        assert_eq!(slug("Technology"), Some("technology"));
        assert_eq!(slug("Crime TV Shows"), Some("true-crime"));
        assert_eq!(slug("History"), Some("history"));
        assert_eq!(slug("Kids' TV"), Some("kids-family"));
        assert_eq!(slug("Science & Nature TV"), Some("science"));
        assert_eq!(slug("International Movies"), Some("tv-film"));
        assert_eq!(slug("Business"), Some("business"));
        assert_eq!(slug("zzz"), None);
    }
}
