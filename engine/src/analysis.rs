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
//! reads and strips; it is stored with the text and stripped again when a hit is rendered.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

use contracts::LanguageCode;
use frostem::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name under which [`MediaMeshTokenizer`] is registered on the index.
pub const TOKENIZER_NAME: &str = "mediamesh";
/// Prefix of stem terms, which can never start a real word (words are alphanumeric).
pub const STEM_MARKER: char = '~';
/// Words longer than this are not indexed (they are URLs, hashes or garbage, never searched).
const MAX_WORD_CHARS: usize = 40;
// Every query word fits the typo automaton.
const _: () = assert!(MAX_WORD_CHARS <= crate::automata::MAX_PATTERN_CHARS);
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

/// The text without the language tag [`tag_with_language`] put in front of it.
pub fn strip_language_tag(text: &str) -> &str {
    split_tag(text).1
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
    visit_words(text, |word| {
        out.push(Word {
            start: word.start,
            end: word.end,
            lowercase: word.lowercase.to_owned(),
            term: word.term.to_owned(),
            cjk: word.cjk,
        });
        true
    });
    out
}

/// A word of a text as [`visit_words`] lends it (its strings live in buffers reused for the next).
#[derive(Debug, Clone, Copy)]
pub struct WordRef<'a> {
    pub start: usize,
    pub end: usize,
    pub lowercase: &'a str,
    pub term: &'a str,
    pub cjk: bool,
}

/// Calls `visit` with each word of `text`, in order, as long as it answers true.
pub fn visit_words(text: &str, visit: impl FnMut(WordRef<'_>) -> bool) {
    visit_words_where(text, |_| true, visit);
}

/// [`visit_words`] for the words whose text as written `wanted` accepts: the others are passed
/// over before they are lowercased and folded.
pub fn visit_words_where(text: &str, wanted: impl Fn(&str) -> bool, mut visit: impl FnMut(WordRef<'_>) -> bool) {
    let mut lowercase = String::new();
    let mut term = String::new();
    for_each_span(text, |start, end, cjk| {
        if !wanted(&text[start..end]) {
            return true;
        }
        lowercase_into(&text[start..end], &mut lowercase);
        if cjk {
            term.clear();
            term.push_str(&lowercase);
        } else {
            fold_into(&lowercase, &mut term);
        }
        visit(WordRef { start, end, lowercase: &lowercase, term: &term, cjk })
    });
}

/// Calls `visit(start, end, cjk)` for each word span of `text`, as long as it answers true: runs of
/// letters and digits (up to [`MAX_WORD_CHARS`]), and for CJK runs each overlapping bigram (a lone
/// character alone).
fn for_each_span(text: &str, mut visit: impl FnMut(usize, usize, bool) -> bool) {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        // ASCII fast path: most text is ASCII, and ASCII is never CJK.
        if byte.is_ascii() && !byte.is_ascii_alphanumeric() {
            index += 1;
            continue;
        }
        let Some(c) = text[index..].chars().next() else { break };
        if is_cjk(c) {
            let run_start = index;
            let mut chars: Vec<(usize, usize)> = Vec::new();
            for (offset, c) in text[run_start..].char_indices() {
                if !is_cjk(c) {
                    break;
                }
                chars.push((run_start + offset, run_start + offset + c.len_utf8()));
            }
            index = chars.last().map_or(index + c.len_utf8(), |last| last.1);
            if chars.len() == 1 {
                if !visit(chars[0].0, chars[0].1, true) {
                    return;
                }
            } else {
                for pair in chars.windows(2) {
                    if !visit(pair[0].0, pair[1].1, true) {
                        return;
                    }
                }
            }
        } else if c.is_alphanumeric() {
            let start = index;
            let mut end = index;
            let mut count = 0;
            while let Some(&byte) = bytes.get(end) {
                if byte.is_ascii() {
                    // ASCII: a letter or digit, never CJK.
                    if !byte.is_ascii_alphanumeric() {
                        break;
                    }
                    end += 1;
                } else {
                    let Some(c) = text[end..].chars().next() else { break };
                    if !c.is_alphanumeric() || is_cjk(c) {
                        break;
                    }
                    end += c.len_utf8();
                }
                count += 1;
            }
            index = end;
            if count <= MAX_WORD_CHARS && !visit(start, end, false) {
                return;
            }
        } else {
            index += c.len_utf8();
        }
    }
}

/// Lowercases `word` into `out` (cleared first), without allocating for ASCII.
fn lowercase_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
    } else {
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
}

