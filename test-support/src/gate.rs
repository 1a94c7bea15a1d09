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

/// A libtest-mimic test body.
pub type Body = Box<dyn FnOnce() -> Result<(), libtest_mimic::Failed> + Send>;

/// Turns `tests` into trials gated on `availability` of `service`: run when available;
/// otherwise ignored with the reason printed once, or failed when the service is required.
#[must_use]
pub fn gated_trials(
    service: &str,
    availability: Result<(), String>,
    tests: Vec<(&'static str, Body)>,
) -> Vec<libtest_mimic::Trial> {
    match availability {
        Ok(()) => tests
            .into_iter()
            .map(|(name, body)| libtest_mimic::Trial::test(name, body))
            .collect(),
        Err(reason) if required(service) => tests
            .into_iter()
            .map(|(name, _)| {
                let reason = reason.clone();
                let service = service.to_owned();
                libtest_mimic::Trial::test(name, move || Err(unavailable(&service, &reason).into()))
            })
            .collect(),
        Err(reason) => {
            eprintln!(
                "ignoring {} test(s): {service} unavailable: {reason}",
                tests.len()
            );
            tests
                .into_iter()
                .map(|(name, _)| {
                    libtest_mimic::Trial::test(name, || Ok(())).with_ignored_flag(true)
                })
                .collect()
        }
    }
}

/// The failure of a test whose required service is missing.
#[must_use]
pub fn unavailable(service: &str, reason: &str) -> String {
    format!("NFSLAB_REQUIRE names `{service}` but it is unavailable: {reason}")
}
