#!/usr/bin/env node
// Sums `twiggy top --format json` (shallow sizes of every item) by crate, so size work is aimed.
//   twiggy top -n 1000000 --format json app.wasm | node bench/twiggy-crates.mjs [top-n]
// A function is put in the crate its demangled path starts with; for a generic instantiation
// (`<a::T as b::Trait>::f`) the crate of the trait impl's type, `a`. Data and wasm sections are
// reported as they are.
import { readFileSync } from "node:fs";

const top = Number(process.argv[2] || 25);
// The name section is what this build keeps and the shipped one does not: left out.
const items = JSON.parse(readFileSync(0, "utf8")).filter((i) => !/names" subsection$/.test(i.name));
const total = items.reduce((n, i) => n + i.shallow_size, 0);

function crateOf(name) {
  if (/^data\[\d+\]$|^data segment/.test(name)) return "(static data: strings, panic locations, tables)";
  if (/^(code|data|type|import|export|elem|table|memory|global|start|"?custom"?)\b/.test(name) || /section/.test(name))
    return "(wasm sections/headers)";
  if (/^(import|export) /.test(name)) return "(imports/exports)";
  let s = name.replace(/^(&|\*const |\*mut |dyn )+/, "");
  // `<T as Trait>::f` or `<T>::f`: take T
  while (s.startsWith("<")) s = s.slice(1).replace(/^(&|\*const |\*mut |dyn |mut )+/, "");
  // `<T as tachys::…>` with T a bare generic parameter: the trait's crate.
  const generic = s.match(/^[A-Z][A-Za-z0-9]* as (?:&|dyn |mut )*(.*)$/);
  if (generic) s = generic[1];
  // std's crates are mangled with a hash: `core[c5930c85a12de822]::…`
  const m = s.match(/^([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::/);
  if (m) {
    const c = m[1];
    if (["core", "alloc", "std", "dlmalloc", "__rustc", "compiler_builtins", "panic_abort"].includes(c)) return "std (core/alloc/std, allocator)";
    if (c === "__wbindgen" || c.startsWith("__wbg")) return "wasm-bindgen glue";
    return c.replace(/_/g, "-");
  }
  if (/^__wbg|^__wbindgen|^__externref|externref shim|^wasm_bindgen/.test(s)) return "wasm-bindgen glue";
  if (/^(dlmalloc|__rust_alloc|__rdl|__rg|memcpy|memset|memmove|memcmp|__multi3|__udivti3|__divti3|compiler_builtins)/.test(s)) return "std (core/alloc/std, allocator)";
  if (/^(char|str|u8|usize|isize|i32|u32|i64|u64|f64|bool|\[)/.test(s)) return "std (core/alloc/std, allocator)";
  return "(unnamed/other)";
}

const byCrate = new Map();
for (const item of items) {
  const c = crateOf(item.name);
  const e = byCrate.get(c) || { size: 0, count: 0 };
  e.size += item.shallow_size;
  e.count += 1;
  byCrate.set(c, e);
}
const rows = [...byCrate.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, top);
console.log(`| crate | bytes (shallow, raw) | share | items |`);
console.log(`|---|---:|---:|---:|`);
for (const [c, e] of rows) console.log(`| ${c} | ${e.size.toLocaleString("en-US")} | ${((100 * e.size) / total).toFixed(1)}% | ${e.count} |`);
console.log(`| **total** | **${total.toLocaleString("en-US")}** | 100% | ${items.length} |`);
