//! Starting `bootstrap`: a bad setting stops the start with a message naming the variable.

use std::process::Command;

#[track_caller]
fn start_output(env: &[(&str, &str)]) -> String {
    let mut command = Command::new(sluicegate_tests::bootstrap_path());
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run bootstrap");
    assert!(!output.status.success(), "bootstrap started with {env:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_settings_stop_the_start_and_name_the_variable() {
    let base = [("SLUICEGATE_ARCHIVE_BUCKET", "b"), ("SLUICEGATE_ES_URL", "http://127.0.0.1:9")];
    let stderr = start_output(&[base[1]]);
    assert!(stderr.contains("SLUICEGATE_ARCHIVE_BUCKET is not set"), "{stderr}");
    let stderr = start_output(&[base[0], base[1], ("SLUICEGATE_BULK_MAX_BYTES", "lots")]);
    assert!(stderr.contains("SLUICEGATE_BULK_MAX_BYTES=\"lots\""), "{stderr}");
    let stderr = start_output(&[base[0], ("SLUICEGATE_ES_URL", "opensearch:9200")]);
    assert!(stderr.contains("SLUICEGATE_ES_URL"), "{stderr}");
}
