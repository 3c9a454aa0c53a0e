#!/usr/bin/env python3
"""No module may import one that imports it back (issue 17).

Reads every crate's src/ as text and draws an edge from a module to each
module whose items it names: `use crate::a::b`, `super::x`, `self::y`, or a
child `child::item`. `pub use` re-exports are a facade, not a dependency,
and `#[cfg(test)] mod tests` blocks are left out. Any strongly connected
group of two or more modules is a circle: printed, exit 1.

    python3 .ci/module_circles.py            # every crate under crates/
    python3 .ci/module_circles.py --self-test
"""
import os
import re
import sys
import tempfile
from collections import defaultdict

REEXPORT = re.compile(r"pub(\([\w ]+\))?\s+use\s[^;]*;")
RELATIVE = re.compile(r"\b((?:crate|super|self)(?:::\w+)+)")
GROUPED = re.compile(r"use\s+(crate|super|self)::\{([^;]*)\};", re.S)
CHILD = re.compile(r"(?<![:\w])(\w+)::[\w{]")


def modules(src):
    found = {}
    for folder, _, files in os.walk(src):
        for f in files:
            if f.endswith(".rs"):
                path = os.path.join(folder, f)
                parts = os.path.relpath(path, src)[:-3].split(os.sep)
                if parts[-1] == "mod":
                    parts = parts[:-1]
                if parts in (["lib"], ["main"]):
                    parts = []
                found[tuple(parts)] = path
    return found


def resolve(mods, cur, segs):
    if segs[0] == "crate":
        base, segs = [], segs[1:]
    elif segs[0] == "super":
        base = list(cur)
        while segs and segs[0] == "super":
            base, segs = base[:-1], segs[1:]
    elif segs[0] == "self":
        base, segs = list(cur), segs[1:]
    else:
        return None
    best = tuple(base) if tuple(base) in mods else None
    for s in segs:
        base.append(s)
        if tuple(base) not in mods:
            break
        best = tuple(base)
    return best


def edges_of(mods):
    edges = defaultdict(set)
    for mod, path in mods.items():
        text = re.sub(r"//.*", "", open(path, encoding="utf-8").read())
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        text = REEXPORT.sub("", text)
        targets = [resolve(mods, mod, m.group(1).split("::")) for m in RELATIVE.finditer(text)]
        for m in GROUPED.finditer(text):
            for part in m.group(2).split(","):
                segs = [s.strip("{} \n") for s in part.split("::") if s.strip("{} \n")]
                if segs:
                    targets.append(resolve(mods, mod, [m.group(1)] + segs))
        for m in CHILD.finditer(text):
            child = mod + (m.group(1),)
            if child in mods:
                targets.append(child)
        edges[mod].update(t for t in targets if t is not None and t != mod)
    return edges


def circles(mods, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

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
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted("::".join(m) or "crate" for m in group))

    for v in list(mods):
        if v not in index:
            visit(v)
    return out


def check(src):
    mods = modules(src)
    return circles(mods, edges_of(mods))


def self_test():
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "a"))
        files = {
            "lib.rs": "mod a;\nmod b;\npub use a::A;\n",
            "a/mod.rs": "mod c;\npub struct A;\nfn f() { c::g(); }\n",
            "a/c.rs": "use super::A;\npub fn g() {}\n",
            "b.rs": "use crate::a::A;\n",
        }
        for name, body in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(body)
        found = check(d)
        assert found == [["a", "a::c"]], found
        # Breaking the circle clears it.
        with open(os.path.join(d, "a/c.rs"), "w") as f:
            f.write("pub fn g() {}\n")
        assert check(d) == [], check(d)
    print("module_circles self-test ok")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return 0
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates")
    bad = 0
    for crate in sorted(os.listdir(root)):
        src = os.path.join(root, crate, "src")
        if os.path.isdir(src):
            for group in check(src):
                print(f"circle in crates/{crate}: {' <-> '.join(group)}")
                bad += 1
    if bad:
        return 1
    print("no module imports one that imports it back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
