//! Text analysis: how titles and descriptions become index terms, and how a query's words become
//! the same terms.
//!
//! Words are runs of letters and digits, lowercased and folded to ASCII where a Latin letter has an
//! ASCII base (`Café` → `cafe`, `Straße` → `strasse`). Chinese, Japanese and Korean runs have no
//! spaces between words, so they are indexed as overlapping character bigrams (`東京都` → `東京`,
//! `京都`), which finds any word of two or more characters without a dictionary. Where the
//! document's language has a Snowball stemmer, each word is also indexed with its stem, marked with
//! [`STEM_MARKER`] at the same position, so `podcasts` finds `podcast` without a stem ever colliding
//! with a real word.
//!
//! Tantivy gives a field one tokenizer, but the stemmer depends on each document's language; the
//! indexed text therefore starts with a language tag (see [`tag_with_language`]) that the tokenizer
//! reads and strips. Stored text never carries the tag.

use std::borrow::Cow;
use std::sync::OnceLock;

use contracts::LanguageCode;
use frostem::{Algorithm, Stemmer};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name under which [`MediaMeshTokenizer`] is registered on the index.
pub const TOKENIZER_NAME: &str = "mediamesh";
/// Prefix of stem terms, which can never start a real word (words are alphanumeric).
pub const STEM_MARKER: char = '~';
/// Words longer than this are not indexed (they are URLs, hashes or garbage, never searched).
const MAX_WORD_CHARS: usize = 40;
const TAG: char = '\u{0}';

/// Prefixes `text` with a tag naming its language, for the tokenizer to pick the stemmer.
pub fn tag_with_language(language: LanguageCode, text: &str) -> String {
    let mut tagged = String::with_capacity(text.len() + 4);
    tagged.push(TAG);
    tagged.push_str(language.code());
    tagged.push(TAG);
    tagged.push_str(text);
    tagged
}

fn split_tag(text: &str) -> (Option<LanguageCode>, &str) {
    let Some(rest) = text.strip_prefix(TAG) else {
        return (None, text);
    };
    match rest.split_once(TAG) {
        Some((code, body)) => (LanguageCode::parse(code).ok(), body),
        None => (None, text),
    }
}

/// One word of a text, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Byte range in the analysed text.
    pub start: usize,
    pub end: usize,
    /// Lowercased, not yet folded: what the stemmer wants.
    pub lowercase: String,
    /// Lowercased and folded: the indexed term.
    pub term: String,
    /// A bigram (or lone character) of a CJK run: no stemming, no typo tolerance.
    pub cjk: bool,
}

/// Splits text into words as the index sees them.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if is_cjk(c) {
            let mut run: Vec<(usize, char)> = Vec::new();
            while let Some(&(index, c)) = chars.peek() {
                if !is_cjk(c) {
                    break;
                }
                run.push((index, c));
                chars.next();
            }
            push_cjk_run(text, &run, &mut out);
        } else if c.is_alphanumeric() {
            let mut end = start;
            while let Some(&(index, c)) = chars.peek() {
                if !c.is_alphanumeric() || is_cjk(c) {
                    break;
                }
                end = index + c.len_utf8();
                chars.next();
            }
            let slice = &text[start..end];
            if slice.chars().count() <= MAX_WORD_CHARS {
                let lowercase = slice.to_lowercase();
                let term = fold(&lowercase).into_owned();
                out.push(Word { start, end, lowercase, term, cjk: false });
            }
        } else {
            chars.next();
        }
    }
    out
}

fn push_cjk_run(text: &str, run: &[(usize, char)], out: &mut Vec<Word>) {
    let end_of = |i: usize| run[i].0 + run[i].1.len_utf8();
    if run.len() == 1 {
        let (start, _) = run[0];
        let slice = &text[start..end_of(0)];
        out.push(cjk_word(start, end_of(0), slice));
        return;
    }
    for i in 0..run.len() - 1 {
        let start = run[i].0;
        let end = end_of(i + 1);
        out.push(cjk_word(start, end, &text[start..end]));
    }
}

