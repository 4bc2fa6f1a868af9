//! The Terraform step of `cargo xtask ci`: format, validate and test the module and its examples offline, then run checkov.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail, ensure};

/// The filesystem mirror of hashicorp/aws on the machine image; nothing is fetched from the
/// registry, so the step behaves the same with or without a network.
const PROVIDER_MIRROR: &str = "/opt/tf-plugins";

/// Runs `terraform fmt -check`, `init`, `validate` on `terraform/` and every example,
/// `terraform test` on the module, and checkov when `checkov` is the path of its executable.
///
/// A missing `terraform` is an error, never a skipped step: a CI run that quietly passed
/// without Terraform would let a broken module through.
pub fn check(root: &Path, checkov: Option<&Path>) -> anyhow::Result<()> {
    let terraform = find_on_path("terraform").context(
        "terraform is missing: no `terraform` on PATH, so the terraform module was not checked \
         (install terraform 1.9 or newer; the machine image carries 1.11)",
    )?;
    ensure!(
        Path::new(PROVIDER_MIRROR).is_dir(),
        "the provider mirror {PROVIDER_MIRROR} is missing; terraform init cannot run offline without it"
    );
    check_gitignore(root)?;

    let module_dir = root.join("terraform");
    let work_dir = root.join("target").join("terraform");
    fs::create_dir_all(&work_dir).with_context(|| format!("failed to create {}", work_dir.display()))?;
    let cli_config = work_dir.join("terraform.rc");
    fs::write(&cli_config, cli_config_text()).with_context(|| format!("failed to write {}", cli_config.display()))?;

    check_readme(&module_dir)?;
    // The module hashes every transform's wasm_path, even in `validate`: the examples name the
    // built-in transforms' release builds, so build them (cached when the tests already have).
    crate::transforms::build(root, true)?;
    write_test_modules(&work_dir.join("fixtures"))?;

    let mut configurations = vec![("module".to_owned(), module_dir.clone())];
    for example_dir in examples(&module_dir)? {
        let example_name = example_dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        configurations.push((format!("example-{example_name}"), example_dir));
    }

    for (label, dir) in &configurations {
        // Each configuration gets its own data directory under target/, so `.terraform`
        // folders never appear in the source tree (the lock files that init still writes
        // next to the configuration are ignored by .gitignore).
        let data_dir = work_dir.join("data").join(label);
        let run = |args: &[&str]| {
            run_terraform(&terraform, dir, &cli_config, &data_dir, args).with_context(|| format!("terraform check of {label} failed"))
        };
        run(&["fmt", "-check", "-recursive", "-diff"])?;
        run(&["init", "-backend=false", "-input=false", "-no-color"])?;
        run(&["validate", "-no-color"])?;
        if dir == &module_dir {
            run(&["test", "-no-color"])?;
        }
    }

    if let Some(checkov) = checkov {
        let status = Command::new(checkov)
            .args(["-d", "terraform", "--framework", "terraform", "--skip-download", "--compact"])
            .current_dir(root)
            .status()
            .with_context(|| format!("failed to start checkov at {}", checkov.display()))?;
        ensure!(status.success(), "checkov reported failed checks on terraform/ ({status})");
    }
    Ok(())
}

/// The modules `terraform test` uploads, written here so that no `.wasm` is committed. The
/// tests assert their SHA-256s, so their bytes are fixed: an empty module (magic and version 1),
/// and the same with an empty custom section named `b`.
const TEST_MODULES: [(&str, &[u8]); 2] = [("empty.wasm", b"\0asm\x01\0\0\0"), ("custom-section.wasm", b"\0asm\x01\0\0\0\0\x02\x01b")];

fn write_test_modules(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    for (file_name, bytes) in TEST_MODULES {
        let path = dir.join(file_name);
        fs::write(&path, bytes).with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(())
}

/// The CLI configuration that installs providers from [`PROVIDER_MIRROR`] only.
fn cli_config_text() -> String {
    format!(
        r#"provider_installation {{
  filesystem_mirror {{
    path    = "{PROVIDER_MIRROR}"
    include = ["registry.terraform.io/hashicorp/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/*/*"]
  }}
}}
"#
    )
}

fn run_terraform(terraform: &Path, dir: &Path, cli_config: &Path, data_dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ terraform {} (in {})", args.join(" "), dir.display());
    let status = Command::new(terraform)
        .args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", cli_config)
        .env("TF_DATA_DIR", data_dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        // Terraform otherwise asks checkpoint.hashicorp.com for new versions.
        .env("CHECKPOINT_DISABLE", "1")
        .status()
        .with_context(|| format!("failed to start {}", terraform.display()))?;
    ensure!(status.success(), "`terraform {}` failed ({status})", args.join(" "));
    Ok(())
}

fn examples(module_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let examples_dir = module_dir.join("examples");
    let mut example_dirs = Vec::new();
    for entry in fs::read_dir(&examples_dir).with_context(|| format!("failed to list {}", examples_dir.display()))? {
        let path = entry.with_context(|| format!("failed to list {}", examples_dir.display()))?.path();
        if path.is_dir() {
            example_dirs.push(path);
        }
    }
    example_dirs.sort();
    ensure!(!example_dirs.is_empty(), "no examples under {}", examples_dir.display());
    Ok(example_dirs)
}

/// The README's input and output tables are written by hand (terraform-docs is not on the
/// machine), so check that they name every variable and output and nothing else has drifted.
fn check_readme(module_dir: &Path) -> anyhow::Result<()> {
    let readme_path = module_dir.join("README.md");
    let readme = fs::read_to_string(&readme_path).with_context(|| format!("failed to read {}", readme_path.display()))?;
    let mut missing = Vec::new();
    for (file_name, keyword) in [("variables.tf", "variable"), ("outputs.tf", "output")] {
        let path = module_dir.join(file_name);
        let text = fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(keyword).map(str::trim_start) else {
                continue;
            };
            let Some(name) = rest.strip_prefix('"').and_then(|rest| rest.split('"').next()) else {
                continue;
            };
            if !readme.contains(&format!("| `{name}` |")) {
                missing.push(format!("{keyword} {name}"));
            }
        }
    }
    ensure!(missing.is_empty(), "{} does not describe {}", readme_path.display(), missing.join(", "));
    Ok(())
}

/// Init writes provider binaries and lock files; make sure git would never pick them up.
fn check_gitignore(root: &Path) -> anyhow::Result<()> {
    let gitignore_path = root.join(".gitignore");
    let gitignore = fs::read_to_string(&gitignore_path).with_context(|| format!("failed to read {}", gitignore_path.display()))?;
    for pattern in [".terraform/", ".terraform.lock.hcl", "*.tfstate*"] {
        if !gitignore.lines().any(|line| line.trim() == pattern) {
            bail!("{} must ignore `{pattern}` before terraform runs", gitignore_path.display());
        }
    }
    Ok(())
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}
