//! The helper subcommands, run as a pod would run them: the real binary on real files,
//! a real HTTP server on loopback, real signals.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, io};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[test]
fn file_write_append_cat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep/er/note.txt");
    let p = path.to_str().unwrap();
    let run = io(&["file", "write", p, "--content", "hello"]);
    run.expect_code(2);
    assert!(
        run.stderr.starts_with("error: cannot write `"),
        "{}",
        run.describe()
    );
    io(&[
        "file",
        "write",
        p,
        "--content",
        "hello",
        "--parents",
        "--newline",
    ])
    .expect_code(0);
    io(&["file", "append", p, "--content", "world"]).expect_code(0);
    let run = io(&["file", "cat", p]);
    run.expect_code(0);
    assert_eq!(run.stdout, "hello\nworld");
    io(&["file", "cat", dir.path().join("nope").to_str().unwrap()]).expect_code(2);
}

#[test]
fn ls_and_check_empty_see_dotfiles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    io(&["check-empty", d]).expect_code(0);
    std::fs::write(dir.path().join(".hidden"), "x").unwrap();
    let run = io(&["check-empty", d]);
    run.expect_code(1);
    assert!(run.stdout.contains(".hidden"), "{}", run.describe());
    assert!(
        run.stderr.contains("is not empty: 1 entries"),
        "{}",
        run.describe()
    );
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let run = io(&["ls", d]);
    run.expect_code(0);
    assert_eq!(run.stdout, ".hidden\nsub\n");
    let run = io(&["ls", "-l", d]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("-0") && lines[0].ends_with(" 1 .hidden"),
        "{}",
        run.stdout
    );
    assert!(lines[1].starts_with("d0755"), "{}", run.stdout);
}

#[test]
fn mkdir_rm_rename() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a/b");
    let a_s = a.to_str().unwrap();
    io(&["mkdir", a_s]).expect_code(2);
    io(&[
        "mkdir",
        a_s,
        "--parents",
        "--mode",
        "0777",
        "--owner",
        "65534:65534",
    ])
    .expect_code(0);
    let run = io(&["ls", "-l", dir.path().join("a").to_str().unwrap()]);
    assert!(
        run.stdout.starts_with("d0777  65534  65534"),
        "{}",
        run.stdout
    );
    let run = io(&["mkdir", "x", "--owner", "root"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("--owner") && run.stderr.contains("root"),
        "{}",
        run.describe()
    );
    let renamed = dir.path().join("a/c");
    io(&["rename", a_s, renamed.to_str().unwrap()]).expect_code(0);
    assert!(renamed.is_dir() && !a.exists());
    std::fs::write(renamed.join("f"), "x").unwrap();
    let top = dir.path().join("a");
    io(&["rm", top.to_str().unwrap()]).expect_code(3);
    io(&["rm", "-r", top.to_str().unwrap()]).expect_code(0);
    assert!(!top.exists());
}

#[test]
fn wait_file_and_mountinfo() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ready");
    let run = io(&["wait-file", target.to_str().unwrap(), "--timeout", "100ms"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("did not appear within 100ms"),
        "{}",
        run.describe()
    );
    let t = target.clone();
    let maker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        std::fs::write(t, "").unwrap();
    });
    io(&["wait-file", target.to_str().unwrap(), "--timeout", "10s"]).expect_code(0);
    maker.join().unwrap();

    let run = io(&["mountinfo", "/dev/shm"]);
    run.expect_code(0);
    let section: nfslab_workload::MountSection = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(section.mount.fstype, "tmpfs");
    assert_eq!(section.mount.mount_point, "/dev/shm");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_get_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>nfslab</p>").unwrap();
    let port = free_port().to_string();
    let mut server = Command::new(bin())
        .args([
            "serve",
            "--dir",
            dir.path().to_str().unwrap(),
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let run = io(&["get", &url, "--timeout", "1s"]);
        if run.code() == Some(0) {
            break run.stdout;
        }
        assert!(
            Instant::now() < deadline,
            "server did not come up\n{}",
            run.describe()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(body, "<p>nfslab</p>");
    let run = io(&["get", &format!("{url}missing")]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("answered HTTP 404"),
        "{}",
        run.describe()
    );
    io(&["get", "https://127.0.0.1/"]).expect_code(2);
    kill(Pid::from_raw(server.id() as i32), Signal::SIGTERM).unwrap();
    let status = server.wait().unwrap();
    assert_eq!(status.code(), Some(0), "serve exits 0 on SIGTERM");
    // Nothing listens any more: a connection error is an IO failure (3).
    io(&["get", &url, "--timeout", "1s"]).expect_code(3);
}

#[test]
fn sleep_exits_zero_on_sigterm() {
    let mut child = Command::new(bin()).arg("sleep").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "sleep must stay alive");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
