"""The library stays thin: the paper's core imports nothing from the machinery around it, files
and functions stay short, and ``__all__`` lists only a package's face."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "basnet_lib"
# The paper: the model's blocks, the joint loss, the image-gradient map, the metrics and the
# Cityscapes-layout reader (with the package faces that importing them runs).
CORE = (
    "basnet_lib/__init__.py",
    "basnet_lib/model/",
    "basnet_lib/loss.py",
    "basnet_lib/gradient_map.py",
    "basnet_lib/config_checks.py",
    "basnet_lib/metrics/",
    "basnet_lib/data/__init__.py",
    "basnet_lib/data/cityscapes.py",
    "basnet_lib/data/config.py",
    "basnet_lib/data/edges.py",
    "basnet_lib/data/errors.py",
    "basnet_lib/data/labels.py",
    "basnet_lib/data/png_io.py",
    "basnet_lib/data/transforms.py",
)
# The layers above the core, each importing only from itself and the layers before it (README, "Layout").
LAYERS = (
    ("data/", "distributed.py", "speed/"),
    ("plots/",),
    ("engine/", "train.py"),
    ("deploy/",),
    ("reproduction/",),
    ("cli.py",),
)
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 60


def _library_files() -> Iterator[Path]:
    yield from sorted(LIBRARY.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _is_core(relative_path: str) -> bool:
    return any(relative_path == entry or (entry.endswith("/") and relative_path.startswith(entry)) for entry in CORE)


def _module_file(module: str) -> str:
    """The file of a ``basnet_lib`` module, relative to the root (package: its ``__init__.py``)."""
    path = ROOT.joinpath(*module.split("."))
    return _relative(path / "__init__.py") if path.is_dir() else _relative(path.with_suffix(".py"))


def _imported_library_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every ``basnet_lib`` module ``path`` imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("basnet_lib"):
            yield node.lineno, node.module
            for alias in node.names:  # ``from basnet_lib.data import png_io`` imports a module
                candidate = f"{node.module}.{alias.name}"
                if ROOT.joinpath(*candidate.split(".")).with_suffix(".py").is_file():
                    yield node.lineno, candidate
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("basnet_lib"):
                    yield node.lineno, alias.name


def test_core_imports_only_the_core() -> None:
    core_files = [path for path in _library_files() if _is_core(_relative(path))]
    assert len(core_files) > 20, "the core's file list no longer matches the tree"
    offenders = [
        f"{_relative(path)}:{line} imports {module}"
        for path in core_files
        for line, module in _imported_library_modules(path)
        if not _is_core(_module_file(module))
    ]
    assert not offenders, "the paper's core must not import the rest of the library:\n" + "\n".join(offenders)


def _layer(relative_path: str) -> int:
    """0 for the core, then the index of its entry in :data:`LAYERS` plus one."""
    if _is_core(relative_path):
        return 0
    inside = relative_path.removeprefix("basnet_lib/")
    return next(number for number, layer in enumerate(LAYERS, start=1) if inside.startswith(layer))


def test_dependencies_go_one_way() -> None:
    offenders = [
        f"{_relative(path)}:{line} imports {module}"
        for path in _library_files()
        if path.name != "__main__.py"
        for line, module in _imported_library_modules(path)
        if _layer(_module_file(module)) > _layer(_relative(path))
    ]
    assert not offenders, "a layer imports one that comes after it:\n" + "\n".join(offenders)


def test_files_and_functions_stay_short() -> None:
    long_files, long_functions = [], []
    for path in _library_files():
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(f"{_relative(path)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{_relative(path)}:{node.lineno} {node.name}: {length} lines")
    assert not long_files, f"files over {MAX_FILE_LINES} lines:\n" + "\n".join(long_files)
    assert not long_functions, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long_functions)


def test_only_package_faces_list_all() -> None:
    listed = [
        _relative(path)
        for path in _library_files()
        if path.name != "__init__.py" and "__all__" in path.read_text()
    ]
    assert not listed, "__all__ belongs in a package's __init__.py only:\n" + "\n".join(listed)
