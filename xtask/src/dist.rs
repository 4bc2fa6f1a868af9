//! `cargo xtask dist`: the deployment artifacts the Terraform module takes.
//!
//! - `target/dist/sluicegate-lambda-<arch>.zip`: the `bootstrap` binary for the Lambda's
//!   architecture, cross-compiled by cargo-lambda (pinned, from PyPI, with zig). The one
//!   artifact the module needs besides the users' `.wasm` files.
//! - `target/dist/sluicegate-compiled-<arch>.zip`, optional (`layer_zip_path`): a layer of
//!   modules compiled ahead of time for the Lambda, `sluicegate/compiled/<sha256>.cwasm`, each
//!   sealed with the SHA-256 of its `.wasm`. The function loads such an artifact instead of
//!   compiling when a transform's module has that digest; the module's `wasm_path` still says
//!   what runs, so a layer packed from other modules is ignored, never run. Without the layer
//!   the first cold start compiles and stores the artifacts in S3 for the next ones.
//!
//! Zip entries carry no clock time, so the same inputs give the same zip and the same
//! `source_code_hash`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sluicegate_engine::pipeline_file::sha256_hex;
use sluicegate_engine::wasm::{Limits, WasmHost, precompile, seal};

use crate::run::{cmd, run};

/// Where the Lambda finds the layer's artifacts (`/opt` is where Lambda unpacks layers).
pub const LAYER_COMPILED_DIR: &str = "sluicegate/compiled";

const USAGE: &str = "usage: cargo xtask dist [--arch arm64|x86_64] [--out DIR] [--layer MODULE.wasm ...] [--layer-only]

  --arch ARCH      the Lambda's architecture: arm64 (default) or x86_64
  --out DIR        where the artifacts go (default target/dist)
  --layer FILE     a module to precompile into the optional layer (repeat it); the built-in
                   filter, redact and extract when none is given
  --layer-only     build the layer, not the Lambda zip";

/// The Lambda architectures, as Terraform names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Graviton, the module's default.
    Arm64,
    /// Intel and AMD.
    X86_64,
}

impl Arch {
    fn parse(text: &str) -> anyhow::Result<Arch> {
        match text {
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            "x86_64" | "amd64" => Ok(Arch::X86_64),
            other => bail!("--arch is arm64 or x86_64, not {other:?}"),
        }
    }

    /// The name Terraform's `architecture` variable uses.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The target triple the Lambda runs (`provided.al2023` is glibc Linux).
    pub fn triple(self) -> &'static str {
        match self {
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }
}

struct Options {
    arch: Arch,
    out: PathBuf,
    modules: Vec<PathBuf>,
    layer_only: bool,
}

fn parse_options(root: &Path, args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options { arch: Arch::Arm64, out: root.join("target/dist"), modules: Vec::new(), layer_only: false };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().with_context(|| format!("{name} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--arch" => options.arch = Arch::parse(&value("--arch")?)?,
            "--out" => options.out = PathBuf::from(value("--out")?),
            "--layer" => options.modules.push(PathBuf::from(value("--layer")?)),
            "--layer-only" => options.layer_only = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?}\n\n{USAGE}"),
        }
    }
    Ok(options)
}

/// Runs `cargo xtask dist` with the arguments after `dist`.
pub fn main(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let mut options = parse_options(root, args)?;
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    if options.modules.is_empty() {
        options.modules = crate::transforms::build(root, true)?;
    }
    let layer = build_layer(&options.modules, options.arch, &options.out)?;
    eprintln!("wrote {} ({} bytes)", layer.zip.display(), layer.zip_bytes);
    for (module, sha256, cwasm_bytes) in &layer.artifacts {
        eprintln!("  {}: sha256 {sha256}, {cwasm_bytes} bytes compiled for {}", module.display(), options.arch.triple());
    }
    let lambda_zip = out_zip(&options.out, options.arch);
    if !options.layer_only {
        let built = build_lambda(root, options.arch, &options.out)?;
        eprintln!("wrote {}", built.display());
    }
    println!("{}", terraform_snippet(&lambda_zip, &layer, options.arch));
    Ok(())
}

