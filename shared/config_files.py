"""Configuration files (YAML, or JSON by their suffix) read into a pydantic model, with the
error a person can act on: the file, the first field that is wrong and why."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def read_config(path: Path, model: type[M], what: str, error: type[Exception]) -> M:
    """`what` names the file's kind in messages ("SLA policies"); `error` is raised with
    "<what> <path>: <field>: <problem>"."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise error(f"{what} {path}: cannot be read: {e}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise error(f"{what} {path}: {where}: {first['msg']}") from None
