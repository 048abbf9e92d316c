//! Highlighted snippets: the words of a title or description that the query matched, wrapped in
//! `<em>`, with the rest HTML-escaped.
//!
//! Matching here mirrors the query (exact, stem, typo, prefix, CJK bigram), so a word found through
//! a typo or a stem is highlighted too, which Tantivy's term-based snippet generator cannot do for
//! fuzzy and prefix queries.

use std::cell::RefCell;

use contracts::LanguageCode;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::analysis::{self, WordRef};
use crate::query::ParsedQuery;

/// Characters of context kept before the first match of a long description.
const LEAD_CHARS: usize = 60;

/// Which words of a text the query matched, decided as the index decided it: the words as written
/// (and phrase words), the typo and prefix variants the query was expanded to, prefixes of the
/// unfinished word, and words whose stem (in the document's language) is a stem of a query word.
/// Built once per query; each decision is remembered for the query's other hits (words repeat).
#[derive(Debug, Default)]
pub struct Matcher {
    exact: FxHashSet<String>,
    prefixes: Vec<String>,
    /// Stem terms (marker plus stem) of the query words, and each query word as a stem term.
    stem_terms: FxHashSet<String>,
    /// First letters of those stems.
    stem_initials: FxHashSet<char>,
    /// First letters of every word that can match without stemming, and of the stems: a word
    /// starting otherwise matches only where stemming may change a word's first letter.
    initials: FxHashSet<char>,
    /// Decisions so far, by document language (a stem depends on it) and word.
    decided: RefCell<Vec<(Option<LanguageCode>, Decisions)>>,
}

/// Whether each word seen matched.
type Decisions = FxHashMap<Box<str>, bool>;

impl Matcher {
    /// `variants` are the typo and prefix variants the query matched in the index.
    pub fn new(query: &ParsedQuery, variants: &[String]) -> Self {
        let mut matcher = Self::default();
        matcher.exact.extend(query.phrases.iter().flatten().cloned());
        matcher.exact.extend(variants.iter().cloned());
        for word in &query.words {
            matcher.exact.insert(word.term.clone());
            if word.cjk {
                continue;
            }
            if word.prefix {
                matcher.prefixes.push(word.term.clone());
            }
            matcher.stem_terms.insert(analysis::stem_term(&word.term));
            matcher.stem_terms.extend(word.stems.iter().map(|stem| analysis::stem_term(stem)));
            matcher.stem_initials.extend(word.term.chars().next());
            matcher.stem_initials.extend(word.stems.iter().filter_map(|stem| stem.chars().next()));
        }
        let initials = matcher.exact.iter().chain(&matcher.prefixes).filter_map(|word| word.chars().next());
        matcher.initials = initials.chain(matcher.stem_initials.iter().copied()).collect();
        matcher
    }

    /// `strict`: stemming in the text's language never changes a word's first letter.
    fn matches(&self, word: &WordRef<'_>, language: Option<LanguageCode>, strict: bool, stem: &mut String) -> bool {
        if strict && !word.term.chars().next().is_some_and(|initial| self.initials.contains(&initial)) {
            return false;
        }
        let mut decided = self.decided.borrow_mut();
        let slot = match decided.iter().position(|(l, _)| *l == language) {
            Some(slot) => slot,
            None => {
                decided.push((language, Decisions::default()));
                decided.len() - 1
            }
        };
        let memo = &mut decided[slot].1;
        if let Some(&matched) = memo.get(word.term) {
            return matched;
        }
        let matched = self.decide(word, language, stem);
        memo.insert(word.term.into(), matched);
        matched
    }

    fn decide(&self, word: &WordRef<'_>, language: Option<LanguageCode>, stem: &mut String) -> bool {
        if self.exact.contains(word.term) {
            return true;
        }
        if word.cjk {
            return false;
        }
        if self.prefixes.iter().any(|prefix| word.term.starts_with(prefix.as_str())) {
            return true;
        }
        let Some(language) = language else { return false };
        if analysis::stem_keeps_initial(language)
            && !word.term.chars().next().is_some_and(|initial| self.stem_initials.contains(&initial))
        {
            return false;
        }
        if !analysis::document_stem_term(language, word.lowercase, word.term, stem) {
            // The word is its own stem.
            stem.clear();
            stem.push(analysis::STEM_MARKER);
            stem.push_str(word.term);
        }
        self.stem_terms.contains(stem.as_str())
    }
}

