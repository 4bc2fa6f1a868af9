//! `sluicegate check` and `sluicegate compile` on the real binary, with a real module.

use std::path::PathBuf;
use std::process::Command;

use expect_test::expect;

use crate::guests;

fn folder(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("sluicegate-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

fn sluicegate(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sluicegate")).args(args).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

const EVENTS: &str = r#"{"id":"1","timestamp":1764324000000,"message":"plain"}
{"id":"2","timestamp":1764324000000,"message":"upper me"}
{"id":"3","timestamp":1764324000000,"message":"drop me"}
{"id":"4","timestamp":1764324000000,"message":"an error"}
"#;

#[test]
fn check_shows_each_event() {
    let folder = folder("check");
    let input = folder.join("events.ndjson");
    std::fs::write(&input, EVENTS).unwrap();
    let module = guests::module("test_guest");
    let (ok, stdout, stderr) = sluicegate(&["check", module.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    // An event failed: check says so and exits 1, unless told the failure is expected.
    assert!(!ok);
    expect![[r#"
        transform test_guest: failed on 1 events: 1 dead-lettered, 0 passed through (on_error: pass), 0 dropped (on_error: drop); 0 not run
        sluicegate: 1 events failed or did not run and 0 records did not decode (--allow-failures exits 0 all the same)
    "#]]
    .assert_eq(&stderr);
    // Timings vary; everything else is fixed.
    let stdout: String = stdout.lines().map(|line| format!("{}\n", line.split(" (").next().unwrap_or(line))).collect();
    expect![[r#"
        event 1: kept
        event 2: changed
          - message: upper me
          + message: UPPER ME
          + seen.by: "hostile"
        event 3: dropped
        event 4: failed
        4 events: 1 kept, 1 changed, 1 dropped, 1 failed
    "#]]
    .assert_eq(&stdout);

    let (ok, stdout, stderr) =
        sluicegate(&["check", module.to_str().unwrap(), "--input", input.to_str().unwrap(), "--json", "--allow-failures"]);
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let verdicts: Vec<&str> = lines.iter().map(|line| line["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["kept", "changed", "dropped", "failed"]);
    assert_eq!(lines[1]["event"]["message"], "UPPER ME");
    assert_eq!(lines[1]["event"]["seen"]["by"], "hostile");
    assert_eq!(lines[1]["event"]["@timestamp"], "2025-11-28T10:00:00.000Z");
    assert_eq!(lines[3]["error"], r#"test_guest: refused "an error""#);
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn compile_writes_a_cwasm_that_check_uses() {
    let folder = folder("compile");
    let wasm = folder.join("guest.wasm");
    std::fs::copy(guests::module("test_guest"), &wasm).unwrap();
    let (ok, _, stderr) = sluicegate(&["compile", wasm.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(folder.join("guest.cwasm").is_file());
    let (ok, _, stderr) = sluicegate(&[
        "compile",
        wasm.to_str().unwrap(),
        "--target",
        "aarch64-unknown-linux-gnu",
        "--out",
        folder.join("arm64").to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(folder.join("arm64").join("guest.cwasm").is_file());
    // A file that is not wasm is refused by name, and leaves no `.cwasm` behind.
    let garbage = folder.join("notes.wasm");
    std::fs::write(&garbage, b"not wasm at all").unwrap();
    let (ok, _, stderr) = sluicegate(&["compile", garbage.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.starts_with(&format!("sluicegate: cannot compile {}: not a valid wasm module: ", garbage.display())), "{stderr}");
    assert!(!folder.join("notes.cwasm").exists());
    // Refused modules are reported with the transform's name.
    std::fs::write(folder.join("bad.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let input = folder.join("events.ndjson");
    std::fs::write(&input, EVENTS).unwrap();
    let (ok, _, stderr) = sluicegate(&["check", folder.join("bad.wasm").to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert!(!ok);
    expect![[r#"
        sluicegate: transform bad: not a sluicegate transform for ABI version 1: missing export `sluicegate_abi_v1` (build it with sluicegate-sdk)
    "#]]
    .assert_eq(&stderr);
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn check_reads_a_kinesis_event() {
    let folder = folder("kinesis");
    let spec = sluicegate_engine::corpus::CorpusSpec { n_records: 2, n_events_per_record: 3, seed: 7 };
    let input = folder.join("event.json");
    std::fs::write(&input, serde_json::to_vec(&sluicegate_engine::corpus::kinesis_event(spec)).unwrap()).unwrap();
    let module = guests::module("test_guest");
    let (ok, stdout, stderr) = sluicegate(&["check", module.to_str().unwrap(), "--input", input.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["event"]["aws"]["cloudwatch"]["log_group"], "/aws/lambda/orders-api");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn check_reports_bad_records_of_a_kinesis_event_and_runs_the_rest() {
    let folder = folder("kinesis-bad");
    let spec = sluicegate_engine::corpus::CorpusSpec { n_records: 2, n_events_per_record: 3, seed: 7 };
    let mut event = sluicegate_engine::corpus::kinesis_event(spec);
    event.records[0].kinesis.data = "!!! not base64".to_owned();
    let input = folder.join("event.json");
    std::fs::write(&input, serde_json::to_vec(&event).unwrap()).unwrap();
    let module = guests::module("test_guest");
    let (ok, stdout, stderr) = sluicegate(&["check", module.to_str().unwrap(), "--input", input.to_str().unwrap(), "--json"]);
    assert!(!ok, "a record that does not decode fails the check");
    assert_eq!(stdout.lines().count(), 3, "the good record's events still run: {stdout}");
    assert!(stderr.starts_with("record 0: data is not base64"), "{stderr}");
    let (ok, _, stderr) =
        sluicegate(&["check", module.to_str().unwrap(), "--input", input.to_str().unwrap(), "--json", "--allow-failures"]);
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(&folder).unwrap();
}

// Regression: a guest's log line was printed as it came, so a line break let it forge a host
// line, such as an embedded-metric line CloudWatch would have turned into metrics.
#[test]
fn guest_log_lines_are_data() {
    let folder = folder("log");
    let input = folder.join("events.ndjson");
    std::fs::write(&input, "{\"message\":\"log\"}\n").unwrap();
    let module = guests::module("test_guest");
    let (ok, _, stderr) = sluicegate(&["check", module.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let mut lines = stderr.lines();
    assert_eq!(lines.next(), Some(r#"transform test_guest log: forged\n{"_aws":{"CloudWatchMetrics":[]},"Evil":1}"#));
    assert!(stderr.lines().all(|line| line.starts_with("transform test_guest log: ")), "{stderr}");
    assert_eq!(stderr.lines().count(), 101, "100 lines a call, then one saying how many more");
    assert_eq!(stderr.lines().last(), Some("transform test_guest log: 51 more lines of this call not printed (at most 100 a call)"));
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn watch_runs_again_when_the_input_changes() {
    use std::io::BufRead;
    use std::sync::mpsc::{Receiver, Sender};
    use std::time::Duration;

    fn forward(from: impl std::io::Read + Send + 'static, to: Sender<String>) {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
                if to.send(line).is_err() {
                    break;
                }
            }
        });
    }
    fn wait_for(lines: &Receiver<String>, text: &str) -> Option<String> {
        loop {
            match lines.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.contains(text) => break Some(line),
                Ok(_) => {}
                Err(_) => break None,
            }
        }
    }

    let folder = folder("watch");
    let input = folder.join("events.ndjson");
    std::fs::write(&input, EVENTS).unwrap();
    let module = guests::module("test_guest");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(["check", "--watch", "--allow-failures", module.to_str().unwrap(), "--input", input.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout_tx, stdout) = std::sync::mpsc::channel();
    let (stderr_tx, stderr) = std::sync::mpsc::channel();
    forward(child.stdout.take().unwrap(), stdout_tx);
    forward(child.stderr.take().unwrap(), stderr_tx);
    let first = wait_for(&stdout, " events: ");
    // The first run is on four events; once it watches, an edit to the input runs the check
    // again, on two.
    let watching = wait_for(&stderr, "check: watching");
    std::fs::write(&input, EVENTS.lines().take(2).map(|line| format!("{line}\n")).collect::<String>()).unwrap();
    let second = wait_for(&stdout, " events: ");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(watching.is_some());
    assert!(first.as_deref().is_some_and(|line| line.starts_with("4 events: 1 kept, 1 changed, 1 dropped, 1 failed")), "{first:?}");
    assert!(second.as_deref().is_some_and(|line| line.starts_with("2 events: 1 kept, 1 changed")), "{second:?}");
}

#[test]
fn configuration_errors_point_into_the_users_own_file() {
    let folder = folder("config-errors");
    let input = folder.join("events.ndjson");
    std::fs::write(&input, EVENTS).unwrap();
    let filter = guests::module("filter");
    let config = folder.join("filter.json");
    std::fs::write(&config, "{\"drop\": [\n    {\"message\": 5}\n]}\n").unwrap();
    let (ok, _, stderr) =
        sluicegate(&["check", filter.to_str().unwrap(), "--config", config.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains(&format!("with the configuration {}", config.display())), "{stderr}");
    assert!(stderr.contains("at line 2 column 17"), "{stderr}");

    let pipeline = folder.join("pipeline.json");
    std::fs::write(
        &pipeline,
        format!(
            "{{\"transforms\": [\n  {{\"name\": \"f\", \"module\": {:?},\n   \"config\": {{\"drop\": [\n     {{\"message\": 5}}]}}}}]}}\n",
            filter.display()
        ),
    )
    .unwrap();
    let (ok, _, stderr) = sluicegate(&["check", "--pipeline", pipeline.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(stderr.matches("init failed").count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("pipeline {}: transform f: init failed", pipeline.display())), "{stderr}");
    assert!(stderr.contains("at line 4 column 18"), "{stderr}");

    let not_json = folder.join("broken.json");
    std::fs::write(&not_json, "{\"drop\": [\n").unwrap();
    let (ok, _, stderr) =
        sluicegate(&["check", filter.to_str().unwrap(), "--config", not_json.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains(&format!("{} is not JSON", not_json.display())) && stderr.contains("line 2"), "{stderr}");
}
