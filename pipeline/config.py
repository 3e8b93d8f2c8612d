"""Configuration: the defaults in ``config/default.toml``, a user file, then the environment.

Every key is validated at start against the defaults' shape: an unknown key, a value of the wrong
type or an impossible value is rejected with the key's dotted name and the file it came from.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pps_archive.errors import ConfigInvalid

ENV_PREFIX = "PPS_ARCHIVE__"
DEFAULTS_NAME = "default.toml"
RULES = ("retain", "shred")


@dataclass(frozen=True)
class DocumentClass:
    name: str
    description: str
    rule: str  # "retain" | "shred"
    holder: str
    match: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScannerProfileConfig:
    name: str
    folder: Path
    pattern: str
    recursive: bool
    group_pattern: str
    group_wait_seconds: float


@dataclass(frozen=True)
class Config:
    """The validated configuration. ``raw`` keeps every key; the properties are the typed view."""

    raw: dict[str, Any]
    sources: tuple[str, ...]

    def section(self, name: str) -> dict[str, Any]:
        return self.raw[name]

    @property
    def database_url(self) -> str:
        return self.raw["database_url"]

    @property
    def archive_after_months(self) -> int:
        return self.raw["retention"]["archive_after_months"]

    @property
    def dispose_after_years(self) -> int:
        return self.raw["retention"]["dispose_after_years"]

    @property
    def reference_pattern(self) -> re.Pattern[str]:
        # ASCII only (\d is not also an Arabic-Indic digit), also where .pattern is embedded
        return re.compile(f"(?a:{self.raw['cases']['reference_pattern']})")

    @property
    def third_parties(self) -> list[str]:
        return list(self.raw["cases"]["third_parties"])

    @property
    def classes(self) -> dict[str, DocumentClass]:
        return {
            name: DocumentClass(name, c["description"], c["rule"], c["holder"], tuple(c["match"]), tuple(c["exclude"]))
            for name, c in self.raw["classes"].items()
        }

    @property
    def ocr_jobs(self) -> int:
        """Pages OCR'd in parallel in one input: ``ocr.jobs``, or the number of cores when 0 (with
        several workers the cores are shared; Tesseract runs one thread a page)."""
        jobs = self.raw["ocr"]["jobs"]
        return jobs if jobs > 0 else max(1, os.cpu_count() or 1)

    def scanner_profiles(self, data_dir: Path) -> list[ScannerProfileConfig]:
        out = []
        for name, p in self.raw["scanners"].items():
            folder = Path(p["folder"]).expanduser()
            out.append(
                ScannerProfileConfig(
                    name=name,
                    folder=folder if folder.is_absolute() else data_dir / folder,
                    pattern=p["pattern"],
                    recursive=p["recursive"],
                    group_pattern=p["group_pattern"],
                    group_wait_seconds=float(p["group_wait_seconds"]),
                )
            )
        return out


def _defaults_text() -> str:
    return resources.files("config").joinpath(DEFAULTS_NAME).read_text(encoding="utf-8")


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def _check_value(key: str, default: Any, value: Any, source: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigInvalid(file=source, key=key, problem=f"must be true or false, not {value!r}")
        return value
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigInvalid(file=source, key=key, problem="must be a list of text values")
        return value
    if type(value) is not type(default):
        raise ConfigInvalid(file=source, key=key, problem=f"must be {_type_name(default)}, not {value!r}")
    return value


# Tables whose entries are named by the user (a new scanner profile, a new document class):
# each entry must have the shape of the entries in the defaults.
_OPEN_TABLES = {"scanners", "classes"}


def _merge(base: dict[str, Any], override: dict[str, Any], source: str, prefix: str = "") -> None:
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if prefix.rstrip(".") in _OPEN_TABLES:
            template = next(iter(base.values()), None) if base else None
            if key not in base:
                if template is None or not isinstance(value, dict):
                    raise ConfigInvalid(file=source, key=dotted, problem="must be a table")
                optional = {k for k, v in template.items() if isinstance(v, list)}  # lists default to empty
                missing = set(template) - set(value) - optional
                if missing:
                    raise ConfigInvalid(file=source, key=dotted, problem=f"needs the keys {', '.join(sorted(missing))}")
                base[key] = {k: [] for k in optional}
                _merge_leaf_table(base[key], template, value, source, dotted + ".")
                continue
        if key not in base:
            raise ConfigInvalid(file=source, key=dotted, problem="is not a known setting")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigInvalid(file=source, key=dotted, problem="must be a table")
            _merge(base[key], value, source, dotted + ".")
        else:
            base[key] = _check_value(dotted, base[key], value, source)


def _merge_leaf_table(target: dict[str, Any], template: dict[str, Any], value: dict[str, Any], source: str, prefix: str) -> None:
    for k, v in value.items():
        if k not in template:
            raise ConfigInvalid(file=source, key=prefix + k, problem="is not a known setting")
        target[k] = _check_value(prefix + k, template[k], v, source)


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigInvalid(file=source, key="(syntax)", problem=f"is not valid TOML ({exc})") from exc


def _env_overrides(environ: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, text in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        try:
            value: Any = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        tree: dict[str, Any] = {}
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        out.append((f"${name}", tree))
    if environ.get("PPS_ARCHIVE_DATABASE_URL"):
        out.append(("$PPS_ARCHIVE_DATABASE_URL", {"database_url": environ["PPS_ARCHIVE_DATABASE_URL"]}))
    return out


def _validate(raw: dict[str, Any], source: str) -> None:
    try:
        re.compile(f"(?a:{raw['cases']['reference_pattern']})")  # as Config.reference_pattern does
    except re.error as exc:
        raise ConfigInvalid(file=source, key="cases.reference_pattern", problem=f"is not a valid regular expression ({exc})") from exc
    for key in ("archive_after_months", "dispose_after_years"):
        if raw["retention"][key] < 1:
            raise ConfigInvalid(file=source, key=f"retention.{key}", problem="must be at least 1")
    if raw["retention"]["dispose_after_years"] * 12 < raw["retention"]["archive_after_months"]:
        raise ConfigInvalid(file=source, key="retention.dispose_after_years", problem="must not come before the archive date")
    for name, cls in raw["classes"].items():
        if cls["rule"] not in RULES:
            raise ConfigInvalid(file=source, key=f"classes.{name}.rule", problem=f"must be \"retain\" or \"shred\", not {cls['rule']!r}")
        if "|" in name or not name:
            raise ConfigInvalid(file=source, key=f"classes.{name}", problem="a class name cannot contain '|'")
    if not 10 <= raw["crypto"]["kdf_log2_n"] <= 24:
        raise ConfigInvalid(file=source, key="crypto.kdf_log2_n", problem="must be between 10 (tests only) and 24")
    if not 0 <= raw["disposal"]["erase_wait_seconds"] <= 3600:
        raise ConfigInvalid(file=source, key="disposal.erase_wait_seconds", problem="must be between 0 and 3600")
    if raw["intake"]["workers"] < 1:
        raise ConfigInvalid(file=source, key="intake.workers", problem="must be at least 1")
    for name, prof in raw["scanners"].items():
        try:
            re.compile(prof["group_pattern"])
        except re.error as exc:
            raise ConfigInvalid(file=source, key=f"scanners.{name}.group_pattern", problem=f"is not a valid regular expression ({exc})") from exc
    from pipeline.units import parse_size

    try:
        parse_size(raw["media"]["capacity"])
    except ValueError as exc:
        raise ConfigInvalid(file=source, key="media.capacity", problem=str(exc)) from exc


def load_config(user_file: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Defaults, then ``user_file`` (if given and present), then the environment."""
    environ = dict(os.environ if environ is None else environ)
    raw = _parse_toml(_defaults_text(), DEFAULTS_NAME)
    sources = [DEFAULTS_NAME]
    layers: list[tuple[str, dict[str, Any]]] = []
    if user_file is not None:
        try:
            text = Path(user_file).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigInvalid(file=str(user_file), key="(file)", problem="does not exist") from exc
        except UnicodeDecodeError as exc:
            raise ConfigInvalid(file=str(user_file), key="(file)", problem="is not UTF-8 text") from exc
        layers.append((str(user_file), _parse_toml(text, str(user_file))))
    layers.extend(_env_overrides(environ))
    for source, tree in layers:
        _merge(raw, tree, source)
        sources.append(source)
        _validate(raw, source)
    _validate(raw, sources[-1])
    return Config(raw=raw, sources=tuple(sources))
