//! The operator's tools, run as the real binary: `reelflow doctor` on a healthy setup (exit 0)
//! and on broken ones (no ffmpeg on PATH, a data directory that cannot be created: exit 1 with
//! a FAIL line saying what to do), and JSON logs (`REELFLOW_LOG_FORMAT=json` or
//! `log_format = "json"`): every line on standard error is a JSON object.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_reelflow");

fn free_addr() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().to_string()
}

/// `reelflow doctor --data DATA --listen (free)` with `env` set (and REELFLOW_* cleared).
fn doctor(data: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(["doctor", "--data"])
        .arg(data)
        .args(["--listen", &free_addr()]);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("REELFLOW_")) {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("run reelflow doctor")
}

fn lines_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn doctor_passes_on_a_healthy_setup() {
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&dir.path().join("data"), &[]);
    let text = lines_of(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "ffmpeg", "ffprobe", "encoders", "data dir", "blobs", "database", "listen",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("OK") && l.contains(name)),
            "no OK line for {name}:\n{text}"
        );
    }
    assert!(!text.contains("FAIL"), "{text}");
    // The data directory did not exist: doctor made it for its probes and removed it again.
    assert!(
        !dir.path().join("data").exists(),
        "left behind: {:?}",
        std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .collect::<Vec<_>>()
    );
}

/// `reelflow doctor` run in `cwd` with no `--data`, with `env` set (and REELFLOW_* cleared).
fn doctor_in(cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .current_dir(cwd)
        .args(["doctor", "--listen", &free_addr()]);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("REELFLOW_")) {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command.output().expect("run reelflow doctor")
}

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push(path.strip_prefix(dir).unwrap().display().to_string());
        if path.is_dir() {
            for sub in tree(&path) {
                out.push(format!("{}/{sub}", entry.file_name().to_string_lossy()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn doctor_takes_the_data_dir_as_serve_does_and_leaves_nothing_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    // REELFLOW_DATA, as `serve` and the client commands take it; not ./reelflow-data.
    let data = dir.path().join("srv").join("data");
    let shown = data.display().to_string();
    let out = doctor_in(&cwd, &[("REELFLOW_DATA", shown.as_str())]);
    let text = lines_of(&out);
    assert!(out.status.success(), "{text}");
    let line = line_of(&text, "OK", "data dir");
    assert!(line.contains(&shown), "{line}");
    assert!(line_of(&text, "OK", "blobs").contains(&shown), "{text}");
    assert!(
        tree(&cwd).is_empty(),
        "left in the working directory: {:?}",
        tree(&cwd)
    );
    assert_eq!(tree(dir.path()), ["cwd"], "doctor left what it created");
    // `data` in the config file when the environment names none; the flag wins over both.
    let config = dir.path().join("reelflow.toml");
    let from_file = dir.path().join("from-file");
    std::fs::write(
        &config,
        format!("data = {:?}\n", from_file.display().to_string()),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let mut command = Command::new(BIN);
    command
        .current_dir(&cwd)
        .args(["doctor", "--listen", &free_addr(), "--config", &config_arg]);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("REELFLOW_")) {
        command.env_remove(name);
    }
    let text = lines_of(&command.output().unwrap());
    let file_line = line_of(&text, "OK", "data dir");
    assert!(file_line.contains("from-file"), "{text}");
    // An existing data directory keeps what it had, and gets no `blobs` from doctor.
    let existing = dir.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::write(existing.join("keep"), b"x").unwrap();
    let out = doctor(&existing, &[("REELFLOW_DATA", "/nonexistent/elsewhere")]);
    assert!(out.status.success(), "{}", lines_of(&out));
    assert!(lines_of(&out).contains(&existing.display().to_string()));
    assert_eq!(tree(&existing), ["keep"]);
    assert!(tree(&cwd).is_empty(), "{:?}", tree(&cwd));
}

#[test]
fn doctor_fails_without_ffmpeg_on_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = doctor(&dir.path().join("data"), &[("PATH", "/nonexistent")]);
    let text = lines_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL") && l.contains("ffmpeg"))
        .unwrap_or_else(|| panic!("no FAIL line for ffmpeg:\n{text}"));
    assert!(
        line.contains("not on PATH") && line.contains("install ffmpeg"),
        "{line}"
    );
}

#[test]
fn doctor_fails_on_a_data_dir_it_cannot_create() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let out = doctor(&file.join("data"), &[]);
    let text = lines_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("FAIL") && l.contains("data dir"))
        .unwrap_or_else(|| panic!("no FAIL line for the data dir:\n{text}"));
    assert!(
        line.contains("cannot create") && line.contains("--data"),
        "{line}"
    );
}

