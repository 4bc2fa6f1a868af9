//! The pinned Python tools the tests use (moto, osmem-server, cargo-lambda, checkov), in one
//! virtual environment under `target/venv`, installed once and again only when the pins change.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::run::{cmd, run};

/// The PyPI pins. Changing one reinstalls the environment.
pub const PINS: &[&str] = &["moto[server]==5.2.5", "osmem-server==0.1.6", "cargo-lambda==1.9.2", "checkov==3.3.30", "ziglang==0.17.1"];

/// Makes sure the environment exists with exactly [`PINS`]; returns its folder.
pub fn ensure(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/venv");
    let stamp = venv.join("sluicegate-pins.txt");
    let wanted = PINS.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(venv);
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    run(&mut cmd(root, &python, &["-m", "venv", "--clear", &venv.to_string_lossy()]))
        .context("python3 with the venv module is needed for the test servers")?;
    let pip = venv.join("bin/pip");
    let mut install = cmd(root, &pip.to_string_lossy(), &["install", "--quiet", "--disable-pip-version-check"]);
    install.args(PINS);
    run(&mut install).context("installing the pinned test tools from PyPI")?;
    std::fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(venv)
}