/// The highlighted text, or `None` when nothing in it matched. With `max_chars`, a long text is cut
/// to a window around its first match, marked with `…`; words after the window are not looked at.
pub fn highlight(
    text: &str,
    language: Option<LanguageCode>,
    matcher: &Matcher,
    max_chars: Option<usize>,
) -> Option<String> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut window_end = text.len();
    let mut window_start = 0;
    let mut stem = String::new();
    let strict = language.is_none_or(analysis::stem_keeps_initial);
    // Where stemming keeps a word's first letter, a word starting with an ASCII letter no query
    // word has cannot match: it is passed over before it is lowercased and folded.
    let wanted = |written: &str| {
        !strict
            || written.as_bytes().first().is_none_or(|&initial| {
                !initial.is_ascii() || matcher.initials.contains(&char::from(initial.to_ascii_lowercase()))
            })
    };
    analysis::visit_words_where(text, wanted, |word| {
        if word.start >= window_end {
            return false;
        }
        if !matcher.matches(&word, language, strict, &mut stem) {
            return true;
        }
        match spans.last_mut() {
            // Overlapping spans (CJK bigrams) merge.
            Some(last) if word.start < last.1 => last.1 = last.1.max(word.end),
            Some(_) => spans.push((word.start, word.end)),
            None => {
                if let Some(limit) = max_chars
                    && text.len() > limit
                    && text.chars().count() > limit
                {
                    (window_start, window_end) = window(text, word.start, limit);
                }
                spans.push((word.start, word.end));
            }
        }
        true
    });
    spans.first()?;
    let mut out = String::with_capacity(window_end - window_start + spans.len() * 9 + 6);
    if window_start > 0 {
        out.push('…');
    }
    let mut cursor = window_start;
    for &(start, end) in &spans {
        if start < cursor || end > window_end {
            continue;
        }
        escape_into(&text[cursor..start], &mut out);
        out.push_str("<em>");
        escape_into(&text[start..end], &mut out);
        out.push_str("</em>");
        cursor = end;
    }
    escape_into(&text[cursor..window_end], &mut out);
    if window_end < text.len() {
        out.push('…');
    }
    Some(out)
}

/// A window of at most `limit` characters that starts a little before `first_match`, on a word
/// boundary where one is near.
fn window(text: &str, first_match: usize, limit: usize) -> (usize, usize) {
    let lead_start =
        text[..first_match].char_indices().rev().nth(LEAD_CHARS.saturating_sub(1)).map_or(0, |(index, _)| index);
    let start = if lead_start == 0 {
        0
    } else {
        text[lead_start..first_match].find(' ').map_or(lead_start, |space| lead_start + space + 1)
    };
    let end = text[start..].char_indices().nth(limit).map_or(text.len(), |(index, _)| start + index);
    (start, end)
}

fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn lang(code: &str) -> Option<LanguageCode> {
        LanguageCode::parse(code).ok()
    }

    fn matcher(text: &str, variants: &[&str]) -> Matcher {
        let query = parse(text, &[]).expect("parses");
        Matcher::new(&query, &variants.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn exact_stem_typo_and_prefix_matches_are_marked() {
        // "history" is the typo variant the index expanded "histroy" to.
        let matcher = matcher("histroy podcast scien", &["history"]);
        let text = "A <b>History</b> of Podcasts & Science";
        assert_eq!(
            highlight(text, lang("en"), &matcher, None).as_deref(),
            Some("A &lt;b&gt;<em>History</em>&lt;/b&gt; of <em>Podcasts</em> &amp; <em>Science</em>")
        );
        assert_eq!(highlight("Nothing here", lang("en"), &matcher, None), None);
        // Stems apply in the document's language only.
        assert_eq!(highlight("Podcasts", lang("ja"), &matcher, None), None);
    }

    #[test]
    fn a_query_stem_matches_a_word_that_is_its_own_stem() {
        let matcher = matcher("running ", &[]);
        assert_eq!(highlight("We run", lang("en"), &matcher, None).as_deref(), Some("We <em>run</em>"));
    }

    #[test]
    fn a_stem_that_changes_the_first_letter_still_marks_the_word() {
        // Dutch stemming drops `ge-`: the word starts with a letter no query word starts with.
        let mut stem = String::new();
        assert!(analysis::document_stem_term(LanguageCode::parse("nl").expect("nl"), "gewerkt", "gewerkt", &mut stem));
        let query_stem = stem.trim_start_matches(analysis::STEM_MARKER).to_owned();
        assert!(!query_stem.starts_with('g'), "{query_stem}");
        let matcher = matcher(&format!("{query_stem} "), &[]);
        assert_eq!(highlight("Hard gewerkt", lang("nl"), &matcher, None).as_deref(), Some("Hard <em>gewerkt</em>"));
        // Where stems keep the first letter, other words are passed over without stemming.
        assert_eq!(highlight("Hard gewerkt", lang("en"), &matcher, None), None);
    }

    #[test]
    fn cjk_bigrams_merge_into_one_mark() {
        let matcher = matcher("東京ポッド", &[]);
        let text = "東京ポッド許可局";
        assert_eq!(highlight(text, lang("ja"), &matcher, None).as_deref(), Some("<em>東京ポッド</em>許可局"));
    }

    #[test]
    fn long_text_is_cut_around_the_first_match() {
        let matcher = matcher("needle", &[]);
        let text = format!("{} needle {} needle", "hay ".repeat(100), "straw ".repeat(100));
        let snippet = highlight(&text, lang("en"), &matcher, Some(160)).expect("matches");
        assert!(snippet.starts_with('…') && snippet.ends_with('…'), "{snippet}");
        assert!(snippet.contains("<em>needle</em>"));
        assert!(snippet.chars().count() < 200);
    }
}
