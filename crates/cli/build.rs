//! Embeds what the binary must carry to run with no source tree beside it: the built-in
//! detections (`queries/`, with their `.slt` tests, for `midgame check`) and the demo's
//! sample logs (`sample-logs/`, already gzip except one plain JSON-array day).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../..");
    let mut out = String::new();
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for (name, dir) in [("QUERIES", "queries"), ("SAMPLE_LOGS", "sample-logs")] {
        let dir = root.join(dir);
        let mut files = Vec::new();
        walk(&dir, &mut files);
        files.sort();
        writeln!(out, "pub(crate) static {name}: &[(&str, &[u8])] = &[").unwrap();
        for path in files {
            let rel = path.strip_prefix(&dir).expect("below the folder");
            let rel = rel.to_str().expect("UTF-8 file names").replace('\\', "/");
            // FNV-1a over names and contents: the cache folder's name.
            for b in rel.bytes().chain(std::fs::read(&path).expect("readable")) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            let abs = path.canonicalize().expect("exists");
            writeln!(
                out,
                "    ({rel:?}, include_bytes!({:?})),",
                abs.display().to_string()
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    writeln!(
        out,
        "pub(crate) const EMBEDDED_HASH: &str = \"{hash:016x}\";"
    )
    .unwrap();
    commit(&root);
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("embedded.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Every file below `dir`, and a rerun of the build script when any of them changes.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in std::fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
            out.push(path);
        }
    }
}

/// `MIDGAME_COMMIT` for `--version`: the commit built, `+changes` when the tree had
/// uncommitted ones, `unknown` outside a git checkout.
fn commit(root: &Path) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c)
            if git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty()) =>
        {
            format!("{c}+changes")
        }
        Some(c) => c,
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=MIDGAME_COMMIT={commit}");
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for f in ["HEAD", "index", "refs/heads", "packed-refs"] {
            println!("cargo:rerun-if-changed={dir}/{f}");
        }
    }
}
