#!/usr/bin/env python3
"""Trunk post-build hook: move trunk's inline module loader into its own file, and write a stable
embedding entry point.

Trunk writes the wasm bootstrap as an inline <script type="module"> in index.html. A storefront with
a strict Content-Security-Policy (no 'unsafe-inline' for scripts) would block it, so the page would
render nothing. This hook writes the same code to boot-<hash>.js next to it and references it by
src, so the built page needs no inline script at all.

It also writes toss-billing-checkout-loader.js, a stable name for storefront pages that are not this
index.html: it adds the (hashed) stylesheet, then boots the same wasm (see examples/).
"""
import hashlib
import os
import re
import sys

staging = os.environ.get("TRUNK_STAGING_DIR")
if not staging:
    sys.exit("externalize-loader: TRUNK_STAGING_DIR is not set (run me as a trunk hook)")
index_path = os.path.join(staging, "index.html")
with open(index_path, encoding="utf-8") as f:
    html = f.read()

inline = re.compile(r"<script type=\"module\"(?: nonce=\"[^\"]*\")?>(.*?)</script>", re.S)
match = inline.search(html)
if not match:
    sys.exit("externalize-loader: no inline module loader found in index.html")
code = match.group(1).strip() + "\n"
name = "boot-%s.js" % hashlib.sha256(code.encode()).hexdigest()[:16]
with open(os.path.join(staging, name), "w", encoding="utf-8") as f:
    f.write(code)
html = html[: match.start()] + '<script type="module" src="/%s"></script>' % name + html[match.end():]
if inline.search(html):
    sys.exit("externalize-loader: more than one inline module script; refusing to guess")
with open(index_path, "w", encoding="utf-8") as f:
    f.write(html)

css = re.search(r'<link rel="stylesheet" href="(/checkout-[^"]+\.css)"', html)
if not css:
    sys.exit("externalize-loader: no stylesheet link found in index.html")
loader = (
    "// Stable entry point for embedding the checkout in any page: adds the stylesheet, then boots.\n"
    "const css = %r;\n"
    "if (!document.querySelector(`link[href=\"${css}\"]`)) {\n"
    "  const link = document.createElement(\"link\");\n"
    "  link.rel = \"stylesheet\";\n"
    "  link.href = css;\n"
    "  document.head.append(link);\n"
    "}\n" % css.group(1)
) + code
with open(os.path.join(staging, "toss-billing-checkout-loader.js"), "w", encoding="utf-8") as f:
    f.write(loader)
