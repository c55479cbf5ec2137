//! ARCHITECTURE.md's code map, checked against the code: which crate may depend on which,
//! that the pure algorithm crates lint file and process access away, and that the lint bites.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use reelforge_e2e::repo_root;

fn cargo() -> Command {
    Command::new(env!("CARGO"))
}

/// The crates listed under "Algorithm crates" in ARCHITECTURE.md, in its order.
fn documented_algorithm_crates() -> Vec<String> {
    let map = std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    map.lines()
        .skip_while(|line| !line.starts_with("- Algorithm crates"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.trim_start().strip_prefix("- **`")?.split('`').next().map(str::to_owned))
        .collect()
}

/// Algorithm crates that may read files: the subtitles crate loads speech models.
const MODEL_IO: &str = "reelforge-subtitles";

/// Names of the packages `package` depends on (normal dependencies), resolved for it alone.
fn dependency_tree(package: &str) -> BTreeSet<String> {
    let output = cargo()
        .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p", package])
        .current_dir(repo_root())
        .output()
        .expect("run cargo tree");
    assert!(output.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Workspace packages and their direct normal dependencies.
fn workspace_dependencies() -> Vec<(String, Vec<String>)> {
    let output = cargo()
        .args(["metadata", "--offline", "--format-version", "1", "--no-deps"])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|dependency| dependency["kind"].is_null())
                .filter_map(|dependency| dependency["name"].as_str().map(str::to_owned))
                .collect();
            (package["name"].as_str().expect("name").to_owned(), dependencies)
        })
        .collect()
}

#[test]
fn crate_dependencies_follow_the_code_map() {
    let algorithm = documented_algorithm_crates();
    assert!(algorithm.len() >= 6, "ARCHITECTURE.md should list the algorithm crates: {algorithm:?}");
    let map = std::fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("read ARCHITECTURE.md");
    for (package, dependencies) in workspace_dependencies() {
        if package != "reelforge-e2e" {
            assert!(
                map.contains(&format!("`{package}`")) || map.contains(&format!("crates/{package}")),
                "ARCHITECTURE.md's code map does not mention {package}"
            );
        }
        if package != "reelforge-media" {
            assert!(
                !dependencies.iter().any(|d| d == "ffmpeg-next"),
                "{package} links FFmpeg; only reelforge-media may"
            );
        }
        let workspace: Vec<&String> = dependencies.iter().filter(|d| d.starts_with("reelforge-")).collect();
        if package == "reelforge-core" {
            assert!(workspace.is_empty(), "reelforge-core depends on {workspace:?}");
        }
        // Algorithm crates build on the core and on each other, never on media, pipeline,
        // stages, farm or CLI.
        if algorithm.contains(&package) {
            let outside: Vec<&&String> =
                workspace.iter().filter(|d| **d != "reelforge-core" && !algorithm.contains(d)).collect();
            assert!(outside.is_empty(), "algorithm crate {package} depends on {outside:?}");
        }
    }
    // Settings types do not drag whisper.cpp (or FFmpeg) into pipeline files and farm plans.
    for package in ["reelforge-pipeline", "reelforge-farm"] {
        let tree = dependency_tree(package);
        for heavy in ["whisper-rs", "whisper-rs-sys", "ffmpeg-next", "ffmpeg-sys-next"] {
            assert!(!tree.contains(heavy), "{package} depends on {heavy}");
        }
    }
}

#[test]
fn pure_algorithm_crates_lint_file_and_process_access_away() {
    let shared = repo_root().join("crates/algorithm-clippy.toml");
    let rules = std::fs::read_to_string(&shared).expect("read crates/algorithm-clippy.toml");
    for package in documented_algorithm_crates().iter().filter(|p| *p != MODEL_IO) {
        let config = repo_root().join("crates").join(package).join("clippy.toml");
        let linked = std::fs::read_to_string(&config).unwrap_or_default();
        assert_eq!(linked, rules, "{} must be a link to crates/algorithm-clippy.toml", config.display());
    }
}

/// Runs clippy on a new crate with the algorithm rules and `source` as its lib.rs.
fn clippy_on(dir: &Path, source: &str) -> std::process::Output {
    std::fs::create_dir_all(dir.join("src")).expect("create the crate");
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"algorithm-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .expect("write Cargo.toml");
    std::fs::copy(repo_root().join("crates/algorithm-clippy.toml"), dir.join("clippy.toml"))
        .expect("copy rules");
    std::fs::write(dir.join("src/lib.rs"), source).expect("write lib.rs");
    cargo()
        .args(["clippy", "--offline", "--quiet", "--", "-D", "warnings"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("run cargo clippy")
}

#[test]
fn an_algorithm_crate_that_reads_a_file_fails_clippy() {
    let root = tempfile::tempdir().expect("temp dir");
    let pure = clippy_on(
        &root.path().join("pure"),
        "pub fn mean(values: &[f64]) -> f64 {\n    values.iter().sum::<f64>() / values.len().max(1) as f64\n}\n",
    );
    assert!(pure.status.success(), "a pure crate passes: {}", String::from_utf8_lossy(&pure.stderr));
    let reads = clippy_on(
        &root.path().join("reads"),
        "pub fn settings(path: &std::path::Path) -> String {\n    std::fs::read_to_string(path).unwrap_or_default()\n}\n",
    );
    let stderr = String::from_utf8_lossy(&reads.stderr);
    assert!(!reads.status.success(), "reading a file must fail clippy");
    assert!(stderr.contains("disallowed") && stderr.contains("std::fs::read_to_string"), "{stderr}");
    let spawns = clippy_on(
        &root.path().join("spawns"),
        "pub fn run() -> bool {\n    std::process::Command::new(\"ffmpeg\").status().is_ok()\n}\n",
    );
    let stderr = String::from_utf8_lossy(&spawns.stderr);
    assert!(!spawns.status.success() && stderr.contains("std::process::Command"), "{stderr}");
}