/// Folds `lowercase` into `out` (cleared first).
fn fold_into(lowercase: &str, out: &mut String) {
    out.clear();
    match fold(lowercase) {
        Cow::Borrowed(same) => out.push_str(same),
        Cow::Owned(folded) => out.push_str(&folded),
    }
}

/// Han, Hiragana, Katakana and Hangul: scripts written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    let c = c as u32;
    c >= 0x1100
        && matches!(c,
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

/// Query words whose stems this thread worked out, by word and languages asked for: a query
/// without languages runs every stemmer (two dozen) on each word, and query words repeat.
const QUERY_STEM_CACHE_ENTRIES: usize = 50_000;

type QueryStemMap = FxHashMap<(Box<str>, Box<[LanguageCode]>), Box<[String]>>;

thread_local! {
    static QUERY_STEM_CACHE: RefCell<QueryStemMap> = RefCell::new(QueryStemMap::default());
}

/// The distinct stems a query word may have, in the given languages (or every stemmed language
/// when none is given): the query's language is unknown, the documents' is not.
pub fn query_stems(lowercase: &str, languages: &[LanguageCode]) -> Vec<String> {
    QUERY_STEM_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (Box::from(lowercase), Box::from(languages));
        if let Some(stems) = cache.get(&key) {
            return stems.to_vec();
        }
        let stems = stems_of(lowercase, languages);
        if cache.len() >= QUERY_STEM_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, stems.clone().into_boxed_slice());
        stems
    })
}

fn stems_of(lowercase: &str, languages: &[LanguageCode]) -> Vec<String> {
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

/// Writes the stem term (`~stem`) of a document word in `language` into `out`, as the index holds
/// it, and answers true; false when the word is its own stem or the language has no stemmer. Uses
/// the same per-thread cache as indexing.
pub fn document_stem_term(language: LanguageCode, lowercase: &str, term: &str, out: &mut String) -> bool {
    stemmer_for(language).is_some_and(|stemmer| cached_stem_term(language, stemmer, lowercase, term, out))
}

/// Whether stems in `language` always begin with the word's own first letter (after folding): true
/// for the stemmers that only rewrite endings. False where a stemmer strips prefixes or initial
/// mutations (Arabic, Dutch `ge-`, Indonesian, Irish, Yiddish, Tamil) or rewrites short words
/// whole (Turkish: `bini` → `p`), transliterates (Serbian, Esperanto) or
/// normalises letters that folding leaves alone (Greek accents, Russian ё), and for languages
/// without a stemmer. Lets a highlighter skip stemming words that cannot match.
pub fn stem_keeps_initial(language: LanguageCode) -> bool {
    matches!(
        language.code(),
        "en" | "de"
            | "fr"
            | "es"
            | "it"
            | "pt"
            | "sv"
            | "no"
            | "nb"
            | "nn"
            | "da"
            | "fi"
            | "hu"
            | "ro"
            | "cs"
            | "pl"
            | "ca"
            | "et"
            | "eu"
            | "lt"
            | "hi"
            | "ne"
            | "hy"
    )
}

/// The stem term as it is indexed: marker plus stem.
pub fn stem_term(stem: &str) -> String {
    let mut term = String::with_capacity(stem.len() + 1);
    term.push(STEM_MARKER);
    term.push_str(stem);
    term
}

/// Stems already computed on this thread: text follows a Zipf law, so most words repeat, and the
/// Snowball algorithms cost more than a lookup. The cache is a table of fixed slots, each one cache
/// line holding a word (with its language) and its stem inline, found by the word's hash: a lookup
/// reads one line, where a map of strings read three (the table, the key, the value). A word
/// evicts whatever its slot held; words or stems longer than a slot holds are stemmed every time.
const STEM_SLOTS: usize = 1 << 17;

/// Bytes of a word, and of its stem, a slot holds.
const STEM_SLOT_BYTES: usize = 30;

/// No stem other than the word itself (as `stem_len`).
const NO_STEM: u8 = u8::MAX;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct StemSlot {
    /// The language's ordinal plus one; 0 for an empty slot.
    language: u16,
    word_len: u8,
    /// The stem's length, or [`NO_STEM`].
    stem_len: u8,
    word: [u8; STEM_SLOT_BYTES],
    stem: [u8; STEM_SLOT_BYTES],
}

impl StemSlot {
    const EMPTY: Self =
        Self { language: 0, word_len: 0, stem_len: 0, word: [0; STEM_SLOT_BYTES], stem: [0; STEM_SLOT_BYTES] };

    fn holds(&self, language: u16, word: &[u8]) -> bool {
        self.language == language && usize::from(self.word_len) == word.len() && self.word[..word.len()] == *word
    }
}

thread_local! {
    /// From a lowercased word in a language to its stem (see [`STEM_SLOTS`]); allocated on first use.
    static STEM_CACHE: RefCell<Box<[StemSlot]>> = RefCell::new(Box::default());
}

/// The slot of `word` in `language`.
fn stem_slot(language: u16, word: &[u8]) -> usize {
    use std::hash::Hasher;
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(word);
    hasher.write_u16(language);
    // FxHash mixes best into its high bits.
    (hasher.finish() >> (64 - STEM_SLOTS.trailing_zeros())) as usize
}

/// Writes the stem term (`~stem`) of a lowercased word for a document language into `out` and
/// answers true, when the stem differs from the word's folded form `term`.
fn cached_stem_term(language: LanguageCode, stemmer: &Stemmer, lowercase: &str, term: &str, out: &mut String) -> bool {
    let tag = language.ordinal() as u16 + 1;
    let word = lowercase.as_bytes();
    out.clear();
    let cacheable = word.len() <= STEM_SLOT_BYTES;
    if cacheable {
        let found = STEM_CACHE.with(|cache| {
            let cache = cache.borrow();
            let slot = cache.get(stem_slot(tag, word)).filter(|slot| slot.holds(tag, word))?;
            if slot.stem_len != NO_STEM {
                out.push(STEM_MARKER);
                // Written from a `str` (see below), so valid UTF-8.
                out.push_str(std::str::from_utf8(&slot.stem[..usize::from(slot.stem_len)]).unwrap_or_default());
            }
            Some(slot.stem_len != NO_STEM)
        });
        if let Some(found) = found {
            return found;
        }
    }
    let stem = fold(&stemmer.stem(lowercase)).into_owned();
    let distinct = stem != term && !stem.is_empty();
    if distinct {
        out.push(STEM_MARKER);
        out.push_str(&stem);
    }
    if cacheable && stem.len() <= STEM_SLOT_BYTES {
        STEM_CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.is_empty() {
                *cache = vec![StemSlot::EMPTY; STEM_SLOTS].into_boxed_slice();
            }
            let slot = &mut cache[stem_slot(tag, word)];
            slot.language = tag;
            slot.word_len = word.len() as u8;
            slot.word[..word.len()].copy_from_slice(word);
            slot.stem_len = if distinct { stem.len() as u8 } else { NO_STEM };
            slot.stem[..stem.len()].copy_from_slice(stem.as_bytes());
        });
    }
    distinct
}

