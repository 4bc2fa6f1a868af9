//! `cargo xtask dist`: the deployment artifacts the Terraform module takes.
//!
//! - `target/dist/sluicegate-lambda-<arch>.zip`: the `bootstrap` binary for the Lambda's
//!   architecture, cross-compiled by cargo-lambda (pinned, from PyPI, with zig).
//! - `target/dist/sluicegate-layer.zip`: `sluicegate/pipeline.json` and, for every transform,
//!   `sluicegate/transforms/<name>.wasm` with its `<name>.cwasm` precompiled for the Lambda's
//!   architecture (the Lambda loads the `.cwasm` and starts without compiling).
//! - `target/dist/pipeline.json`: a copy of the packed pipeline, for the module's
//!   `layer_pipeline_path` check.
//!
//! The source pipeline is a pipeline file as `sluicegate run --pipeline` takes it (module paths
//! relative to its folder); without `--pipeline` it is the built-in chain filter, redact,
//! extract. The packed pipeline is what the module generates from its `transforms`,
//! `index_template` and `archive_stage` variables, byte for byte once both are normalised, and
//! the Terraform block that produces it is printed at the end. Zip entries carry no clock time,
//! so the same inputs give the same zip and the same `source_code_hash`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value, json};
use sluicegate_engine::pipeline_file::PipelineFile;
use sluicegate_engine::wasm::{WasmHost, precompile};

use crate::run::{cmd, run};

/// Where the Lambda finds the layer's files (`/opt` is where Lambda unpacks layers).
pub const LAYER_ROOT: &str = "/opt/sluicegate";
/// The module's defaults for the keys a source pipeline may leave out.
const DEFAULT_INDEX_TEMPLATE: &str = "cwl-{yyyy}.{MM}.{dd}";
const DEFAULT_ARCHIVE_STAGE: &str = "documents";

const USAGE: &str = "usage: cargo xtask dist [--pipeline FILE] [--arch arm64|x86_64] [--out DIR] [--layer-only]

  --pipeline FILE  the transform chain to pack (module paths relative to FILE); the built-in
                   chain filter, redact, extract when absent
  --arch ARCH      the Lambda's architecture: arm64 (default) or x86_64
  --out DIR        where the artifacts go (default target/dist)
  --layer-only     build the transforms layer, not the Lambda zip";

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
    pipeline: Option<PathBuf>,
    arch: Arch,
    out: PathBuf,
    layer_only: bool,
}

