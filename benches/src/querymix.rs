//! The fixed query mix: 1–3 words drawn from the catalog's vocabulary (frequent words more often,
//! stop words never), a typo in one query in five, an unfinished last word in three in ten, and 0–2
//! filters; facets and highlights on, as the discovery API asks.

use contracts::{CATEGORIES, Category, ContentKind, LanguageCode};
use engine::SearchRequest;

use crate::catalog::{LANGUAGES, Vocabulary};
use crate::rng::{Rng, Zipf};

/// `count` requests for `vocabulary`, the same for the same seed.
pub fn generate(vocabulary: &Vocabulary, count: usize, seed: u64) -> Vec<SearchRequest> {
    let mut rng = Rng::new(seed);
    let categories = Zipf::new(CATEGORIES.len(), 0.8);
    let languages = Zipf::new(LANGUAGES.len(), 1.1);
    (0..count)
        .map(|_| {
            let words = match rng.unit() {
                u if u < 0.45 => 1,
                u if u < 0.80 => 2,
                _ => 3,
            };
            let mut terms: Vec<String> =
                (0..words).map(|_| vocabulary.sample_searchable(&mut rng).to_owned()).collect();
            if rng.chance(0.2)
                && let Some(term) = terms.iter_mut().find(|t| t.chars().count() >= 5)
            {
                *term = typo(term, &mut rng);
            }
            let mut text = terms.join(" ");
            let prefix = rng.chance(0.3);
            if prefix {
                if let Some(last) = terms.last() {
                    let keep = (last.chars().count() - 1).max(3);
                    let cut: String = last.chars().take(keep).collect();
                    text = terms[..terms.len() - 1].iter().cloned().chain([cut]).collect::<Vec<_>>().join(" ");
                }
            } else {
                text.push(' ');
            }
            let mut request = SearchRequest::text(text);
            let filters = match rng.unit() {
                u if u < 0.5 => 0,
                u if u < 0.8 => 1,
                _ => 2,
            };
            for _ in 0..filters {
                match rng.range(0, 3) {
                    0 => {
                        let values = rng.range(1, 2);
                        for _ in 0..values {
                            if let Some(category) = Category::from_ordinal(categories.sample(&mut rng) as u64) {
                                request.categories.push(category);
                            }
                        }
                    }
                    1 => {
                        if let Ok(language) = LanguageCode::parse(LANGUAGES[languages.sample(&mut rng)]) {
                            request.languages.push(language);
                        }
                    }
                    2 => request.kind = Some(if rng.chance(0.8) { ContentKind::Episode } else { ContentKind::Program }),
                    _ => request.min_duration = Some(rng.range(5, 60) * 60),
                }
            }
            if rng.chance(0.1) {
                request.page = 2;
            }
            request
        })
        .collect()
}

/// One random edit (substitution, transposition, deletion or insertion) inside the word.
fn typo(word: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    let at = rng.range(1, chars.len() as u64 - 2) as usize;
    match rng.range(0, 3) {
        0 => chars[at] = *rng.pick(&['a', 'e', 'i', 'o', 'u', 'r', 's', 't']),
        1 => chars.swap(at, at + 1),
        2 => {
            chars.remove(at);
        }
        _ => chars.insert(at, *rng.pick(&['a', 'e', 'n', 's'])),
    }
    chars.into_iter().collect()
}

/// The query text as PostgreSQL `to_tsquery` syntax: every word required, the unfinished last
/// word as a prefix (`word:*`). Words are the engine's own tokens, so no tsquery syntax leaks in.
pub fn to_tsquery(request: &SearchRequest) -> Option<String> {
    let text = request.text.as_deref()?;
    let words = engine::words(text);
    let still_typing = !text.ends_with(char::is_whitespace);
    let count = words.len();
    let parts: Vec<String> = words
        .into_iter()
        .enumerate()
        .map(|(index, word)| if still_typing && index + 1 == count { format!("{}:*", word.term) } else { word.term })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" & "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_deterministic_and_varied() {
        let vocabulary = Vocabulary::synthetic();
        let a = generate(&vocabulary, 1000, 9);
        assert_eq!(a, generate(&vocabulary, 1000, 9));
        let filtered =
            a.iter().filter(|r| !r.categories.is_empty() || !r.languages.is_empty() || r.kind.is_some()).count();
        assert!((300..700).contains(&filtered), "{filtered} of 1000 filtered");
        let typing = a.iter().filter(|r| r.text.as_deref().is_some_and(|t| !t.ends_with(' '))).count();
        assert!((200..400).contains(&typing), "{typing} of 1000 unfinished");
        assert!(a.iter().all(|r| r.validate().is_ok()));
    }

    #[test]
    fn tsquery_marks_the_unfinished_word_as_a_prefix() {
        assert_eq!(to_tsquery(&SearchRequest::text("Night Val")).as_deref(), Some("night & val:*"));
        assert_eq!(to_tsquery(&SearchRequest::text("night vale ")).as_deref(), Some("night & vale"));
        assert_eq!(to_tsquery(&SearchRequest::text("a & !b | c:*")).as_deref(), Some("a & b & c:*"));
        assert_eq!(to_tsquery(&SearchRequest::text("!!!")), None);
    }
}
