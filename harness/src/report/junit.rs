//! A benchmark run as a JUnit XML report (`nfslab bench --junit FILE`), for CI systems that
//! display test results.
//!
//! One test suite per server (and access path, for runs from the host), one test case per
//! cell named by its id: passed when every planned repetition gave a result, failed with
//! the reasons when some did not, skipped when the run ended before the cell ran. The case
//! carries the cell's median figure as its system output, so a CI page shows what was
//! measured next to the verdict. The time is the cell's measured windows added up.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::format::{headline_median, server_label};
use crate::model::summary::{CellSummary, Summary};

/// Renders the JUnit XML of a benchmark summary.
///
/// # Errors
/// The XML could not be serialised.
pub fn render(s: &Summary) -> Result<String, quick_junit::SerializeError> {
    let mut suites: Vec<(String, TestSuite)> = Vec::new();
    for cell in &s.cells {
        let name = format!("nfslab-bench {}", server_label(&cell.server, cell.access));
        let position = match suites.iter().position(|(n, _)| *n == name) {
            Some(p) => p,
            None => {
                suites.push((name.clone(), TestSuite::new(name.as_str())));
                suites.len() - 1
            }
        };
        suites[position].1.add_test_case(case(cell));
    }
    let mut report = Report::new(format!("nfslab-bench {}", s.run_id));
    for (_, suite) in suites {
        report.add_test_suite(suite);
    }
    report.to_string()
}

fn case(cell: &CellSummary) -> TestCase {
    let status = if cell.repetitions_ok == 0 && cell.failures.is_empty() {
        let mut s = TestCaseStatus::skipped();
        s.set_message("not run: the run ended before this cell");
        s
    } else if cell.failures.is_empty() && cell.repetitions_ok >= cell.repetitions_planned {
        TestCaseStatus::success()
    } else {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(format!(
            "{} of {} repetitions gave a result",
            cell.repetitions_ok, cell.repetitions_planned
        ))
        .set_description(cell.failures.join("\n"));
        s
    };
    let mut case = TestCase::new(cell.id.as_str(), status);
    let window: f64 = cell.repetitions.iter().map(|r| r.window_seconds).sum();
    case.set_classname(format!("{}/{}", cell.server, cell.workload))
        .set_time(Duration::from_secs_f64(window.max(0.0)));
    if cell.repetitions_ok > 0 {
        case.set_system_out(format!(
            "median {} {} over {} repetition(s)",
            headline_median(cell),
            cell.headline.label(),
            cell.repetitions_ok
        ));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::aggregate::summarize_dir;
    use crate::model::results::ResultsDir;

    fn run_a() -> Summary {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench/run-a");
        summarize_dir(&ResultsDir::open(&dir).expect("fixture")).expect("summary")
    }

    #[test]
    fn one_case_per_cell_failed_when_a_repetition_failed() {
        let mut s = run_a();
        s.cells[0].repetitions_ok -= 1;
        s.cells[0]
            .failures
            .push("repetition 2: client 0 exited with 3".to_owned());
        let xml = render(&s).expect("xml");
        assert_eq!(xml.matches("<testcase ").count(), s.cells.len());
        assert_eq!(
            xml.matches("<testsuite ").count(),
            2,
            "one suite per server"
        );
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("2 of 3 repetitions gave a result"), "{xml}");
        assert!(
            xml.contains("repetition 2: client 0 exited with 3"),
            "{xml}"
        );
        assert!(
            xml.contains("median "),
            "the figure goes with the case: {xml}"
        );
    }
}