/// Two distinct token slots, `first < second`, borrowed together.
fn split_pair(tokens: &mut [Token], first: usize, second: usize) -> (&mut Token, &mut Token) {
    let (head, tail) = tokens.split_at_mut(second);
    (&mut head[first], &mut tail[0])
}

/// The tokenizer registered on the index's text fields (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct MediaMeshTokenizer {
    /// Token slots reused across texts, so their strings keep their capacity.
    tokens: Vec<Token>,
    lowercase: String,
}

/// The tokens of one text, produced up front so the tokenizer can emit stems at the same position.
#[derive(Debug)]
pub struct MediaMeshTokenStream<'a> {
    tokens: &'a mut [Token],
    cursor: usize,
}

impl Tokenizer for MediaMeshTokenizer {
    type TokenStream<'a> = MediaMeshTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        let (language, body) = split_tag(text);
        let stemmer = language.and_then(|l| stemmer_for(l).map(|s| (l, s)));
        let base = text.len() - body.len();
        let mut used = 0;
        let mut position = 0;
        let Self { tokens, lowercase } = self;
        for_each_span(body, |start, end, cjk| {
            lowercase_into(&body[start..end], lowercase);
            let slot = next_slot(tokens, &mut used, base + start, base + end, position);
            if cjk {
                tokens[slot].text.clear();
                tokens[slot].text.push_str(lowercase);
            } else {
                fold_into(lowercase, &mut tokens[slot].text);
                if let Some((language, stemmer)) = stemmer {
                    let stem_slot = next_slot(tokens, &mut used, base + start, base + end, position);
                    let (word, stem) = split_pair(tokens, slot, stem_slot);
                    if !cached_stem_term(language, stemmer, lowercase, &word.text, &mut stem.text) {
                        used -= 1;
                    }
                }
            }
            position += 1;
            true
        });
        MediaMeshTokenStream { tokens: &mut tokens[..used], cursor: 0 }
    }
}

