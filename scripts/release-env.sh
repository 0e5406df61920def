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
# std's `optimize_for_size` feature (with -Zbuild-std): the smaller of core's and alloc's
# implementations where there are two (char counting, integer formatting, sorting). Measured on
# 2026-12-03: registration wasm 48,693 → 48,559 B brotli, the success page's 55,996 → 55,697.
# Setting it replaces build-std's default features (backtrace, panic-unwind): neither is used here
# (immediate-abort). Every release build sets it alike (build-release.sh, build-ssr-example.sh,
# bench.sh), so they share one std in target/shipping.
RELEASE_BUILD_STD_FEATURES=optimize_for_size
