# The compiler of the shipped frontend (sourced by bootstrap.sh and build-release.sh).
#
# A pinned nightly, for two size settings stable Rust lacks: std rebuilt with the page's own profile
# (-Zbuild-std: opt-level "z" and LTO reach into std too), and `-Cpanic=immediate-abort` (no panic
# messages, locations or formatting machinery in the wasm; a panic in wasm kills the page either
# way, and is a bug). Measured: −7.8 KB brotli of wasm (README, "Size and speed"). The date is
# pinned so every machine builds the same bytes; tests, clippy and the server use stable.
RELEASE_TOOLCHAIN=nightly-2026-05-19
# The linker is rust-lld without the exports no checkout calls (scripts/release-linker.sh says
# which and why): −3.0 KB brotli of wasm per bundle.
RELEASE_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Clinker=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/release-linker.sh"
