#!/usr/bin/env python3
"""Assembles the release frontend from trunk's two builds (run by scripts/build-release.sh):

    assemble-dist.py DIST RETURN_DIST [PRERENDER]

DIST is trunk's build of index.html (the registration bundle, CSS, sandbox, examples); RETURN_DIST
its build of return.html (the return bundle: success and fail pages). This script

- copies the return bundle into DIST;
- shrinks each bundle's JS/wasm boundary (shrink_boundary): drops the JS stream classes that
  leptos's server-function client exports but a checkout never calls, and gives the ~150 imports
  and exports one- or two-letter names in both the wasm and its glue (binaryen's wasm-opt);
- drops the glue's `initSync` and its deprecated-argument branch (drop_unused_glue): the loader
  never calls them;
- minifies both bundles' JS glue with terser (trunk's own minifier cannot parse wasm-bindgen's
  glue), marks it, the boot script and the loader for eager compilation (EAGER_COMPILE_HINT), and
  records fresh integrity hashes;
- replaces trunk's inline loader and its preloads in index.html with boot-<hash>.js
  (scripts/boot.js), which picks the bundle for the address: the page has no inline script, so
  a strict Content-Security-Policy needs no exception;
- writes the page twice: index.html preloads the registration bundle, return.html (for the success
  and fail paths; billing-server serves it there) the return bundle;
- writes toss-billing-checkout-loader.js, the stable entry for any storefront page: it adds the
  stylesheet, then boots the same way;
- minifies the stylesheets (comments and layout whitespace) and puts them in the page as one
  <style> (a linked stylesheet holds back the first frame for a round trip);
- drops index.html's source comments (they explain the source, not the page);
- with PRERENDER (src/bin/prerender.rs, built natively), puts the registration page's first state
  (busy button, copy, plan summary), rendered by the component itself from index.html's own
  configuration block, in index.html's checkout slot: on screen as soon as the document is
  parsed; the bundle replaces it with the same markup when it mounts.
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
WASM_OPT = os.path.join(ROOT, ".tools/binaryen/node_modules/binaryen/bin/wasm-opt")
# What rustc emits for wasm32 by default (index.html passes the same to trunk's wasm-opt run).
WASM_FEATURES = ["--enable-bulk-memory", "--enable-nontrapping-float-to-int",
                 "--enable-reference-types"]
# wasm-streams' exported classes (leptos -> server_fn -> wasm-streams): JS stream adapters for
# server functions, which a checkout never calls. Exports are kept alive by wasm-bindgen whatever
# the app uses, so they are removed here, with the code only they reached.
UNUSED_EXPORTS = "*intounderlying*"
UNUSED_CLASS = "IntoUnderlying"


def fail(message):
    sys.exit("assemble-dist: " + message)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def sri(path):
    """The Subresource Integrity value of a file. SHA-256, which every browser accepts and whose
    collision resistance (128 bits) is more than a bundle's integrity needs: its base64 is 20
    characters shorter than SHA-384's, and the registration page carries six of them (in the HTML
    and the loader), which no compressor can shrink (~120 B of brotli)."""
    with open(path, "rb") as f:
        return "sha256-" + base64.b64encode(hashlib.sha256(f.read()).digest()).decode()


def minify(path):
    """Minifies an ES module in place with terser (compress + mangle, no comments)."""
    result = subprocess.run(
        ["node", TERSER, path, "--module", "--compress", "passes=2", "--mangle",
         "--comments", "false", "--output", path],
        capture_output=True, text=True)
    if result.returncode != 0:
        fail("terser failed on %s (scripts/bootstrap.sh installs it):\n%s" % (path, result.stderr))


# V8's explicit compile hint (Chromium 136+; a plain comment elsewhere): compile every function of
# the file eagerly, on the background thread that streams it in, instead of on the main thread at
# each function's first call. The loader and the glue run nearly all their functions while the
# checkout starts (the glue's ~120 import shims, each called once by the wasm's start), so that
# work was on the way to a working button: traced at 4x CPU, the main thread's lazy JS compiles fell
# from 166 functions (35 ms) to 43 (11 ms). It has to be the file's first line, after terser
# (which drops comments), and before the integrity hash.
EAGER_COMPILE_HINT = "//# allFunctionsCalledOnLoad\n"


def hint_eager_compile(path):
    """Puts V8's compile-everything-now hint at the top of a minified script."""
    write(path, EAGER_COMPILE_HINT + read(path))


