//! Highlighted snippets: the words of a title or description that the query matched, wrapped in
//! `<em>`, with the rest HTML-escaped.
//!
//! Matching here mirrors the query (exact, stem, typo, prefix, CJK bigram), so a word found through
//! a typo or a stem is highlighted too, which Tantivy's term-based snippet generator cannot do for
//! fuzzy and prefix queries.

use contracts::LanguageCode;

use crate::analysis::{self, Word};
use crate::query::ParsedQuery;

/// Characters of context kept before the first match of a long description.
const LEAD_CHARS: usize = 60;

/// The highlighted text, or `None` when nothing in it matched. With `max_chars`, a long text is cut
/// to a window around its first match, marked with `…`.
pub fn highlight(
    text: &str,
    language: Option<LanguageCode>,
    query: &ParsedQuery,
    max_chars: Option<usize>,
) -> Option<String> {
    let spans = matched_spans(text, language, query);
    let first = spans.first()?;
    let (window_start, window_end) = match max_chars {
        Some(limit) if text.chars().count() > limit => window(text, first.0, limit),
        _ => (0, text.len()),
    };
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

/// Byte spans of matched words, in order, overlapping spans (CJK bigrams) merged.
fn matched_spans(text: &str, language: Option<LanguageCode>, query: &ParsedQuery) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for word in analysis::words(text) {
        if !matches(&word, language, query) {
            continue;
        }
        match spans.last_mut() {
            Some(last) if word.start < last.1 => last.1 = last.1.max(word.end),
            _ => spans.push((word.start, word.end)),
        }
    }
    spans
}

fn matches(word: &Word, language: Option<LanguageCode>, query: &ParsedQuery) -> bool {
    if query.phrases.iter().flatten().any(|term| *term == word.term) {
        return true;
    }
    let stem = if word.cjk { None } else { language.and_then(|l| analysis::stem(l, &word.lowercase)) };
    query.words.iter().any(|q| {
        if q.term == word.term {
            return true;
        }
        if q.cjk || word.cjk {
            return false;
        }
        if q.prefix && word.term.starts_with(&q.term) {
            return true;
        }
        if let Some(stem) = &stem
            && (q.stems.contains(stem) || q.term == *stem)
        {
            return true;
        }
        q.typos > 0 && within_edits(&q.term, &word.term, usize::from(q.typos))
    })
}

/// Optimal-string-alignment distance (a transposition costs one edit) is at most `limit`.
pub fn within_edits(a: &str, b: &str, limit: usize) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return false;
    }
    let width = b.len() + 1;
    let mut previous_previous = vec![0usize; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current = vec![0usize; width];
    for i in 1..=a.len() {
        current[0] = i;
        let mut row_min = current[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut value = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                value = value.min(previous_previous[j - 2] + 1);
            }
            current[j] = value;
            row_min = row_min.min(value);
        }
        if row_min > limit {
            return false;
        }
        std::mem::swap(&mut previous_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()] <= limit
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

    #[test]
    fn exact_stem_typo_and_prefix_matches_are_marked() {
        let query = parse("histroy podcast scien", &[]).expect("parses");
        let text = "A <b>History</b> of Podcasts & Science";
        assert_eq!(
            highlight(text, lang("en"), &query, None).as_deref(),
            Some("A &lt;b&gt;<em>History</em>&lt;/b&gt; of <em>Podcasts</em> &amp; <em>Science</em>")
        );
        assert_eq!(highlight("Nothing here", lang("en"), &query, None), None);
    }

    #[test]
    fn cjk_bigrams_merge_into_one_mark() {
        let query = parse("東京ポッド", &[]).expect("parses");
        let text = "東京ポッド許可局";
        assert_eq!(highlight(text, lang("ja"), &query, None).as_deref(), Some("<em>東京ポッド</em>許可局"));
    }

    #[test]
    fn long_text_is_cut_around_the_first_match() {
        let query = parse("needle", &[]).expect("parses");
        let text = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let snippet = highlight(&text, lang("en"), &query, Some(160)).expect("matches");
        assert!(snippet.starts_with('…') && snippet.ends_with('…'), "{snippet}");
        assert!(snippet.contains("<em>needle</em>"));
        assert!(snippet.chars().count() < 200);
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert!(within_edits("history", "histroy", 1));
        assert!(within_edits("kitten", "sitten", 1));
        assert!(!within_edits("kitten", "sitting", 2));
        assert!(within_edits("kitten", "sitting", 3));
        assert!(!within_edits("cat", "dog", 2));
        assert!(within_edits("documentary", "documnetray", 2));
    }
}