fn parse_options(root: &Path, args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options { pipeline: None, arch: Arch::Arm64, out: root.join("target/dist"), layer_only: false };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().with_context(|| format!("{name} needs a value\n\n{USAGE}"));
        match arg.as_str() {
            "--pipeline" => options.pipeline = Some(PathBuf::from(value("--pipeline")?)),
            "--arch" => options.arch = Arch::parse(&value("--arch")?)?,
            "--out" => options.out = PathBuf::from(value("--out")?),
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
    let options = parse_options(root, args)?;
    std::fs::create_dir_all(&options.out).with_context(|| format!("cannot create {}", options.out.display()))?;
    let source = match &options.pipeline {
        Some(path) => path.clone(),
        None => built_in_pipeline(root, &options.out)?,
    };
    let layer = build_layer(&source, options.arch, &options.out)?;
    eprintln!("wrote {} ({} bytes)", layer.zip.display(), layer.zip_bytes);
    for (name, _, cwasm_bytes) in &layer.precompiled {
        eprintln!("  {name}: .wasm and .cwasm for {} ({cwasm_bytes} bytes)", options.arch.triple());
    }
    eprintln!("wrote {}", layer.pipeline.display());
    if !options.layer_only {
        let lambda_zip = build_lambda(root, options.arch, &options.out)?;
        eprintln!("wrote {}", lambda_zip.display());
    }
    println!("{}", terraform_snippet(&layer, options.arch, &options.out));
    Ok(())
}

/// Builds the built-in transforms and writes a pipeline file for the chain filter, redact,
/// extract next to the artifacts; returns its path.
fn built_in_pipeline(root: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let modules = crate::transforms::build(root, true)?;
    let module = |name: &str| -> anyhow::Result<String> {
        let path = modules.iter().find(|path| path.file_stem().is_some_and(|stem| stem == name)).context("a built-in transform")?;
        Ok(path.to_string_lossy().into_owned())
    };
    let pipeline = json!({"transforms": [
        {"name": "filter", "module": module("filter")?,
         "config": {"drop": [{"message": "GET /healthz"}, {"field": "log.level", "in": ["DEBUG", "TRACE"]}]}, "on_error": "pass"},
        {"name": "redact", "module": module("redact")?, "config": {"mode": "mask"}, "on_error": "dead-letter"},
        {"name": "extract", "module": module("extract")?, "config": {}, "on_error": "pass"},
    ]});
    let path = out.join("source-pipeline.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&pipeline)?).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// What [`build_layer`] wrote.
#[derive(Debug)]
pub struct Layer {
    /// The layer zip.
    pub zip: PathBuf,
    /// Its size.
    pub zip_bytes: u64,
    /// The copy of the packed pipeline next to the zip.
    pub pipeline: PathBuf,
    /// The packed pipeline.
    pub pipeline_value: Value,
    /// Each transform's name, its source `.wasm` and the size of its `.cwasm`.
    pub precompiled: Vec<(String, PathBuf, usize)>,
}

/// Packs the transforms of the pipeline file `source` into `out/sluicegate-layer.zip`, each
/// `.wasm` with its `.cwasm` for `arch`, and the pipeline rewritten to the layer's paths.
pub fn build_layer(source: &Path, arch: Arch, out: &Path) -> anyhow::Result<Layer> {
    // The engine's own reader checks the file as the Lambda will (names, policies, template),
    // and starting the chain here runs every transform's `init` with its configuration, so a
    // configuration the transform refuses stops the build instead of the Lambda's start.
    let checked = PipelineFile::read(source)?;
    let host = WasmHost::new(checked.limits)?;
    checked.start(&host, source).with_context(|| format!("the chain in {} does not start", source.display()))?;
    let text = std::fs::read_to_string(source).with_context(|| format!("cannot read {}", source.display()))?;
    let raw: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", source.display()))?;
    let packed = layer_pipeline(&raw)?;
    if packed.get("limits").is_some() {
        eprintln!(
            "warning: {} sets limits, which the Terraform module does not generate: its layer_pipeline_path check will report a difference",
            source.display()
        );
    }

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let zip_path = out.join("sluicegate-layer.zip");
    let file = std::fs::File::create(&zip_path).with_context(|| format!("cannot create {}", zip_path.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).unix_permissions(0o644);
    let pipeline_text = serde_json::to_string(&packed)?;
    zip.start_file("sluicegate/pipeline.json", options)?;
    zip.write_all(pipeline_text.as_bytes())?;
    let mut precompiled = Vec::new();
    for entry in &checked.transforms {
        let wasm = std::fs::read(&entry.module)
            .with_context(|| format!("transform {}: cannot read its module {}", entry.name, entry.module.display()))?;
        let cwasm = precompile(&wasm, &checked.limits, Some(arch.triple()))
            .with_context(|| format!("transform {}: cannot precompile {} for {}", entry.name, entry.module.display(), arch.triple()))?;
        zip.start_file(format!("sluicegate/transforms/{}.wasm", entry.name), options)?;
        zip.write_all(&wasm)?;
        zip.start_file(format!("sluicegate/transforms/{}.cwasm", entry.name), options)?;
        zip.write_all(&cwasm)?;
        precompiled.push((entry.name.clone(), entry.module.clone(), cwasm.len()));
    }
    zip.finish().with_context(|| format!("cannot write {}", zip_path.display()))?;
    let zip_bytes = std::fs::metadata(&zip_path)?.len();

    let pipeline_path = out.join("pipeline.json");
    std::fs::write(&pipeline_path, &pipeline_text).with_context(|| format!("cannot write {}", pipeline_path.display()))?;
    Ok(Layer { zip: zip_path, zip_bytes, pipeline: pipeline_path, pipeline_value: packed, precompiled })
}

/// The pipeline as the layer carries it, in the shape the Terraform module generates: every
/// module at `/opt/sluicegate/transforms/<name>.wasm`, every transform with `config` (`{}` when
/// absent) and `on_error` (`dead-letter` when absent), and `index_template` and `archive_stage`
/// always present. Keys are sorted, as Terraform's `jsonencode` writes them.
pub fn layer_pipeline(source: &Value) -> anyhow::Result<Value> {
    let object = source.as_object().context("a pipeline file is a JSON object")?;
    let transforms = object.get("transforms").and_then(Value::as_array).context("a pipeline file has a transforms list")?;
    let mut packed_transforms = Vec::with_capacity(transforms.len());
    for transform in transforms {
        let name = transform.get("name").and_then(Value::as_str).context("every transform has a name")?;
        if !is_file_name(name) {
            bail!("transform name {name:?} is used as a file name in the layer: use letters, digits, '-' and '_'");
        }
        let config = match transform.get("config") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(config) => config.clone(),
        };
        let on_error = transform.get("on_error").cloned().unwrap_or_else(|| Value::from("dead-letter"));
        packed_transforms.push(json!({
            "name": name,
            "module": format!("{LAYER_ROOT}/transforms/{name}.wasm"),
            "config": config,
            "on_error": on_error,
        }));
    }
    let mut packed = Map::new();
    packed.insert("transforms".to_owned(), Value::Array(packed_transforms));
    packed.insert("index_template".to_owned(), object.get("index_template").cloned().unwrap_or_else(|| DEFAULT_INDEX_TEMPLATE.into()));
    packed.insert("archive_stage".to_owned(), object.get("archive_stage").cloned().unwrap_or_else(|| DEFAULT_ARCHIVE_STAGE.into()));
    if let Some(limits) = object.get("limits") {
        packed.insert("limits".to_owned(), limits.clone());
    }
    Ok(Value::Object(packed))
}

fn is_file_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
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
            // Without ISA-L (host-lambda's `isal` feature): its build script's configure links
            // with `-static`, which zig, cargo-lambda's C compiler, refuses for glibc. The zip's
            // archive gzip is libdeflate's.
            "--no-default-features",
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
    let zip = out.join(format!("sluicegate-lambda-{}.zip", arch.name()));
    std::fs::copy(&built, &zip).with_context(|| format!("cannot copy {} to {}", built.display(), zip.display()))?;
    Ok(zip)
}

/// The Terraform that generates the packed pipeline, for the module's variables.
fn terraform_snippet(layer: &Layer, arch: Arch, out: &Path) -> String {
    let pipeline = &layer.pipeline_value;
    let mut text = String::from("\n# Module arguments for these artifacts:\n");
    text.push_str(&format!("  architecture        = \"{}\"\n", arch.name()));
    text.push_str(&format!("  lambda_zip_path     = \"{}\"\n", out.join(format!("sluicegate-lambda-{}.zip", arch.name())).display()));
    text.push_str(&format!("  layer_zip_path      = \"{}\"\n", out.join("sluicegate-layer.zip").display()));
    text.push_str(&format!("  layer_pipeline_path = \"{}\"\n", out.join("pipeline.json").display()));
    if let Some(template) = pipeline.get("index_template").and_then(Value::as_str) {
        text.push_str(&format!("  index_template      = {}\n", Value::from(template)));
    }
    if let Some(stage) = pipeline.get("archive_stage").and_then(Value::as_str) {
        text.push_str(&format!("  archive_stage       = {}\n", Value::from(stage)));
    }
    text.push_str("  transforms = [\n");
    for transform in pipeline.get("transforms").and_then(Value::as_array).into_iter().flatten() {
        let name = transform.get("name").and_then(Value::as_str).unwrap_or_default();
        let wasm_path = layer.precompiled.iter().find(|(packed, _, _)| packed == name).map(|(_, path, _)| path.display().to_string());
        let wasm_path = Value::from(wasm_path.unwrap_or_default());
        // JSON is HCL's object syntax too; only template sequences need escaping.
        let config = transform.get("config").map(Value::to_string).unwrap_or_else(|| "{}".to_owned());
        let config = config.replace("${", "$${").replace("%{", "%%{");
        let on_error = transform.get("on_error").and_then(Value::as_str).unwrap_or("dead-letter");
        text.push_str(&format!(
            "    {{ name = \"{name}\", wasm_path = {wasm_path}, config_json = jsonencode({config}), on_error = \"{on_error}\" }},\n"
        ));
    }
    text.push_str("  ]\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_pipeline_fills_what_terraform_writes() {
        let source = json!({"transforms": [
            {"name": "redact", "module": "../x/redact.wasm", "config": {"mode": "mask"}},
            {"name": "filter", "module": "filter.wasm", "on_error": "pass"},
        ]});
        let packed = serde_json::to_string(&layer_pipeline(&source).unwrap()).unwrap();
        // The shape of terraform/main.tf's local.pipeline after jsonencode (sorted keys).
        let expected = concat!(
            r#"{"archive_stage":"documents","index_template":"cwl-{yyyy}.{MM}.{dd}","transforms":["#,
            r#"{"config":{"mode":"mask"},"module":"/opt/sluicegate/transforms/redact.wasm","name":"redact","on_error":"dead-letter"},"#,
            r#"{"config":{},"module":"/opt/sluicegate/transforms/filter.wasm","name":"filter","on_error":"pass"}]}"#
        );
        assert_eq!(packed, expected);
    }

    /// The ELF machine of a `.cwasm` (wasmtime writes ELF objects): 62 is x86-64, 183 AArch64.
    fn elf_machine(cwasm: &[u8]) -> u16 {
        assert_eq!(&cwasm[..4], b"\x7fELF");
        u16::from_le_bytes([cwasm[18], cwasm[19]])
    }

    #[test]
    fn the_layer_carries_every_module_precompiled_for_the_lambda() {
        let root = crate::workspace_root();
        let modules = crate::transforms::build(&root, true).unwrap();
        let module = |name: &str| modules.iter().find(|path| path.file_stem().is_some_and(|stem| stem == name)).unwrap();
        let folder = std::env::temp_dir().join(format!("sluicegate-dist-test-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let source = folder.join("source.json");
        let pipeline = json!({"transforms": [
            {"name": "filter", "module": module("filter"), "config": {"drop": [{"message": "GET /healthz"}]}},
            {"name": "redact", "module": module("redact"), "config": {"mode": "hash", "key": "k"}, "on_error": "drop"},
        ], "index_template": "logs-{yyyy}"});
        std::fs::write(&source, pipeline.to_string()).unwrap();

        for (arch, machine) in [(Arch::X86_64, 62), (Arch::Arm64, 183)] {
            let out = folder.join(arch.name());
            let layer = build_layer(&source, arch, &out).unwrap();
            let mut zip = zip::ZipArchive::new(std::fs::File::open(&layer.zip).unwrap()).unwrap();
            let mut names: Vec<String> = zip.file_names().map(|name| name.unwrap().into_owned()).collect();
            names.sort();
            assert_eq!(
                names,
                [
                    "sluicegate/pipeline.json",
                    "sluicegate/transforms/filter.cwasm",
                    "sluicegate/transforms/filter.wasm",
                    "sluicegate/transforms/redact.cwasm",
                    "sluicegate/transforms/redact.wasm"
                ]
            );
            let read = |zip: &mut zip::ZipArchive<std::fs::File>, name: &str| {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut zip.by_name(name).unwrap(), &mut bytes).unwrap();
                bytes
            };
            let packed = read(&mut zip, "sluicegate/pipeline.json");
            assert_eq!(packed, std::fs::read(&layer.pipeline).unwrap());
            assert_eq!(serde_json::from_slice::<Value>(&packed).unwrap(), layer_pipeline(&pipeline).unwrap());
            for name in ["filter", "redact"] {
                let cwasm = read(&mut zip, &format!("sluicegate/transforms/{name}.cwasm"));
                assert_eq!(elf_machine(&cwasm), machine, "{name} for {arch:?}");
                if arch == Arch::X86_64 {
                    // On this machine's architecture the host loads the precompiled module.
                    let unpacked = out.join("unpacked");
                    std::fs::create_dir_all(&unpacked).unwrap();
                    std::fs::write(unpacked.join(format!("{name}.wasm")), read(&mut zip, &format!("sluicegate/transforms/{name}.wasm")))
                        .unwrap();
                    std::fs::write(unpacked.join(format!("{name}.cwasm")), &cwasm).unwrap();
                    let host = WasmHost::new(sluicegate_engine::wasm::Limits::default()).unwrap();
                    assert!(host.load(name, &unpacked.join(format!("{name}.wasm"))).unwrap().precompiled, "{name}");
                }
            }
        }

        // A configuration the transform refuses stops the build, naming the transform.
        let bad = json!({"transforms": [{"name": "filter", "module": module("filter"), "config": {"drop_levels": ["DEBUG"]}}]});
        std::fs::write(&source, bad.to_string()).unwrap();
        let error = format!("{:#}", build_layer(&source, Arch::Arm64, &folder.join("bad")).unwrap_err());
        assert!(error.contains("filter") && error.contains("drop_levels"), "{error}");
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn layer_pipeline_refuses_names_that_are_not_file_names() {
        let source = json!({"transforms": [{"name": "../etc", "module": "x.wasm"}]});
        let error = layer_pipeline(&source).unwrap_err().to_string();
        assert!(error.contains("used as a file name"), "{error}");
    }
}