def top_level_statements(js):
    """Splits wasm-bindgen's glue into top-level statements: each starts on a line that is not
    indented and does not close a bracket (the generator's layout, pinned with its version)."""
    chunks = []
    for line in js.splitlines(keepends=True):
        if chunks and (line[:1] in (" ", "\t", "\n", "}", ")", "]") or not line.strip()):
            chunks[-1] += line
        else:
            chunks.append(line)
    return chunks


def read_uleb(data, pos):
    """The unsigned LEB128 number at `pos` of a wasm binary, and the position after it."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def wasm_imports(path):
    """(module, name) of every import of a wasm binary (its import section, read directly)."""
    with open(path, "rb") as f:
        data = f.read()

    def leb(pos):
        return read_uleb(data, pos)

    def name(pos):
        length, pos = leb(pos)
        return data[pos:pos + length].decode(), pos + length

    pos = 8
    while pos < len(data):
        section, pos = data[pos], pos + 1
        size, pos = leb(pos)
        if section != 2:
            pos += size
            continue
        count, pos = leb(pos)
        found = []
        for _ in range(count):
            module, pos = name(pos)
            field, pos = name(pos)
            kind, pos = data[pos], pos + 1
            if kind != 0:
                fail("%s: import %s.%s is not a function; the glue rewrite expects functions only"
                     % (path, module, field))
            _, pos = leb(pos)  # type index
            found.append((module, field))
        return found
    return []


def uleb(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def rename_wasm_imports(path, renamed):
    """Rewrites the field names of a wasm's function imports (old -> new, the module kept); every
    other section is copied as it is (code refers to imports by index, never by name)."""
    with open(path, "rb") as f:
        data = f.read()

    def leb(pos):
        return read_uleb(data, pos)

    out, pos = [data[:8]], 8
    while pos < len(data):
        start, section = pos, data[pos]
        size, body = leb(pos + 1)
        pos = body + size
        if section != 2:
            out.append(data[start:pos])
            continue
        count, at = leb(body)
        entries = [uleb(count)]
        for _ in range(count):
            parts = []
            for _ in range(2):  # module, field
                length, at = leb(at)
                parts.append(data[at:at + length].decode())
                at += length
            described = at
            _, at = leb(at + 1)  # kind (a function: checked by wasm_imports), type index
            module, field = parts[0], renamed.get(parts[1], parts[1])
            for text in (module, field):
                entries.append(uleb(len(text.encode())) + text.encode())
            entries.append(data[described:at])
        if at != pos:
            fail("%s: the import section does not add up" % path)
        section_body = b"".join(entries)
        out.append(bytes([2]) + uleb(len(section_body)) + section_body)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def shrink_boundary(js_path, wasm_path):
    """Removes the unused stream exports, then minifies import/export names in the wasm and
    rewrites the glue to match. Every name is checked: a mismatch fails the build, never the page."""
    result = subprocess.run(
        ["node", WASM_OPT, wasm_path, *WASM_FEATURES,
         "--remove-exports", "--pass-arg=remove-exports@" + UNUSED_EXPORTS, "-Os",
         "--minify-imports-and-exports-and-modules", "-o", wasm_path],
        capture_output=True, text=True)
    if result.returncode != 0:
        fail("wasm-opt failed on %s:\n%s" % (wasm_path, result.stderr))
    mapping = json.loads(result.stdout[result.stdout.index("{"):])
    modules = {module for module, _, _ in mapping["imports"]}
    renamed_imports = {old: new for _, old, new in mapping["imports"]}
    renamed_exports = dict(mapping["exports"])
    actual = wasm_imports(wasm_path)
    new_modules = {module for module, _ in actual}
    if len(modules) != 1 or len(new_modules) != 1 or \
            sorted(field for _, field in actual) != sorted(renamed_imports.values()):
        fail("%s: unexpected import layout after minifying (modules %s -> %s)"
             % (wasm_path, modules, new_modules))
    (old_module,), (new_module,) = modules, new_modules

    js = "".join(chunk for chunk in top_level_statements(read(js_path))
                 if UNUSED_CLASS not in chunk)
    if UNUSED_CLASS.lower() in js.lower():
        fail("%s: %s is still referenced after removing its classes" % (js_path, UNUSED_CLASS))

    def rename_import(entry):
        key = entry.group(1)
        if key not in renamed_imports:
            return ""  # no longer imported: its code went with the removed exports
        return entry.group(0).replace(key, renamed_imports[key], 1)

    # An entry runs to the first line back at its own indentation that closes it (`},` or, for
    # imports wrapped in handleError, `}, arguments); },`).
    # (The names wasm-opt gives may have a `$`.)
    entry = re.compile(r"^        ([\w$]+): function\(.*?^        }[^\n]*\n", re.M | re.S)
    keys = len(re.findall(r"^        (?!__proto__)\w+: ", js, re.M))
    js, entries = entry.subn(rename_import, js)
    if entries != keys or entries < len(renamed_imports):
        fail("%s: matched %d of the glue's %d import entries, for %d imports"
             % (js_path, entries, keys, len(renamed_imports)))
    # Imports whose glue is the same function (`arg0.length` of an array, a node list and a
    # string; `remove()` of an element and of a node) become one: the wasm imports that name
    # several times, the glue defines it once.
    first_with_body, duplicate_of = {}, {}

    def keep_first(match):
        name = match.group(1)
        body = match.group(0)[len("        %s:" % name):]
        if body in first_with_body:
            duplicate_of[name] = first_with_body[body]
            return ""
        first_with_body[body] = name
        return match.group(0)

    js = entry.sub(keep_first, js)
    if duplicate_of:
        rename_wasm_imports(wasm_path, duplicate_of)
    if sorted(set(field for _, field in wasm_imports(wasm_path))) != sorted(first_with_body.values()):
        fail("%s: the wasm's imports and the glue's entries differ after merging duplicates" % wasm_path)
    module_key = '"%s": import0' % old_module
    if js.count(module_key) != 1:
        fail("%s: the imports object for %s not found" % (js_path, old_module))
    js = js.replace(module_key, "%s: import0" % json.dumps(new_module))

    def rename_export(use):
        name = use.group(1)
        if name not in renamed_exports:
            fail("%s: the glue uses wasm.%s, which the wasm no longer exports" % (js_path, name))
        return "wasm." + renamed_exports[name]

    js = re.sub(r"\bwasm\.(\w+)", rename_export, js)
    write(js_path, js)


# What the glue offers that the loader (scripts/boot.js) never uses: it starts a bundle only with
# `init({ module_or_path })`, never `initSync`, never the deprecated positional argument.
GLUE_UNUSED = [
    # (what wasm-bindgen 0.2.130 writes, what it becomes)
    ("export { initSync, __wbg_init as default };", "export { __wbg_init as default };"),
    ("""    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }
