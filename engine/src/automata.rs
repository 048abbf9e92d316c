//! The automata that expand a query word over a term dictionary (an FST): words within a few typos
//! of it, and words it begins.
//!
//! [`Typos`] simulates the edit-distance table directly while the FST is walked, instead of
//! building a Levenshtein DFA first: building the DFA for two typos costs 35–40 µs for a 10–15
//! letter word, more than the walk itself. Only the band of the table within `k` of the diagonal
//! can stay within `k` edits, so a state is two rows of at most five cells plus the previous
//! character: small, `Copy`, and one step per character. Distances are counted in characters (UTF-8
//! is decoded along the way), and swapping two adjacent characters counts as one edit (optimal
//! string alignment), as Tantivy's `FuzzyTermQuery` with transpositions does.
//!
//! As Meilisearch counts a typo on the first letter double, these automata do not tolerate one at
//! all: the first letter must be right, so each walk stays in one branch of the dictionary (and
//! never enters the stem terms, which start with [`crate::analysis::STEM_MARKER`]).

use tantivy_fst::Automaton;

/// Most typos a word may have (see `query::typos_for`).
pub const MAX_TYPOS: u8 = 2;
/// Cells of the band: the diagonal and `MAX_TYPOS` on each side.
const BAND: usize = 2 * MAX_TYPOS as usize + 1;
const CENTRE: i32 = MAX_TYPOS as i32;

/// Words within `k` typos of a pattern that share its first character.
#[derive(Debug, Clone)]
pub struct Typos {
    pattern: Vec<char>,
    k: u8,
}

/// Where a walk of [`Typos`] stands after some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TyposState {
    /// `row[b]` is the distance between the pattern's first `j + b - CENTRE` characters and the
    /// `j` characters read so far (capped at `k + 1`).
    row: [u8; BAND],
    /// The same for `j - 1` characters (transpositions look two rows back).
    previous_row: [u8; BAND],
    /// Characters read.
    read: u16,
    previous_char: char,
    /// A character whose UTF-8 bytes are still arriving, and how many are missing.
    pending: u32,
    missing: u8,
    dead: bool,
}

impl Typos {
    /// `k` is capped at [`MAX_TYPOS`].
    pub fn new(pattern: &str, k: u8) -> Self {
        Self { pattern: pattern.chars().collect(), k: k.min(MAX_TYPOS) }
    }

    fn limit(&self) -> u8 {
        self.k + 1
    }

    /// The pattern length `i` that band cell `b` stands for after `read` characters, if in range.
    fn pattern_len(&self, read: u16, b: usize) -> Option<usize> {
        let i = i32::from(read) + b as i32 - CENTRE;
        let off_diagonal = (b as i32 - CENTRE).unsigned_abs();
        (i >= 0 && i as usize <= self.pattern.len() && off_diagonal <= u32::from(self.k)).then_some(i as usize)
    }

    fn step(&self, state: &TyposState, c: char) -> TyposState {
        let limit = self.limit();
        if state.read == 0 && self.pattern.first() != Some(&c) {
            return self.dead();
        }
        let read = state.read + 1;
        let mut row = [limit; BAND];
        // Cells on the band (|i - read| <= k) with 0 <= i <= pattern length.
        let centre = CENTRE as usize;
        let k = usize::from(self.k);
        let read_len = usize::from(read);
        let low = (centre - k).max(centre.saturating_sub(read_len));
        let Some(top) = (self.pattern.len() + centre).checked_sub(read_len) else { return self.dead() };
        let high = (centre + k).min(top);
        for b in low..=high {
            let i = read_len + b - centre;
            if i == 0 {
                row[b] = u8::try_from(read).unwrap_or(u8::MAX).min(limit);
                continue;
            }
            let mut best = state.row[b].saturating_add(u8::from(self.pattern[i - 1] != c));
            if b + 1 < BAND {
                best = best.min(state.row[b + 1].saturating_add(1));
            }
            if b >= 1 {
                best = best.min(row[b - 1].saturating_add(1));
            }
            if i >= 2 && self.pattern[i - 1] == state.previous_char && self.pattern[i - 2] == c {
                best = best.min(state.previous_row[b].saturating_add(1));
            }
            row[b] = best.min(limit);
        }
        let dead = row.iter().all(|&cell| cell >= limit);
        TyposState { row, previous_row: state.row, read, previous_char: c, pending: 0, missing: 0, dead }
    }

    fn dead(&self) -> TyposState {
        TyposState {
            row: [self.limit(); BAND],
            previous_row: [self.limit(); BAND],
            read: 0,
            previous_char: '\0',
            pending: 0,
            missing: 0,
            dead: true,
        }
    }
}

impl Automaton for Typos {
    type State = TyposState;

    fn start(&self) -> TyposState {
        let limit = self.limit();
        let mut row = [limit; BAND];
        for (b, cell) in row.iter_mut().enumerate() {
            if let Some(i) = self.pattern_len(0, b) {
                *cell = (i as u8).min(limit);
            }
        }
        TyposState {
            row,
            previous_row: [limit; BAND],
            read: 0,
            previous_char: '\0',
            pending: 0,
            missing: 0,
            dead: self.pattern.is_empty(),
        }
    }

