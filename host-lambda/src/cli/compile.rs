//! `sluicegate compile`: precompile transform modules to `.cwasm` for a target architecture, so
//! the Lambda starts without compiling them.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use sluicegate_engine::wasm::{Limits, precompile};

/// Options of `sluicegate compile`.
#[derive(Args, Debug)]
pub struct CompileArgs {
    /// The `.wasm` modules.
    #[arg(required = true)]
    pub modules: Vec<PathBuf>,
    /// Target triple, e.g. aarch64-unknown-linux-gnu for an arm64 Lambda; this machine when absent.
    #[arg(long)]
    pub target: Option<String>,
    /// Folder for the `.cwasm` files; next to each module when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the command: one `.cwasm` per module, same stem.
pub fn run(args: CompileArgs) -> anyhow::Result<()> {
    for module in &args.modules {
        let bytes = std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
        let compiled = precompile(&bytes, &Limits::default(), args.target.as_deref())
            .with_context(|| format!("cannot compile {}", module.display()))?;
        let cwasm = match &args.out {
            Some(out) => {
                std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
                out.join(module.with_extension("cwasm").file_name().context("a module path names a file")?)
            }
            None => module.with_extension("cwasm"),
        };
        std::fs::write(&cwasm, &compiled).with_context(|| format!("cannot write {}", cwasm.display()))?;
        println!("{} -> {} ({} bytes)", module.display(), cwasm.display(), compiled.len());
    }
    Ok(())
}
