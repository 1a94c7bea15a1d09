//! Scenario results as a JUnit XML report, for CI systems that display test results.
//!
//! One test case per selected scenario, in the order given: passed, failed (a step's
//! assertion did not hold, or the run was interrupted), errored (the environment or the
//! harness broke), or skipped with the reason. A scenario that was selected but has no
//! result (its file did not validate, or nothing ran) is still listed, so a report never
//! hides a scenario.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::model::scenarios::{Outcome, RunResults};

/// Name of the JUnit file next to `scenarios.json`.
pub const JUNIT_FILE: &str = "junit.xml";

/// How to report a selected scenario that has no result.
#[derive(Clone, Copy, Debug)]
pub enum NotRun<'a> {
    /// Skipped, with the reason (no cluster was asked for).
    Skipped(&'a str),
    /// An error, with the reason (a cluster was asked for but could not be prepared).
    Error(&'a str),
}

/// Renders the JUnit XML of `results` for the scenarios `selected` (ids, in report order).
/// `invalid` maps ids whose files did not validate to the validation message (reported as
/// failures); a selected scenario with neither a result nor an entry in `invalid` is
/// reported as `not_run` says.
///
/// # Errors
/// The XML could not be serialised.
pub fn render(
    results: &RunResults,
    selected: &[String],
    invalid: &BTreeMap<String, String>,
    not_run: NotRun<'_>,
) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new("nfslab-scenarios");
    for id in selected {
        let ran = results.scenarios.iter().find(|r| &r.id == id);
        let (status, time) = match (ran, invalid.get(id)) {
            (_, Some(message)) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message("the scenario file is invalid")
                    .set_description(message.as_str());
                (s, Duration::ZERO)
            }
            (Some(r), None) => {
                let reason = r.reason.clone().unwrap_or_default();
                let status = match r.outcome {
                    Outcome::Passed => TestCaseStatus::success(),
                    Outcome::Skipped => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(reason);
                        s
                    }
                    Outcome::Failed | Outcome::Interrupted => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(reason).set_description(r.explain());
                        s
                    }
                    Outcome::Error => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                        s.set_message(reason).set_description(r.explain());
                        s
                    }
                };
                (status, Duration::from_millis(r.duration_ms))
            }
            (None, None) => {
                let s = match not_run {
                    NotRun::Skipped(reason) => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(reason);
                        s
                    }
                    NotRun::Error(reason) => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                        s.set_message(reason);
                        s
                    }
                };
                (s, Duration::ZERO)
            }
        };
        let mut case = TestCase::new(id.as_str(), status);
        case.set_classname("scenarios").set_time(time);
        suite.add_test_case(case);
    }
    let mut report = Report::new("nfslab");
    report.add_test_suite(suite);
    report.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::scenarios::{KIND, SCHEMA_VERSION, ScenarioResult, ScenarioTarget, Summary};

    fn result(id: &str, outcome: Outcome, reason: Option<&str>) -> ScenarioResult {
        ScenarioResult {
            id: id.to_owned(),
            code: None,
            title: id.to_owned(),
            file: format!("{id}.yaml"),
            description: String::new(),
            sources: Vec::new(),
            namespace: String::new(),
            outcome,
            reason: reason.map(str::to_owned),
            started_at: String::new(),
            duration_ms: 1500,
            steps: Vec::new(),
            notes: Vec::new(),
            mounts: Vec::new(),
            captured: std::collections::BTreeMap::new(),
            diagnosis: None,
            cleanup: crate::k8s::tracker::CleanupReport::default(),
        }
    }

    #[test]
    fn every_selected_scenario_is_a_case_with_its_outcome() {
        let scenarios = vec![
            result("a", Outcome::Passed, None),
            result("b", Outcome::Failed, Some("step 2 failed")),
            result("c", Outcome::Skipped, Some("needs server files")),
            result("d", Outcome::Error, Some("API unreachable")),
        ];
        let results = RunResults {
            schema_version: SCHEMA_VERSION,
            kind: KIND.to_owned(),
            run_id: "r".to_owned(),
            started_at: String::new(),
            duration_ms: 0,
            environment: ScenarioTarget::default(),
            summary: Summary::of(&scenarios),
            scenarios,
        };
        let selected: Vec<String> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let invalid = BTreeMap::from([("e".to_owned(), "e.yaml:3:1: bad".to_owned())]);
        let xml =
            render(&results, &selected, &invalid, NotRun::Skipped("no cluster")).expect("renders");
        assert!(xml.contains(r#"tests="6""#), "{xml}");
        assert!(xml.contains(r#"failures="2""#), "{xml}");
        assert!(xml.contains(r#"errors="1""#), "{xml}");
        assert!(xml.contains(r#"skipped="2""#), "{xml}");
        assert!(xml.contains("step 2 failed"), "{xml}");
        assert!(xml.contains("e.yaml:3:1: bad"), "{xml}");
        assert!(xml.contains("no cluster"), "{xml}");
        let order: Vec<usize> = ["\"a\"", "\"b\"", "\"f\""]
            .iter()
            .map(|n| xml.find(&format!("name={n}")).expect("listed"))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{xml}");
        let xml =
            render(&results, &selected, &invalid, NotRun::Error("kind failed")).expect("renders");
        assert!(xml.contains(r#"errors="2""#), "{xml}");
        assert!(xml.contains(r#"skipped="1""#), "{xml}");
        assert!(xml.contains("kind failed"), "{xml}");
    }
}
