"""Configuration: the defaults in ``config/default.toml``, a user file, then the environment.

Every key is validated at load: its type against the default's, then its own rule in
:data:`RULES_BY_KEY` (range, choices, a regular expression that compiles, an installed OCR
language), then the rules between keys. An unknown key, a value of the wrong type or an impossible
value is rejected with the key's dotted name and the file (or environment variable) it came from, so
a mistake stops the program at start instead of quarantining every input later.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Callable, Iterator
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


#: the package the folder config/ is installed as (pyproject.toml maps it)
DEFAULTS_PACKAGE = "pps_archive.config"


def _defaults_text() -> str:
    """config/default.toml: from the source checkout this module lives in (also an editable
    install), else from the installed package ``pps_archive.config``. Never through a top-level
    ``config`` import, which a config.py in the working directory would shadow."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "config" / DEFAULTS_NAME).is_file():
        return (root / "config" / DEFAULTS_NAME).read_text(encoding="utf-8")
    return resources.files(DEFAULTS_PACKAGE).joinpath(DEFAULTS_NAME).read_text(encoding="utf-8")


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


#: media.archive_medium: what a verification must be read from to unlock shredding
ARCHIVE_MEDIA = ("optical", "image-files")


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


#: set to 1 by the test suite only: allows a KDF below the production floor (fast, and weak)
ENV_INSECURE_TEST_KDF = "PPS_ARCHIVE_INSECURE_TEST_KDF"


def _validate_kdf(crypto: dict[str, Any], source: str, insecure_test: bool) -> None:
    from archive_media._kdf import weakness_problem

    problem = weakness_problem(crypto["kdf_log2_n"], crypto["kdf_r"], crypto["kdf_p"], insecure_test=insecure_test)
    if problem is not None:
        if "floor" in problem:
            problem += (f". Remove that setting to use the defaults (log2_n 17, r 8); only the test suite may go lower, "
                        f"by setting ${ENV_INSECURE_TEST_KDF}=1, never on a real archive")
        name = problem.split("=", 1)[0]
        raise ConfigInvalid(file=source, key=f"crypto.kdf_{name if name in ('r', 'p') else 'log2_n'}", problem=problem)


# --- the rule of every key ----------------------------------------------------------------
# The type of a key is the type of its default (checked while merging); the rules below add the
# range, the choices or the shape. Every key of default.toml has a rule here (a test checks it); a
# rule returns the problem as words, or None when the value is good. "*" stands for the name of a
# scanner profile or a document class.

Check = Callable[[Any], str | None]


def _at_least(low: float, high: float | None = None) -> Check:
    def check(value: Any) -> str | None:
        if value < low:
            return f"must be at least {low:g}, not {value!r}"
        if high is not None and value > high:
            return f"must be at most {high:g}, not {value!r}"
        return None

    return check