fn cjk_word(start: usize, end: usize, slice: &str) -> Word {
    // Full-width Latin inside a CJK run is rare; lowercasing keeps `ＡＢ` and `ａｂ` together.
    let lowercase = slice.to_lowercase();
    Word { start, end, term: lowercase.clone(), lowercase, cjk: true }
}

/// Han, Hiragana, Katakana and Hangul: scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x2E80..=0x2FDF | 0x3005..=0x3007 | 0x3040..=0x30FF | 0x3130..=0x318F
        | 0x31F0..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xA960..=0xA97F | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x2FA1F)
}

/// Folds lowercase Latin letters with diacritics (and ligatures) to their ASCII base.
pub fn fold(lowercase: &str) -> Cow<'_, str> {
    if lowercase.is_ascii() {
        return Cow::Borrowed(lowercase);
    }
    let mut out = String::with_capacity(lowercase.len());
    for c in lowercase.chars() {
        match fold_char(c) {
            Some(replacement) => out.push_str(replacement),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn fold_char(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ǎ' | 'ǟ' | 'ǡ' | 'ǻ' | 'ȁ' | 'ȃ' | 'ȧ' | 'ḁ' | 'ạ'
        | 'ả' | 'ấ' | 'ầ' | 'ẩ' | 'ẫ' | 'ậ' | 'ắ' | 'ằ' | 'ẳ' | 'ẵ' | 'ặ' => "a",
        'æ' => "ae",
        'ƀ' | 'ḃ' | 'ḅ' | 'ḇ' => "b",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' | 'ḉ' => "c",
        'ð' | 'ď' | 'đ' | 'ḋ' | 'ḍ' | 'ḏ' | 'ḑ' | 'ḓ' => "d",
        'ǆ' | 'ǳ' => "dz",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' | 'ȅ' | 'ȇ' | 'ȩ' | 'ɇ' | 'ḕ' | 'ḗ' | 'ḙ' | 'ḛ' | 'ḝ'
        | 'ẹ' | 'ẻ' | 'ẽ' | 'ế' | 'ề' | 'ể' | 'ễ' | 'ệ' => "e",
        'ƒ' | 'ḟ' => "f",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' | 'ǥ' | 'ǧ' | 'ǵ' | 'ḡ' => "g",
        'ĥ' | 'ħ' | 'ȟ' | 'ḣ' | 'ḥ' | 'ḧ' | 'ḩ' | 'ḫ' | 'ẖ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ǐ' | 'ȉ' | 'ȋ' | 'ḭ' | 'ḯ' | 'ỉ' | 'ị' => {
            "i"
        }
        'ĳ' => "ij",
        'ĵ' | 'ǰ' => "j",
        'ķ' | 'ĸ' | 'ǩ' | 'ḱ' | 'ḳ' | 'ḵ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' | 'ƚ' | 'ḷ' | 'ḹ' | 'ḻ' | 'ḽ' => "l",
        'ǉ' => "lj",
        'ḿ' | 'ṁ' | 'ṃ' => "m",
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' | 'ǹ' | 'ṅ' | 'ṇ' | 'ṉ' | 'ṋ' => "n",
        'ǌ' => "nj",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ơ' | 'ǒ' | 'ǫ' | 'ǭ' | 'ȍ' | 'ȏ' | 'ȫ' | 'ȭ' | 'ȯ'
        | 'ȱ' | 'ṍ' | 'ṏ' | 'ṑ' | 'ṓ' | 'ọ' | 'ỏ' | 'ố' | 'ồ' | 'ổ' | 'ỗ' | 'ộ' | 'ớ' | 'ờ' | 'ở' | 'ỡ' | 'ợ' => {
            "o"
        }
        'œ' => "oe",
        'ṕ' | 'ṗ' => "p",
        'ŕ' | 'ŗ' | 'ř' | 'ȑ' | 'ȓ' | 'ɍ' | 'ṙ' | 'ṛ' | 'ṝ' | 'ṟ' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' | 'ș' | 'ṡ' | 'ṣ' | 'ṥ' | 'ṧ' | 'ṩ' | 'ẛ' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' | 'ṫ' | 'ṭ' | 'ṯ' | 'ṱ' | 'ẗ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ư' | 'ǔ' | 'ǖ' | 'ǘ' | 'ǚ' | 'ǜ' | 'ȕ' | 'ȗ'
        | 'ṳ' | 'ṵ' | 'ṷ' | 'ṹ' | 'ṻ' | 'ụ' | 'ủ' | 'ứ' | 'ừ' | 'ử' | 'ữ' | 'ự' => "u",
        'ṽ' | 'ṿ' => "v",
        'ŵ' | 'ẁ' | 'ẃ' | 'ẅ' | 'ẇ' | 'ẉ' | 'ẘ' => "w",
        'ẋ' | 'ẍ' => "x",
        'ý' | 'ÿ' | 'ŷ' | 'ȳ' | 'ɏ' | 'ẏ' | 'ẙ' | 'ỳ' | 'ỵ' | 'ỷ' | 'ỹ' => "y",
        'ź' | 'ż' | 'ž' | 'ƶ' | 'ȥ' | 'ẑ' | 'ẓ' | 'ẕ' => "z",
        _ => return None,
    })
}

