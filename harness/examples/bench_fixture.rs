//! Makes a benchmark result set from real measurements on local directories, in the same
//! layout `nfslab bench` writes, for report and compare tests.
//!
//! Each plan server must be `external: localhost:/DIR`: the directory is used directly (a
//! tmpfs, a disk) instead of an NFS mount. Profiles stand for job variants: a profile named
//! `one-thread` runs the workload's job with 1 thread, `two-threads` with 2 (any other name
//! runs the job unchanged). Clients are separate `nfslab-io` processes that lay out their
//! files first (`--layout-only`), then wait on a start barrier file created once all are
//! started, exactly as client pods do.
//!
//! ```text
//! cargo run -p nfslab --example bench_fixture -- NFSLAB_IO PLAN.yaml OUT_PARENT
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nfslab::k8s::ownership::RunId;
use nfslab::model::plan::{ServerKind, load_plan};
use nfslab::model::results::{Attempt, AttemptStatus, PodRecord, ResultsDir, RunRecord, RunStatus};
use nfslab::model::{Environment, Matrix, NodeInfo, ServerRecord};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, engine, plan_path, out] = args.as_slice() else {
        anyhow::bail!("usage: bench_fixture NFSLAB_IO PLAN.yaml OUT_PARENT");
    };
    let plan = load_plan(Path::new(plan_path))?;
    let matrix = Matrix::expand(&plan);
    let run_id = RunId::generate();
    let dir = ResultsDir::create(Path::new(out), run_id.as_str())?;
    dir.write_plan(&plan)?;

    let mut servers = Vec::new();
    for name in &plan.selected_servers {
        let Some(ServerKind::External { host, export }) = plan.server(name).map(|s| &s.kind) else {
            anyhow::bail!("server `{name}` must be `external: localhost:/DIR`");
        };
        anyhow::ensure!(host == "localhost", "server `{name}` must be on localhost");
        servers.push(ServerRecord {
            name: name.clone(),
            flavor: "local".to_owned(),
            address: host.clone(),
            export: export.clone(),
            clients_mounted: None,
        });
    }
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let os_image = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned());
    let environment = Environment {
        cluster: "local directories (no cluster)".to_owned(),
        kubernetes_version: None,
        nodes: vec![NodeInfo {
            name: read("/proc/sys/kernel/hostname").trim().to_owned(),
            kernel: Some(read("/proc/sys/kernel/osrelease").trim().to_owned()),
            os_image,
            kubelet: None,
            container_runtime: None,
        }],
        servers: servers.clone(),
        notes: vec![
            "Measured with the real nfslab-io engine on local directories standing in for NFS \
             servers; profiles stand for job variants (thread counts), not mount options."
                .to_owned(),
        ],
    };
    let mut record = RunRecord::new(run_id.as_str(), &plan, &matrix.cells, environment);
    dir.write_record(&record)?;
    let scratch = tempfile::tempdir()?;

    for step in matrix.schedule() {
        let cell = &matrix.cells[step.cell];
        let server = servers
            .iter()
            .find(|s| s.name == cell.server)
            .ok_or_else(|| anyhow::anyhow!("no server {}", cell.server))?;
        let mut job = record.cells[step.cell].job.clone();
        match cell.profile.as_str() {
            "one-thread" => job.threads = 1,
            "two-threads" => job.threads = 2,
            _ => {}
        }
        let job_file = scratch.path().join(format!("job-{}.json", cell.index));
        std::fs::write(&job_file, serde_json::to_string(&job)?)?;
        let work = PathBuf::from(&server.export)
            .join("nfslab-fixture")
            .join(format!("c{}-r{}", cell.index, step.repetition));
        let barrier = scratch
            .path()
            .join(format!("start-{}-{}", cell.index, step.repetition));
        eprintln!("{} rep {}", cell.id, step.repetition);

        let mut children = Vec::new();
        for client in 0..cell.clients {
            let client_dir = work.join(format!("client-{client}"));
            std::fs::create_dir_all(&client_dir)?;
            let layout = Command::new(engine)
                .args(["run", "--layout-only", "--dir"])
                .arg(&client_dir)
                .arg("--job")
                .arg(&job_file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            anyhow::ensure!(layout.success(), "layout failed for {}", cell.id);
        }
        for client in 0..cell.clients {
            let output = scratch
                .path()
                .join(format!("out-{}-{client}.json", cell.index));
            let child = Command::new(engine)
                .args(["run", "--compact", "--dir"])
                .arg(work.join(format!("client-{client}")))
                .arg("--job")
                .arg(&job_file)
                .arg("--start-barrier")
                .arg(&barrier)
                .arg("--output")
                .arg(&output)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            children.push((client, child, output));
        }
        // Every client is started and, its files laid out, reaches the barrier at once.
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(&barrier, b"go")?;
        let started = Instant::now();
        let mut pods = Vec::new();
        let mut failure = None;
        for (client, mut child, output) in children {
            let status = child.wait()?;
            let text = std::fs::read_to_string(&output).unwrap_or_default();
            let result = if text.trim().is_empty() {
                failure = Some(format!("client {client} wrote no result"));
                None
            } else {
                Some(dir.write_raw(&cell.id, step.repetition, client, text.trim())?)
            };
            pods.push(PodRecord {
                client,
                pod: format!("client-{client}"),
                node: Some("local".to_owned()),
                result,
                exit_code: status.code(),
            });
        }
        eprintln!("  {:.1}s", started.elapsed().as_secs_f64());
        std::fs::remove_dir_all(&work)?;
        record.attempts.push(Attempt {
            cell: cell.id.clone(),
            repetition: step.repetition,
            status: if failure.is_some() {
                AttemptStatus::Failed
            } else {
                AttemptStatus::Ok
            },
            message: failure,
            pods,
        });
        dir.write_record(&record)?;
    }
    record.status = RunStatus::Complete;
    record.finished = Some(nfslab::now_rfc3339());
    dir.write_record(&record)?;
    println!("{}", dir.path().display());
    Ok(())
}
