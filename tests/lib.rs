//! Shared support for Sluicegate's end-to-end tests: server processes and fixtures.
//!
//! The real components come from the venv that `cargo xtask ci` creates (`SLUICEGATE_VENV`,
//! default `<workspace>/target/venv`), and the Lambda binary is the prebuilt `bootstrap`
//! (`SLUICEGATE_BOOTSTRAP`, default `<workspace>/target/debug/bootstrap`): the tests never build
//! anything themselves, because cargo holds the build-directory lock while they run.

pub mod fault_server;
pub mod guests;
pub mod lambda;
pub mod moto;
pub mod process;

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The venv holding moto, osmem-server and cargo-lambda; panics with what to do when it is missing.
pub fn venv_dir() -> PathBuf {
    let venv = std::env::var_os("SLUICEGATE_VENV").map_or_else(|| workspace_dir().join("target/venv"), PathBuf::from);
    assert!(
        venv.join("bin/moto_server").is_file() && venv.join("bin/cargo-lambda").is_file(),
        "no venv with moto_server and cargo-lambda at {}: run `cargo xtask ci` (it creates the venv and builds bootstrap)",
        venv.display()
    );
    venv
}

/// The prebuilt `bootstrap` binary; panics with what to do when it is missing.
pub fn bootstrap_path() -> PathBuf {
    let path = std::env::var_os("SLUICEGATE_BOOTSTRAP").map_or_else(|| workspace_dir().join("target/debug/bootstrap"), PathBuf::from);
    assert!(
        path.is_file(),
        "no bootstrap binary at {}: run `cargo xtask ci` (or `cargo build -p sluicegate-lambda --bin bootstrap`) first",
        path.display()
    );
    path
}

/// Writes a test's report (a scenario table, say) to `<workspace>/target/reports/<name>.txt`,
/// where `cargo xtask ci` prints it after the tests: the harness swallows what passing tests print.
pub fn write_report(name: &str, text: &str) {
    let dir = workspace_dir().join("target/reports");
    std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("create {}: {error}", dir.display()));
    let path = dir.join(format!("{name}.txt"));
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
}

/// Gzip, as CloudWatch Logs compresses subscription messages.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    sluicegate_engine::archive::gzip(bytes)
}

/// Gunzip of an object the tests wrote or read back, every member of it (archive objects are
/// concatenated gzip members of about 1 MiB each), capped at 256 MiB.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut decoder = sluicegate_engine::decode::Decoder::new(256 << 20);
    decoder.inflate_members(bytes).expect("valid gzip")
}

/// A base time for log events: the start of the previous hour. CloudWatch Logs (and moto) drop
/// events older than 14 days, so test events cannot use a fixed date.
pub fn recent_t0() -> i64 {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as i64;
    (now_ms / 3_600_000 - 1) * 3_600_000
}

/// `@timestamp` as an offset from `t0`, e.g. `T0+2ms`, so snapshots do not depend on the day.
pub fn offset_from(t0: i64, timestamp: &str) -> String {
    match sluicegate_engine::time::parse_rfc3339(timestamp) {
        Some(ms) => format!("T0{:+}ms", ms - t0),
        None => format!("unparsable {timestamp:?}"),
    }
}

/// Gzip at the strongest level, for a small record that inflates to a lot (a gzip bomb).
pub fn gzip_best(bytes: &[u8]) -> Vec<u8> {
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::best());
    let mut out = vec![0; compressor.gzip_compress_bound(bytes.len())];
    let n_bytes = compressor.gzip_compress(bytes, &mut out).expect("the buffer is at least the bound");
    out.truncate(n_bytes);
    out
}
