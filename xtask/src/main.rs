//! Workspace tasks. `cargo xtask codegen [--check]` generates
//! `crates/wire/src/generated.rs` from the vendored CodeArtifact model.

mod codegen;
mod model;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, Result, bail};

const SERVICE: &str = "model/codeartifact-2018-09-22.service.json";
const PAGINATORS: &str = "model/codeartifact-2018-09-22.paginators.json";
const OUTPUT: &str = "crates/wire/src/generated.rs";

const USAGE: &str = "usage: cargo xtask codegen [--check]";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["codegen"] => codegen(false),
        ["codegen", "--check"] => codegen(true),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => bail!("{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn codegen(check: bool) -> Result<ExitCode> {
    let root = workspace_root();
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel}"))
    };
    let model = model::Model::load(&read(SERVICE)?, &read(PAGINATORS)?)?;
    let source = codegen::generate(&model)?;
    let formatted = rustfmt(&root, &source)?;
    let path = root.join(OUTPUT);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if check {
        if current == formatted {
            println!("{OUTPUT} is up to date");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{OUTPUT} is stale: run `cargo xtask codegen` and commit the result");
        if let Some((line, (old, new))) = current
            .lines()
            .zip(formatted.lines())
            .enumerate()
            .find(|(_, (old, new))| old != new)
        {
            eprintln!("first difference at line {}:\n- {old}\n+ {new}", line + 1);
        } else {
            eprintln!("the files differ in length");
        }
        return Ok(ExitCode::FAILURE);
    }
    if current == formatted {
        println!("{OUTPUT} is up to date");
    } else {
        std::fs::write(&path, &formatted).with_context(|| format!("writing {OUTPUT}"))?;
        println!("wrote {OUTPUT}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Formats with rustfmt (edition 2024), run from the workspace root so any
/// rustfmt.toml there applies exactly as for `cargo fmt`.
fn rustfmt(root: &Path, source: &str) -> Result<String> {
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut child = Command::new(rustfmt)
        .args(["--edition", "2024", "--emit", "stdout"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt")?;
    let mut stdin = child.stdin.take().context("rustfmt stdin")?;
    let input = source.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().context("waiting for rustfmt")?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("writing to rustfmt panicked"))?
        .context("writing to rustfmt")?;
    if !output.status.success() {
        bail!(
            "rustfmt failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("rustfmt output is not UTF-8")
}
