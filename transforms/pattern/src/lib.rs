//! The regexes users put in the transforms' configurations: `regex-lite` behind a literal
//! prefilter.
//!
//! `regex-lite` keeps the modules small and quick to compile (the `regex` crate's engines and
//! Unicode tables are most of a module otherwise), but it searches every position of the text
//! with a backtracker or a Pike VM. Most patterns in log pipelines start with plain text
//! (`GET /healthz`, `user=(?P<user>\w+)`, `EMP-[0-9]{6}`), and every match starts with that text,
//! so `memmem` finds where a match can start and `regex-lite` runs only from there; a pattern that
//! is plain text throughout does not run `regex-lite` at all.
//!
//! The syntax is the `regex` crate's, except that `\w`, `\d`, `\s`, `\b` and case-insensitive
//! matching (`(?i)`) know ASCII only, there are no `\p{…}` classes and no class set operations
//! (`&&`, `--`, `~~`); matches are leftmost-first, as there.

use std::ops::Range;

use memchr::memmem::Finder;
use regex_lite::Regex;

pub use regex_lite::{Captures, Error};

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
    /// The text every match starts with, when there is some.
    prefix: Option<Finder<'static>>,
    /// The pattern is `prefix` alone: its matches are the prefix's occurrences.
    literal: bool,
}

impl Pattern {
    /// Compiles `pattern`; the error says what is wrong with it.
    pub fn new(pattern: &str) -> Result<Pattern, Error> {
        let regex = Regex::new(pattern)?;
        let prefix = literal_prefix(pattern);
        let literal = !prefix.is_empty() && prefix.len() == pattern.len();
        let prefix = (!prefix.is_empty()).then(|| Finder::new(prefix).into_owned());
        Ok(Pattern { regex, prefix, literal })
    }

    /// Whether the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let Some(prefix) = &self.prefix else {
            return self.regex.is_match(text);
        };
        match prefix.find(text.as_bytes()) {
            None => false,
            Some(_) if self.literal => true,
            Some(start) => self.regex.is_match_at(text, start),
        }
    }

    /// The non-empty matches in `text`, leftmost-first and not overlapping, as `regex-lite`'s
    /// `find_iter` finds them.
    pub fn find_iter<'p, 't>(&'p self, text: &'t str) -> Matches<'p, 't> {
        match &self.prefix {
            None => Matches(Search::Regex(self.regex.find_iter(text))),
            Some(_) => Matches(Search::Prefixed { pattern: self, text, at: 0 }),
        }
    }

    /// The groups of the first match in `text`.
    pub fn captures<'t>(&self, text: &'t str) -> Option<Captures<'t>> {
        match &self.prefix {
            None => self.regex.captures(text),
            Some(prefix) => self.regex.captures_at(text, prefix.find(text.as_bytes())?),
        }
    }

    /// The names of the named groups, in the order they open.
    pub fn capture_names(&self) -> impl Iterator<Item = &str> {
        self.regex.capture_names().flatten()
    }

    /// The first match that starts at `at` or later, when the pattern has a prefix. Every match
    /// starts with the prefix, so none starts before its first occurrence from `at` on, and the
    /// search from there finds the match the search from `at` would.
    fn find_prefixed(&self, prefix: &Finder<'_>, text: &str, at: usize) -> Option<Range<usize>> {
        let start = at + prefix.find(&text.as_bytes()[at..])?;
        if self.literal {
            return Some(start..start + prefix.needle().len());
        }
        self.regex.find_at(text, start).map(|found| found.range())
    }
}

/// The iterator [`Pattern::find_iter`] returns.
#[derive(Debug)]
pub struct Matches<'p, 't>(Search<'p, 't>);

#[derive(Debug)]
enum Search<'p, 't> {
    /// No prefix: `regex-lite` alone, empty matches skipped.
    Regex(regex_lite::Matches<'p, 't>),
    /// From the prefix's occurrences, `at` the end of the last match; these matches are never
    /// empty.
    Prefixed { pattern: &'p Pattern, text: &'t str, at: usize },
}

impl Iterator for Matches<'_, '_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        match &mut self.0 {
            Search::Regex(matches) => matches.map(|found| found.range()).find(|range| !range.is_empty()),
            Search::Prefixed { pattern, text, at } => {
                let prefix = pattern.prefix.as_ref()?;
                let found = pattern.find_prefixed(prefix, text, *at)?;
                *at = found.end;
                Some(found)
            }
        }
    }
}

/// The characters that do not stand for themselves outside a class (or may not).
const META: &[char] = &['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$'];

/// The text every match of `pattern` (a valid pattern) starts with: its leading characters up to
/// the first one in [`META`], less the last when a repetition follows it. Empty when an
/// alternation outside groups may let a match start elsewhere.
///
/// Flags (case-insensitive, verbose) can only be set by a group, and a group ends the prefix, so
/// these characters are matched as they are.
fn literal_prefix(pattern: &str) -> &str {
    if may_alternate_at_top(pattern) {
        return "";
    }
    let end = pattern.find(META).unwrap_or(pattern.len());
    match pattern[end..].chars().next() {
        Some('?' | '*' | '+' | '{') => pattern[..end].char_indices().last().map_or("", |(last, _)| &pattern[..last]),
        _ => &pattern[..end],
    }
}

