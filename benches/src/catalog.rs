//! Catalogs as NDJSON of `contracts::ContentSnapshot`, one item a line: generated (deterministic,
//! Zipfian text, skewed categories, 32 languages, 20 years of dates) or imported from the real
//! Netflix catalog CSV in ../shared/fixtures/catalog.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use contracts::{
    Category, ContentSnapshot, ContentStatus, Description, DurationSeconds, Episode, LanguageCode, Program,
    PublishDate, Title,
};
use uuid::Uuid;

use crate::rng::{Rng, Zipf};

/// The languages generated catalogs use, most common first (their share follows a Zipf law).
pub const LANGUAGES: [&str; 32] = [
    "en", "es", "de", "fr", "pt", "ja", "it", "nl", "sv", "zh", "ko", "ru", "pl", "tr", "ar", "hi", "id", "da", "no",
    "fi", "cs", "hu", "ro", "el", "he", "uk", "vi", "th", "ca", "et", "lt", "fa",
];

/// Seed of the generated vocabulary. Fixed, so the query mix matches every generated catalog
/// whatever the catalog's own seed.
const VOCABULARY_SEED: u64 = 0x00C0_FFEE;
const VOCABULARY_SIZE: usize = 20_000;
/// Word ranks below this are "stop words" of the synthetic language: the query mix skips them,
/// as people do not search for "the".
pub const STOP_RANKS: usize = 20;

/// Words ranked by frequency, with a Zipf sampler over the ranks.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    pub words: Vec<String>,
    zipf: Zipf,
}

impl Vocabulary {
    /// The synthetic vocabulary of generated catalogs: pronounceable pseudo-words.
    pub fn synthetic() -> Self {
        const ONSETS: [&str; 20] =
            ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "ch"];
        const NUCLEI: [&str; 8] = ["a", "e", "i", "o", "u", "ai", "ou", "ea"];
        const CODAS: [&str; 6] = ["", "n", "r", "s", "l", "m"];
        let mut rng = Rng::new(VOCABULARY_SEED);
        let mut seen = std::collections::HashSet::new();
        let mut words = Vec::with_capacity(VOCABULARY_SIZE);
        while words.len() < VOCABULARY_SIZE {
            // Frequent words are short, as in natural language.
            let syllables = 1 + (words.len() > 200) as u64 + rng.range(0, 2);
            let word: String = (0..syllables)
                .map(|_| format!("{}{}{}", rng.pick(&ONSETS), rng.pick(&NUCLEI), rng.pick(&CODAS)))
                .collect();
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        Self::ranked(words)
    }

    /// The words of a real catalog, ranked by how often they occur (as the engine tokenises them).
    pub fn from_catalog(items: &[ContentSnapshot]) -> Self {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for item in items {
            let (title, description) = text_of(item);
            for word in engine::words(title).into_iter().chain(engine::words(description)) {
                if !word.cjk && word.term.chars().all(char::is_alphabetic) {
                    *counts.entry(word.term).or_default() += 1;
                }
            }
        }
        let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Self::ranked(ranked.into_iter().map(|(word, _)| word).collect())
    }

    fn ranked(words: Vec<String>) -> Self {
        let zipf = Zipf::new(words.len().max(1), 1.0);
        Self { words, zipf }
    }

    pub fn sample(&self, rng: &mut Rng) -> &str {
        &self.words[self.zipf.sample(rng)]
    }

    /// A word people would search for: not among the most frequent.
    pub fn sample_searchable(&self, rng: &mut Rng) -> &str {
        loop {
            let rank = self.zipf.sample(rng);
            if rank >= STOP_RANKS.min(self.words.len() / 2) {
                return &self.words[rank];
            }
        }
    }
}

pub fn text_of(item: &ContentSnapshot) -> (&str, &str) {
    match item {
        ContentSnapshot::Program(p) => (p.title.as_str(), p.description.as_str()),
        ContentSnapshot::Episode(e) => (e.title.as_str(), e.description.as_str()),
    }
}

/// What `gen` makes.
#[derive(Debug, Clone, Copy)]
pub struct GenConfig {
    pub programs: usize,
    pub episodes: usize,
    pub seed: u64,
}

