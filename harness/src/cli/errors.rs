//! How a command fails: one [`CliError`] per kind of expected failure, the one `match` that
//! turns a failure into an exit code ([`CliError::outcome`]), and the one place that prints
//! it ([`CliError::print`]).
//!
//! Commands return `Result<Outcome, CliError>`: `Ok` carries how finished work ended
//! (passed, a scenario or repetition failed, interrupted after cleanup), `Err` a failure
//! that stopped the command. `main` prints the error and exits with its outcome's code
//! ([`exit`]). A failure that happens while work goes on (a report that cannot be written,
//! a tear-down that leaves something behind) is printed where it happens, so it keeps its
//! place among the other lines ([`CliError::report_after`]); its code still comes from the
//! same `match`.
//!
//! Library errors that know their own class (a cluster that cannot be set up may be bad
//! input, an environment problem or an interruption) keep their `outcome()` methods; the
//! `match` here calls them, so the CLI has one decision point.

use std::process::ExitCode;

use nfslab::ConfigError;
use nfslab::EnvironmentError;
use nfslab::Outcome;
use nfslab::bench::BenchError;
use nfslab::bench::ClassError;
use nfslab::bench::host::HostError;
use nfslab::cluster::ClusterSetupError;
use nfslab::cluster::KindError;
use nfslab::cluster::StateError;
use nfslab::cluster::images::ImageError;
use nfslab::error_chain;
use nfslab::k8s::ConnectError;
use nfslab::k8s::clean::CleanError;
use nfslab::model::plan::PlanError;
use nfslab::model::results::ResultsError;
use nfslab::nfs::server::NfsError;
use nfslab::output::OutputError;
use nfslab::report::ReportError;
use nfslab::report::compare::CompareError;

