"""`.amldoctor.yaml`: rules a repository has decided to ignore, everywhere or under some paths.

```yaml
ignore: [AMD811, image-tag-mutable]     # codes or names, every file
per-path-ignores:                         # glob (relative to this file) -> codes
  "charts/legacy/*": [AMD805]
  "examples/*.yaml": [all]
```

Read from the current directory, or the file given with `--config`. A malformed file is an input
error (exit 2): a CI gate must not silently lint with the wrong suppressions.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from amldoctor.engine.registry import find_rule, load_all
from amldoctor.errors import InputError

CONFIG_NAME = ".amldoctor.yaml"


@dataclass
class LintConfig:
    ignore: set[str] = field(default_factory=set)
    per_path: list[tuple[str, set[str]]] = field(default_factory=list)
    root: Path = field(default_factory=Path.cwd)
    source: str | None = None

    def ignored_for(self, file: str) -> set[str]:
        """Codes ignored for one input file (globs match its path relative to the config)."""
        codes = set(self.ignore)
        path = Path(file)
        try:
            rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        except (ValueError, OSError):
            rel = path.as_posix()
        for pattern, pattern_codes in self.per_path:
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path.as_posix(), pattern):
                codes |= pattern_codes
        return codes


def load_config(explicit: str | None, cwd: Path | None = None) -> LintConfig:
    """The config given, else `.amldoctor.yaml` in the current directory, else an empty one."""
    cwd = cwd or Path.cwd()
    load_all()
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"--config {explicit!r} does not exist")
    else:
        path = cwd / CONFIG_NAME
        if not path.is_file():
            return LintConfig(root=cwd)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(f"{where}: YAML syntax error in amldoctor config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: amldoctor config must be a mapping (ignore:, per-path-ignores:)")
    unknown_keys = sorted(set(data) - {"ignore", "per-path-ignores"})
    if unknown_keys:
        raise InputError(
            f"{path}: unknown key(s) {', '.join(unknown_keys)} (expected ignore, per-path-ignores)"
        )
    per_path_raw = data.get("per-path-ignores") or {}
    if not isinstance(per_path_raw, dict):
        raise InputError(f"{path}: per-path-ignores must map a glob to a list of rule codes")
    return LintConfig(
        ignore=_codes(path, "ignore", data.get("ignore")),
        per_path=[
            (str(glob), _codes(path, f"per-path-ignores[{glob}]", codes))
            for glob, codes in per_path_raw.items()
        ],
        root=path.parent,
        source=str(path),
    )


def _codes(path: Path, where: str, value: object) -> set[str]:
    if value is None:
        return set()
    items = value if isinstance(value, list) else [value]
    out = set()
    for item in items:
        key = str(item).strip()
        if key.lower() == "all":
            out.add("ALL")
            continue
        found = find_rule(key)
        if found is None:
            raise InputError(f"{path}: {where}: unknown rule {key!r} (see `amldoctor rules`)")
        out.add(found.code)
    return out
