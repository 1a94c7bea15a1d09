//! The service-gating rule, once: a test that needs a service runs when the service is
//! there; otherwise it is reported ignored with the reason, or it fails when the comma list
//! in `NFSLAB_REQUIRE` names the service (cargo's `requires_*` test attributes and its
//! `CARGO_CONTAINER_TESTS` switch are the model).

/// Whether `NFSLAB_REQUIRE` (a comma list such as `docker,ganesha`) names `service`: then a
/// missing service is a failure, not a reason to skip.
#[must_use]
pub fn required(service: &str) -> bool {
    std::env::var("NFSLAB_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .any(|s| s.trim() == service)
}

/// One trial of a test that needs `service`: run when `missing` is `None`; otherwise reported
/// ignored with the reason (`missing`), or failed with it when `NFSLAB_REQUIRE` names the
/// service.
pub fn trial<F>(service: &str, name: &str, missing: Option<String>, body: F) -> libtest_mimic::Trial
where
    F: FnOnce() -> Result<(), libtest_mimic::Failed> + Send + 'static,
{
    match missing {
        None => libtest_mimic::Trial::test(name, body),
        Some(reason) if required(service) => {
            let message = unavailable(service, &reason);
            libtest_mimic::Trial::test(name, move || Err(message.into()))
        }
        Some(reason) => libtest_mimic::Trial::ignorable_test(name, move || {
            Ok(libtest_mimic::Completion::ignored_with(reason))
        }),
    }
}

/// A libtest-mimic test body.
pub type Body = Box<dyn FnOnce() -> Result<(), libtest_mimic::Failed> + Send>;

/// Turns `tests` into trials gated on `availability` of `service`, each one a [`trial`]: run
/// when available; otherwise reported ignored with the reason, or failed with it when
/// `NFSLAB_REQUIRE` names the service.
#[must_use]
pub fn gated_trials(
    service: &str,
    availability: Result<(), String>,
    tests: Vec<(&'static str, Body)>,
) -> Vec<libtest_mimic::Trial> {
    let missing = availability.err();
    tests
        .into_iter()
        .map(|(name, body)| trial(service, name, missing.clone(), body))
        .collect()
}

/// The failure of a test whose required service is missing.
#[must_use]
pub fn unavailable(service: &str, reason: &str) -> String {
    format!("NFSLAB_REQUIRE names `{service}`, but it is unavailable: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(t: libtest_mimic::Trial) -> libtest_mimic::Conclusion {
        outcomes(vec![t])
    }

    fn outcomes(trials: Vec<libtest_mimic::Trial>) -> libtest_mimic::Conclusion {
        // The inner runs' report (some fail on purpose) goes nowhere, so the output of
        // this crate's own tests never shows a `FAILED` line that is not theirs.
        let args = libtest_mimic::Arguments {
            quiet: true,
            include_ignored: true,
            test_threads: Some(1),
            logfile: Some("/dev/null".to_owned()),
            ..libtest_mimic::Arguments::default()
        };
        libtest_mimic::run(&args, trials)
    }

    // One test changes the process environment; the others must not read it meanwhile.
    #[test]
    fn a_trial_runs_is_ignored_or_fails_as_the_service_and_nfslab_require_say() {
        // SAFETY: the only test of this binary that touches the environment, and no thread
        // of it reads the environment concurrently.
        unsafe { std::env::remove_var("NFSLAB_REQUIRE") };
        let ran = outcome(trial("svc", "t", None, || Ok(())));
        assert_eq!((ran.num_passed, ran.num_ignored), (1, 0));
        let ignored = outcome(trial("svc", "t", Some("not here".into()), || Ok(())));
        assert_eq!((ignored.num_passed, ignored.num_ignored), (0, 1));
        let gated = |availability: Result<(), String>| {
            let tests: Vec<(&'static str, Body)> = vec![
                ("a", Box::new(|| Ok(()))),
                ("b", Box::new(|| Err("ran".into()))),
            ];
            outcomes(gated_trials("svc", availability, tests))
        };
        let run = gated(Ok(()));
        assert_eq!((run.num_passed, run.num_failed, run.num_ignored), (1, 1, 0));
        // Ignored at run time with the reason, so `--include-ignored` cannot pass them.
        let skipped = gated(Err("not here".into()));
        assert_eq!(
            (skipped.num_passed, skipped.num_failed, skipped.num_ignored),
            (0, 0, 2)
        );
        // SAFETY: as above.
        unsafe { std::env::set_var("NFSLAB_REQUIRE", "other, svc") };
        assert!(required("svc") && !required("sv"));
        let failed = outcome(trial("svc", "t", Some("not here".into()), || Ok(())));
        assert_eq!(failed.num_failed, 1);
        let bodies = || -> Vec<(&'static str, Body)> {
            vec![("a", Box::new(|| Ok(()))), ("b", Box::new(|| Ok(())))]
        };
        let all_failed = outcomes(gated_trials("svc", Err("not here".into()), bodies()));
        assert_eq!((all_failed.num_passed, all_failed.num_failed), (0, 2));
        // SAFETY: as above.
        unsafe { std::env::remove_var("NFSLAB_REQUIRE") };
        assert_eq!(
            unavailable("svc", "not here"),
            "NFSLAB_REQUIRE names `svc`, but it is unavailable: not here"
        );
    }
}
