//! Whole-string matching of libphonenumber's digit patterns with a table of digit transitions.
//!
//! The `regex` crate answers `^(?:...)$` on a 10-digit number in a few hundred nanoseconds in
//! WebAssembly, most of it choosing and preparing an engine for each search. The national
//! number patterns only ever see ASCII digits, so here a pattern is determinized once (by
//! `regex-automata`'s dense DFA builder, the automaton `regex` itself builds from the same
//! syntax) and flattened into a table of 10 transitions per state: matching a number is one
//! table lookup per digit, then whether the last state accepts. The language is the same as
//! the regex's, so the answers are too (`tests.rs` compares them on every region's patterns);
//! a pattern this module cannot flatten (one that matches a non-digit byte, or a DFA too big)
//! is left to `regex`.

use std::collections::{HashMap, HashSet};

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::nfa::thompson;
use regex_automata::util::start;
use regex_automata::util::syntax;
use regex_automata::{Anchored, MatchKind};

/// States at most: state numbers are `u16`.
const MAX_STATES: usize = u16::MAX as usize;
/// The memory the determinization of one pattern may use (bytes).
const BUILD_LIMIT: usize = 8 << 20;

/// A deterministic automaton over the digits `0`-`9` that tells whether a whole string of
/// digits belongs to a pattern's language.
#[derive(Debug, Clone)]
pub(super) struct DigitDfa {
    /// `next[state * 10 + digit]`: the state after `digit`. State 0 is dead (no way to a
    /// match); the start state is 1.
    next: Vec<u16>,
    /// Per state, whether a string ending in this state matches.
    accepts: Vec<bool>,
    /// Per state, whether the string read before its last digit matches when more text
    /// follows it (a DFA reports matches one byte late; this is how a pattern with `$` inside,
    /// or any pattern, matches a prefix).
    matched: Vec<bool>,
    /// Per state, whether the string ending in this state matches when a non-digit follows.
    matched_before_other: Vec<bool>,
}

impl DigitDfa {
    /// The automaton of `pattern` (a regex without anchors, matched as `^(?:pattern)$`,
    /// Unicode classes off), or `None` when it cannot be flattened: a syntax error, a pattern
    /// that can match a non-digit byte, or one with too many states.
    pub(super) fn new(pattern: &str) -> Option<Self> {
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .start_kind(StartKind::Anchored)
                    // Every string of the language, not a leftmost match: a whole-string
                    // match is then a match state after the end of input.
                    .match_kind(MatchKind::All)
                    .determinize_size_limit(Some(BUILD_LIMIT))
                    .dfa_size_limit(Some(BUILD_LIMIT)),
            )
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .thompson(thompson::Config::new().utf8(false))
            .build(pattern)
            .ok()?;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .ok()?;
        // Number the states reachable from the start, breadth first: dead is 0, start is 1.
        let mut ids = vec![start];
        let mut numbers = HashMap::from([(start, 1u16)]);
        let mut next = Vec::new();
        let mut accepts = vec![false];
        let mut matched = vec![false];
        let mut matched_before_other = vec![false];
        let mut index = |id, ids: &mut Vec<_>| -> Option<u16> {
            if dfa.is_dead_state(id) {
                return Some(0);
            }
            if let Some(&number) = numbers.get(&id) {
                return Some(number);
            }
            ids.push(id);
            let number = u16::try_from(ids.len()).ok()?;
            numbers.insert(id, number);
            Some(number)
        };
        // The dead state stays dead.
        next.extend([0u16; 10]);
        // The states right after a non-digit byte.
        let mut after_other = Vec::new();
        let mut done = 0;
        while done < ids.len() {
            if ids.len() >= MAX_STATES {
                return None;
            }
            let id = ids[done];
            done += 1;
            if dfa.is_quit_state(id) {
                return None;
            }
            let before_other = dfa.is_match_state(dfa.next_state(id, b'a'));
            for byte in 0..=u8::MAX {
                let to = dfa.next_state(id, byte);
                if byte.is_ascii_digit() {
                    next.push(index(to, &mut ids)?);
                } else {
                    if dfa.is_match_state(to) != before_other {
                        // Non-digits that differ (a word boundary): not this simple table.
                        return None;
                    }
                    if !dfa.is_dead_state(to) {
                        after_other.push(to);
                    }
                }
            }
            accepts.push(dfa.is_match_state(dfa.next_eoi_state(id)));
            matched.push(dfa.is_match_state(id));
            matched_before_other.push(before_other);
        }
        // `is_match` says no to any text with a non-digit: right only if the language has no
        // such string. A DFA reports a match one step late (the state after the byte that
        // follows it, or after the end of input), so a state reached by a non-digit may
        // itself be a match state (the digits before it match); no state after it may be.
        let mut seen: HashSet<_> = after_other.iter().copied().collect();
        while let Some(id) = after_other.pop() {
            if dfa.is_quit_state(id) || dfa.is_match_state(dfa.next_eoi_state(id)) {
                return None;
            }
            for byte in 0..=u8::MAX {
                let to = dfa.next_state(id, byte);
                if dfa.is_match_state(to) || dfa.is_quit_state(to) {
                    return None;
                }
                if !dfa.is_dead_state(to) && seen.insert(to) {
                    after_other.push(to);
                }
            }
        }
        Some(Self {
            next,
            accepts,
            matched,
            matched_before_other,
        })
    }

    /// Whether all of `text` matches the pattern (any non-digit byte: no).
    #[inline]
    pub(super) fn is_match(&self, text: &[u8]) -> bool {
        let mut state = 1usize;
        for &b in text {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return false;
            }
            state = usize::from(self.next[state * 10 + usize::from(digit)]);
            if state == 0 {
                return false;
            }
        }
        self.accepts[state]
    }

    /// Whether the pattern matches at the start of `text` (the pattern's own anchors, such as
    /// a `$` in one branch, apply), as `regex`'s `is_match` of a pattern starting with `^`
    /// tells. The search stops at the first match; a non-digit ends it (no string of the
    /// language holds one).
    #[inline]
    pub(super) fn matches_prefix(&self, text: &[u8]) -> bool {
        let mut state = 1usize;
        for &b in text {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return self.matched_before_other[state];
            }
            state = usize::from(self.next[state * 10 + usize::from(digit)]);
            if state == 0 {
                return false;
            }
            if self.matched[state] {
                return true;
            }
        }
        self.accepts[state]
    }

    /// The number of states (dead state included).
    #[cfg(test)]
    pub(super) fn states(&self) -> usize {
        self.accepts.len()
    }
}