/// Whether `pattern` has an alternation outside groups, or may have one: verbose mode's
/// whitespace and comments are not read here, so a pattern that sets it answers yes.
fn may_alternate_at_top(pattern: &str) -> bool {
    let mut depth = 0usize;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => skip_class(&mut chars),
            '(' => {
                depth += 1;
                if chars.peek() == Some(&'?') {
                    // `(?flags)` or `(?flags:…)`, unless it names a group: `(?P<name>…)`, `(?<name>…)`.
                    let mut flags = chars.clone().skip(1).take_while(|&c| c != ':' && c != ')');
                    let first = flags.next();
                    if first.is_some_and(|first| first != 'P' && first != '<') && (first == Some('x') || flags.any(|c| c == 'x')) {
                        return true;
                    }
                }
            }
            ')' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Moves `chars` past the class whose `[` it just read. `regex-lite` nests no classes but the
/// POSIX ones (`[[:digit:]]`), and a `]` first in the class (after `[` or `[^`) is a member.
fn skip_class(chars: &mut impl Iterator<Item = char>) {
    let mut depth = 1;
    // Characters read since the `[`, not counting the `^` that negates the class.
    let mut n_read = 0;
    let mut negated = false;
    while let Some(c) = chars.next() {
        match c {
            '^' if n_read == 0 && !negated => {
                negated = true;
                continue;
            }
            ']' if n_read == 0 => {}
            '\\' => {
                chars.next();
            }
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
        n_read += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let cases = [
            ("GET /healthz", "GET /healthz"),
            ("user=(?P<user>\\w+)", "user="),
            ("EMP-[0-9]{6}", "EMP-"),
            ("took (?P<took>\\d+)ms", "took "),
            ("order #\\d+ é", "order #"),
            ("abc?d", "ab"),
            ("abc*", "ab"),
            ("abc+", "ab"),
            ("abc{2}", "ab"),
            ("aé?", "a"),
            ("a?", ""),
            ("", ""),
            ("^abc", ""),
            ("(?i)abc", ""),
            ("ab|cd", ""),
            ("ab(c|d)", "ab"),
            ("ab(c|d)|e", ""),
            ("ab\\|cd", "ab"),
            ("ab[|]cd", "ab"),
            ("ab[]|]cd", "ab"),
            ("ab[^]|]cd", "ab"),
            ("ab[^^]|cd", ""),
            ("ab[]]|cd", ""),
            ("ab[[:punct:]|]cd", "ab"),
            ("ab[\\]|]cd", "ab"),
            ("ab[x]|cd", ""),
            ("ab(?P<x>c)d", "ab"),
            ("ab(?<x>c|d)e", "ab"),
            ("ab(?x) # (\n|d", ""),
            ("ab(?ix:c)", ""),
            ("ab(?i:c)d", "ab"),
        ];
        for (pattern, prefix) in cases {
            assert_eq!(literal_prefix(pattern), prefix, "{pattern:?}");
        }
    }

    /// A small deterministic generator (xorshift), so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const PIECES: &[&str] = &[
        "a",
        "b",
        "ab",
        "GET /",
        "é",
        "x",
        ".",
        " ",
        "#",
        "b?",
        "a*",
        "b+",
        "a{2}",
        "a{1,2}?",
        "[ab]",
        "[^a]",
        "[]a]",
        "[^]b]",
        "[^^]",
        "[-]",
        "[]]",
        "[[:digit:]]",
        "[|]",
        "\\d",
        "\\w+",
        "\\.",
        "\\|",
        "\\(",
        "\\b",
        "^",
        "$",
        "(a|b)",
        "(?P<n>a+)",
        "(?<m>b|x)",
        "(?i)a",
        "(?i:A)",
        "|",
        "|",
        "(?x) a # (\n",
        "(a|)",
        ".*",
        "x*?",
    ];
    const HAYSTACK: &[&str] = &["a", "b", "x", "ab", "GET /", "é", ".", " ", "#", "|", "(", "1", "A", "\n"];

    /// The prefilter against `regex-lite` alone, on generated patterns and texts.
    #[test]
    fn same_matches_as_regex_lite() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut n_prefixed, mut n_literal) = (0, 0);
        for _ in 0..3000 {
            let pattern: String = (0..1 + rng.below(5)).map(|_| rng.pick(PIECES)).collect();
            let Ok(regex) = Regex::new(&pattern) else {
                assert!(Pattern::new(&pattern).is_err(), "{pattern:?}");
                continue;
            };
            let compiled = Pattern::new(&pattern).unwrap();
            n_prefixed += usize::from(compiled.prefix.is_some());
            n_literal += usize::from(compiled.literal);
            for _ in 0..20 {
                let text: String = (0..rng.below(12)).map(|_| rng.pick(HAYSTACK)).collect();
                let context = format!("pattern {pattern:?}, text {text:?}");
                assert_eq!(compiled.is_match(&text), regex.is_match(&text), "{context}");
                let expected: Vec<_> = regex.find_iter(&text).map(|found| found.range()).filter(|range| !range.is_empty()).collect();
                assert_eq!(compiled.find_iter(&text).collect::<Vec<_>>(), expected, "{context}");
                let groups = |captures: Option<Captures<'_>>| {
                    captures.map(|captures| captures.iter().map(|group| group.map(|found| found.range())).collect::<Vec<_>>())
                };
                assert_eq!(groups(compiled.captures(&text)), groups(regex.captures(&text)), "{context}");
            }
        }
        // The generator reaches the prefixed and literal paths, not only the plain one.
        assert!(n_prefixed > 300 && n_literal > 50, "{n_prefixed} patterns with a prefix, {n_literal} literal");
    }
}
