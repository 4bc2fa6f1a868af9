//! The Lambda side of the tests: cargo-lambda's Runtime API emulator, the real `bootstrap` polling
//! it, and invocations through the emulator's invoke endpoint.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::process::{Server, free_port, scratch_dir, wait_for_line};

/// The function name cargo-lambda uses with `--only-lambda-apis`.
pub const FUNCTION_NAME: &str = "_";

/// What cargo-lambda's emulator sends as `Lambda-Runtime-Deadline-Ms` with every invocation: not
/// a point in time but a fixed 600000, which the runtime reads as ten minutes left (the emulator
/// has no function timeout of its own to honour).
pub const EMULATOR_DEADLINE_MS: u64 = 600_000;

/// The `SLUICEGATE_DEADLINE_MARGIN_MS` setting that leaves the function `time_left` of the
/// emulator's ten minutes: as a Lambda with a timeout of `time_left` plus the margin would be.
pub fn time_left(time_left: Duration) -> (&'static str, String) {
    let time_left_ms = u64::try_from(time_left.as_millis()).expect("a test's time fits in u64");
    assert!(time_left_ms < EMULATOR_DEADLINE_MS, "the emulator gives at most {EMULATOR_DEADLINE_MS} ms");
    ("SLUICEGATE_DEADLINE_MARGIN_MS", (EMULATOR_DEADLINE_MS - time_left_ms).to_string())
}

/// The Runtime API emulator and one `bootstrap` process polling it.
#[derive(Debug)]
pub struct Lambda {
    // Field order is drop order: the function stops before its emulator.
    /// The `bootstrap` process.
    pub function: Server,
    /// `cargo lambda watch --only-lambda-apis`.
    pub emulator: Server,
}

impl Lambda {
    /// Starts the emulator and `bootstrap` (with `env` on top of the runtime variables).
    pub fn start(venv: &Path, bootstrap: &Path, env: &[(&str, String)]) -> Lambda {
        let emulator = emulator(venv);
        let function = start_function(bootstrap, &emulator, env);
        Lambda { function, emulator }
    }

    /// Invokes the function with `event` and returns its answer (the `KinesisEventResponse` JSON).
    pub fn invoke(&mut self, event: &Value) -> Value {
        self.function.assert_running();
        let url = format!("{}/2015-03-31/functions/{FUNCTION_NAME}/invocations", self.emulator.url());
        let response = ureq::post(&url)
            .config()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .header("Content-Type", "application/json")
            .send(event.to_string())
            .unwrap_or_else(|error| panic!("invoke: {error}\nbootstrap output:\n{}", self.function.output()));
        let status = response.status();
        let text = response.into_body().with_config().limit(64 << 20).read_to_string().expect("invoke response");
        assert!(status.is_success(), "invoke answered {status}: {text}\nbootstrap output:\n{}", self.function.output());
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("invoke answered {text:?}: {error}\nbootstrap output:\n{}", self.function.output()))
    }
}

/// cargo-lambda's Runtime API emulator. It runs in a folder of its own with an empty package,
/// because it reads `cargo metadata` even when it builds nothing, and must not touch the
/// workspace that `cargo test` has locked.
pub fn emulator(venv: &Path) -> Server {
    let dir = scratch_dir("emulator");
    std::fs::create_dir_all(dir.join("src")).expect("create the emulator package");
    std::fs::write(dir.join("Cargo.toml"), "[package]\nname = \"emulator\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n")
        .expect("write Cargo.toml");
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").expect("write main.rs");
    let port = free_port();
    let mut command = Command::new(venv.join("bin/cargo-lambda"));
    command
        .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
        .current_dir(&dir);
    Server::start("cargo-lambda", command, port)
}

/// Starts `bootstrap` against `emulator` and waits until it polls for work.
pub fn start_function(bootstrap: &Path, emulator: &Server, env: &[(&str, String)]) -> Server {
    let mut command = Command::new(bootstrap);
    command
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{}/.rt", emulator.port))
        .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/sluicegate")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", crate::moto::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in env {
        command.env(name, value);
    }
    // bootstrap listens on no port of its own: wait for its start line instead.
    let mut function = Server::start_unlistened("bootstrap", command);
    wait_for_line(&mut function, "sluicegate ready", Duration::from_secs(30));
    function
}
