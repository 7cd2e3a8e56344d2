//! `cargo xtask test`: install what is missing, start the services, run every suite with
//! them, stop them, and print one total, `N passed, M failed`, as the very last line.

use std::process::ExitCode;

use crate::counts::Counts;
use crate::services::Services;
use crate::suites::{Outcome, SUITES};
use crate::{interrupt, reaper, system_deps};

/// Runs the suites named in `only` (every suite when it is empty).
pub(crate) fn test(only: &[String]) -> anyhow::Result<ExitCode> {
    if let Some(unknown) = only
        .iter()
        .find(|name| !SUITES.iter().any(|suite| suite.name == name.as_str()))
    {
        let known: Vec<&str> = SUITES.iter().map(|suite| suite.name).collect();
        anyhow::bail!("no suite {unknown:?}; the suites are {}", known.join(", "));
    }
    system_deps::ensure_system_packages()?;
    reaper::adopt_orphans();
    let services = match Services::start() {
        Ok(services) => services,
        Err(err) => {
            reaper::end_orphans();
            return Err(err);
        }
    };
    eprintln!("{}", services.describe());
    let results = run_suites(&services, only);
    drop(services);
    reaper::end_orphans();
    let results = results?;

    let mut total = Counts::default();
    let mut problems = 0;
    println!("\ntest suites:");
    for (name, outcome) in &results {
        match outcome {
            Outcome::Skipped(why) => println!("  {name:<6} skipped: {why}"),
            Outcome::Ran { counts, problem } => {
                println!(
                    "  {name:<6} passed {:<6} failed {}",
                    counts.passed, counts.failed
                );
                total = total + *counts;
                if let Some(problem) = problem {
                    println!("  {name:<6} counted as 1 failed: {problem}");
                    total.failed += 1;
                    problems += 1;
                }
            }
        }
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    Ok(if total.failed > 0 || problems > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run_suites(
    services: &Services,
    only: &[String],
) -> anyhow::Result<Vec<(&'static str, Outcome)>> {
    let mut results = Vec::new();
    let chosen = SUITES
        .iter()
        .filter(|suite| only.is_empty() || only.iter().any(|name| name == suite.name));
    for suite in chosen {
        interrupt::check()?;
        eprintln!("\n==> suite {}", suite.name);
        let outcome = suite.run(services);
        interrupt::check()?;
        match &outcome {
            Outcome::Skipped(why) => eprintln!("{}: {why}", suite.name),
            Outcome::Ran {
                problem: Some(problem),
                ..
            } => eprintln!("{}: {problem}", suite.name),
            Outcome::Ran { .. } => {}
        }
        results.push((suite.name, outcome));
    }
    Ok(results)
}
