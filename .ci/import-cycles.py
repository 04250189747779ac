#!/usr/bin/env python3
"""Finds file-level import cycles in the workspace's crates, and imports between `bot` and `web`.

A file imports another when it names an item of it: `use crate::a::b`, `use super::x`, a path
such as `crate::a::b::f()` in code, or a child module's item (`use child::Item`). A path
through a module that only re-exports (`pub use other::Item`) counts as an import of the file
that defines the item. Declaring a child (`mod child;`) is not an import. Code after the first
`#[cfg(test)]` of a file (its unit tests, by house convention at the end) is not read.

Prints every cycle (a strongly connected set of files) and exits 1 when there is one, or when
`chatters-bot` and `chatters-web` import each other; exits 0 otherwise.

Usage: .ci/import-cycles.py [repo root]
"""

import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
CRATES = {"chatters": "src", "chatters_core": "core/src", "chatters_bot": "bot/src", "chatters_web": "web/src"}

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """Source without comments, string and char literals, nor the unit tests at the end."""
    cut = re.search(r"^\s*#\[cfg\(test\)\]", text, re.M)
    if cut:
        text = text[: cut.start()]
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            i = n if j < 0 else j + len(end)
            out.append('""')
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", text[i:]).group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(rel):
    """Module path of a file relative to its crate's src dir (`None` for a binary root)."""
    parts = rel[:-3].split("/")
    if parts == ["lib"]:
        return ()
    if parts == ["main"]:
        return None
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)


def expand_use(tree):
    """`a::{b, c::{d, e as f}, self}` -> [[a, b], [a, c, d], [a, c, e], [a]]."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix, t):
        depth, parts, cur = 0, [], ""
        if t.startswith("{") and t.endswith("}"):
            for ch in t[1:-1]:
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                if ch == "," and depth == 0:
                    parts.append(cur)
                    cur = ""
                else:
                    cur += ch
            parts.append(cur)
            for p in parts:
                if p:
                    walk(prefix, p)
            return
        m = re.match(r"^((?:%s::)*)(.*)$" % IDENT, t)
        head = [s for s in m.group(1).split("::") if s]
        rest = m.group(2)
        if rest.startswith("{"):
            walk(prefix + head, rest)
        else:
            # `name as alias` (spaces were removed): the path names `name`.
            m = re.match(r"^(%s)as%s$" % (IDENT, IDENT), rest)
            name = m.group(1) if m and rest not in ("as",) and not re.match(r"^%s$" % IDENT, rest) else rest
            if name == "self":
                out.append(prefix + head)
            elif name:
                out.append(prefix + head + [name])

    walk([], tree)
    return out


class Crate:
    def __init__(self, name, src):
        self.name = name
        self.files = {}  # module path -> relative file
        self.reexports = {}  # module path -> {name: absolute path}
        self.paths = {}  # module path -> [raw paths]
        for dirpath, _, names in os.walk(os.path.join(ROOT, src)):
            for f in names:
                if f.endswith(".rs"):
                    rel = os.path.relpath(os.path.join(dirpath, f), os.path.join(ROOT, src))
                    mod = module_of(rel)
                    if mod is not None:
                        self.files[mod] = os.path.join(src, rel)
        for mod, rel in self.files.items():
            text = strip(open(os.path.join(ROOT, rel), encoding="utf-8").read())
            raw, re_exports = [], {}
            for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", text):
                for path in expand_use(m.group(2)):
                    raw.append(path)
                    if m.group(1) and path:
                        re_exports[path[-1]] = path
            code = re.sub(r"\buse\s+[^;]+;", "", text)
            for m in re.finditer(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:::%s)+)" % IDENT, code):
                raw.append(m.group(1).split("::"))
            self.paths[mod] = raw
            self.reexports[mod] = re_exports

    def absolute(self, mod, path):
        """The path made absolute from module `mod`, or `None` when it leaves the crate."""
        path = list(path)
        if not path:
            return None
        if path[0] == "crate":
            return path[1:]
        if path[0] in ("super", "self"):
            base = list(mod)
            while path and path[0] in ("super", "self"):
                if path[0] == "super":
                    if not base:
                        return None
                    base.pop()
                path.pop(0)
            return base + path
        if tuple(list(mod) + [path[0]]) in self.files:
            return list(mod) + path
        return None

    def resolve(self, path, depth=0):
        """The file defining what an absolute path names."""
        for k in range(len(path), -1, -1):
            mod = tuple(path[:k])
            if mod in self.files:
                if k < len(path) and depth < 8:
                    target = self.reexports.get(mod, {}).get(path[k])
                    if target is not None:
                        absolute = self.absolute(mod, target)
                        if absolute is not None:
                            return self.resolve(absolute + path[k + 1 :], depth + 1)
                return mod
        return None

    def edges(self):
        graph = {m: set() for m in self.files}
        for mod, raw in self.paths.items():
            for path in raw:
                absolute = self.absolute(mod, path)
                if absolute is None:
                    continue
                target = self.resolve(absolute)
                if target is not None and target != mod:
                    graph[mod].add(target)
        return graph


def cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            if len(comp) > 1:
                out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    failed = False
    for name, src in CRATES.items():
        if not os.path.isdir(os.path.join(ROOT, src)):
            continue
        crate = Crate(name, src)
        graph = crate.edges()
        for comp in cycles(graph):
            failed = True
            files = sorted(crate.files[m] for m in comp)
            print(f"cycle in {name}: " + " <-> ".join(files))
            for m in sorted(comp):
                inside = sorted(crate.files[t] for t in graph[m] if t in comp)
                print(f"    {crate.files[m]} uses {', '.join(inside)}")
    for a, b in (("bot", "chatters_web"), ("web", "chatters_bot")):
        for dirpath, _, names in os.walk(os.path.join(ROOT, a)):
            for f in names:
                if f.endswith((".rs", ".toml")):
                    p = os.path.join(dirpath, f)
                    text = open(p, encoding="utf-8").read()
                    if b in text or b.replace("_", "-") in text:
                        failed = True
                        print(f"{os.path.relpath(p, ROOT)} names {b}: bot and web must not import each other")
    if not failed:
        print("no import cycles; bot and web independent")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