/// The Snowball algorithm for a language, where there is one.
fn algorithm(language: LanguageCode) -> Option<Algorithm> {
    Some(match language.code() {
        "ar" => Algorithm::Arabic,
        "hy" => Algorithm::Armenian,
        "eu" => Algorithm::Basque,
        "ca" => Algorithm::Catalan,
        "cs" => Algorithm::Czech,
        "da" => Algorithm::Danish,
        "nl" => Algorithm::Dutch,
        "en" => Algorithm::English,
        "eo" => Algorithm::Esperanto,
        "et" => Algorithm::Estonian,
        "fi" => Algorithm::Finnish,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "el" => Algorithm::Greek,
        "hi" => Algorithm::Hindi,
        "hu" => Algorithm::Hungarian,
        "id" => Algorithm::Indonesian,
        "ga" => Algorithm::Irish,
        "it" => Algorithm::Italian,
        "lt" => Algorithm::Lithuanian,
        "ne" => Algorithm::Nepali,
        "no" | "nb" | "nn" => Algorithm::Norwegian,
        "fa" => Algorithm::Persian,
        "pl" => Algorithm::Polish,
        "pt" => Algorithm::Portuguese,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "sr" => Algorithm::Serbian,
        "es" => Algorithm::Spanish,
        "sv" => Algorithm::Swedish,
        "ta" => Algorithm::Tamil,
        "tr" => Algorithm::Turkish,
        "yi" => Algorithm::Yiddish,
        _ => return None,
    })
}

/// One stemmer per language that has one, built once.
fn stemmers() -> &'static [(LanguageCode, Stemmer)] {
    static STEMMERS: OnceLock<Vec<(LanguageCode, Stemmer)>> = OnceLock::new();
    STEMMERS.get_or_init(|| {
        LanguageCode::all().filter_map(|language| algorithm(language).map(|a| (language, Stemmer::new(a)))).collect()
    })
}

fn stemmer_for(language: LanguageCode) -> Option<&'static Stemmer> {
    stemmers().iter().find(|(l, _)| *l == language).map(|(_, stemmer)| stemmer)
}

/// The stem of a lowercased word in a language, folded, without the marker.
pub fn stem(language: LanguageCode, lowercase: &str) -> Option<String> {
    let stemmer = stemmer_for(language)?;
    Some(fold(&stemmer.stem(lowercase)).into_owned())
}

/// The distinct stems a query word may have, in the given languages (or every stemmed language
/// when none is given): the query's language is unknown, the documents' is not.
pub fn query_stems(lowercase: &str, languages: &[LanguageCode]) -> Vec<String> {
    let mut stems: Vec<String> = Vec::new();
    let mut push = |stemmer: &Stemmer| {
        let stem = fold(&stemmer.stem(lowercase)).into_owned();
        if !stem.is_empty() && !stems.contains(&stem) {
            stems.push(stem);
        }
    };
    if languages.is_empty() {
        stemmers().iter().for_each(|(_, stemmer)| push(stemmer));
    } else {
        languages.iter().filter_map(|l| stemmer_for(*l)).for_each(push);
    }
    stems
}

