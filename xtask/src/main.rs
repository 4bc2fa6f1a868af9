//! Project automation: `cargo xtask ci`, `demo`, `bench`, `dist`. One entry point, in Rust, so
//! nothing goes stale in shell scripts.

use std::path::{Path, PathBuf};

mod bench;
mod c_guest;
mod ci;
mod demo;
mod dist;
mod run;
mod terraform;
mod tidy;
mod transforms;
mod venv;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci      install what the tests need, then fmt, clippy, docs, tidy and every test
  demo    generate a realistic batch and run it through the pipeline locally
  bench   benchmarks: events per second, start-up, the invocation, peak memory and Node.js
          (or only some: pipeline, transforms, init, invocation, memory, node)
  dist    the Lambda zip and the transforms layer for the Terraform module (--help for options)";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::main(&root),
        Some("demo") => demo::main(&root),
        Some("bench") => bench::main(&root, &args[1..]),
        Some("dist") => dist::main(&root, &args[1..]),
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}
