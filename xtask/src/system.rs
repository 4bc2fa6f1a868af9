//! The system tools the engine's build needs beyond Rust and a C compiler: ISA-L (the archive's
//! gzip on x86_64) is built from the source vendored in the `isal-sys` crate with nasm and
//! autotools. Debian's packages, pinned, installed with apt when a tool is missing.

use std::path::Path;

use anyhow::bail;

use crate::run::{cmd, output, run};

/// Each tool the build runs, and the Debian package (pinned to the version this was measured
/// and tested with, Debian 12's) that brings it.
pub const PACKAGES: &[(&str, &str)] = &[
    ("nasm", "nasm=2.16.01-1"),
    ("autoreconf", "autoconf=2.71-3"),
    ("automake", "automake=1:1.16.5-1.3"),
    ("libtoolize", "libtool=2.4.7-7~deb12u1"),
];

/// Makes sure every tool of [`PACKAGES`] is on `PATH`, installing the missing ones with apt.
/// Only x86_64 builds ISA-L, so elsewhere there is nothing to do.
pub fn ensure(root: &Path) -> anyhow::Result<()> {
    if !cfg!(target_arch = "x86_64") {
        return Ok(());
    }
    let missing: Vec<&str> = PACKAGES.iter().filter(|(tool, _)| !on_path(tool)).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names = missing.iter().map(|package| package.split('=').next().unwrap_or(package)).collect::<Vec<_>>().join(" ");
    if !on_path("apt-get") {
        bail!("building ISA-L (the archive's gzip) needs {names}; this machine has no apt-get, so install them by hand");
    }
    // apt needs root: as root directly, else through sudo.
    let is_root = output(&mut cmd(root, "id", &["-u"])).is_ok_and(|uid| uid.trim() == "0");
    let apt = |args: &[&str]| {
        let mut command = if is_root { cmd(root, "apt-get", args) } else { cmd(root, "sudo", &[&["apt-get"], args].concat()) };
        command.env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut command)
    };
    let install = [&["install", "--yes", "--quiet", "--no-install-recommends"], &missing[..]].concat();
    // A fresh machine may not have the package lists yet.
    if apt(&install).is_err() {
        apt(&["update", "--quiet"])?;
        apt(&install).map_err(|error| anyhow::anyhow!("{error}: building ISA-L (the archive's gzip) needs {names}"))?;
    }
    Ok(())
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| is_executable(&dir.join(tool))))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}
