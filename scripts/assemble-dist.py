#!/usr/bin/env python3
"""Assembles the release frontend from trunk's two builds (run by scripts/build-release.sh):

    assemble-dist.py DIST RETURN_DIST

DIST is trunk's build of index.html (the registration bundle, CSS, sandbox, examples); RETURN_DIST
its build of return.html (the return bundle: success and fail pages). This script

- copies the return bundle into DIST;
- minifies both bundles' JS glue with terser (trunk's own minifier cannot parse wasm-bindgen's
  glue), and records fresh integrity hashes;
- replaces trunk's inline loader and its preloads in index.html with boot-<hash>.js
  (scripts/boot.js), which picks the bundle for the address: the page has no inline script, so
  a strict Content-Security-Policy needs no exception;
- writes toss-billing-checkout-loader.js, the stable entry for any storefront page: it adds the
  stylesheet, then boots the same way;
- drops index.html's source comments (they explain the source, not the page).
"""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TERSER = os.path.join(ROOT, ".tools/terser/node_modules/terser/bin/terser")


def fail(message):
    sys.exit("assemble-dist: " + message)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def sri(path):
    with open(path, "rb") as f:
        return "sha384-" + base64.b64encode(hashlib.sha384(f.read()).digest()).decode()


def minify(path):
    """Minifies an ES module in place with terser (compress + mangle, no comments)."""
    result = subprocess.run(
        ["node", TERSER, path, "--module", "--compress", "passes=2", "--mangle",
         "--comments", "false", "--output", path],
        capture_output=True, text=True)
    if result.returncode != 0:
        fail("terser failed on %s (scripts/bootstrap.sh installs it):\n%s" % (path, result.stderr))


LOADER = re.compile(r'\s*<script type="module"(?: nonce="[^"]*")?>.*?</script>', re.S)
MODULE = re.compile(r'<link rel="modulepreload" href="/([^"]+\.js)"[^>]*>')
WASM = re.compile(r'<link rel="preload" href="/([^"]+_bg\.wasm)"[^>]*as="fetch"[^>]*>')


def take_bundle(html, name):
    """Finds trunk's loader and preloads in `html`; returns the html without them and the files."""
    found = [pattern.findall(html) for pattern in (LOADER, MODULE, WASM)]
    if [len(f) for f in found] != [1, 1, 1]:
        fail("%s: expected one inline loader, one modulepreload and one wasm preload from trunk, "
             "found %s" % (name, [len(f) for f in found]))
    for pattern in (LOADER, MODULE, WASM):
        html = pattern.sub("", html)
    return html, found[1][0], found[2][0]


def main():
    if len(sys.argv) != 3:
        fail("usage: assemble-dist.py DIST RETURN_DIST")
    dist, return_dist = sys.argv[1:]
    index_path = os.path.join(dist, "index.html")
    html, js, wasm = take_bundle(read(index_path), index_path)
    _, return_js, return_wasm = take_bundle(read(os.path.join(return_dist, "index.html")), "return.html")
    for file in (return_js, return_wasm):
        shutil.copyfile(os.path.join(return_dist, file), os.path.join(dist, file))

    bundles = {}
    for name, (js_file, wasm_file) in {"registration": (js, wasm), "return": (return_js, return_wasm)}.items():
        minify(os.path.join(dist, js_file))
        bundles[name] = {
            "js": js_file,
            "jsIntegrity": sri(os.path.join(dist, js_file)),
            "wasm": wasm_file,
            "wasmIntegrity": sri(os.path.join(dist, wasm_file)),
        }

    boot = read(os.path.join(ROOT, "scripts/boot.js"))
    placeholder = "/* filled in by assemble-dist.py */ {}"
    if placeholder not in boot:
        fail("scripts/boot.js lost its BUNDLES placeholder")
    boot = boot.replace(placeholder, json.dumps(bundles))
    boot_name = "boot-%s.js" % hashlib.sha256(boot.encode()).hexdigest()[:16]
    boot_path = os.path.join(dist, boot_name)
    write(boot_path, boot)
    minify(boot_path)

    css = re.search(r'<link rel="stylesheet" href="/(checkout-[^"]+\.css)"', html)
    if not css:
        fail("no checkout stylesheet link in index.html")
    loader = (
        "// Stable entry point for embedding the checkout in any page: adds the stylesheet, then boots.\n"
        "const css = new URL(%s, import.meta.url).href;\n"
        "if (![...document.querySelectorAll('link[rel=\"stylesheet\"]')].some((link) => link.href === css)) {\n"
        "  document.head.append(Object.assign(document.createElement(\"link\"), { rel: \"stylesheet\", href: css }));\n"
        "}\n" % json.dumps(css.group(1))
    ) + read(boot_path)
    loader_path = os.path.join(dist, "toss-billing-checkout-loader.js")
    write(loader_path, loader)
    minify(loader_path)

    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    html = re.sub(r"\n\s*\n", "\n", html)
    html = html.replace("</head>", '<script type="module" src="/%s"></script></head>' % boot_name, 1)
    if "<script type=\"module\">" in html or re.search(r"<script(?![^>]*(\bsrc=|type=\"application/json\"))", html):
        fail("index.html still has an inline script")
    write(index_path, html)


main()
