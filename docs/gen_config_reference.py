"""Write docs/reference/config.md, the TOML config reference, from the pydantic schema.

Every key of every table of :class:`glassnet.experiments.schema.ExperimentConfig`: its type, its
default, the values allowed (``Literal`` choices, numeric bounds, and the registry names for keys
that name a registered thing), and the ``#:`` comment written above the field in the schema.

    python docs/gen_config_reference.py          # rewrite the page
    python docs/gen_config_reference.py --check  # exit 1 if the committed page is out of date

``tests/docs/test_docs.py`` runs the check, so the page cannot fall behind the schema.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

PAGE = Path(__file__).resolve().parent / "reference" / "config.md"


def _registries() -> dict[str, tuple[str, list[str]]]:
    """Key path -> (registry, names) for keys whose value is a registered name."""
    from glassnet import activations, initializers, losses, metrics, optimizers  # noqa: PLC0415
    from glassnet.data import datasets  # noqa: PLC0415

    acts = ("activations", activations.activations.names())
    inits = ("initializers", initializers.initializers.names())
    return {
        "data.name": ("datasets", datasets.names()),
        "model.activation": acts, "model.output_activation": acts,
        "model.init": inits, "model.bias_init": inits,
        "training.loss": ("losses", losses.losses.names()),
        "training.optimizer.name": ("optimizers", optimizers.optimizers.names()),
        "training.metrics": ("metrics", metrics.metrics.names()),
    }


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin in (list, tuple):
        return f"list[{', '.join(_type_name(a) for a in args)}]" if args else "list"
    if origin is dict:
        return "table" if not args else f"table of {_type_name(args[1])}"
    if tp is type(None):
        return "none"
    if tp is typing.Any:
        return "any"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "table"
    return {str: "string", int: "integer", float: "float", bool: "boolean"}.get(tp, getattr(tp, "__name__", str(tp)))


def _nested(tp):
    """The BaseModel inside ``tp`` (``X``, ``X | None``), or None."""
    for t in (tp, *typing.get_args(tp)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _comments(cls) -> dict[str, str]:
    """``#:`` comments written right above each field in the class source."""
    out, pending = {}, []
    for line in inspect.getsource(cls).splitlines():
        s = line.strip()
        if s.startswith("#:"):
            pending.append(s[2:].strip())
            continue
        m = re.match(r"(\w+)\s*:", s)
        if m and pending:
            out[m.group(1)] = " ".join(pending)
        pending = [] if not s.startswith("#") else pending
    return out


def _default(field) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(table defaults)"
        return f"`{value!r}`" if value not in ({}, []) else "empty"
    if field.default is PydanticUndefined or field.default is None:
        return "—"
    return f"`{field.default!r}`"


def _bounds(field) -> list[str]:
    out = []
    for m in field.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v}")
    return out


def _rows(cls, prefix: str, regs: dict, sections: list) -> None:
    notes = _comments(cls)
    rows: list[str] = []
    doc = inspect.cleandoc(cls.__doc__ or "").replace("\n", " ")
    sections.append((prefix, doc, rows))  # before the nested tables, which follow it
    nested = []
    for name, field in cls.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        allowed = []
        args = typing.get_args(field.annotation)
        for t in (field.annotation, *args):
            if typing.get_origin(t) is typing.Literal:
                allowed += [f"`{a!r}`" for a in typing.get_args(t)]
        allowed += [f"`{b}`" for b in _bounds(field)]
        if path in regs:
            reg, names = regs[path]
            allowed.append(f"a name from `{reg}`: " + ", ".join(f"`{n}`" for n in names))
        desc = field.description or notes.get(name, "")
        rows.append(f"| `{path}` | {_type_name(field.annotation)} | {_default(field)} | "
                    f"{'; '.join(allowed) or 'any'} | {desc} |")
        sub = _nested(field.annotation)
        if sub is not None:
            nested.append((sub, path))
    for sub, path in nested:
        _rows(sub, path, regs, sections)


def render() -> str:
    from glassnet.experiments.schema import ExperimentConfig, OptimizerConfig  # noqa: PLC0415

    sections: list = []
    _rows(ExperimentConfig, "", _registries(), sections)
    lines = ["# TOML config reference", "",
             "<!-- generated by docs/gen_config_reference.py from glassnet/experiments/schema.py; "
             "do not edit by hand -->", "",
             "Every key a `glassnet train` / `glassnet sweep` config accepts, by table, generated from the "
             "pydantic schema (`glassnet/experiments/schema.py`). Unknown keys are refused with a message "
             "naming the key and what is allowed. The repository's `examples/` folder has complete configs "
             "(`examples/seed003_quick.toml`, ...).", ""]
    for prefix, doc, rows in sections:
        lines += [f"## `[{prefix}]`" if prefix else "## top level", ""]
        if doc:
            lines += [doc, ""]
        lines += ["| key | type | default | allowed values | meaning |", "| --- | --- | --- | --- | --- |", *rows, ""]
        if prefix == "training.optimizer":
            from glassnet import optimizers  # noqa: PLC0415

            lines += ["Each optimizer's own options (checked against its constructor):", "",
                      "| optimizer | options |", "| --- | --- |"]
            for n in optimizers.optimizers.names():
                cls = optimizers.optimizers.get(n)
                params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"
                          and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
                opts = ", ".join(f"`{p.name}`" + ("" if p.default is p.empty else f" = `{p.default!r}`")
                                 for p in params)
                lines.append(f"| `{n}` | {opts} |")
            lines.append("")
    assert OptimizerConfig  # the optimizer table allows extra keys: listed above
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.is_file() else ""
        if current != text:
            print(f"{PAGE} is out of date: run python docs/gen_config_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