/// The stem term as it is indexed: marker plus stem.
pub fn stem_term(stem: &str) -> String {
    let mut term = String::with_capacity(stem.len() + 1);
    term.push(STEM_MARKER);
    term.push_str(stem);
    term
}

/// The tokenizer registered on the index's text fields (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct MediaMeshTokenizer {
    tokens: Vec<Token>,
}

/// The tokens of one text, produced up front so the tokenizer can emit stems at the same position.
#[derive(Debug)]
pub struct MediaMeshTokenStream<'a> {
    tokens: &'a mut Vec<Token>,
    cursor: usize,
}

impl Tokenizer for MediaMeshTokenizer {
    type TokenStream<'a> = MediaMeshTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.tokens.clear();
        let (language, body) = split_tag(text);
        let stemmer = language.and_then(stemmer_for);
        let base = text.len() - body.len();
        for (position, word) in words(body).into_iter().enumerate() {
            let stemmed = match stemmer {
                Some(stemmer) if !word.cjk => {
                    let stem = fold(&stemmer.stem(&word.lowercase)).into_owned();
                    (stem != word.term && !stem.is_empty()).then(|| stem_term(&stem))
                }
                _ => None,
            };
            let token = |text: String| Token {
                offset_from: base + word.start,
                offset_to: base + word.end,
                position,
                text,
                position_length: 1,
            };
            self.tokens.push(token(word.term));
            if let Some(stem) = stemmed {
                self.tokens.push(token(stem));
            }
        }
        MediaMeshTokenStream { tokens: &mut self.tokens, cursor: 0 }
    }
}

impl TokenStream for MediaMeshTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.cursor += 1;
        self.cursor <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.cursor - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.cursor - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut tokenizer = MediaMeshTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(format!("{}@{}", stream.token().text, stream.token().position));
        }
        out
    }

    fn language(code: &str) -> LanguageCode {
        LanguageCode::parse(code).expect("valid language")
    }

    #[test]
    fn latin_words_are_lowercased_and_folded() {
        let terms: Vec<String> = words("Café Straße, NAÏVE—Łódź 2024!").into_iter().map(|w| w.term).collect();
        assert_eq!(terms, ["cafe", "strasse", "naive", "lodz", "2024"]);
    }

    #[test]
    fn cjk_runs_become_bigrams_between_latin_words() {
        let terms: Vec<String> = words("COTEN RADIOの東京ポッド許可局").into_iter().map(|w| w.term).collect();
        assert_eq!(terms, ["coten", "radio", "の東", "東京", "京ポ", "ポッ", "ッド", "ド許", "許可", "可局"]);
        let lone: Vec<String> = words("第1回").into_iter().map(|w| w.term).collect();
        assert_eq!(lone, ["第", "1", "回"]);
    }

    #[test]
    fn the_language_tag_picks_the_stemmer_and_stems_share_the_position() {
        let tagged = tag_with_language(language("en"), "Running podcasts");
        assert_eq!(terms(&tagged), ["running@0", "~run@0", "podcasts@1", "~podcast@1"]);
        let german = tag_with_language(language("de"), "Geschichten");
        assert_eq!(terms(&german), ["geschichten@0", "~geschicht@0"]);
        // No stemmer for Japanese, and none for untagged (query) text.
        assert_eq!(terms(&tag_with_language(language("ja"), "ラジオ")), ["ラジ@0", "ジオ@1"]);
        assert_eq!(terms("Running"), ["running@0"]);
    }

    #[test]
    fn query_stems_cover_the_languages_asked_for() {
        assert_eq!(query_stems("podcasts", &[language("en")]), ["podcast"]);
        assert!(query_stems("geschichten", &[]).contains(&"geschicht".to_owned()));
        assert!(query_stems("anything", &[language("ja")]).is_empty());
    }

    #[test]
    fn long_words_and_punctuation_are_dropped() {
        assert!(words(&"a".repeat(41)).is_empty());
        assert!(words("\u{0}\u{1}!!! ... ---").is_empty());
    }
}
