//! Reading pass/fail counts from test runners' summary lines (libtest, vitest, node's
//! test runner), so one total can be printed for every suite.

use std::iter::Sum;
use std::ops::Add;

/// Tests passed and failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

impl Add for Counts {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            passed: self.passed + other.passed,
            failed: self.failed + other.failed,
        }
    }
}

impl Sum for Counts {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), Add::add)
    }
}

/// `line` without ANSI escape sequences (colours, cursor movement).
pub(crate) fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // CSI: parameters and intermediates, then one final byte in '@'..='~'.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// The number written just before `word` among the whitespace-separated tokens, if any
/// (`"ok. 5 passed; 1 failed;"` with `"failed"` gives 1).
fn count_before(text: &str, word: &str) -> Option<u64> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    tokens.windows(2).find_map(|pair| {
        let word_token = pair[1].trim_end_matches([';', ',', '.', '|']);
        (word_token == word).then(|| pair[0].parse().ok()).flatten()
    })
}

/// libtest's `test result: ok. 5 passed; 0 failed; 1 ignored; ...` (unit, integration
/// and doc tests all print one per test binary).
pub(crate) fn libtest(line: &str) -> Option<Counts> {
    let line = strip_ansi(line);
    let rest = line.trim_start().strip_prefix("test result:")?;
    Some(Counts {
        passed: count_before(rest, "passed")?,
        failed: count_before(rest, "failed")?,
    })
}

/// vitest's `Tests  3 passed | 1 failed (4)` (not `Test Files ...`).
pub(crate) fn vitest(line: &str) -> Option<Counts> {
    let line = strip_ansi(line);
    let rest = line.trim_start().strip_prefix("Tests")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let passed = count_before(rest, "passed");
    let failed = count_before(rest, "failed");
    if passed.is_none() && failed.is_none() {
        return None;
    }
    Some(Counts {
        passed: passed.unwrap_or(0),
        failed: failed.unwrap_or(0),
    })
}

/// node's test runner: `# pass 3` / `# fail 0` (TAP) or `ℹ pass 3` / `ℹ fail 0` (spec);
/// each line gives one half of the counts.
pub(crate) fn node_test(line: &str) -> Option<Counts> {
    let line = strip_ansi(line);
    let rest = line
        .trim_start()
        .strip_prefix('#')
        .or_else(|| line.trim_start().strip_prefix('ℹ'))?;
    let mut tokens = rest.split_whitespace();
    let (kind, number, end) = (tokens.next()?, tokens.next()?, tokens.next());
    let number: u64 = number.parse().ok()?;
    match (kind, end) {
        ("pass", None) => Some(Counts {
            passed: number,
            failed: 0,
        }),
        ("fail", None) => Some(Counts {
            passed: 0,
            failed: number,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(passed: u64, failed: u64) -> Option<Counts> {
        Some(Counts { passed, failed })
    }

    #[test]
    fn reads_libtest_result_lines() {
        assert_eq!(
            libtest(
                "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            counts(12, 0)
        );
        assert_eq!(
            libtest(
                "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out"
            ),
            counts(3, 2)
        );
        assert_eq!(
            libtest("test result: \u{1b}[32mok\u{1b}[0m. 0 passed; 0 failed; 0 ignored"),
            counts(0, 0)
        );
        assert_eq!(libtest("test foo ... ok"), None);
        assert_eq!(libtest("running 3 tests"), None);
    }

    #[test]
    fn reads_vitest_summaries() {
        assert_eq!(vitest("      Tests  4 passed (4)"), counts(4, 0));
        assert_eq!(vitest("      Tests  1 failed | 3 passed (4)"), counts(3, 1));
        assert_eq!(
            vitest("      Tests  2 failed | 5 passed | 1 skipped (8)"),
            counts(5, 2)
        );
        assert_eq!(
            vitest(
                "\u{1b}[2m      Tests \u{1b}[22m \u{1b}[1m\u{1b}[32m4 passed\u{1b}[39m\u{1b}[22m\u{1b}[90m (4)\u{1b}[39m"
            ),
            counts(4, 0)
        );
        assert_eq!(vitest(" Test Files  1 passed (1)"), None);
        assert_eq!(vitest("Testsuite 3 passed"), None);
    }

    #[test]
    fn reads_node_test_runner_summaries() {
        assert_eq!(node_test("# pass 7"), counts(7, 0));
        assert_eq!(node_test("# fail 1"), counts(0, 1));
        assert_eq!(node_test("ℹ pass 2"), counts(2, 0));
        assert_eq!(node_test("# tests 8"), None);
        assert_eq!(node_test("# pass the salt"), None);
    }

    #[test]
    fn sums() {
        let total: Counts = [
            Counts {
                passed: 1,
                failed: 2,
            },
            Counts {
                passed: 3,
                failed: 0,
            },
        ]
        .into_iter()
        .sum();
        assert_eq!(
            total,
            Counts {
                passed: 4,
                failed: 2
            }
        );
    }
}
