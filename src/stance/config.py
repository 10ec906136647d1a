"""Loading and validating config/config.yaml against the workflow's JSON schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from stance.errors import StanceError

DEFAULT_CONFIG = Path("config/config.yaml")
SCHEMA_RELATIVE = Path("workflow/schemas/config.schema.yaml")


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


def load_yaml(path: Path) -> Any:
    """Read a YAML file, turning syntax errors into a message with file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StanceError(f"{path}: file not found") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise StanceError(f"{path}:{where} is not valid YAML: {exc}") from None


def validate_config(config: Any, source: Path, schema_path: Path | None = None) -> dict:
    """Validate a config mapping against the schema; raise StanceError naming the bad key."""
    schema = load_yaml(schema_path or _find_schema(source))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"  {'.'.join(str(p) for p in err.absolute_path) or '(top level)'}: {err.message}"
            for err in errors
        ]
        raise StanceError(
            f"{source}: configuration does not match {SCHEMA_RELATIVE}:\n" + "\n".join(lines)
        )
    return config


def load_config(path: Path | str = DEFAULT_CONFIG) -> dict:
    """Load and validate the project configuration."""
    path = Path(path)
    return validate_config(load_yaml(path), path)