/// Takes the next reusable token slot (growing the pool when needed) and sets its place.
fn next_slot(tokens: &mut Vec<Token>, used: &mut usize, from: usize, to: usize, position: usize) -> usize {
    if *used == tokens.len() {
        tokens.push(Token::default());
    }
    let token = &mut tokens[*used];
    token.offset_from = from;
    token.offset_to = to;
    token.position = position;
    token.position_length = 1;
    *used += 1;
    *used - 1
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

    #[test]
    fn stemmers_said_to_keep_the_initial_do_on_real_text() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/rss");
        let mut text = String::from(
            "über Äpfel élite Öl yes yellow ÿ ißt İstanbul ıslak Ångström ærø Łódź Ślązak Žižek šaš ćevapi \
             ëen ìndole ñandú ünlü çocuk şeker ğ",
        );
        for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "xml") {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).expect("read")));
            }
        }
        let mut words = words(&text);
        assert!(words.len() > 10_000, "{} words", words.len());
        words.sort_by(|a, b| a.lowercase.cmp(&b.lowercase));
        words.dedup_by(|a, b| a.lowercase == b.lowercase);
        let mut wrong = Vec::new();
        for (language, stemmer) in stemmers() {
            let changed = words
                .iter()
                .filter(|w| !w.cjk)
                .map(|w| (w, fold(&stemmer.stem(&w.lowercase)).into_owned()))
                .find(|(w, stem)| !stem.is_empty() && stem.chars().next() != w.term.chars().next());
            if let Some((word, stem)) = changed {
                let line = format!("{}: {} -> {stem}", language.code(), word.lowercase);
                if stem_keeps_initial(*language) {
                    wrong.push(line);
                } else {
                    eprintln!("changes the initial, as declared: {line}");
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:?}");
    }

    #[test]
    fn the_stem_cache_answers_what_the_stemmer_does_when_slots_are_shared_and_words_are_long() {
        // More distinct words than the cache has slots, so words evict one another; real words in
        // several languages, some with stems of their own and some without, and words too long
        // for a slot.
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/rss");
        let mut text = String::new();
        for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "xml") {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).expect("read")));
            }
        }
        let mut real: Vec<String> = words(&text).into_iter().filter(|w| !w.cjk).map(|w| w.lowercase).collect();
        real.sort();
        real.dedup();
        real.push("überlebensgrößenverhältnismäßigkeiten".to_owned());
        real.push("a".repeat(STEM_SLOT_BYTES + 1) + "ing");
        let made = (0..STEM_SLOTS + STEM_SLOTS / 4).map(|n| format!("w{n}ings"));
        let all: Vec<String> = real.iter().cloned().chain(made).collect();
        let languages = [language("en"), language("de"), language("fr"), language("es")];
        let mut out = String::new();
        for pass in 0..2 {
            for (n, lowercase) in all.iter().enumerate() {
                let language = languages[n % languages.len()];
                let stemmer = stemmer_for(language).expect("a stemmer");
                let term = fold(lowercase).into_owned();
                let stem = fold(&stemmer.stem(lowercase)).into_owned();
                let expected = (stem != term && !stem.is_empty()).then(|| stem_term(&stem));
                let distinct = cached_stem_term(language, stemmer, lowercase, &term, &mut out);
                assert_eq!(distinct.then(|| out.clone()), expected, "{lowercase} in {language:?}, pass {pass}");
            }
        }
        // A word asked again in the same language is answered from its slot: the same answer.
        let english = language("en");
        let stemmer = stemmer_for(english).expect("a stemmer");
        assert!(cached_stem_term(english, stemmer, "harbours", "harbours", &mut out));
        assert_eq!(out, "~harbour");
        assert!(cached_stem_term(english, stemmer, "harbours", "harbours", &mut out));
        assert_eq!(out, "~harbour");
        assert!(!cached_stem_term(english, stemmer, "harbour", "harbour", &mut out));
    }

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
        // Answers are remembered by word and languages: asking again, or in other languages, is
        // answered for those languages.
        assert_eq!(query_stems("podcasts", &[language("en")]), ["podcast"]);
        assert!(query_stems("podcasts", &[language("ja")]).is_empty());
        assert_eq!(query_stems("geschichten", &[]), stems_of("geschichten", &[]));
    }

    #[test]
    fn long_words_and_punctuation_are_dropped() {
        assert!(words(&"a".repeat(41)).is_empty());
        assert!(words("\u{0}\u{1}!!! ... ---").is_empty());
    }
}