""", """    ({module_or_path} = module_or_path);
"""),
    # The loader compiles the wasm itself, as it downloads, and hands over the compiled module
    # (a promise of a WebAssembly.Module): no default file name to fetch, no URL, Request or
    # Response to fetch or compile, only the module to instantiate. (The fallback for a server
    # that sends the wasm with another content type than application/wasm is the loader's too.)
    ("""    if (module_or_path === undefined) {
        module_or_path = new URL('%(stem)s_bg.wasm', import.meta.url);
    }
""", ""),
    ("""    if (typeof module_or_path === 'string' || (typeof Request === 'function' && module_or_path instanceof Request) || (typeof URL === 'function' && module_or_path instanceof URL)) {
        module_or_path = fetch(module_or_path);
    }
""", ""),
    ("""async function __wbg_load(module, imports) {
    if (typeof Response === 'function' && module instanceof Response) {
        if (!module.ok) {
            throw new Error(`failed to fetch Wasm: ${module.status} ${module.statusText} fetching '${module.url}'`);
        }

        if (typeof WebAssembly.instantiateStreaming === 'function') {
            try {
                return await WebAssembly.instantiateStreaming(module, imports);
            } catch (e) {
                const validResponse = expectedResponseType(module.type);

                if (validResponse && module.headers.get('Content-Type') !== 'application/wasm') {
                    console.warn("`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\\n", e);

                } else { throw e; }
            }
        }

        const bytes = await module.arrayBuffer();
        return await WebAssembly.instantiate(bytes, imports);
    } else {
        const instance = await WebAssembly.instantiate(module, imports);

        if (instance instanceof WebAssembly.Instance) {
            return { instance, module };
        } else {
            return instance;
        }
    }

    function expectedResponseType(type) {
        switch (type) {
            case 'basic': case 'cors': case 'default': return true;
        }
        return false;
    }
}
""", """async function __wbg_load(module, imports) {
    return { instance: await WebAssembly.instantiate(module, imports), module };
}
"""),
    # Fallbacks for browsers that cannot run these bundles anyway: the wasm uses reference types
    # (Chrome 96, Firefox 79, Safari 15), and every browser with them has
    # TextEncoder.encodeInto and FinalizationRegistry.
    ("""if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}
