"""The concern taxonomy: every event code, its labels in both languages, and its rules.

The codes live in ``cylch/events/taxonomy.yaml``. Apps that own further codes may call
:func:`register`. A system check (``cylch.events.checks``) rejects a broken taxonomy at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

TAXONOMY_FILE = Path(__file__).resolve().parent.parent / "events" / "taxonomy.yaml"
DETAIL_LABELS_FILE = TAXONOMY_FILE.with_name("detail_labels.yaml")
SENSITIVITIES = ("process", "voice", "health", "education", "police", "housing", "social_care", "special")
SUBJECTS = ("child", "adult", "any", "household")
DOMAINS = ("health", "education", "police", "housing", "social_care", "voice", "process")


@dataclass(frozen=True)
class EventCode:
    code: str
    domain: str
    label_en: str
    label_cy: str
    sensitivity: str
    subject: str
    recorded_by: tuple[str, ...]
    soft: bool
    details_schema: dict[str, Any]
    clock_starts: tuple[str, ...] = ()
    clock_stops: tuple[str, ...] = ()
    validator: Draft202012Validator = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def label(self, language: str = "en") -> str:
        return self.label_cy if language == "cy" else self.label_en


@dataclass(frozen=True)
class Domain:
    key: str
    label_en: str
    label_cy: str

    def label(self, language: str = "en") -> str:
        return self.label_cy if language == "cy" else self.label_en


class TaxonomyError(ValueError):
    pass


def _code_from(domain: str, raw: dict[str, Any], where: str) -> EventCode:
    missing = [k for k in ("code", "label", "sensitivity", "subject") if k not in raw]
    if missing:
        raise TaxonomyError(f"{where}: missing {', '.join(missing)}")
    code = raw["code"]
    if code.split(".")[0] != domain:
        raise TaxonomyError(f"{where}: code {code!r} must start with its domain {domain!r}")
    if raw["sensitivity"] not in SENSITIVITIES:
        raise TaxonomyError(f"{where}: sensitivity {raw['sensitivity']!r} is not one of {SENSITIVITIES}")
    if raw["subject"] not in SUBJECTS:
        raise TaxonomyError(f"{where}: subject {raw['subject']!r} is not one of {SUBJECTS}")
    label = raw["label"]
    if not (label.get("en") and label.get("cy")):
        raise TaxonomyError(f"{where}: label needs both en and cy")
    schema = raw.get("details") or {"type": "object"}
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as exc:  # jsonschema raises SchemaError with a long message
        raise TaxonomyError(f"{where}: details is not a valid JSON schema: {exc}") from exc
    clock = raw.get("clock") or {}
    return EventCode(
        code=code,
        domain=domain,
        label_en=label["en"],
        label_cy=label["cy"],
        sensitivity=raw["sensitivity"],
        subject=raw["subject"],
        recorded_by=tuple(raw.get("recorded_by") or ()),
        soft=bool(raw.get("soft", False)),
        details_schema=schema,
        clock_starts=tuple(clock.get("starts") or ()),
        clock_stops=tuple(clock.get("stops") or ()),
        validator=Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER),
    )


def parse(document: dict[str, Any], source: str = "taxonomy") -> tuple[dict[str, Domain], dict[str, EventCode]]:
    domains: dict[str, Domain] = {}
    codes: dict[str, EventCode] = {}
    for i, d in enumerate(document.get("domains") or []):
        key = d.get("key")
        if key not in DOMAINS:
            raise TaxonomyError(f"{source}: domains[{i}]: key {key!r} is not one of {DOMAINS}")
        domains[key] = Domain(key, d["label"]["en"], d["label"]["cy"])
        for j, raw in enumerate(d.get("codes") or []):
            where = f"{source}: {key}.codes[{j}]"
            event_code = _code_from(key, raw, where)
            if event_code.code in codes:
                raise TaxonomyError(f"{where}: duplicate code {event_code.code!r}")
            codes[event_code.code] = event_code
    return domains, codes


_extra: dict[str, EventCode] = {}


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Domain], dict[str, EventCode]]:
    with TAXONOMY_FILE.open(encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh), source=TAXONOMY_FILE.name)


def domains() -> dict[str, Domain]:
    return _load()[0]


def codes() -> dict[str, EventCode]:
    return {**_load()[1], **_extra}


def get(code: str) -> EventCode | None:
    return _extra.get(code) or _load()[1].get(code)


def register(event_code: EventCode) -> None:
    """Let an app declare a code it owns in Python rather than in the YAML file."""
    if event_code.code in _load()[1]:
        raise TaxonomyError(f"{event_code.code!r} is already in the taxonomy file")
    _extra[event_code.code] = event_code


# Labels for event details --------------------------------------------------------------------


@lru_cache(maxsize=1)
def detail_labels() -> dict[str, dict[str, Any]]:
    """The English and Welsh labels for detail keys and enum values (``detail_labels.yaml``)."""
    with DETAIL_LABELS_FILE.open(encoding="utf-8") as fh:
        document = yaml.safe_load(fh) or {}
    return {
        "keys": document.get("keys") or {},
        "values": document.get("values") or {},
        "by_property": document.get("by_property") or {},
    }


def _lang(language: str | None) -> str:
    return "cy" if (language or "en").startswith("cy") else "en"


def _humanise(text: str) -> str:
    return text.replace("_", " ").capitalize()


def detail_label(key: str, language: str | None = "en") -> str:
    """The label for a detail key (``seen_alone``) in ``language``.

    A key missing from the file (a code an app registered in Python, say) falls back to the
    key in plain English words, as before the file existed.
    """
    entry = detail_labels()["keys"].get(key)
    return entry[_lang(language)] if entry else _humanise(key)


def detail_value_label(key: str, value: str, language: str | None = "en") -> str:
    """The label for the enum ``value`` of detail ``key`` in ``language``; other text as written.

    A per-property override wins over the general label for the value. A string that is no
    enum value in the file is free text, and stays as recorded.
    """
    labels = detail_labels()
    entry = (labels["by_property"].get(key) or {}).get(value) or labels["values"].get(value)
    return entry[_lang(language)] if entry else value
