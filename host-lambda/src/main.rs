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
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Run(run_args) => cli::run::run(run_args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sluicegate: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
