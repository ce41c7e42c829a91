"""Lazy re-exports, so that `import pinnkit` (and the command line's `--help`) costs no JAX.

A package lists its public names once, as imports inside `if TYPE_CHECKING:`, which type
checkers and the API docs read as ordinary re-exports. [`attach`][] reads that block and
returns a module `__getattr__` that imports a name's module on first use (PEP 562), and a
`__dir__` that lists the public names: those of the block and of `__all__`.
"""

import ast
import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _exports(source: str, package: str) -> dict[str, tuple[str, str | None]]:
    """Name -> (absolute module, attribute or `None` for a submodule), from the imports in
    the `if TYPE_CHECKING:` blocks of `source`."""
    table: dict[str, tuple[str, str | None]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"):
            continue
        for statement in node.body:
            if not isinstance(statement, ast.ImportFrom):
                raise TypeError(f"{package}: only `from ... import` belongs under TYPE_CHECKING")
            base = importlib.util.resolve_name("." * statement.level, package)
            module = f"{base}.{statement.module}" if statement.module else base
            for alias in statement.names:
                name = alias.asname or alias.name
                if statement.module:
                    table[name] = (module, alias.name)
                else:  # `from . import problems`: a submodule
                    table[name] = (f"{module}.{alias.name}", None)
    return table


def attach(package: str, file: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package` (whose `__init__.py` is `file`).

    **Returns:** `(__getattr__, __dir__)`; `__getattr__(name)` imports the module that
    provides `name`, caches the value in the package and returns it, and raises
    `AttributeError` for a name the package does not export.
    """
    table = _exports(Path(file).read_text(encoding="utf-8"), package)

    def __getattr__(name: str) -> Any:
        try:
            module, attribute = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        loaded = importlib.import_module(module)
        value = loaded if attribute is None else getattr(loaded, attribute)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        exported = getattr(importlib.import_module(package), "__all__", ())
        return sorted({*table, *exported})

    return __getattr__, __dir__
