"""The project configuration: config/config.yaml read, validated and completed by its JSON schema
(the one place that holds the defaults, so code reads ``config[...]`` without fallbacks)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from stance.errors import StanceError, decode_utf8, read_bytes

SCHEMA_RELATIVE = Path("workflow/schemas/config.schema.yaml")
# libyaml's loader where PyYAML has it: the Snakefile reads the config on every run.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _find_schema(config_path: Path) -> Path:
    # The schema lives in the project that holds the config: <project>/config/config.yaml.
    for base in (config_path.resolve().parent.parent, Path.cwd()):
        candidate = base / SCHEMA_RELATIVE
        if candidate.is_file():
            return candidate
    raise StanceError(
        f"{config_path}: cannot find {SCHEMA_RELATIVE} next to it; run from the project folder "
        "or pass --config <project>/config/config.yaml"
    )


def _no_anchors(text: str, path: Path) -> None:
    """Refuse YAML anchors and aliases: nested aliases ("billion laughs") expand a small file to
    more than memory holds; the event scan reads each node once and expands nothing."""
    if "&" not in text and "*" not in text:
        return  # neither can occur
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            what = f"alias '*{event.anchor}'"
        elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            what = f"anchor '&{event.anchor}'"
        else:
            continue
        mark = event.start_mark
        raise StanceError(
            f"{path}: line {mark.line + 1}, column {mark.column + 1}: YAML {what}: anchors and "
            "aliases are not allowed in this file; write the value out in full there"
        )


def load_yaml(path: Path | str) -> Any:
    """Read a YAML file (UTF-8, no anchors or aliases); every problem names the file and line."""
    fix = "save it as UTF-8 (for example: iconv -f LATIN1 -t UTF-8 in.yaml > out.yaml)"
    text = decode_utf8(read_bytes(path), path, fix)
    try:
        _no_anchors(text, path)
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StanceError(
            f"{path}:{where} not valid YAML ({problem}); fix the syntax there "
            "(indentation, a missing ':' or an unclosed quote or bracket)"
        ) from None


@functools.cache
def _filling_validator() -> Any:
    """Draft 2020-12 validation that fills in each property's ``default`` where it is absent
    (built on first use: a workflow run with an unchanged config does not import jsonschema)."""
    import jsonschema

    validator_class = jsonschema.Draft202012Validator
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator: Any, props: dict, instance: Any, schema: dict) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, sub in props.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def validate_config(config: Any, source: Path | str, schema_path: Path | None = None) -> dict:
    """Validate a config, filling in its defaults (in place); errors name ``source``, each key."""
    schema = load_yaml(schema_path or _find_schema(Path(source)))
    if not isinstance(config, dict):
        raise StanceError(f"{source}: the configuration must be a mapping of settings")
    errors = sorted(
        _filling_validator()(schema).iter_errors(config), key=lambda e: list(e.absolute_path)
    )
    if errors:
        lines = [
            f"  {'.'.join(str(p) for p in err.absolute_path) or '(top level)'}: {err.message}"
            for err in errors
        ]
        raise StanceError(
            f"{source}: configuration does not match {SCHEMA_RELATIVE}:\n" + "\n".join(lines)
        )
    return config


def load_config(path: Path | str = "config/config.yaml") -> dict:
    """Load, validate and complete the project configuration."""
    return validate_config(load_yaml(path), path)


def yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every key and list item of a YAML document that load_yaml reads."""
    out: dict[tuple[str, ...], int] = {}
    root = yaml.compose(text, Loader=_LOADER)

    def walk(node: Any, path: tuple[str, ...]) -> None:
        out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, str(key.value)))
                out[(*path, str(key.value))] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, str(i)))

    if root is not None:
        walk(root, ())
    return out


def line_at(lines: dict[tuple[str, ...], int]) -> Callable[..., str]:
    """'line N: ' of the key or item at a path of keys, or '' where it is not known."""

    def at(*keys: Any) -> str:
        line = lines.get(tuple(str(k) for k in keys))
        return f"line {line}: " if line else ""

    return at
