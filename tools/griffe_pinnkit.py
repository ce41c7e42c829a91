"""Griffe extension (mkdocs.yml, mkdocstrings): what static analysis cannot see in pinnkit.

- **Constructor signatures.** An Equinox module's `__init__` is written by `dataclasses` when
  the class is created, so it is not in the source, and the `_option(...)` helpers of a plain
  dataclass hide its defaults. For every concrete dataclass-like class without a hand-written
  `__init__`, the signature is taken from the imported class (`inspect.signature`): the
  parameters and defaults it really has, with the annotations written on the fields.
- **Enumerations.** Each item of an `eqx.Enumeration` (such as `RESULTS`) is documented by
  its message, so the API page lists every item.
- **Registries.** A module-level dict whose source names private helpers (`SCHEDULES`) or is
  filled at import (`ESTIMATORS`) is shown as its imported value, each entry by its public
  name, and `...` for a private helper. Any other value that names a private helper is not
  shown: no private name appears on the site.
"""

import dataclasses
import functools
import importlib
import inspect
import re
from typing import Any

import equinox as eqx
from griffe import (
    Attribute,
    Class,
    Docstring,
    Extension,
    Function,
    Module,
    Parameter,
    ParameterKind,
    Parameters,
)


_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: ParameterKind.positional_only,
    inspect.Parameter.POSITIONAL_OR_KEYWORD: ParameterKind.positional_or_keyword,
    inspect.Parameter.VAR_POSITIONAL: ParameterKind.var_positional,
    inspect.Parameter.KEYWORD_ONLY: ParameterKind.keyword_only,
    inspect.Parameter.VAR_KEYWORD: ParameterKind.var_keyword,
}


def _runtime(cls: Class) -> Any:
    try:
        return getattr(importlib.import_module(cls.module.path), cls.name)
    except (ImportError, AttributeError):
        return None


def _default(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return repr(value)


def _set_init(cls: Class, obj: type) -> None:
    written = cls.members.get("__init__")
    if written is not None and written.lineno:  # a hand-written __init__: griffe has it
        return
    parameters = [Parameter("self", kind=ParameterKind.positional_or_keyword)]
    for name, param in inspect.signature(obj).parameters.items():
        field = cls.all_members.get(name)
        annotation = field.annotation if isinstance(field, Attribute) else None
        parameters.append(
            Parameter(
                name,
                annotation=annotation,
                kind=_KINDS[param.kind],
                default=_default(param.default),
            )
        )
    init = Function("__init__", lineno=0, endlineno=0, parent=cls, returns="None")
    init.parameters = Parameters(*parameters)
    cls.set_member("__init__", init)


def _document_items(cls: Class, obj: type[eqx.Enumeration]) -> None:
    for member in cls.members.values():
        if isinstance(member, Attribute) and not member.name.startswith("_"):
            try:
                message = obj[getattr(obj, member.name)]
            except Exception:  # not an item: an ordinary class attribute
                continue
            member.docstring = Docstring(message, parent=member)
            member.value = None


_PRIVATE = re.compile(r"(?<![\w\"'])_[A-Za-z]\w*")


def _public_name(value: Any) -> str:
    """`value` as code that names it publicly: `Exact`, `optax.adam`, or `...`."""
    if isinstance(value, functools.partial):
        arguments = [_public_name(value.func), *map(repr, value.args)]
        arguments += [f"{k}={v!r}" for k, v in value.keywords.items()]
        return f"functools.partial({', '.join(arguments)})"
    name = getattr(value, "__name__", "")
    package = (getattr(value, "__module__", None) or "").partition(".")[0]
    if not name or name.startswith("_") or not package:
        return "..."
    if getattr(importlib.import_module(package), name, None) is not value:
        return "..."
    return name if package == "pinnkit" else f"{package}.{name}"


def _show_registry(attribute: Attribute) -> None:
    if attribute.value is None or not (
        _PRIVATE.search(str(attribute.value)) or str(attribute.value).isidentifier()
    ):
        return
    try:
        value = getattr(importlib.import_module(attribute.module.path), attribute.name)
    except (ImportError, AttributeError):
        value = None
    if isinstance(value, dict):
        entries = ", ".join(f"{key!r}: {_public_name(item)}" for key, item in value.items())
        attribute.value = "{" + entries + "}"
    elif _PRIVATE.search(str(attribute.value)):  # say nothing rather than name a private helper
        attribute.value = None


def _abstract(obj: type) -> bool:
    return inspect.isabstract(obj) or obj.__name__.startswith("Abstract")


def _objects(obj: Module | Class) -> list[Class | Attribute]:
    """The classes of `obj`, recursively, and the attributes of its modules."""
    found: list[Class | Attribute] = []
    for member in obj.members.values():
        if member.is_alias:
            continue
        if isinstance(member, Class):
            found.append(member)
            found += _objects(member)
        elif isinstance(member, Module):
            found += _objects(member)
        elif isinstance(member, Attribute) and isinstance(obj, Module):
            found.append(member)
    return found


class PinnkitSignatures(Extension):
    def on_package(self, *, pkg: Module, **kwargs: Any) -> None:
        del kwargs
        if pkg.name != "pinnkit":
            return
        for cls in _objects(pkg):
            if isinstance(cls, Attribute):
                _show_registry(cls)
                continue
            obj = _runtime(cls)
            if not inspect.isclass(obj):
                continue
            if issubclass(obj, eqx.Enumeration):
                _document_items(cls, obj)
            elif dataclasses.is_dataclass(obj) and not _abstract(obj):
                _set_init(cls, obj)