/// What [`build_layer`] wrote.
#[derive(Debug)]
pub struct Layer {
    /// The layer zip.
    pub zip: PathBuf,
    /// Its size.
    pub zip_bytes: u64,
    /// Each module, its SHA-256 and the size of its sealed artifact.
    pub artifacts: Vec<(PathBuf, String, usize)>,
}

/// Compiles every module in `modules` for `arch` and packs the sealed artifacts into
/// `out/sluicegate-compiled-<arch>.zip` under `sluicegate/compiled/<sha256>.cwasm`. A module
/// that does not compile or is not a Sluicegate transform stops the build.
pub fn build_layer(modules: &[PathBuf], arch: Arch, out: &Path) -> anyhow::Result<Layer> {
    // The host checks each module against the ABI as the Lambda will.
    let host = WasmHost::new(Limits::default())?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let zip_path = out.join(format!("sluicegate-compiled-{}.zip", arch.name()));
    let file = std::fs::File::create(&zip_path).with_context(|| format!("cannot create {}", zip_path.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).unix_permissions(0o644);
    let mut artifacts: Vec<(PathBuf, String, usize)> = Vec::new();
    for module in modules {
        let wasm = std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
        let name = module.file_stem().map_or("module".into(), |stem| stem.to_string_lossy()).into_owned();
        host.compile(&name, module, &wasm).with_context(|| format!("{} is not a transform the Lambda can run", module.display()))?;
        let sha256 = sha256_hex(&wasm);
        if artifacts.iter().any(|(_, known, _)| *known == sha256) {
            continue;
        }
        let code = precompile(&wasm, &Limits::default(), Some(arch.triple()))
            .with_context(|| format!("cannot precompile {} for {}", module.display(), arch.triple()))?;
        let sealed = seal(&sha256, &code)?;
        zip.start_file(format!("{LAYER_COMPILED_DIR}/{sha256}.cwasm"), options)?;
        zip.write_all(&sealed)?;
        artifacts.push((module.clone(), sha256, sealed.len()));
    }
    zip.finish().with_context(|| format!("cannot write {}", zip_path.display()))?;
    let zip_bytes = std::fs::metadata(&zip_path)?.len();
    Ok(Layer { zip: zip_path, zip_bytes, artifacts })
}

fn out_zip(out: &Path, arch: Arch) -> PathBuf {
    out.join(format!("sluicegate-lambda-{}.zip", arch.name()))
}

/// Cross-compiles `bootstrap` for `arch` with cargo-lambda (zig as the linker) and copies its
/// zip to `out/sluicegate-lambda-<arch>.zip`.
fn build_lambda(root: &Path, arch: Arch, out: &Path) -> anyhow::Result<PathBuf> {
    let venv = crate::venv::ensure(root)?;
    let cargo_lambda = venv.join("bin/cargo-lambda");
    let rustup = cmd(root, "rustup", &["target", "add", arch.triple()]);
    run(&mut { rustup })?;
    let lambda_dir = root.join("target/lambda");
    let arch_flag = match arch {
        Arch::Arm64 => "--arm64",
        Arch::X86_64 => "--x86-64",
    };
    // The venv's bin folder goes first on PATH so cargo-lambda finds the zig it came with.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![venv.join("bin")];
    paths.extend(std::env::split_paths(&path));
    run(cmd(
        root,
        &cargo_lambda.to_string_lossy(),
        &[
            "lambda",
            "build",
            "--release",
            "--locked",
            arch_flag,
            "--package",
            "sluicegate-lambda",
            "--bin",
            "bootstrap",
            "--output-format",
            "zip",
            "--lambda-dir",
            &lambda_dir.to_string_lossy(),
        ],
    )
    .env("PATH", std::env::join_paths(paths)?))?;
    let built = lambda_dir.join("bootstrap/bootstrap.zip");
    let zip = out_zip(out, arch);
    std::fs::copy(&built, &zip).with_context(|| format!("cannot copy {} to {}", built.display(), zip.display()))?;
    Ok(zip)
}

/// The module arguments for these artifacts.
fn terraform_snippet(lambda_zip: &Path, layer: &Layer, arch: Arch) -> String {
    let mut text = String::from("\n# Module arguments for these artifacts (the layer is optional):\n");
    text.push_str(&format!("  architecture    = \"{}\"\n", arch.name()));
    text.push_str(&format!("  lambda_zip_path = \"{}\"\n", lambda_zip.display()));
    text.push_str(&format!("  layer_zip_path  = \"{}\"\n", layer.zip.display()));
    text.push_str("  transforms = [\n");
    for (module, _, _) in &layer.artifacts {
        let name = module.file_stem().map_or("module".into(), |stem| stem.to_string_lossy());
        text.push_str(&format!("    {{ name = \"{name}\", wasm_path = \"{}\", config_json = jsonencode({{}}) }},\n", module.display()));
    }
    text.push_str("  ]\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ELF machine of a `.cwasm` (wasmtime writes ELF objects): 62 is x86-64, 183 AArch64.
    fn elf_machine(cwasm: &[u8]) -> u16 {
        assert_eq!(&cwasm[..4], b"\x7fELF");
        u16::from_le_bytes([cwasm[18], cwasm[19]])
    }

    #[test]
    fn the_layer_carries_every_module_sealed_and_precompiled_for_the_lambda() {
        let root = crate::workspace_root();
        let modules = crate::transforms::build(&root, true).unwrap();
        let folder = std::env::temp_dir().join(format!("sluicegate-dist-test-{}", std::process::id()));
        for (arch, machine) in [(Arch::X86_64, 62), (Arch::Arm64, 183)] {
            let out = folder.join(arch.name());
            let layer = build_layer(&modules, arch, &out).unwrap();
            let mut zip = zip::ZipArchive::new(std::fs::File::open(&layer.zip).unwrap()).unwrap();
            let mut names: Vec<String> = zip.file_names().map(|name| name.unwrap().into_owned()).collect();
            names.sort();
            let mut expected: Vec<String> =
                modules.iter().map(|module| format!("sluicegate/compiled/{}.cwasm", sha256_hex(&std::fs::read(module).unwrap()))).collect();
            expected.sort();
            assert_eq!(names, expected);
            for module in &modules {
                let wasm = std::fs::read(module).unwrap();
                let sha256 = sha256_hex(&wasm);
                let mut sealed = Vec::new();
                std::io::Read::read_to_end(&mut zip.by_name(&format!("sluicegate/compiled/{sha256}.cwasm")).unwrap(), &mut sealed).unwrap();
                // The seal: magic, the module's digest, the code's digest, then wasmtime's ELF object.
                assert_eq!(&sealed[..8], b"SGCWASM\x01");
                assert_eq!(elf_machine(&sealed[72..]), machine, "{} for {arch:?}", module.display());
                let host = WasmHost::new(Limits::default()).unwrap();
                if arch == Arch::X86_64 {
                    // On this machine's architecture the host loads the artifact for that module only.
                    assert!(host.load_sealed("m", &sha256, &sealed).unwrap().precompiled);
                    assert!(host.load_sealed("m", &"0".repeat(64), &sealed).is_err());
                } else {
                    let error = host.load_sealed("m", &sha256, &sealed).unwrap_err().to_string();
                    assert!(error.contains("wasmtime refused it"), "{error}");
                }
            }
        }
        // A file that is not a transform stops the build, naming it.
        let bad = folder.join("bad.wasm");
        std::fs::write(&bad, b"\0asm\x01\0\0\0").unwrap();
        let error = format!("{:#}", build_layer(&[bad], Arch::Arm64, &folder.join("bad")).unwrap_err());
        assert!(error.contains("bad.wasm") && error.contains("sluicegate_abi_v1"), "{error}");
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
