#!/usr/bin/env python3
"""Checks that no two source files import each other, directly or through others.

The graph is file-level: file A imports file B when A's code names an item that B
defines. What counts as an import of A:

* every path in A's code that starts with `crate::`, `self::`, `super::` (any number) or
  with the name of a child module A declares (`mod x;`), in `use` lines (brace groups
  such as `a::{b, c::{d, e}}` expanded, `as` renames dropped) and inline
  (`super::session::Session`, `crate::pb::proto::X`);
* the path is resolved to the file that defines the item: module by module, following
  the `pub use` re-exports of a mod.rs or lib.rs (`crate::context::QuoteContext` is
  an import of `context/quote.rs`, not of `context/mod.rs`); a path that ends in a module
  (`use super::core;`, a glob `::*`) imports that module's file.

What does not count: comments (doc comments and their intra-doc links included) and
string literals; `#[cfg(test)] mod NAME { ... }` blocks (a test may use anything); the
`mod x;` and `pub use x::...;` lines of a mod.rs or lib.rs, which declare and
re-export rather than import (in any other file a `pub use` is an import); paths of
other crates (`std::`, `parking_lot::`); `src/bin/`, whose files are crates of their
own. A file naming its own items is no edge.

Prints every strongly connected component of more than one file (a circle: each file in
it imports every other one, directly or through others) and exits 1 when there is one;
with `-v` it first prints each file's imports. Usage, from anywhere:

    python3 .ci/import-circles.py [-v] [SRC_DIR]   # SRC_DIR defaults to the crate's src/
"""
import os
import re
import sys

ARGS = [a for a in sys.argv[1:] if a != "-v"]
VERBOSE = "-v" in sys.argv[1:]
ROOT = ARGS[0] if ARGS else os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

# module path (tuple of segments from the crate root) -> file
files = {}
for d, _, fs in os.walk(ROOT):
    if os.path.relpath(d, ROOT).split(os.sep)[0] == "bin":
        continue
    for f in fs:
        if f.endswith(".rs"):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, ROOT)[:-3].split(os.sep)  # ['sim', 'market', 'mod']
            mod = rel[:-1] if rel[-1] in ("mod", "lib") else rel
            files[tuple(mod)] = p

TEST_BLOCK = re.compile(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")


def strip(src):
    """The code of a file: comments, string and char literals and test blocks removed."""
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i)
            i = n if j < 0 else j + 2
        elif src[i] == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif src.startswith('r#"', i):
            j = src.find('"#', i + 3)
            out.append('""')
            i = n if j < 0 else j + 2
        elif src[i] == "'" and i + 2 < n and (src[i + 2] == "'" or (src[i + 1] == "\\" and src.find("'", i + 2) - i < 8)):
            j = src.find("'", i + 2 if src[i + 1] != "\\" else i + 3)
            out.append("' '")
            i = j + 1
        else:
            out.append(src[i])
            i += 1
    s = "".join(out)
    m = TEST_BLOCK.search(s)
    while m:  # drop the block, braces balanced
        depth, j = 1, m.end()
        while j < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            j += 1
        s = s[: m.start()] + s[j:]
        m = TEST_BLOCK.search(s)
    return s


def expand(prefix, body):
    """The paths of a use tree such as `a::{b, c::{d, e}}`, each a list of segments."""
    body = body.strip()
    if not body:
        return []
    if body.startswith("{") and body.endswith("}"):
        parts, depth, cur = [], 0, ""
        for ch in body[1:-1]:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            cur += ch
        parts.append(cur)
        res = []
        for p in parts:
            res += expand(prefix, p)
        return res
    m = re.match(r"([\w:]*?)(::)?(\{.*\})$", body, re.S)
    if m and m.group(3):
        return expand(prefix + [x for x in m.group(1).split("::") if x], m.group(3))
    body = re.sub(r"\s+as\s+\w+$", "", body)
    return [prefix + [x for x in body.split("::") if x]]


srcs = {m: strip(open(p, encoding="utf-8").read()) for m, p in files.items()}
children = {m: set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", s, re.M)) for m, s in srcs.items()}
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)


def absolute(mod, path):
    """`path` as seen from module `mod`, from the crate root; None if not this crate's."""
    path = list(path)
    if path[0] == "crate":
        return path[1:]
    base = list(mod)
    if path[0] == "self":
        path = path[1:]
    elif path[0] == "super":
        while path and path[0] == "super":
            base = base[:-1]
            path = path[1:]
    elif path[0] not in children.get(mod, ()):
        return None
    return base + path


def reexports(mod):
    """name -> absolute path, for the `pub use` lines of module `mod`."""
    res = {}
    for m in USE.finditer(srcs.get(mod, "")):
        if not m.group(1):
            continue
        for p in expand([], m.group(2)):
            if p:
                res[p[-1]] = absolute(mod, p)
    return res


def resolve(absp, depth=0):
    """The module of the file that defines `absp` (segments from the crate root)."""
    if absp is None or depth > 10:
        return None
    cur = []
    for i, seg in enumerate(absp):
        if tuple(cur + [seg]) in files:
            cur = cur + [seg]
            continue
        if seg == "*":
            return tuple(cur)
        rx = reexports(tuple(cur))
        if rx.get(seg) is not None:
            return resolve(rx[seg] + absp[i + 1 :], depth + 1)
        return tuple(cur)
    return tuple(cur)


edges = {}
for mod, s in srcs.items():
    tgt = set()
    is_modrs = files[mod].endswith(("mod.rs", "lib.rs"))
    for m in USE.finditer(s):
        if is_modrs and m.group(1):
            continue  # a re-export of a mod.rs: a declaration
        for p in expand([], m.group(2)):
            if p and (p[0] in ("crate", "self", "super") or p[0] in children[mod]):
                r = resolve(absolute(mod, p))
                if r is not None:
                    tgt.add(r)
    body = USE.sub("", s)
    body = re.sub(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*;", "", body, flags=re.M)
    for m in re.finditer(r"(?<![\w:])((?:crate|self|super(?:::super)*|[a-z_]\w*)(?:::\w+)+)", body):
        p = m.group(1).split("::")
        if p[0] not in ("crate", "self", "super") and p[0] not in children[mod]:
            continue
        r = resolve(absolute(mod, p))
        if r is not None:
            tgt.add(r)
    tgt.discard(mod)
    edges[mod] = tgt


def name(m):
    return os.path.relpath(files[m], ROOT)


if VERBOSE:
    for m in sorted(edges, key=name):
        print(f"{name(m):28} -> {', '.join(sorted(name(t) for t in edges[m]))}")
    print()

# Strongly connected components (Tarjan).
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        sccs.append(comp)


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        visit(v)
circles = sorted(sorted(name(x) for x in comp) for comp in sccs if len(comp) > 1)
for c in circles:
    print("CIRCLE:", " <-> ".join(c))
if circles:
    print(f"{len(circles)} import circle(s) among the files of {ROOT} (run with -v for each file's imports)")
    sys.exit(1)
print(f"no import circles among the {len(edges)} files of {ROOT}")