/// Generates a catalog: programs first, then their episodes.
pub fn generate(config: GenConfig) -> Vec<ContentSnapshot> {
    let vocabulary = Vocabulary::synthetic();
    let mut rng = Rng::new(config.seed);
    let categories = Zipf::new(contracts::CATEGORIES.len(), 0.8);
    let languages = Zipf::new(LANGUAGES.len(), 1.1);
    // Some programs have hundreds of episodes, most a handful.
    let program_of_episode = Zipf::new(config.programs.max(1), 0.6);
    let epoch = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(); // 2026-01-01
    let twenty_years = 20 * 365 * 86_400;

    let mut items = Vec::with_capacity(config.programs + config.episodes);
    let mut programs = Vec::with_capacity(config.programs);
    for _ in 0..config.programs {
        let category = Category::from_ordinal(categories.sample(&mut rng) as u64).unwrap_or_else(first_category);
        let language = LanguageCode::parse(LANGUAGES[languages.sample(&mut rng)]).unwrap_or_else(|_| english());
        let program = Program {
            id: uuid(&mut rng),
            title: title(&vocabulary, &mut rng, 2, 5),
            description: description(&vocabulary, &mut rng, 15, 40),
            category,
            language,
            duration_seconds: None,
            publish_date: PublishDate::from_unix_seconds(epoch.timestamp() - rng.range(0, twenty_years) as i64),
            artwork_url: Some(format!("https://cdn.example/artwork/{}.jpg", rng.next_u64() % 1_000_000)),
            explicit: rng.chance(0.05),
            external_guid: None,
            status: ContentStatus::Published,
            version: 1,
            created_at: epoch,
            updated_at: epoch,
        };
        programs.push((program.id, category, language));
        items.push(ContentSnapshot::Program(program));
    }
    for _ in 0..config.episodes {
        let Some(&(program_id, program_category, program_language)) = programs.get(program_of_episode.sample(&mut rng))
        else {
            break;
        };
        // Episodes mostly share their program's category.
        let category = if rng.chance(0.9) {
            program_category
        } else {
            Category::from_ordinal(categories.sample(&mut rng) as u64).unwrap_or(program_category)
        };
        let episode = Episode {
            id: uuid(&mut rng),
            program_id,
            title: title(&vocabulary, &mut rng, 3, 8),
            description: description(&vocabulary, &mut rng, 20, 50),
            category,
            language: program_language,
            duration_seconds: duration(&mut rng),
            publish_date: PublishDate::from_unix_seconds(epoch.timestamp() - rng.range(0, twenty_years) as i64),
            artwork_url: None,
            explicit: false,
            season: Some(rng.range(1, 5) as u32),
            episode_number: Some(rng.range(1, 300) as u32),
            external_guid: None,
            status: ContentStatus::Published,
            program_visible: true,
            version: 1,
            created_at: epoch,
            updated_at: epoch,
        };
        items.push(ContentSnapshot::Episode(episode));
    }
    items
}

fn first_category() -> Category {
    Category::all().next().unwrap_or_else(|| unreachable!("the taxonomy is not empty"))
}

fn english() -> LanguageCode {
    LanguageCode::parse("en").unwrap_or_else(|_| unreachable!("en is ISO 639-1"))
}

fn uuid(rng: &mut Rng) -> Uuid {
    let bytes = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())).to_le_bytes();
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn sentence(vocabulary: &Vocabulary, rng: &mut Rng, min: u64, max: u64) -> String {
    let count = rng.range(min, max);
    let mut text = String::new();
    for index in 0..count {
        if index > 0 {
            text.push(' ');
        }
        let word = vocabulary.sample(rng);
        if index == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
        } else {
            text.push_str(word);
        }
    }
    text
}

fn title(vocabulary: &Vocabulary, rng: &mut Rng, min: u64, max: u64) -> Title {
    Title::parse(sentence(vocabulary, rng, min, max)).unwrap_or_else(|_| unreachable!("generated titles are short"))
}

fn description(vocabulary: &Vocabulary, rng: &mut Rng, min: u64, max: u64) -> Description {
    let mut text = sentence(vocabulary, rng, min, max);
    text.push('.');
    Description::parse(text).unwrap_or_default()
}

/// Log-normal around 40 minutes, from 1 minute to 4 hours.
fn duration(rng: &mut Rng) -> DurationSeconds {
    let normal = (-2.0 * rng.unit().max(1e-12).ln()).sqrt() * (2.0 * std::f64::consts::PI * rng.unit()).cos();
    let seconds = (2400.0 * (0.8 * normal).exp()).clamp(60.0, 4.0 * 3600.0) as u64;
    DurationSeconds::new(seconds).unwrap_or_else(|_| unreachable!("clamped into range"))
}

/// Writes a catalog as NDJSON.
pub fn write_ndjson(path: &Path, items: &[ContentSnapshot]) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for item in items {
        serde_json::to_writer(&mut out, item)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Reads an NDJSON catalog; a malformed line is an error naming its line number.
pub fn read_ndjson(path: &Path) -> Result<Vec<ContentSnapshot>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut items = Vec::new();
    for (number, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(&line).with_context(|| format!("{}:{}", path.display(), number + 1))?;
        items.push(item);
    }
    Ok(items)
}

