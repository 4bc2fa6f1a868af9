//! The `sluicegate` command line: the Lambda's pipeline, run from a laptop.

use clap::{Parser, Subcommand};

mod cli;

/// Ship CloudWatch Logs to Elasticsearch/OpenSearch and S3, with WebAssembly transforms.
#[derive(Parser)]
#[command(name = "sluicegate", version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Kinesis event (the JSON Lambda receives) through the pipeline.
    Run(cli::run::RunArgs),
    /// Run one transform over sample events and show what it did to each.
    Check(cli::check::CheckArgs),
    /// Make a new transform project (Rust or C) and print the next commands.
    New(cli::new::NewArgs),
    /// Precompile transform modules to `.cwasm` for a target architecture.
    Compile(cli::compile::CompileArgs),
    /// Read archive objects from S3 back into Elasticsearch/OpenSearch (backfills).
    Replay(cli::replay::ReplayArgs),
    /// Install the index template, lifecycle policy and role mapping the pipeline's documents need.
    Setup(cli::setup::SetupArgs),
}

fn main() -> std::process::ExitCode {
    sluicegate_engine::allocator::tune();
    let args = Args::parse();
    let result = match args.command {
        Command::Run(run_args) => cli::run::run(run_args),
        Command::Check(check_args) => cli::check::run(check_args),
        Command::Compile(compile_args) => cli::compile::run(compile_args),
        Command::New(new_args) => cli::new::run(new_args),
        Command::Replay(replay_args) => cli::replay::run(replay_args),
        Command::Setup(setup_args) => cli::setup::run(setup_args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sluicegate: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
