//! Compiles plugin crates of this workspace to `wasm32-wasip2` components from a build script.
//!
//! The host embeds the built-in plugins, and the end-to-end tests load fixture plugins; both
//! call [`build_component`] from their `build.rs`. The nested `cargo` uses its own target
//! directory next to the caller's (the caller's is locked while its build script runs) and
//! the workspace's `guest` profile, so guests are optimized whatever the host's profile is.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every plugin is built for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";

/// Environment variables the outer cargo sets that must not leak into the nested build:
/// flags meant for the host, wrappers such as clippy's, and the outer target directory.
const CLEARED_VARS: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_PATH",
    "__CARGO_FIX_PLZ",
    "CARGO_LLVM_COV",
    "LLVM_PROFILE_FILE",
];

/// Builds workspace package `package` for [`GUEST_TARGET`] and returns the path of the
/// resulting `.wasm` component, copied into `OUT_DIR`.
///
/// Emits `cargo:rerun-if-changed` for the package directory, the WIT folder, the guest SDK and
/// the lock file.
///
/// # Panics
/// Panics (failing the build script with a message) when the nested build fails, for
/// instance because the target is not installed.
pub fn build_component(package: &str) -> PathBuf {
    let workspace = workspace_root();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let target_dir = guest_target_dir(&out_dir);
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());

    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--package", package, "--target", GUEST_TARGET])
        .args(["--profile", "guest", "--target-dir"])
        .arg(&target_dir);
    for var in CLEARED_VARS {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not start cargo to build plugin `{package}`: {e}"));
    if !status.success() {
        panic!(
            "building plugin `{package}` for {GUEST_TARGET} failed ({status}). If the target is \
             missing, run `rustup target add {GUEST_TARGET}` once."
        );
    }

    let artifact = package.replace('-', "_");
    let built = target_dir
        .join(GUEST_TARGET)
        .join("guest")
        .join(format!("{artifact}.wasm"));
    let dest = out_dir.join(format!("{artifact}.wasm"));
    std::fs::copy(&built, &dest).unwrap_or_else(|e| {
        panic!(
            "plugin `{package}` built but {} is unreadable: {e}",
            built.display()
        )
    });

    let package_dir = package_dir(&workspace, package);
    println!("cargo:rerun-if-changed={}", package_dir.display());
    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
    // Plugins build on the guest SDK: a change there changes them.
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("plugin-sdk").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.toml").display()
    );
    dest
}

/// The workspace root: the nearest ancestor of the calling package holding a `wit/` folder.
fn workspace_root() -> PathBuf {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo"));
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("wit").is_dir() && dir.join("Cargo.lock").is_file())
        .unwrap_or_else(|| {
            panic!(
                "no workspace root with wit/ above {}",
                manifest_dir.display()
            )
        })
        .to_path_buf()
}

/// Where a package lives: the folder whose Cargo.toml names it, searched where this
/// workspace keeps plugins (top level, `plugins/`, `tests/fixtures/`).
fn package_dir(workspace: &Path, package: &str) -> PathBuf {
    let candidates = [
        workspace.join(package),
        workspace.join("plugins").join(package),
        workspace
            .join("tests/fixtures")
            .join(package.trim_start_matches("fixture-")),
    ];
    candidates
        .into_iter()
        .find(|dir| dir.join("Cargo.toml").is_file())
        .unwrap_or_else(|| workspace.to_path_buf())
}

/// A target directory for guests beside the caller's: `<target>/<profile>/build/<pkg>/out`
/// becomes `<target>/wasm-guests`.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(|build| build.parent())
        .and_then(|profile| profile.parent())
        .map(|target| target.join("wasm-guests"))
        .unwrap_or_else(|| out_dir.join("wasm-guests"))
}