/// How an import went: rows read, imported, and why the others were rejected.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub rows: usize,
    pub rejected: Vec<(usize, String)>,
}

/// Maps the Netflix titles CSV (show_id, type, title, director, cast, country, date_added,
/// release_year, rating, duration, listed_in, description) to programs. Its text is English; its
/// category is the first `listed_in` label that names one of ours (`tv-film` otherwise); movies
/// keep their duration; the publish date is `date_added` (two formats occur), else the release
/// year. Rows that fail validation are reported, not imported.
pub fn import_netflix_csv(path: &Path) -> Result<(Vec<ContentSnapshot>, ImportReport)> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).with_context(|| format!("{}: no column {name:?}", path.display()))
    };
    let (c_id, c_title, c_added, c_year, c_rating, c_duration, c_listed, c_description) = (
        column("show_id")?,
        column("title")?,
        column("date_added")?,
        column("release_year")?,
        column("rating")?,
        column("duration")?,
        column("listed_in")?,
        column("description")?,
    );
    let english = english();
    let tv_film = Category::parse("tv-film")?;
    let mut items = Vec::new();
    let mut report = ImportReport::default();
    for (index, record) in reader.records().enumerate() {
        report.rows += 1;
        let row = index + 2; // 1-based, after the header line
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                report.rejected.push((row, error.to_string()));
                continue;
            }
        };
        let field = |c: usize| record.get(c).unwrap_or_default().trim();
        let title = match Title::parse(field(c_title)) {
            Ok(title) => title,
            Err(error) => {
                report.rejected.push((row, error.to_string()));
                continue;
            }
        };
        let description = match Description::parse(field(c_description)) {
            Ok(description) => description,
            Err(error) => {
                report.rejected.push((row, error.to_string()));
                continue;
            }
        };
        let category = field(c_listed).split(',').find_map(Category::from_label).unwrap_or(tv_film);
        // Three rows have the duration shifted into the rating column.
        let duration_text = if field(c_duration).is_empty() { field(c_rating) } else { field(c_duration) };
        let duration_seconds = duration_text
            .strip_suffix(" min")
            .and_then(|minutes| minutes.trim().parse::<u64>().ok())
            .and_then(|minutes| DurationSeconds::new(minutes * 60).ok());
        let publish_date = parse_added(field(c_added)).or_else(|| {
            field(c_year).parse::<i32>().ok().and_then(|year| NaiveDate::from_ymd_opt(year, 1, 1)).map(at_midnight)
        });
        let id = Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("netflix:{}", field(c_id)).as_bytes());
        let now = publish_date.map_or_else(Utc::now, PublishDate::datetime);
        items.push(ContentSnapshot::Program(Program {
            id,
            title,
            description,
            category,
            language: english,
            duration_seconds,
            publish_date,
            artwork_url: None,
            explicit: false,
            external_guid: Some(field(c_id).to_owned()),
            status: ContentStatus::Published,
            version: 1,
            created_at: now,
            updated_at: now,
        }));
    }
    Ok((items, report))
}

fn at_midnight(date: NaiveDate) -> PublishDate {
    PublishDate::from_datetime(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// `25-Sep-21` (most rows) or `August 4, 2017`.
fn parse_added(text: &str) -> Option<PublishDate> {
    NaiveDate::parse_from_str(text, "%d-%b-%y")
        .or_else(|_| NaiveDate::parse_from_str(text, "%B %d, %Y"))
        .ok()
        .map(at_midnight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_skewed() {
        let config = GenConfig { programs: 200, episodes: 3_000, seed: 42 };
        let (a, b) = (generate(config), generate(config));
        assert_eq!(a, b);
        assert_eq!(a.len(), 3_200);
        assert_ne!(generate(GenConfig { seed: 43, ..config }), a);
        let mut per_language: HashMap<&str, usize> = HashMap::new();
        for item in &a {
            let language = match item {
                ContentSnapshot::Program(p) => p.language.code(),
                ContentSnapshot::Episode(e) => e.language.code(),
            };
            *per_language.entry(language).or_default() += 1;
        }
        assert!(per_language.len() >= 20, "{} languages", per_language.len());
        assert!(per_language["en"] > a.len() / 10, "English dominates");
    }

    #[test]
    fn netflix_dates_in_both_formats_parse() {
        assert_eq!(parse_added("25-Sep-21").map(|d| d.to_rfc3339()).as_deref(), Some("2021-09-25T00:00:00Z"));
        assert_eq!(parse_added("August 4, 2017").map(|d| d.to_rfc3339()).as_deref(), Some("2017-08-04T00:00:00Z"));
        assert_eq!(parse_added(""), None);
    }
}
