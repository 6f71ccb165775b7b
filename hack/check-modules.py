#!/usr/bin/env python3
"""Fails when a source file of src/ imports, directly or through others, a module that imports it
back, and prints each such cycle once. `make lint` runs it.

An edge goes from a file to the file that *defines* the item it names (re-exports are followed),
so a parent's `pub use child::X` facade is no edge, while a child's `use super::X` of an item the
parent defines is one. Test modules (`#[cfg(test)]` and below) are left out. A reading of Rust
paths by regular expressions: good for this crate's style, not a Rust parser."""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
REEXPORT = re.compile(r"^\s*pub(?:\([\w:]+\))? use [^;]*;", re.M)
DEFINITION = re.compile(
    r"^\s*(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?"
    r"(?:struct|enum|fn|const|trait|type|static|macro_rules!)\s+(\w+)",
    re.M,
)
CHILD = re.compile(r"^\s*(?:pub(?:\([\w:]+\))? )?mod (\w+);", re.M)


def module_of(path):
    """('image', 'decide') for src/image/decide.rs; ('image',) for src/image/mod.rs."""
    parts = os.path.relpath(path, SRC)[:-3].split(os.sep)
    return tuple(parts[:-1] if parts[-1] in ("mod", "lib") else parts)


def load():
    files = {}
    for folder, _, names in os.walk(SRC):
        for name in names:
            if name.endswith(".rs") and name != "main.rs":
                path = os.path.join(folder, name)
                with open(path) as f:
                    files[module_of(path)] = f.read().split("#[cfg(test)]")[0]
    return files


def defining_module(files, module, name, depth=0):
    """The module that defines `name`, reached as `module::name` (through re-exports)."""
    text = files.get(module)
    if text is None or depth > 5:
        return module
    if name in set(DEFINITION.findall(REEXPORT.sub("", text))):
        return module
    if module + (name,) in files:
        return module + (name,)
    for m in re.finditer(r"pub(?:\([\w:]+\))? use ([\w:]+)::(?:\{([^}]*)\}|(\w+)|\*)", text):
        path = m.group(1).split("::")
        names = [n.strip().split(" as ")[-1] for n in (m.group(2) or m.group(3) or "*").split(",")]
        if name in names or "*" in names:
            base = [] if path[0] == "crate" else list(module[:-1]) if path[0] == "super" else list(module)
            target = tuple(base + [p for p in path if p not in ("crate", "super", "self")])
            if target in files:
                return defining_module(files, target, name, depth + 1)
    return module


def imports(files, module):
    """The modules whose items `module` uses."""
    text = REEXPORT.sub("", files[module])
    heads = ["crate", "super", "self"] + CHILD.findall(text)
    found = set()
    for path in re.findall(r"\b((?:%s)(?:::\w+)+(?:::\{[^}]*\})?)" % "|".join(heads), text):
        head, _, braced = re.sub(r"\s", "", path).partition("::{")
        parts = head.split("::")
        base = list(module)
        if parts[0] == "crate":
            base, parts = [], parts[1:]
        elif parts[0] in ("super", "self"):
            base, parts = (base[:-1] if parts[0] == "super" else base), parts[1:]
        while parts and parts[0] == "super":
            base, parts = base[:-1], parts[1:]
        if braced:
            names = [n.split("::")[0].split(" as ")[0] for n in braced.rstrip("}").split(",")]
        else:
            names = [parts.pop()] if parts else []
        target = tuple(base + parts)
        while target and target not in files:
            names, target = [target[-1]], target[:-1]
        for name in names:
            owner = target if name in ("self", "*", "") else defining_module(files, target, name)
            if owner != module:
                found.add(owner)
    return found


def cycles(graph):
    seen = set()
    def walk(module, stack):
        for dep in graph.get(module, ()):
            if dep in stack:
                cycle = stack[stack.index(dep):]
                key = tuple(sorted(cycle))
                if key not in seen:
                    seen.add(key)
                    yield cycle + [dep]
            elif len(stack) < 14:
                yield from walk(dep, stack + [dep])
    for module in sorted(graph):
        yield from walk(module, [module])


def main():
    files = load()
    graph = {module: imports(files, module) for module in files}
    found = list(cycles(graph))
    for cycle in found:
        print("cycle:", " -> ".join("::".join(m) or "crate" for m in cycle))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