#[test]
fn json_logs_from_the_environment_or_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let env_lines = serve_logs(
        &dir.path().join("env"),
        &[("REELFLOW_LOG_FORMAT", "json")],
        None,
    );
    let config = dir.path().join("reelflow.toml");
    std::fs::write(&config, "log_format = \"json\"\n").unwrap();
    let file_lines = serve_logs(&dir.path().join("file"), &[], Some(&config));
    for lines in [env_lines, file_lines] {
        assert!(lines.len() >= 3, "{lines:?}");
        for line in &lines {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(
                value["timestamp"].is_string() && value["level"].is_string(),
                "{line}"
            );
        }
        assert!(
            lines
                .iter()
                .any(|l| l.contains("\"message\":\"reelflow is ready\"")),
            "{lines:?}"
        );
    }
}

/// Starts `reelflow serve` on `data`, waits until it answers, stops it with SIGTERM and
/// returns its standard error lines.
fn serve_logs(data: &Path, env: &[(&str, &str)], config: Option<&Path>) -> Vec<String> {
    serve_output(data, env, config).1
}

/// Like [`serve_logs`]: standard output and standard error (both pipes, not terminals).
fn serve_output(
    data: &Path,
    env: &[(&str, &str)],
    config: Option<&Path>,
) -> (Vec<String>, Vec<String>) {
    let listen = free_addr();
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", &listen, "--data"])
        .arg(data);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("REELFLOW_")) {
        command.env_remove(name);
    }
    let mut child = command
        .envs(env.iter().copied())
        .env("REELFLOW_WORKERS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start reelflow serve");
    let mut out_pipe = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        out_pipe.read_to_string(&mut text).unwrap();
        text
    });
    let started = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    child.wait().unwrap();
    let stdout = stdout.join().unwrap();
    (
        stdout.lines().map(str::to_owned).collect(),
        stderr.lines().map(str::to_owned).collect(),
    )
}

#[test]
fn text_logs_have_no_colour_codes_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, _) = serve_output(&dir.path().join("data"), &[], None);
    assert!(
        stdout.iter().any(|l| l.contains("reelflow is ready")),
        "{stdout:?}"
    );
    assert!(
        !stdout.iter().any(|l| l.contains('\u{1b}')),
        "ANSI escapes in piped logs: {stdout:?}"
    );
}

/// The line of `text` starting with `status` whose name column is `name`.
fn line_of<'a>(text: &'a str, status: &str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(status) && l[5..].starts_with(name))
        .unwrap_or_else(|| panic!("no {status} line for {name}:\n{text}"))
}

#[test]
fn doctor_and_serve_name_a_malformed_credentials_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = data.join("credentials");
    std::fs::write(&file, "AKIDONLYTHEID\n").unwrap();
    let out = doctor(&data, &[]);
    let text = lines_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = line_of(&text, "FAIL", "keys");
    assert!(
        line.contains(&file.display().to_string()) && line.contains("malformed"),
        "{line}"
    );
    // `serve` refuses it too, naming the file.
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", &free_addr(), "--data"])
        .arg(&data);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("REELFLOW_")) {
        command.env_remove(name);
    }
    let served = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&served.stderr);
    assert!(!served.status.success(), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("malformed"),
        "{stderr}"
    );
}

#[test]
fn doctor_does_not_pass_the_database_of_a_data_dir_it_cannot_create() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let text = lines_of(&doctor(&file.join("data"), &[]));
    let line = line_of(&text, "FAIL", "database");
    assert!(line.contains("not checked"), "{line}");
}

#[test]
fn doctor_on_a_damaged_sqlite_file_says_what_to_do_about_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("reelflow.db"), vec![0x5a; 8192]).unwrap();
    let out = doctor(&data, &[]);
    let text = lines_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = line_of(&text, "FAIL", "database");
    assert!(
        !line.contains("REELFLOW_DATABASE_URL") && !line.contains("password"),
        "{line}"
    );
    assert!(line.contains("backup") && !line.contains(": …:"), "{line}");
}

#[test]
fn doctor_names_the_setting_of_the_address_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut command = Command::new(BIN);
    command
        .args(["doctor", "--data"])
        .arg(dir.path().join("data"));
    command.args(["--listen", &addr]);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("REELFLOW_")) {
        command.env_remove(name);
    }
    let out = command.output().unwrap();
    let text = lines_of(&out);
    let line = line_of(&text, "FAIL", "listen");
    assert!(
        line.contains("--listen") && !line.contains("METRICS"),
        "{line}"
    );
    drop(taken);
}

#[test]
fn doctor_output_json_is_one_document() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["doctor", "--output", "json", "--data"])
        .arg(dir.path().join("data"));
    command.args(["--listen", &free_addr()]);
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("REELFLOW_")) {
        command.env_remove(name);
    }
    let out = command.output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", lines_of(&out)));
    assert_eq!(
        doc["healthy"],
        serde_json::Value::Bool(out.status.success())
    );
    let names: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"database") && names.contains(&"keys"),
        "{doc}"
    );
}
