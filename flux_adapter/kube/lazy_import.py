"""kubernetes-asyncio imported without the generated modules its package `__init__`s load.

`import kubernetes_asyncio` runs four package `__init__`s (`kubernetes_asyncio`,
`.client`, `.client.api`, `.client.models`) that import every generated API
and model module, about 1,260 modules and some 37 MB of resident memory, of
which the adapter uses none: it reads configuration, builds an `ApiClient`,
and streams raw JSON. Python runs a package's `__init__` on any submodule
import, so importing `kubernetes_asyncio.config` alone does not avoid it.

`install()` puts a stand-in for each of those four packages in `sys.modules`
before the library is imported. A stand-in is a package with the real
directory as its `__path__` (so every submodule still imports from the real
files) and a PEP 562 `__getattr__` that imports a name's module the first time
the name is used, as read from the real `__init__`'s own import statements.
Nothing of the library is copied or patched. It relies on the layout of one
release (`PINNED`); with any other version installed it does nothing and the
library is imported as shipped: correct, only heavier. `docs/design.md`
("Memory and the Kubernetes client") has the figures.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
import types
from collections.abc import Callable
from pathlib import Path

PINNED = "36.1.0"
"""The kubernetes-asyncio release whose package layout the stand-ins were checked against."""

ROOT = "kubernetes_asyncio"
EAGER_PACKAGES = (ROOT, f"{ROOT}.client", f"{ROOT}.client.api", f"{ROOT}.client.models")
"""The library's packages whose `__init__` imports every generated module."""

Export = tuple[str, str | None]
"""(module to import, attribute of it, or None for the module itself)."""

_installed = False


def exports_of(init: Path) -> tuple[dict[str, Export], dict[str, object]]:
    """What a package `__init__` binds by import statements, and its constant assignments.

    Reads the file's top-level `import a.b as c` and `from a.b import c`
    statements without running them.
    """
    tree = ast.parse(init.read_text(encoding="utf-8"), filename=str(init))
    names: dict[str, Export] = {}
    constants: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = (alias.name, None)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    return names, constants


def _resolver(package: str, names: dict[str, Export]) -> Callable[[str], object]:
    def __getattr__(name: str) -> object:  # noqa: N807 - PEP 562's name
        try:
            module_name, attribute = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module = importlib.import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


def _stand_in(name: str, directory: Path) -> types.ModuleType:
    names, constants = exports_of(directory / "__init__.py")
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(directory)]
    module = types.ModuleType(name)
    module.__spec__ = spec
    module.__path__ = [str(directory)]
    module.__file__ = str(directory / "__init__.py")
    module.__package__ = name
    module.__dict__.update(constants)
    module.__dict__["__all__"] = [n for n in names if not n.startswith("_")]
    module.__dict__["__getattr__"] = _resolver(name, names)
    return module


def installed_version() -> str | None:
    try:
        return importlib.metadata.version(ROOT)
    except importlib.metadata.PackageNotFoundError:
        return None


def install() -> bool:
    """Register the lazy stand-ins; True when they are (or already were) in place.

    False, changing nothing, when the library is already imported eagerly, is
    missing, or is not the `PINNED` release.
    """
    global _installed
    if _installed or ROOT in sys.modules:
        return _installed
    if installed_version() != PINNED:
        return False
    found = importlib.util.find_spec(ROOT)
    if found is None or found.origin is None:
        return False
    root = Path(found.origin).parent
    for name in EAGER_PACKAGES:
        directory = root.joinpath(*name.split(".")[1:])
        sys.modules[name] = _stand_in(name, directory)
    for name in EAGER_PACKAGES[1:]:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, sys.modules[name])
    _installed = True
    return True
