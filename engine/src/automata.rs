//! The automata that expand a query word over a term dictionary (an FST): words within a few typos
//! of it, and words it begins.
//!
//! [`Typos`] runs the edit-distance table bit-parallel while the FST is walked, instead of building a
//! Levenshtein DFA first: building the DFA for two typos costs 35–40 µs for a 10–15 letter word,
//! more than the walk itself. Row `d` of a state is a bitset over the pattern's prefixes: bit `i` is
//! set when the pattern's first `i` characters are within `d` edits of the characters read so far
//! (Wu and Manber's bit-parallel matcher, anchored at both ends, with Hyyrö's term for swapped
//! neighbours). One character is a handful of shifts and masks per row, whatever the pattern's
//! length, and a state is a few machine words, `Copy`. Distances are counted in characters (UTF-8 is
//! decoded along the way), and swapping two adjacent characters counts as one edit (optimal string
//! alignment), as Tantivy's `FuzzyTermQuery` with transpositions does.
//!
//! As Meilisearch counts a typo on the first letter double, these automata do not tolerate one at
//! all: the first letter must be right, so each walk stays in one branch of the dictionary (and
//! never enters the stem terms, which start with [`crate::analysis::STEM_MARKER`]).

use tantivy_fst::Automaton;

/// Most typos a word may have (see `query::typos_for`).
pub const MAX_TYPOS: u8 = 2;
const ROWS: usize = MAX_TYPOS as usize + 1;
/// Longest pattern [`Typos`] matches: its prefixes (the empty one too) are the bits of a `u64`.
/// Query words are shorter (see `analysis`); a longer pattern matches nothing.
pub const MAX_PATTERN_CHARS: usize = 63;

/// Words within `k` typos of a pattern that share its first character.
#[derive(Debug, Clone)]
pub struct Typos {
    /// Per ASCII byte, the positions (from 1) where the pattern has it.
    ascii: Box<[u64; 128]>,
    /// The same for the pattern's other characters.
    others: Vec<(char, u64)>,
    first: Option<char>,
    /// Bits 0 to the pattern's length.
    prefixes: u64,
    /// The bit of the whole pattern.
    whole: u64,
    k: u8,
}

/// Where a walk of [`Typos`] stands after some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TyposState {
    /// `rows[d]` bit `i`: the pattern's first `i` characters are within `d` edits of the
    /// characters read. Rows above `k` stay empty.
    rows: [u64; ROWS],
    /// The rows before the last character (swaps look two characters back).
    previous: [u64; ROWS],
    /// Where the pattern has the last character read.
    last: u64,
    started: bool,
    /// A character whose UTF-8 bytes are still arriving, and how many are missing.
    pending: u32,
    missing: u8,
}

impl Typos {
    /// `k` is capped at [`MAX_TYPOS`].
    pub fn new(pattern: &str, k: u8) -> Self {
        let chars: Vec<char> = pattern.chars().collect();
        let mut ascii = Box::new([0u64; 128]);
        let mut others: Vec<(char, u64)> = Vec::new();
        for (index, &c) in chars.iter().enumerate().take(MAX_PATTERN_CHARS) {
            let bit = 1u64 << (index + 1);
            match ascii.get_mut(c as usize) {
                Some(mask) => *mask |= bit,
                None => match others.iter_mut().find(|(other, _)| *other == c) {
                    Some((_, mask)) => *mask |= bit,
                    None => others.push((c, bit)),
                },
            }
        }
        let usable = !chars.is_empty() && chars.len() <= MAX_PATTERN_CHARS;
        let length = chars.len().min(MAX_PATTERN_CHARS);
        Self {
            ascii,
            others,
            first: chars.first().copied().filter(|_| usable),
            prefixes: if usable { u64::MAX >> (63 - length) } else { 0 },
            whole: if usable { 1 << length } else { 0 },
            k: k.min(MAX_TYPOS),
        }
    }

    fn positions(&self, c: char) -> u64 {
        match self.ascii.get(c as usize) {
            Some(&mask) => mask,
            None => self.others.iter().find(|(other, _)| *other == c).map_or(0, |&(_, mask)| mask),
        }
    }

    fn step(&self, state: &TyposState, c: char) -> TyposState {
        if !state.started && self.first != Some(c) {
            return self.dead();
        }
        let at = self.positions(c);
        let rows = &state.rows;
        let mut next = [0u64; ROWS];
        next[0] = (rows[0] << 1) & at;
        for d in 1..=usize::from(self.k) {
            let matched = (rows[d] << 1) & at;
            let inserted = rows[d - 1];
            let substituted = rows[d - 1] << 1;
            let deleted = next[d - 1] << 1;
            let swapped = (state.previous[d - 1] << 2) & (at << 1) & state.last;
            next[d] = (matched | inserted | substituted | deleted | swapped) & self.prefixes;
        }
        TyposState { rows: next, previous: *rows, last: at, started: true, pending: 0, missing: 0 }
    }

    fn dead(&self) -> TyposState {
        TyposState { rows: [0; ROWS], previous: [0; ROWS], last: 0, started: true, pending: 0, missing: 0 }
    }
}

impl Automaton for Typos {
    type State = TyposState;

    fn start(&self) -> TyposState {
        if self.first.is_none() {
            return self.dead();
        }
        // Before any character, the first `i` pattern characters are `i` edits (deletions) away.
        let rows =
            std::array::from_fn(|d| if d <= usize::from(self.k) { (u64::MAX >> (63 - d)) & self.prefixes } else { 0 });
        TyposState { rows, previous: [0; ROWS], last: 0, started: false, pending: 0, missing: 0 }
    }

    fn is_match(&self, state: &TyposState) -> bool {
        state.started && state.missing == 0 && state.rows[usize::from(self.k)] & self.whole != 0
    }

    fn can_match(&self, state: &TyposState) -> bool {
        // Row `k` holds every other row's bits: once it is empty, nothing can match.
        state.rows[usize::from(self.k)] != 0
    }

    fn accept(&self, state: &TyposState, byte: u8) -> TyposState {
        if !self.can_match(state) {
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
    fn patterns_up_to_the_limit_match_and_longer_ones_match_nothing() {
        let longest = "a".repeat(MAX_PATTERN_CHARS);
        let typo = format!("{}b", "a".repeat(MAX_PATTERN_CHARS - 1));
        assert!(accepts(&Typos::new(&longest, 1), &typo));
        assert!(accepts(&Typos::new(&longest, 0), &longest));
        let too_long = "a".repeat(MAX_PATTERN_CHARS + 1);
        assert!(!accepts(&Typos::new(&too_long, 2), &too_long));
        assert!(!accepts(&Typos::new("", 2), ""));
        assert!(!accepts(&Typos::new("", 2), "a"));
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
