//! Server processes for the tests: started on a free 127.0.0.1 port, waited for, killed by PID on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process that is killed (by its PID) when this value is dropped.
#[derive(Debug)]
pub struct Server {
    /// What it is, for messages.
    pub name: String,
    /// Where it listens.
    pub port: u16,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `command` (which must listen on 127.0.0.1:`port`) and waits until the port answers.
    pub fn start(name: &str, command: Command, port: u16) -> Server {
        let mut server = Server::start_unlistened(name, command);
        server.port = port;
        server.wait_for_port(Duration::from_secs(60));
        server
    }

    /// Starts `command`, which listens on no port (its `port` is 0).
    pub fn start_unlistened(name: &str, mut command: Command) -> Server {
        let log = scratch_dir(name).join("output.log");
        let out = std::fs::File::create(&log).expect("create the log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("clone the log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name} ({command:?}): {error}"));
        Server { name: name.to_owned(), port: 0, child, log }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the process printed so far.
    pub fn output(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Panics with the process's output if it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}:\n{}", self.name, self.output());
        }
    }

    fn wait_for_port(&mut self, limit: Duration) {
        let started = Instant::now();
        while !listening(self.port) {
            self.assert_running();
            assert!(started.elapsed() < limit, "{} did not listen on port {} within {limit:?}:\n{}", self.name, self.port, self.output());
            pause();
        }
    }
}

/// Whether something listens on `port`. A connection to itself does not count: a port from
/// [`free_port`] is in the ephemeral range, so while nothing listens on it the kernel may pick it
/// as the source port of the probe itself, and the two ends meet (TCP simultaneous open). One such
/// probe once let a test talk to moto before moto listened.
fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok_and(|stream| stream.local_addr().ok() != stream.peer_addr().ok())
}

impl Drop for Server {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("local address").port()
}

/// A fresh folder under the system temp folder for one test's files.
pub fn scratch_dir(name: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sluicegate-e2e-{}-{n}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir
}

/// moto server (S3, Kinesis, CloudWatch Logs, KMS).
pub fn moto(venv: &Path) -> Server {
    let port = free_port();
    let mut command = Command::new(venv.join("bin/moto_server"));
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    Server::start("moto", command, port)
}

/// osmem-server, an in-memory OpenSearch-compatible server.
pub fn osmem(venv: &Path) -> Server {
    let binary = std::fs::read_dir(venv.join("lib"))
        .ok()
        .and_then(|entries| {
            entries.flatten().map(|entry| entry.path().join("site-packages/osmem_server/bin/osmem-server")).find(|path| path.is_file())
        })
        .unwrap_or_else(|| panic!("no osmem-server in {}: run `cargo xtask ci`", venv.display()));
    let port = free_port();
    let mut command = Command::new(binary);
    command.args(["--addr", &format!("127.0.0.1:{port}"), "--no-stdin-watch", "--parent-pid", &std::process::id().to_string()]);
    Server::start("osmem-server", command, port)
}

/// The first line of `server`'s output that contains `needle`, waiting up to `limit` for it.
pub fn wait_for_line(server: &mut Server, needle: &str, limit: Duration) -> String {
    let started = Instant::now();
    loop {
        let output = server.output();
        if let Some(line) = BufReader::new(output.as_bytes()).lines().map_while(Result::ok).find(|line| line.contains(needle)) {
            return line;
        }
        server.assert_running();
        assert!(started.elapsed() < limit, "{} never printed {needle:?}:\n{output}", server.name);
        pause();
    }
}

/// A short pause between polls. The test support is synchronous (the tests block on servers that
/// run as other processes), so no tokio worker is blocked here.
#[allow(clippy::disallowed_methods)]
fn pause() {
    std::thread::sleep(Duration::from_millis(50));
}
