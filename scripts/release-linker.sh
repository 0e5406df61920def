#!/usr/bin/env bash
# The release build's linker (RELEASE_RUSTFLAGS in scripts/release-env.sh): rust-lld, without the
# exports of wasm-streams' JS stream classes (leptos -> server_fn -> wasm-streams, for streaming
# server functions, which a checkout never calls). rustc exports every #[wasm_bindgen] function,
# so the linker keeps them and everything they reach. Removing the exports after linking
# (wasm-opt) is too late: their closures stay in the function table, ~7 KB of code per bundle.
# Not exported, they are never linked. Their `__wbindgen_describe_*` twins stay: wasm-bindgen
# reads those, finds no export and writes no glue for them.
set -euo pipefail
lld="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/rust-lld"
unused() { [[ $1 == *intounderlying* ]]; }
args=()
while (($#)); do
  if [[ $1 == --export ]] && unused "${2-}"; then
    shift 2
  elif [[ $1 == --export=* ]] && unused "${1#--export=}"; then
    shift
  else
    args+=("$1")
    shift
  fi
done
exec "$lld" "${args[@]}"