/// A failure a command reports; [`CliError::outcome`] gives its exit code and
/// [`CliError::print`] its lines on stderr (most are `error: ` and the error's causes on one
/// line).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    // Bad input (exit 2).
    /// The command line does not parse: clap's message, already one line starting with
    /// `error: `.
    #[error("{0}")]
    Usage(String),
    /// A flag, name or file the user gave is wrong; the message says what to fix.
    #[error("{0}")]
    BadInput(String),
    /// A block of problems that carries its own prefixes (the scenario catalog's report),
    /// printed as it is.
    #[error("{0}")]
    Problems(String),
    /// The configuration file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The benchmark plan or a flag that changes it.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A StorageClass given with `--storage-class-file`.
    #[error(transparent)]
    StorageClass(#[from] ClassError),
    /// A run `compare` cannot read.
    #[error(transparent)]
    Compare(#[from] CompareError),

    // Environment (exit 3).
    /// Something on this machine is missing or failed; the message says what.
    #[error("{0}")]
    Environment(String),
    /// The async runtime did not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The cluster state directory.
    #[error(transparent)]
    State(#[from] StateError),
    /// A `-o json|yaml` document could not be serialised.
    #[error(transparent)]
    Document(#[from] OutputError),
    /// The kubeconfig of a cluster could not be used.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Finding or removing leftovers failed.
    #[error(transparent)]
    Clean(#[from] CleanError),
    /// The in-cluster NFS server.
    #[error(transparent)]
    Nfs(#[from] NfsError),
    /// Building, pulling, saving or loading images.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Side-loading into a kind cluster.
    #[error(transparent)]
    Kind(#[from] KindError),
    /// Removing what a benchmark made, after its work ended.
    #[error(transparent)]
    TearDown(Box<EnvironmentError>),
    /// A check or status command found something not ready; its report (already on
    /// stdout) says what, so nothing more is printed.
    #[error("not ready")]
    NotReady,
    /// The command's output could not be written.
    #[error("cannot write the output: {0}")]
    Write(std::io::Error),
    /// Writing to stderr failed: there is nowhere to say so.
    #[error("cannot write to stderr: {0}")]
    Stderr(std::io::Error),

    // Classed by the library error's own `outcome()`.
    /// Setting up, finding or removing a cluster.
    #[error(transparent)]
    Cluster(#[from] ClusterSetupError),
    /// Preparing a benchmark's cluster and servers (boxed: the largest error).
    #[error(transparent)]
    Prepare(Box<EnvironmentError>),
    /// A benchmark on a cluster.
    #[error(transparent)]
    Bench(#[from] BenchError),
    /// A benchmark from this host.
    #[error(transparent)]
    Host(#[from] HostError),
    /// Re-rendering a run's reports: its files are bad input, writing them is the
    /// environment.
    #[error(transparent)]
    Report(#[from] ReportError),

    // Wrappers: the code is the wrapped failure's.
    /// A failure followed by a line on what to do instead (another path to an answer, how
    /// to remove what stays).
    #[error("{error}")]
    Advised {
        /// The failure.
        error: Box<CliError>,
        /// The line printed after it.
        advice: String,
    },
    /// `scenarios run --dry-run` could not reach the named cluster.
    #[error("cannot reach the cluster for a server-side dry run: {}", error_chain(.0.as_ref()))]
    DryRunUnreachable(Box<CliError>),
    /// Already printed where it happened ([`CliError::report_now`]).
    #[error("{0}")]
    Reported(Box<CliError>),
}

impl CliError {
    /// The exit code class of this failure: the only place in the CLI where a failure
    /// becomes an exit code.
    #[must_use]
    pub(crate) fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_)
            | Self::BadInput(_)
            | Self::Problems(_)
            | Self::Config(_)
            | Self::Plan(_)
            | Self::StorageClass(_)
            | Self::Compare(_) => Outcome::BadInput,
            Self::Environment(_)
            | Self::Runtime(_)
            | Self::State(_)
            | Self::Document(_)
            | Self::Connect(_)
            | Self::Clean(_)
            | Self::Nfs(_)
            | Self::Image(_)
            | Self::Kind(_)
            | Self::TearDown(_)
            | Self::NotReady
            | Self::Write(_)
            | Self::Stderr(_) => Outcome::Environment,
            Self::Cluster(e) => e.outcome(),
            Self::Prepare(e) => e.outcome(),
            Self::Bench(e) => e.outcome(),
            Self::Host(e) => e.outcome(),
            Self::Report(ReportError::Results(ResultsError::Write { .. })) => Outcome::Environment,
            Self::Report(_) => Outcome::BadInput,
            Self::Advised { error, .. } => error.outcome(),
            Self::DryRunUnreachable(error) | Self::Reported(error) => error.outcome(),
        }
    }

    /// What [`CliError::print`] writes to stderr (empty when the failure was already said).
    #[must_use]
    pub(crate) fn to_stderr(&self) -> String {
        match self {
            Self::NotReady | Self::Stderr(_) | Self::Reported(_) => String::new(),
            Self::Usage(text) | Self::Problems(text) => format!("{text}\n"),
            Self::Write(_) => format!("{self}\n"),
            Self::Advised { error, advice } => format!("{}{advice}\n", error.to_stderr()),
            _ => format!("error: {}\n", error_chain(self)),
        }
    }

    /// Prints the failure on stderr: `error: ` and the error with its causes on one line
    /// (multi-line reports, such as preflight's list of problems, keep their lines), then
    /// any advice.
    pub(crate) fn print(&self) {
        eprint!("{}", self.to_stderr());
    }

    /// Prints the failure now, where it happened, so the lines that follow come after it;
    /// `main` then prints nothing more for it.
    #[must_use]
    pub(crate) fn report_now(self) -> Self {
        if matches!(self, Self::Reported(_)) {
            return self;
        }
        self.print();
        Self::Reported(Box::new(self))
    }

    /// A failure after work that ended with `before` (a report or a tear-down that failed):
    /// printed now; how the work ended stands, unless it had passed, then this failure
    /// decides the exit code.
    pub(crate) fn report_after(
        self,
        before: Result<Outcome, CliError>,
    ) -> Result<Outcome, CliError> {
        let reported = self.report_now();
        match before {
            Ok(Outcome::Success) => Err(reported),
            other => other,
        }
    }
}

impl From<EnvironmentError> for CliError {
    fn from(error: EnvironmentError) -> Self {
        Self::Prepare(Box::new(error))
    }
}

/// The process's exit code for a command's result; an error is printed first.
pub(crate) fn exit(result: Result<Outcome, CliError>) -> ExitCode {
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(error) => {
            error.print();
            error.outcome()
        }
    };
    outcome.into()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use nfslab::k8s::ClusterError;

    use super::*;

    /// The variant's name; no wildcard, so a new variant does not compile until it is named
    /// here (and then [`every_variant_maps_to_its_documented_code`] asks for a sample).
    fn variant(e: &CliError) -> &'static str {
        match e {
            CliError::Usage(_) => "Usage",
            CliError::BadInput(_) => "BadInput",
            CliError::Problems(_) => "Problems",
            CliError::Config(_) => "Config",
            CliError::Plan(_) => "Plan",
            CliError::StorageClass(_) => "StorageClass",
            CliError::Compare(_) => "Compare",
            CliError::Environment(_) => "Environment",
            CliError::Runtime(_) => "Runtime",
            CliError::State(_) => "State",
            CliError::Document(_) => "Document",
            CliError::Connect(_) => "Connect",
            CliError::Clean(_) => "Clean",
            CliError::Nfs(_) => "Nfs",
            CliError::Image(_) => "Image",
            CliError::Kind(_) => "Kind",
            CliError::TearDown(_) => "TearDown",
            CliError::NotReady => "NotReady",
            CliError::Write(_) => "Write",
            CliError::Stderr(_) => "Stderr",
            CliError::Cluster(_) => "Cluster",
            CliError::Prepare(_) => "Prepare",
            CliError::Bench(_) => "Bench",
            CliError::Host(_) => "Host",
            CliError::Report(_) => "Report",
            CliError::Advised { .. } => "Advised",
            CliError::DryRunUnreachable(_) => "DryRunUnreachable",
            CliError::Reported(_) => "Reported",
        }
    }

    /// How many variants [`variant`] names.
    const VARIANTS: usize = 28;

    fn io() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied")
    }

    fn boxed(e: impl Into<CliError>) -> Box<CliError> {
        Box::new(e.into())
    }

    /// Every variant with a sample, and the exit code it must give.
    fn samples() -> Vec<(CliError, u8)> {
        use nfslab::bench::host::HostError;
        use nfslab::cluster::ClusterSetupError as Setup;
        let bad_class = || ClassError::Malformed {
            name: "nfs-csi".to_owned(),
        };
        vec![
            (CliError::Usage("error: unexpected argument".to_owned()), 2),
            (
                CliError::BadInput("--run-id `X` is not a run id".to_owned()),
                2,
            ),
            (CliError::Problems("a.yaml:1:1: bad".to_owned()), 2),
            (
                CliError::Config(ConfigError::Read {
                    file: PathBuf::from("my.yaml"),
                    source: io(),
                }),
                2,
            ),
            (
                CliError::Plan(PlanError::Flag {
                    flag: "--profiles",
                    value: "nope".to_owned(),
                    reason: "unknown".to_owned(),
                }),
                2,
            ),
            (CliError::StorageClass(bad_class()), 2),
            (
                CliError::Compare(CompareError::Missing {
                    path: "old".to_owned(),
                }),
                2,
            ),
            (CliError::Environment("docker lacks it".to_owned()), 3),
            (CliError::Runtime(io()), 3),
            (CliError::State(StateError::NoDirectory), 3),
            (
                CliError::Document(OutputError {
                    format: "json",
                    source: Box::new(io()),
                }),
                3,
            ),
            (
                CliError::Connect(ConnectError::Context {
                    file: None,
                    context: Some("lab".to_owned()),
                    source: kube::config::KubeconfigError::CurrentContextNotSet,
                }),
                3,
            ),
            (
                CliError::Clean(CleanError {
                    kind: "Pod".to_owned(),
                    source: Box::new(ClusterError::NotFound {
                        object: "pod x".to_owned(),
                    }),
                }),
                3,
            ),
            (
                CliError::Nfs(NfsError::Node {
                    detail: "no Ready worker".to_owned(),
                }),
                3,
            ),
            (
                CliError::Image(ImageError::NoBuildScript {
                    image: "nfslab-io".to_owned(),
                    script: PathBuf::from("build.sh"),
                }),
                3,
            ),
            (
                CliError::Kind(KindError::NoMountHelper {
                    nodes: vec!["w1".to_owned()],
                }),
                3,
            ),
            (
                CliError::TearDown(Box::new(EnvironmentError::TearDown {
                    what: "namespace x".to_owned(),
                    source: Box::new(io()),
                })),
                3,
            ),
            (CliError::NotReady, 3),
            (CliError::Write(io()), 3),
            (CliError::Stderr(io()), 3),
            // Classed by the library error's own outcome().
            (CliError::Cluster(Setup::NoKubeconfig), 2),
            (
                CliError::Cluster(Setup::Interrupted { leftover: None }),
                130,
            ),
            (CliError::Cluster(Setup::State(StateError::NoDirectory)), 3),
            (Setup::NoKubeconfig.into(), 2),
            (
                EnvironmentError::Interrupted { left: Vec::new() }.into(),
                130,
            ),
            (
                EnvironmentError::NoServer {
                    flavor: nfslab::nfs::ServerFlavor::Ganesha,
                }
                .into(),
                3,
            ),
            (CliError::Bench(BenchError::Class(bad_class())), 2),
            (
                CliError::Bench(BenchError::ServerMissing {
                    server: "in-cluster".to_owned(),
                    flavor: "ganesha".to_owned(),
                }),
                3,
            ),
            (
                CliError::Host(HostError::Profile {
                    profile: "p".to_owned(),
                    reason: "r".to_owned(),
                }),
                2,
            ),
            (CliError::Host(HostError::Interrupted), 130),
            (
                CliError::Host(HostError::Scratch {
                    path: "/tmp/x".to_owned(),
                    source: io(),
                }),
                3,
            ),
            (
                CliError::Report(ReportError::Results(ResultsError::NotARun {
                    path: "dir".to_owned(),
                })),
                2,
            ),
            (
                CliError::Report(ReportError::Results(ResultsError::Write {
                    path: "dir/report.md".to_owned(),
                    source: io(),
                })),
                3,
            ),
            // Wrappers take the wrapped failure's code.
            (
                CliError::Advised {
                    error: boxed(Setup::Interrupted { leftover: None }),
                    advice: "try this".to_owned(),
                },
                130,
            ),
            (
                CliError::Advised {
                    error: boxed(NfsError::Node {
                        detail: "x".to_owned(),
                    }),
                    advice: "try this".to_owned(),
                },
                3,
            ),
            (CliError::DryRunUnreachable(boxed(Setup::NoKubeconfig)), 2),
            (
                CliError::DryRunUnreachable(boxed(StateError::NoDirectory)),
                3,
            ),
            (
                CliError::Reported(Box::new(CliError::BadInput("x".to_owned()))),
                2,
            ),
            (CliError::Reported(boxed(HostError::Interrupted)), 130),
        ]
    }

    #[test]
    fn every_variant_maps_to_its_documented_code() {
        let samples = samples();
        for (error, code) in &samples {
            assert_eq!(
                error.outcome().code(),
                *code,
                "{} ({error:?})",
                variant(error)
            );
        }
        let named: std::collections::BTreeSet<&str> =
            samples.iter().map(|(e, _)| variant(e)).collect();
        assert_eq!(named.len(), VARIANTS, "a variant has no sample: {named:?}");
    }

    #[test]
    fn failures_print_as_the_commands_always_did() {
        let line = |e: CliError| e.to_stderr();
        assert_eq!(
            line(CliError::BadInput("--run-id `X` is bad".to_owned())),
            "error: --run-id `X` is bad\n"
        );
        assert_eq!(
            line(CliError::Usage(
                "error: unexpected argument `--x`".to_owned()
            )),
            "error: unexpected argument `--x`\n",
            "clap's line has its own prefix"
        );
        assert_eq!(
            line(CliError::Problems(
                "a.yaml:1:1: one\nb.yaml:2:1: two".to_owned()
            )),
            "a.yaml:1:1: one\nb.yaml:2:1: two\n"
        );
        assert_eq!(
            line(CliError::Write(io())),
            "cannot write the output: denied\n"
        );
        assert_eq!(
            line(CliError::Runtime(io())),
            "error: cannot start the async runtime: denied\n"
        );
        assert_eq!(
            line(CliError::Config(ConfigError::Read {
                file: PathBuf::from("my.yaml"),
                source: io(),
            })),
            format!(
                "error: {}\n",
                error_chain(&ConfigError::Read {
                    file: PathBuf::from("my.yaml"),
                    source: io(),
                })
            ),
            "a library error reads as its chain on one line"
        );
        assert!(
            line(CliError::Config(ConfigError::Read {
                file: PathBuf::from("my.yaml"),
                source: io(),
            }))
            .ends_with(": denied\n"),
            "the causes are on the line"
        );
        assert_eq!(
            line(CliError::Advised {
                error: Box::new(CliError::Environment("it broke".to_owned())),
                advice: "instead: nfslab bench --host".to_owned(),
            }),
            "error: it broke\ninstead: nfslab bench --host\n"
        );
        assert_eq!(
            line(CliError::DryRunUnreachable(Box::new(
                CliError::Environment("no answer".to_owned())
            ))),
            "error: cannot reach the cluster for a server-side dry run: no answer\n"
        );
        assert_eq!(line(CliError::NotReady), "");
        assert_eq!(line(CliError::Stderr(io())), "");
    }

    #[test]
    fn a_failure_after_the_work_decides_the_code_only_when_the_work_passed() {
        let failure = || CliError::Environment("cannot write the JUnit report".to_owned());
        let after_pass = failure().report_after(Ok(Outcome::Success));
        let Err(reported) = after_pass else {
            panic!("a passing run with a failure after it is a failure");
        };
        assert_eq!(reported.outcome(), Outcome::Environment);
        assert_eq!(reported.to_stderr(), "", "printed once, where it happened");
        assert_eq!(
            reported.report_now().to_stderr(),
            "",
            "reporting again prints nothing"
        );
        assert!(matches!(
            failure().report_after(Ok(Outcome::Failed)),
            Ok(Outcome::Failed)
        ));
        assert!(matches!(
            failure().report_after(Ok(Outcome::Interrupted)),
            Ok(Outcome::Interrupted)
        ));
        let earlier = CliError::Host(nfslab::bench::host::HostError::Interrupted).report_now();
        let Err(kept) = failure().report_after(Err(earlier)) else {
            panic!("an earlier failure stays");
        };
        assert_eq!(kept.outcome(), Outcome::Interrupted);
    }
}