    fn is_match(&self, state: &TyposState) -> bool {
        if state.dead || state.missing > 0 || state.read == 0 {
            return false;
        }
        let b = self.pattern.len() as i32 - i32::from(state.read) + CENTRE;
        (0..BAND as i32).contains(&b)
            && self.pattern_len(state.read, b as usize).is_some()
            && state.row[b as usize] <= self.k
    }

    fn can_match(&self, state: &TyposState) -> bool {
        !state.dead
    }

    fn accept(&self, state: &TyposState, byte: u8) -> TyposState {
        if state.dead {
            return *state;
        }
        if state.missing == 0 {
            let (pending, missing) = match byte {
                0x00..=0x7F => return self.step(state, char::from(byte)),
                0xC0..=0xDF => (u32::from(byte & 0x1F), 1),
                0xE0..=0xEF => (u32::from(byte & 0x0F), 2),
                0xF0..=0xF7 => (u32::from(byte & 0x07), 3),
                _ => return self.dead(),
            };
            return TyposState { pending, missing, ..*state };
        }
        let pending = state.pending << 6 | u32::from(byte & 0x3F);
        if state.missing > 1 {
            return TyposState { pending, missing: state.missing - 1, ..*state };
        }
        match char::from_u32(pending) {
            Some(c) => self.step(&TyposState { pending: 0, missing: 0, ..*state }, c),
            None => self.dead(),
        }
    }
}

/// Words that begin with a prefix (the prefix itself included).
#[derive(Debug, Clone)]
pub struct Prefix<'a> {
    prefix: &'a [u8],
}

impl<'a> Prefix<'a> {
    pub fn new(prefix: &'a str) -> Self {
        Self { prefix: prefix.as_bytes() }
    }
}

impl Automaton for Prefix<'_> {
    /// Bytes of the prefix matched so far; `None` once a byte differed.
    type State = Option<usize>;

    fn start(&self) -> Option<usize> {
        Some(0)
    }

    fn is_match(&self, state: &Option<usize>) -> bool {
        *state == Some(self.prefix.len())
    }

    fn can_match(&self, state: &Option<usize>) -> bool {
        state.is_some()
    }

    fn accept(&self, state: &Option<usize>, byte: u8) -> Option<usize> {
        match *state {
            Some(matched) if matched == self.prefix.len() => Some(matched),
            Some(matched) if self.prefix[matched] == byte => Some(matched + 1),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Optimal-string-alignment distance, the plain way.
    fn osa(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        d[0] = (0..=b.len()).collect();
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                }
            }
        }
        d[a.len()][b.len()]
    }

    fn accepts<A: Automaton>(automaton: &A, word: &str) -> bool {
        let mut state = automaton.start();
        for &byte in word.as_bytes() {
            if !automaton.can_match(&state) {
                return false;
            }
            state = automaton.accept(&state, byte);
        }
        automaton.is_match(&state)
    }

    fn expected(pattern: &str, word: &str, k: u8) -> bool {
        pattern.chars().next() == word.chars().next() && osa(pattern, word) <= usize::from(k)
    }

    #[test]
    fn typos_agree_with_the_edit_distance_table() {
        let cases = [
            ("history", "histroy"),
            ("history", "history"),
            ("history", "histories"),
            ("history", "hstory"),
            ("history", "historyy"),
            ("history", "mystery"),
            ("documentary", "documnetray"),
            ("documentary", "documentaries"),
            ("kitten", "sitting"),
            ("ab", "ba"),
            ("abc", "acb"),
            ("abc", "a"),
            ("münchen", "munchen"),
            ("münchen", "mnüchen"),
            ("東京都", "東京"),
            ("podcast", "p"),
        ];
        for (pattern, word) in cases {
            for k in 0..=2 {
                assert_eq!(
                    accepts(&Typos::new(pattern, k), word),
                    expected(pattern, word, k),
                    "{pattern} ~ {word} within {k}"
                );
            }
        }
    }

    #[test]
    fn typos_agree_with_the_table_on_random_words() {
        // A small alphabet makes near misses common; a fixed generator keeps the test repeatable.
        let alphabet: Vec<char> = "abcdeé".chars().collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let word = |next: &mut dyn FnMut() -> u64| -> String {
            let len = 1 + (next() % 9) as usize;
            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
        };
        for _ in 0..20_000 {
            let pattern = word(&mut next);
            let candidate = word(&mut next);
            let k = (next() % 3) as u8;
            assert_eq!(
                accepts(&Typos::new(&pattern, k), &candidate),
                expected(&pattern, &candidate, k),
                "{pattern} ~ {candidate} within {k}"
            );
        }
    }

    #[test]
    fn prefix_matches_words_it_begins() {
        let prefix = Prefix::new("pod");
        assert!(accepts(&prefix, "pod"));
        assert!(accepts(&prefix, "podcast"));
        assert!(!accepts(&prefix, "po"));
        assert!(!accepts(&prefix, "spod"));
    }
}
