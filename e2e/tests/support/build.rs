//! The release frontend (built once per test run) and the other files the suite needs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

/// The workspace root (the parent of `e2e/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

/// The cargo target directory this test binary was built into.
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .to_path_buf()
}

/// Where screenshots and failure evidence go: `$E2E_ARTIFACTS` or `<target>/e2e-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("E2E_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("e2e-artifacts"))
}

/// The release build of the frontend, exactly what ships: `scripts/build-release.sh` (both
/// bundles, the pinned compiler, wasm-opt, minified glue and the loader that picks a bundle by
/// address), into `<target>/e2e-dist`. Built once per test run; `E2E_DIST=/path` uses a build made
/// beforehand instead.
pub fn release_dist() -> &'static Path {
    static DIST: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = DIST.get_or_init(|| {
        if let Some(dist) = std::env::var_os("E2E_DIST") {
            let dist = PathBuf::from(dist);
            return if dist.join("index.html").is_file() {
                super::notice(&format!(
                    "using the prebuilt frontend in {}",
                    dist.display()
                ));
                Ok(dist)
            } else {
                Err(format!("E2E_DIST={} has no index.html", dist.display()))
            };
        }
        let dist = target_dir().join("e2e-dist");
        super::notice(&format!(
            "building the release frontend (scripts/build-release.sh) into {}",
            dist.display()
        ));
        let started = Instant::now();
        let output = Command::new(workspace_root().join("scripts/build-release.sh"))
            .arg(&dist)
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .map_err(|e| format!("cannot run scripts/build-release.sh: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "scripts/build-release.sh failed ({}):\n{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        super::notice(&format!(
            "release frontend built in {:.1} s",
            started.elapsed().as_secs_f64()
        ));
        Ok(dist)
    });
    match built {
        Ok(dist) => dist,
        Err(problem) => panic!("e2e: no release frontend to test: {problem}"),
    }
}

/// axe-core's browser bundle, installed by `npm ci` in e2e/.
pub fn axe_source() -> &'static str {
    static AXE: OnceLock<String> = OnceLock::new();
    AXE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "e2e: cannot read {} ({e}): run `npm ci` in e2e/ (scripts/test.sh does)",
                path.display()
            )
        })
    })
}

/// Copies a directory tree (the dist is a handful of files).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The Leptos SSR example (`examples/ssr`), built once per run by `scripts/build-ssr-example.sh`:
/// the server binary and the site root holding its hydrate bundle. `E2E_SSR_SITE=/path` (with
/// `E2E_SSR_BIN=/path/ssr-example`) uses a build made beforehand.
pub fn ssr_example() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        if let (Some(site), Some(bin)) = (
            std::env::var_os("E2E_SSR_SITE"),
            std::env::var_os("E2E_SSR_BIN"),
        ) {
            return Ok((PathBuf::from(bin), PathBuf::from(site)));
        }
        let site = target_dir().join("e2e-ssr-site");
        super::notice("building the Leptos SSR example (scripts/build-ssr-example.sh)");
        let started = Instant::now();
        let output = Command::new(workspace_root().join("scripts/build-ssr-example.sh"))
            .arg(&site)
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .map_err(|e| format!("cannot run scripts/build-ssr-example.sh: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "scripts/build-ssr-example.sh failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let bin = stdout.lines().last().unwrap_or_default().trim().to_owned();
        super::notice(&format!("SSR example built in {:.0?}", started.elapsed()));
        Ok((PathBuf::from(bin), site))
    });
    match built {
        Ok(paths) => paths,
        Err(e) => panic!("e2e: {e}"),
    }
}
