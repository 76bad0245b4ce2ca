#!/usr/bin/env python3
"""Checks that every file or folder the Markdown documents name exists in the repository.

Looks at relative links, code spans that look like paths (`src/pb.rs`, `tests/interop/`)
and bare file names with a known extension (`trade.rs`, `simulator.md`). A path with a
slash must exist relative to the document or to the repository root; a bare name must be
the name of some file or folder of the repository (paths under `src/` may leave out the
`src/`, as docs/architecture.md does). Paths that git ignores (`.venv/`,
`node_modules/`: made by CI) and bare extensions (`.proto`) are not checked, nor key files (`.pem`), which the docs name
as examples of the user's own. Exits 1 and
lists the missing names when there are any. Run from anywhere: `python3 .ci/doc-paths.py`.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EXTS = ("rs", "md", "py", "mjs", "json", "proto", "toml", "sh", "lock")


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout


files = [p for p in git("ls-files", "-co", "--exclude-standard").split("\n") if p and os.path.exists(os.path.join(ROOT, p))]
names = set()
dirs = set()
for p in files:
    names.add(os.path.basename(p))
    d = os.path.dirname(p)
    while d:
        dirs.add(d)
        names.add(os.path.basename(d))
        d = os.path.dirname(d)
known = set(files) | dirs


def exists(rel):
    rel = os.path.normpath(rel)
    return rel in known or os.path.exists(os.path.join(ROOT, rel))


def ignored(path):
    if path.startswith(".."):
        return False
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, stderr=subprocess.DEVNULL).returncode == 0


missing = []
for doc in sorted(p for p in files if p.endswith(".md")):
    text = open(os.path.join(ROOT, doc), encoding="utf-8").read()
    found = set()
    for m in re.finditer(r"\]\(([^)#\s]+)", text):
        if "://" not in m.group(1) and not m.group(1).startswith("mailto:"):
            found.add(m.group(1))
    for m in re.finditer(r"`([^`\s]+)`", text):
        t = m.group(1)
        if "://" in t or t.startswith("-") or "::" in t or re.search(r"[<>*{}$=(|]", t):
            continue
        if t.endswith(tuple("." + e for e in EXTS)) or re.fullmatch(r"[\w.-]+(/[\w.-]*)+", t):
            found.add(t)
    for m in re.finditer(r"(?<![\w/.`:-])([\w][\w/.-]*\.(?:%s))\b" % "|".join(EXTS), text):
        found.add(m.group(1))
    base = os.path.dirname(doc)
    for t in sorted(found):
        t = t.rstrip(".,:;)")
        if re.fullmatch(r"\.\w+", t):
            continue
        rel = os.path.normpath(os.path.join(base, t))
        if ignored(rel) or ignored(t.strip("/")):
            continue
        if "/" in t.strip("/"):
            ok = exists(rel) or exists(t.lstrip("/")) or exists(os.path.join("src", t))
        else:
            ok = t.strip("/") in names or exists(os.path.join(base, t))
        if not ok:
            missing.append(f"{doc}: {t}")

for m in missing:
    print("names a file that does not exist:", m)
sys.exit(1 if missing else 0)
