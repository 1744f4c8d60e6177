"""The package's structure: no import cycle inside ihc, no module importing another's private names.

Read from the source with ``ast`` (every import, at module level or inside a function), so a
lazy import counts as much as a top-level one.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "ihc"


def _modules():
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(mods):
    """(edges module -> imported ihc modules, [(module, from module, private name)])."""
    edges, private = {}, []
    for mod, path in mods.items():
        pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg[:len(pkg) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "ihc":
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    if full in mods:  # a submodule
                        edges.setdefault(mod, set()).add(full)
                        continue
                    edges.setdefault(mod, set()).add(target)
                    name = alias.name
                    if name.startswith("_") and not name.startswith("__") and target != mod:
                        private.append((mod, target, name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "ihc":
                        edges.setdefault(mod, set()).add(alias.name)
    return edges, private


def _cycles(edges, mods):
    found = []
    for start in edges:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for t in sorted(edges.get(node, ())):
                if t == start:
                    found.append(path + [t])
                elif t in mods and t not in seen and not start.startswith(t + "."):
                    # a submodule's import of its own package's __init__ is no cycle of interest
                    seen.add(t)
                    stack.append((t, path + [t]))
    return found


def test_no_module_imports_another_modules_private_names():
    mods = _modules()
    _, private = _imports(mods)
    assert private == []


def test_no_import_cycle_inside_ihc():
    mods = _modules()
    edges, _ = _imports(mods)
    assert _cycles(edges, mods) == []


def test_the_checks_can_fail(tmp_path):
    """The two checks above see a private import and a cycle when there is one."""
    pkg = tmp_path / "ihc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import _hidden\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n")
    global ROOT
    saved, ROOT = ROOT, pkg
    try:
        mods = _modules()
        edges, private = _imports(mods)
    finally:
        ROOT = saved
    assert private == [("ihc.a", "ihc.b", "_hidden")]
    assert _cycles(edges, mods)


def test_every_subpackage_is_installed():
    """A package under ihc/ that setup.cfg does not list is missing from `pip install .` (not from an
    editable install, which is why only this test sees it)."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT.parent / "setup.cfg")
    listed = {p.strip() for p in cfg["options"]["packages"].split() if p.strip()}
    found = {"ihc." + p.parent.relative_to(ROOT).as_posix().replace("/", ".")
             for p in ROOT.rglob("__init__.py") if p.parent != ROOT and "__pycache__" not in p.parts}
    assert found - listed == set(), f"add to setup.cfg [options] packages: {sorted(found - listed)}"
