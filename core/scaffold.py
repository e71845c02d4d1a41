"""Create a pip-installable hromada plugin package with one device model.

The package (hromada-NAME) has a pyproject.toml that registers it in the 'hromada'
entry-point group, a codec module (decode, encode, simulate over bytes), a device model
with three examples, a README and tests that use hromada.testing; the tests pass as
generated, before and after 'pip install'.  Edit the codec and examples to your device.
"""

from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path

from . import __version__

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_VENDOR = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_MODEL = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")

#: Suffix of template files; it is dropped in the generated package.
TEMPLATE_SUFFIX = ".tmpl"


def _template_root():
    return resources.files("hromada").joinpath("templates", "plugin")


def _walk(node, rel=()):
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            yield from _walk(child, (*rel, child.name))
        else:
            yield (*rel, child.name), child


def names(name: str, *, vendor: str | None = None, model: str | None = None) -> dict:
    """The placeholders of the templates for a plugin NAME; ValueError if invalid."""
    name = name.strip().lower()
    if name.startswith("hromada-"):
        name = name[len("hromada-"):]
    if not _NAME.match(name):
        raise ValueError(f"plugin name {name!r} must be lowercase letters and digits in "
                         "words joined by '-', starting with a letter (e.g. 'acme-meters')")
    vendor = (vendor or name.split("-", 1)[0]).lower()
    if not _VENDOR.match(vendor):
        raise ValueError(f"vendor {vendor!r} must be lowercase letters, digits, '.', '_' "
                         "or '-' (e.g. 'acme')")
    model = (model or "sensor").lower()
    if not _MODEL.match(model):
        raise ValueError(f"model {model!r} must be lowercase letters, digits, '.', '_', '+' "
                         "or '-' (e.g. 'th-1')")
    major_minor = ".".join(__version__.split(".")[:2])
    return {
        "name": name,
        "dist": f"hromada-{name}",
        "package": "hromada_" + name.replace("-", "_"),
        "vendor": vendor,
        "model": model,
        "model_id": f"{vendor}/{model}",
        "model_slug": re.sub(r"[^a-z0-9]+", "_", model),
        "hromada_version": major_minor,
    }


def _render(text, values):
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.search(r"\{\{\w+\}\}", text)
    if left:
        raise RuntimeError(f"template placeholder {left.group(0)} has no value")
    return text


def _target(rel, values):
    parts = []
    for part in rel:
        if part.endswith(TEMPLATE_SUFFIX):
            part = part[: -len(TEMPLATE_SUFFIX)]
        part = part.replace("__package__", values["package"])
        part = part.replace("__model__", values["model_slug"])
        if part == "gitignore":
            part = ".gitignore"
        parts.append(part)
    return Path(*parts)


def scaffold(name: str, dest=".", *, vendor: str | None = None, model: str | None = None,
             force: bool = False) -> Path:
    """Create ``DEST/hromada-NAME`` and return its path.

    ``vendor`` defaults to NAME's first word, ``model`` to "sensor"; the device model id
    is ``vendor/model``.  Refuses (FileExistsError) to write into a non-empty directory
    unless ``force``; invalid names raise ValueError.
    """
    values = names(name, vendor=vendor, model=model)
    root = Path(dest) / values["dist"]
    if root.exists() and any(root.iterdir()) and not force:
        raise FileExistsError(f"{root} already exists and is not empty (use --force to "
                              "overwrite the generated files)")
    files = [(_target(rel, values), node) for rel, node in _walk(_template_root())]
    for rel, node in files:
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_render(node.read_text(encoding="utf-8"), values), encoding="utf-8")
    return root


# -- command line (``hromada new-plugin``) -------------------------------------------------


def configure(parser):
    parser.add_argument("name", metavar="NAME",
                        help="plugin name, e.g. 'acme-meters' (the package is hromada-NAME)")
    parser.add_argument("--dir", default=".", metavar="DIR",
                        help="where to create the package folder (default: here)")
    parser.add_argument("--vendor", metavar="V",
                        help="vendor part of the model id (default: NAME's first word)")
    parser.add_argument("--model", metavar="M",
                        help="device part of the model id (default: sensor)")
    parser.add_argument("--force", action="store_true",
                        help="write into an existing, non-empty folder")


def run(args) -> int:
    try:
        root = scaffold(args.name, args.dir, vendor=args.vendor, model=args.model,
                        force=args.force)
    except (ValueError, FileExistsError) as exc:
        print(f"hromada new-plugin: {exc}", file=sys.stderr)
        return 2
    values = names(args.name, vendor=args.vendor, model=args.model)
    print(f"created {values['dist']} in {root} (device model {values['model_id']})")
    print("next:")
    print(f"  cd {root}")
    print("  pip install -e '.[test]'   # registers the plugin in the 'hromada' entry points")
    print("  pytest                     # the generated tests pass as they are")
    print(f"  hromada devices --json     # lists {values['model_id']}")
    return 0