def _whole(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number from {low} to {high}, not {value!r}"
        return _at_least(low, high)(value)

    return check


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        if value not in choices:
            words = " or ".join(f'"{c}"' for c in choices)
            return f"must be {words}, not {value!r}"
        return None

    return check


def _text(value: Any) -> str | None:
    return "must not be empty" if not str(value).strip() else None


def _any(_value: Any) -> str | None:
    return None


def _texts(value: Any) -> str | None:
    if any(not v.strip() for v in value):
        return "must not hold an empty entry"
    return None


def _regex(value: Any) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"is not a valid regular expression ({exc})"
    return None


def _group_regex(value: Any) -> str | None:
    if not value:
        return None  # no grouping of single-page files
    problem = _regex(value)
    if problem is None and not {"batch", "page"} <= set(re.compile(value).groupindex):
        problem = "needs the named groups (?P<batch>...) and (?P<page>...)"
    return problem


def _size(value: Any) -> str | None:
    from pipeline.units import parse_size

    try:
        parse_size(value)
    except ValueError as exc:
        return str(exc)
    return None


def _database_url(value: Any) -> str | None:
    if not value:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError:
        return "is not a database URL (sqlite:///PATH or postgresql+psycopg://user:password@host/dbname)"
    return None if backend in ("sqlite", "postgresql") else "must be a SQLite or PostgreSQL URL"


_LANGUAGE = re.compile(r"[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*")


def _ocr_language(value: Any) -> str | None:
    if not _LANGUAGE.fullmatch(value):
        return f'must be Tesseract language codes joined by "+", like "eng" or "eng+cym", not {value!r}'
    installed = installed_ocr_languages()
    if installed is None:  # no Tesseract: OCR itself says how to install it
        return None
    missing = [lang for lang in value.split("+") if lang not in installed]
    if missing:
        return (f"{', '.join(missing)} is not an installed Tesseract language (installed: {', '.join(sorted(installed))}); "
                f"install it (sudo apt-get install {' '.join('tesseract-ocr-' + m.lower() for m in missing)}) or "
                "choose an installed one")
    return None


def _host(value: Any) -> str | None:
    if not value or any(c.isspace() for c in value) or "/" in value:
        return f"must be a host name or IP address like 127.0.0.1, not {value!r}"
    return None


#: the fields a telephone message's template may (and must) use
MESSAGE_FIELDS = ("recipient", "caller", "phone")


def _message_template(value: Any) -> str | None:
    import string

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
    except ValueError as exc:
        return f"is not a valid template ({exc}): write fields as {{recipient}}, {{caller}} and {{phone}}"
    unknown = sorted(set(fields) - set(MESSAGE_FIELDS))
    if unknown:
        return (f"may use only the fields {{recipient}}, {{caller}} and {{phone}} (a message says nothing else), "
                f"not {{{unknown[0]}}}")
    missing = [f for f in MESSAGE_FIELDS if f not in fields]
    if missing:
        return f"must say {{{missing[0]}}}: a message says who it is for, who called, and the number to call back"
    return None


def _phone(value: Any) -> str | None:
    if value and not re.fullmatch(r"\+?[0-9][0-9 ()-]{5,30}", value):
        return f'must be a telephone number such as "01908 000000", not {value!r}'
    return None


RULES_BY_KEY: dict[str, Check] = {
    "database_url": _database_url,
    "service.name": _text,
    "service.retention_authority": _text,
    "retention.archive_after_months": _at_least(1, 1200),
    "retention.dispose_after_years": _at_least(1, 100),
    "cases.reference_pattern": _regex,
    "cases.third_parties": _texts,
    "intake.stable_seconds": _at_least(0, 86400),
    "intake.rescan_seconds": _at_least(0.1, 86400),
    "intake.polling": _any,
    "intake.ignore_patterns": _texts,
    "intake.max_file_bytes": _at_least(1),
    "intake.max_pages": _at_least(1),
    "intake.max_page_pixels": _at_least(1),
    "intake.workers": _at_least(1, 64),
    "ocr.language": _ocr_language,
    "ocr.jobs": _at_least(0, 256),
    "ocr.tesseract_threads": _at_least(1, 256),
    "ocr.rotate_pages": _any,
    "ocr.deskew": _any,
    "ocr.timeout_seconds": _at_least(1, 86400),
    "barcodes.reader": _one_of("zxing", "zbar"),
    "media.capacity": _size,
    "media.error_correction": _any,
    "media.archive_medium": _one_of(*ARCHIVE_MEDIA),
    "media.planning": _one_of("fill-or-wait", "every-build"),
    "media.fill_percent": _whole(1, 100),
    "media.max_wait_days": _whole(1, 366),
    "media.reread_months": _at_least(1, 120),
    "crypto.kdf_log2_n": _any,  # with kdf_r and kdf_p: see _validate_kdf (floor and ceiling together)
    "crypto.kdf_r": _any,
    "crypto.kdf_p": _any,
    "disposal.erase_wait_seconds": _at_least(0, 3600),
    "lifecycle.disposal_approvers": _at_least(1, 2),
    "lifecycle.disposal_plan_days": _at_least(1, 365),
    "web.host": _host,
    "web.port": _at_least(1, 65535),
    "web.idle_timeout_minutes": _at_least(1, 24 * 60),
    "web.absolute_timeout_hours": _at_least(1, 7 * 24),
    "messages.phone": _phone,
    "messages.template": _message_template,
    "messages.forbidden_words": _texts,
    "scanners.*.folder": _text,
    "scanners.*.pattern": _text,
    "scanners.*.recursive": _any,
    "scanners.*.group_pattern": _group_regex,
    "scanners.*.group_wait_seconds": _at_least(0, 86400),
    "classes.*.description": _text,
    "classes.*.rule": _one_of(*RULES),
    "classes.*.holder": _text,
    "classes.*.match": _texts,
    "classes.*.exclude": _texts,
}


def _leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """``(dotted key, rule key, value)`` of every setting; open tables' entry names become "*"."""
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            if not prefix and key in _OPEN_TABLES:
                for name, entry in value.items():
                    for k, v in entry.items():
                        yield f"{dotted}.{name}.{k}", f"{key}.*.{k}", v
            else:
                yield from _leaves(value, dotted + ".")
        else:
            yield dotted, dotted, value


def _validate(raw: dict[str, Any], source: str, insecure_test_kdf: bool = False) -> None:
    """Check every key against its rule, then the rules between keys. The OCR language is checked
    once, after the last layer (:func:`_validate_ocr_language`): it asks Tesseract."""
    for dotted, rule_key, value in _leaves(raw):
        if rule_key == "ocr.language":
            continue
        problem = RULES_BY_KEY[rule_key](value)
        if problem is not None:
            raise ConfigInvalid(file=source, key=dotted, problem=problem)
    if raw["retention"]["dispose_after_years"] * 12 < raw["retention"]["archive_after_months"]:
        raise ConfigInvalid(file=source, key="retention.dispose_after_years", problem="must not come before the archive date")
    for name in raw["classes"]:
        if "|" in name or not name:
            raise ConfigInvalid(file=source, key=f"classes.{name}", problem="a class name cannot contain '|'")
    for name in raw["scanners"]:
        if not name.strip():
            raise ConfigInvalid(file=source, key=f"scanners.{name}", problem="a scanner profile needs a name")
    if re.search(raw["cases"]["reference_pattern"], raw["messages"]["template"], re.IGNORECASE):
        raise ConfigInvalid(file=source, key="messages.template", problem="must not carry a case reference")
    web = raw["web"]
    if web["idle_timeout_minutes"] > web["absolute_timeout_hours"] * 60:
        raise ConfigInvalid(file=source, key="web.idle_timeout_minutes", problem="must not be longer than web.absolute_timeout_hours")
    _validate_kdf(raw["crypto"], source, insecure_test_kdf)


def _validate_ocr_language(raw: dict[str, Any], layers: list[tuple[str, dict[str, Any]]]) -> None:
    problem = _ocr_language(raw["ocr"]["language"])
    if problem is not None:
        source = next((src for src, tree in reversed(layers) if "language" in tree.get("ocr", {})), DEFAULTS_NAME)
        raise ConfigInvalid(file=source, key="ocr.language", problem=problem)


@functools.cache
def _tesseract_languages(tessdata: str | None) -> frozenset[str] | None:
    from pps_archive.exec import run
    from pps_archive.errors import ExternalProgramFailed, MissingDependency

    try:
        proc = run(["tesseract", "--list-langs"], timeout=30)
    except (MissingDependency, ExternalProgramFailed):
        return None
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())  # first line: "List of available languages..."


def installed_ocr_languages() -> frozenset[str] | None:
    """Tesseract's installed languages (asked once a process), or None when Tesseract is missing."""
    return _tesseract_languages(os.environ.get("TESSDATA_PREFIX"))


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
    insecure_test_kdf = environ.get(ENV_INSECURE_TEST_KDF) == "1"
    for source, tree in layers:
        _merge(raw, tree, source)
        sources.append(source)
        _validate(raw, source, insecure_test_kdf)
    _validate(raw, sources[-1], insecure_test_kdf)
    _validate_ocr_language(raw, layers)
    return Config(raw=raw, sources=tuple(sources))