""", ""),
    ("""const CLOSURE_DTORS = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(""", """const CLOSURE_DTORS = new FinalizationRegistry("""),
    # Strings into the wasm: every call passes `realloc` (checked in drop_unused_glue), so the
    # branch for a call without it never runs.
    ("""    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

""", ""),
    # Strings out of the wasm: Safari's TextDecoder needs replacing after 2 GiB decoded; a
    # checkout decodes kilobytes.
    ("""const MAX_SAFARI_DECODE_BYTES = 2146435072;
let numBytesDecoded = 0;
function decodeText(bytes) {
    numBytesDecoded += bytes.length;
    if (numBytesDecoded >= MAX_SAFARI_DECODE_BYTES) {
        cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
        cachedTextDecoder.decode();
        numBytesDecoded = bytes.length;
    }
    return cachedTextDecoder.decode(bytes);
}
""", """function decodeText(bytes) {
    return cachedTextDecoder.decode(bytes);
}
"""),
]


def drop_unused_glue(js_path):
    """Removes `initSync`, the deprecated-argument branch, the ways to start from anything but a
    compiled module, two fallbacks for browsers that cannot run the wasm, a string branch no call
    takes and Safari's 2 GiB decoder workaround from a bundle's glue: code that never runs
    here (~300 B of brotli per bundle). Each piece must be found exactly as
    the pinned wasm-bindgen writes it, or the build fails: a newer glue is never changed blindly."""
    js = read(js_path)
    statements = top_level_statements(js)
    kept = [chunk for chunk in statements if not chunk.startswith("function initSync(")]
    if len(kept) != len(statements) - 1:
        fail("%s: initSync not found as one top-level function" % js_path)
    js = "".join(kept)
    stem = os.path.basename(js_path).rsplit("-", 1)[0]
    for before, after in GLUE_UNUSED:
        before = before.replace("%(stem)s", stem)
        if js.count(before) != 1:
            fail("%s: the glue changed; not found once:\n%s" % (js_path, before))
        js = js.replace(before, after)
    if "initSync" in js:
        fail("%s: initSync is still referenced" % js_path)
    # The start function runs once, from init (`__wbindgen_start`): never again from a page.
    js, starts = re.subn(r"^export function start\(\) \{\n    wasm\.[\w$]+\(\);\n\}\n", "", js, flags=re.M)
    if starts != 1:
        fail("%s: the glue changed; its exported start() not found once" % js_path)
    calls = re.findall(r"passStringToWasm0\(([^()]*)\)", js)
    if not calls or any(len(args.split(",")) != 3 for args in calls):
        fail("%s: a passStringToWasm0 call without realloc, whose branch was dropped" % js_path)
    write(js_path, js)


def minify_css(path):
    """Drops comments and layout whitespace. Conservative on purpose: spaces that can mean
    something (selector combinators before a colon, `-`/`+` in calc()) are kept."""
    css = re.sub(r"/\*.*?\*/", "", read(path), flags=re.S)
    if any(re.search(r"\s\s|[{};,>:]", string) for string in re.findall(r'"[^"]*"', css)):
        fail("%s: a quoted string this minifier would change; teach it about strings first" % path)
    css = re.sub(r"\s+", " ", css)
    css = re.sub(r"\s*([{};,>])\s*", r"\1", css)
    css = re.sub(r":\s+", ":", css)
    css = css.replace(";}", "}").strip() + "\n"
    write(path, css)


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


def prerender(html, prerenderer):
    """The registration page's first state, rendered into the page's checkout slot."""
    block = re.search(r'<script type="application/json" id="toss-billing-config">(.*?)</script>', html, re.S)
    slot = '<div data-toss-billing-checkout></div>'
    if not block or slot not in html:
        fail("index.html needs its configuration block and an empty %s to prerender into" % slot)
    result = subprocess.run([prerenderer], input=block.group(1), capture_output=True, text=True)
    if result.returncode != 0:
        fail("prerendering the registration page failed:\n%s" % result.stderr)
    if "<script" in result.stdout:
        fail("the prerendered markup has a script")
    return html.replace(slot, '<div data-toss-billing-checkout data-toss-billing-prerendered>%s</div>' % result.stdout, 1)


def main():
    if len(sys.argv) not in (4, 5):
        fail("usage: assemble-dist.py DIST RETURN_DIST PORTAL_DIST [PRERENDER]")
    dist, return_dist, portal_dist = sys.argv[1:4]
    prerenderer = sys.argv[4] if len(sys.argv) == 5 else None
    index_path = os.path.join(dist, "index.html")
    html, js, wasm = take_bundle(read(index_path), index_path)
    _, return_js, return_wasm = take_bundle(read(os.path.join(return_dist, "index.html")), "return.html")
    _, portal_js, portal_wasm = take_bundle(read(os.path.join(portal_dist, "index.html")), "portal.html")
    for folder, files in ((return_dist, (return_js, return_wasm)), (portal_dist, (portal_js, portal_wasm))):
        for file in files:
            shutil.copyfile(os.path.join(folder, file), os.path.join(dist, file))

    bundles = {}
    for name, (js_file, wasm_file) in {"registration": (js, wasm), "return": (return_js, return_wasm),
                                       "portal": (portal_js, portal_wasm)}.items():
        shrink_boundary(os.path.join(dist, js_file), os.path.join(dist, wasm_file))
        drop_unused_glue(os.path.join(dist, js_file))
        minify(os.path.join(dist, js_file))
        hint_eager_compile(os.path.join(dist, js_file))
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
    # The loader derives each wasm's name from its glue's (trunk names them alike): one hashed
    # name less per bundle in every page's loader.
    for bundle in bundles.values():
        if bundle["wasm"] != bundle["js"][:-len(".js")] + "_bg.wasm":
            fail("%s is not named after its glue %s" % (bundle["wasm"], bundle["js"]))
    boot = boot.replace(placeholder, json.dumps(
        {name: {k: v for k, v in bundle.items() if k != "wasm"} for name, bundle in bundles.items()}))
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
    for script in (boot_path, loader_path):
        hint_eager_compile(script)

    # The page's stylesheets go into the document itself, minified, in one <style> where the first
    # was: a <link> is render-blocking, so the first frame (the prerendered busy button) waited a
    # round trip for two more files (measured: first paint ~40 ms later unthrottled). The files stay
    # for the stable loader, which links the checkout's stylesheet into any page (production-dist.py
    # ships those files and the loader, not these two demo documents). billing-server's CSP allows
    # inline styles (style-src 'self' 'unsafe-inline', server/src/web.rs); a server that serves these
    # documents under `style-src 'self'` would show them unstyled.
    sheets = list(re.finditer(r'<link rel="stylesheet" href="/([^"]+\.css)" integrity="[^"]+"\s*/?>', html))
    if not sheets:
        fail("index.html links no stylesheet")
    inlined = []
    for sheet in sheets:
        path = os.path.join(dist, sheet.group(1))
        minify_css(path)
        inlined.append(read(path).strip())
    if any("</style" in css.lower() for css in inlined):
        fail("a stylesheet contains </style, which would end the inlined <style> early")
    style = "<style>%s</style>" % "".join(inlined)
    html = html.replace(sheets[0].group(0), style, 1)
    for sheet in sheets[1:]:
        html = html.replace(sheet.group(0), "", 1)
    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    # The source's indentation between tags goes (every element these pages put on a line of its
    # own is a block or in the head, where the whitespace shows nowhere), and the configuration
    # block is written compactly: the same JSON for the component and the prerenderer.
    if re.search(r"<(pre|textarea)\b", html):
        fail("index.html has a <pre> or <textarea>, whose whitespace the page would lose")
    html = re.sub(r">\s*\n\s*<", "><", html)
    html = re.sub(r'(<script type="application/json" id="toss-billing-config">)(.*?)(</script>)',
                  lambda block: block.group(1) + json.dumps(json.loads(block.group(2)), ensure_ascii=False,
                                                            separators=(",", ":")).replace("</", "<\\/")
                  + block.group(3), html, count=1, flags=re.S)
    # The loader and the bundle's preloads go last in the body, after the checkout's markup. The
    # parser handles each as it reaches it (a modulepreload compiles the glue there and then);
    # Chromium's parser never yields inside the head, but yields at <body> when the head took
    # longer than its budget (10 ms, which a slow phone spends on these): traced at 4x CPU, the
    # rest of the body then waited ~50 ms, and the first paint with it. The preload scanner finds
    # them all before parsing starts, wherever they are; a module script runs after parsing.
    if html.count("</body>") != 1:
        fail("index.html needs exactly one </body>")
    html = html.replace("</body>", '<script type="module" src="/%s"></script></body>' % boot_name, 1)
    if "<script type=\"module\">" in html or re.search(r"<script(?![^>]*(\bsrc=|type=\"application/json\"))", html):
        fail("index.html still has an inline script")
    # Three documents, identical but for what they preload: index.html the registration bundle,
    # return.html the return bundle (the server gives it on the success and fail paths), and
    # account.html the portal's, with the portal in the checkout's place (the server gives it on
    # /account). The bundle then downloads while the page is still parsing, one round trip earlier
    # than the boot script could ask for it; boot's fetch and import reuse these (same URL, mode
    # and integrity).
    slot = "<div data-toss-billing-checkout></div>"
    if html.count(slot) != 1:
        fail("index.html needs exactly one %s" % slot)
    for name, document in (("registration", "index.html"), ("return", "return.html"), ("portal", "account.html")):
        bundle = bundles[name]
        preloads = (
            '<link rel="modulepreload" href="/%s" integrity="%s">'
            '<link rel="preload" href="/%s" as="fetch" type="application/wasm" crossorigin integrity="%s">'
            % (bundle["js"], bundle["jsIntegrity"], bundle["wasm"], bundle["wasmIntegrity"]))
        page = html.replace("<script type=\"module\" src=", preloads + "<script type=\"module\" src=", 1)
        if name == "portal":
            # The portal's four GETs (its subscription, then its charges, the plans and the
            # cancellation preview at once) start with the page, not after the bundle has
            # downloaded and started: its fetch()es take these responses (same URL, mode and
            # credentials; checked in Chromium: one request each). On a phone's network that is
            # two round trips less before the facts are on screen. The demo's default addresses
            # (portal config subscriptionUrl, plansUrl).
            api_preloads = "".join(
                '<link rel="preload" href="%s" as="fetch" crossorigin>' % url
                for url in ("/api/subscription", "/api/subscription/charges", "/api/plans",
                            "/api/subscription/cancel/preview"))
            page = page.replace(preloads, api_preloads + preloads, 1)
            page = page.replace(slot, "<div data-toss-billing-portal></div>", 1)
            page = re.sub(r"<title>[^<]*</title>", "<title>구독 관리 · Toss billing checkout demo</title>", page, count=1)
        if name != "registration":
            # The success and fail pages never load the Toss SDK, and the portal only when the
            # customer changes the card: drop the page's preload of it.
            page = re.sub(r'\s*<link rel="preload" href="[^"]*" as="script"\s*/?>', "", page)
        elif prerenderer:
            page = prerender(page, prerenderer)
        write(os.path.join(dist, document), page)


main()
