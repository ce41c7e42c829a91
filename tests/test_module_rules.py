"""Project rules: abstract-or-final classes, and a docstring on every public name."""

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import pinnkit
import pinnkit.problems


def _import_all():
    for info in pkgutil.walk_packages(pinnkit.__path__, "pinnkit."):
        if info.name != "pinnkit.__main__":
            importlib.import_module(info.name)


_import_all()


def _pinnkit_classes() -> set[type]:
    found = set()
    for module in (pinnkit, pinnkit.problems):
        for name in dir(module):
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj.__module__.startswith("pinnkit"):
                found.add(obj)
    return found


def _is_abstract(cls: type) -> bool:
    return (
        inspect.isabstract(cls)
        or bool(getattr(cls, "__abstractvars__", None))
        or bool(getattr(cls, "__abstractclassvars__", None))
        or cls.__name__.startswith("Abstract")
    )


def _subclasses(cls: type):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


EXPORTED = sorted(_pinnkit_classes(), key=lambda c: c.__qualname__)


def test_walk_finds_classes():
    names = {c.__name__ for c in EXPORTED}
    assert {"MLP", "Exact", "PINNSolver", "AbstractEstimator", "Problem"} <= names


@pytest.mark.parametrize("cls", EXPORTED, ids=lambda c: c.__name__)
def test_abstract_or_final(cls):
    if _is_abstract(cls):
        return
    offenders = [
        f"{sub.__module__}.{sub.__qualname__}"
        for sub in _subclasses(cls)
        if sub.__module__.startswith("pinnkit") and not _is_abstract(sub)
    ]
    assert not offenders, f"concrete {cls.__name__} has concrete subclasses {offenders}"


def test_rule_detects_violation():
    """The check itself: a concrete subclass of a concrete class is caught."""

    class Base(pinnkit.AbstractNetwork):
        in_size: int = 1

        def __call__(self, x):
            return x[0]

    class Child(Base):
        pass

    assert not _is_abstract(Base) and not _is_abstract(Child)
    assert Child in list(_subclasses(Base))
    assert _is_abstract(pinnkit.AbstractNetwork)


def _public(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    # Foreign modules (e.g. `jaxtyping`, set by the test run's import hook) are not pinnkit's.
    foreign = lambda obj: inspect.ismodule(obj) and not obj.__name__.startswith("pinnkit")
    return sorted(n for n in names if not foreign(getattr(module, n)))


def _attribute_docstrings() -> set[str]:
    """Top-level names in pinnkit's sources followed by a string literal (attribute docs)."""
    documented = set()
    for path in Path(pinnkit.__file__).parent.rglob("*.py"):
        body = ast.parse(path.read_text()).body
        for node, after in zip(body, body[1:], strict=False):
            targets = []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            is_doc = (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            )
            if is_doc:
                documented.update(targets)
    return documented


PUBLIC = [("pinnkit", n) for n in _public(pinnkit)] + [
    ("pinnkit.problems", n) for n in _public(pinnkit.problems)
]


@pytest.mark.parametrize("module_name, name", PUBLIC, ids=lambda v: v)
def test_public_names_have_docstrings(module_name, name):
    obj = getattr(importlib.import_module(module_name), name)
    if inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isroutine(obj):
        doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        assert doc and doc.strip(), f"{module_name}.{name} has no docstring"
        # Dataclasses (and so Equinox modules) invent `Name(field, ...)` when undocumented.
        assert not doc.startswith(f"{name}("), f"{module_name}.{name} has no docstring"
    else:
        assert name in _attribute_docstrings(), f"{module_name}.{name} has no attribute docstring"
