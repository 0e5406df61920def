#!/usr/bin/env python3
"""The production frontend: what a merchant deploys, taken from a release build.

    production-dist.py RELEASE_DIST OUT

Copies only the component: the stable loader (toss-billing-checkout-loader.js), the boot script,
both bundles (JS glue + wasm, and their precompressed .br/.gz if present) and the component's
stylesheet. Not copied: the demo shop's pages (index.html, return.html: their configuration block
holds the demo defaults — the docs test client key, the sandbox SDK URL), the demo stylesheet,
sandbox/ (the offline stand-in for Toss's SDK) and examples/. Then it checks what it wrote:
no file or string of the demo is left (the docs test keys, the sandbox SDK, the demo's customer
name, a path into sandbox/ or examples/), and fails loudly if one is.
"""
import os
import re
import shutil
import sys

SHIPPED = [
    re.compile(r"^toss-billing-checkout-loader\.js$"),
    re.compile(r"^boot-[0-9a-f]{16}\.js$"),
    re.compile(r"^toss-billing-(checkout|return)-[0-9a-f]{16}(_bg\.wasm|\.js)$"),
    re.compile(r"^checkout-[0-9a-f]{16}\.css$"),
]
# What only the demo has: the public docs test keys, the sandbox SDK, the demo customer.
FORBIDDEN = [b"D5GePWvyJnrK0W0k6q8gLzN97Eoq", b"zXLkKEypNArWmo50nX3lmeaxYG5R",
             b"tosspayments-sandbox", b"/sandbox/", b"/examples/", "김토스".encode()]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: production-dist.py RELEASE_DIST OUT")
    source, out = sys.argv[1], sys.argv[2]
    if not os.path.isfile(os.path.join(source, "toss-billing-checkout-loader.js")):
        sys.exit("production-dist: %s is not a release build (scripts/build-release.sh)" % source)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    copied = []
    for name in sorted(os.listdir(source)):
        base = re.sub(r"\.(br|gz)$", "", name)
        if os.path.isfile(os.path.join(source, name)) and any(p.match(base) for p in SHIPPED):
            shutil.copy2(os.path.join(source, name), os.path.join(out, name))
            copied.append(name)
    kinds = {"loader": r"loader\.js", "boot": r"^boot-", "registration": r"checkout-[0-9a-f]+_bg\.wasm",
             "return": r"return-[0-9a-f]+_bg\.wasm", "stylesheet": r"^checkout-[0-9a-f]+\.css"}
    for kind, pattern in kinds.items():
        if not any(re.search(pattern, name) for name in copied):
            sys.exit("production-dist: the release build has no %s" % kind)
    for name in copied:
        with open(os.path.join(out, name), "rb") as f:
            data = f.read()
        for needle in FORBIDDEN:
            if needle in data:
                sys.exit("production-dist: %s contains %r, which only the demo may" % (name, needle))
    print("\n".join(copied))


if __name__ == "__main__":
    main()
