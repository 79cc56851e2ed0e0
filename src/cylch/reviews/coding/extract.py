"""Text from an uploaded review, normalised, split into sections and sentences.

Published reviews arrive as PDF (read with pypdf) or plain text. Word documents are read only
when python-docx is installed; otherwise they are refused with a message saying so.

Sections follow the Child Practice Review template (TA appendix 6, with the additions of
appendix 7): a line that is one of the known headings (or a short title-case line ending in no
full stop that starts with one) opens a section. Text before the first heading is "Preamble".
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# The template's headings (TA appendices 6 and 7), each with the spellings seen in reviews.
# The first entry is the section's name as reported.
SECTION_HEADINGS: tuple[tuple[str, ...], ...] = (
    (
        "Brief outline of circumstances resulting in the review",
        "Brief outline of circumstances",
        "Outline of circumstances",
    ),
    ("Circumstances", "Circumstances context", "Comprehensive circumstances context", "Background"),
    ("Scope of the review panel", "Scope of the review", "Review panel", "Scope"),
    ("Objectives", "Objectives of the review", "Terms of reference"),
    ("Family tree", "Family structure", "Family dynamic"),
    ("Agency involvement", "Agency involvement in the CPR", "Agency involvement in the review", "Agencies involved"),
    ("Timeline of significant events", "Summary timeline", "Chronology", "Chronology of significant events"),
    (
        "Family members' perspectives",
        "Family members perspectives",
        "Family perspectives",
        "Family involvement",
        "Family engagement",
    ),
    ("Practice and organisational learning", "Learning points", "Practice and organisational learning points"),
    (
        "Improving systems and practice",
        "Actioned changes in systems and practice",
        "Actions agreed from learning review panel",
    ),
    (
        "Recommendations",
        "Clear, actionable and accountable recommendations",
        "Recommendations for practice and systems",
    ),
    (
        "Statement by reviewer(s)",
        "Statement by reviewers",
        "Statement by reviewer",
        "Statement of independence from the case",
    ),
    ("Learning event", "Learning event detail"),
    ("Summary timeline", "Child practice review process"),
)
PREAMBLE = "Preamble"

_HEADING_INDEX = {re.sub(r"[^a-z ]", "", h.lower()).strip(): names[0] for names in SECTION_HEADINGS for h in names}
# Abbreviations whose full stop does not end a sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "Dr.", "Mr.", "Mrs.", "Ms.", "No.", "approx.", "St.", "vs.", "cf.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


class UnsupportedDocument(ValueError):
    """The upload is of a kind the assistant cannot read here; the message says why."""


@dataclass(frozen=True)
class Sentence:
    section: str
    text: str
    index: int  # position in the whole document, from 0


@dataclass(frozen=True)
class Document:
    text: str  # normalised full text
    sections: list[tuple[str, str]]  # (section name, its text), in order
    sentences: list[Sentence]


def docx_available() -> bool:
    try:
        import docx  # noqa: F401  (python-docx)
    except ImportError:
        return False
    return True


def read_upload(name: str, data: bytes) -> str:
    """The raw text of an uploaded file, by its extension (.pdf, .txt/.md/.text, .docx)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pdf" or data[:5] == b"%PDF-":
        return _pdf_text(data)
    if suffix == ".docx":
        if not docx_available():
            raise UnsupportedDocument(
                "Word documents (.docx) cannot be read here because python-docx is not installed. "
                "Save the review as PDF or plain text and upload that instead."
            )
        import docx

        document = docx.Document(io.BytesIO(data))
        return "\n".join(p.text for p in document.paragraphs)
    if suffix in ("", ".txt", ".text", ".md"):
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
        return data.decode("latin-1")
    raise UnsupportedDocument(f"Files of type {suffix!r} are not supported: upload a PDF or a plain-text file.")


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    pages = [page.extract_text() or "" for page in reader.pages]
    text = "\n".join(pages)
    if not text.strip():
        raise UnsupportedDocument("The PDF has no text layer (it may be a scan): the text could not be extracted.")
    return text


def normalise(text: str) -> str:
    """NFKC, straight quotes and dashes, hyphenation at line ends undone, whitespace tidied.

    Line breaks are kept (headings are found by line); runs of blank lines become one.
    """
    text = unicodedata.normalize("NFKC", text)
    text = (
        text.replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
        .replace("\u2013", "-")
        .replace("\u2014", "-")
        .replace("\u00ad", "")
        .replace("\u2022", "-")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\f", "\n")
    )
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)  # "do-\nmestic" -> "domestic"
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _heading_name(line: str) -> str | None:
    stripped = line.strip().strip("#*:").strip()
    stripped = re.sub(r"^(\d+(\.\d+)*\.?|[A-Z]\.)\s+", "", stripped)  # "3. Circumstances", "A. Objectives"
    if not stripped or len(stripped) > 80 or stripped.endswith((".", ",", ";")):
        return None
    key = re.sub(r"[^a-z ]", "", stripped.lower()).strip()
    key = re.sub(r"\s+", " ", key)
    return _HEADING_INDEX.get(key)


def split_sections(text: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, list[str]]] = [(PREAMBLE, [])]
    for line in text.split("\n"):
        name = _heading_name(line)
        if name is not None:
            sections.append((name, []))
        else:
            sections[-1][1].append(line)
    out = []
    for name, lines in sections:
        body = "\n".join(lines).strip()
        if body:
            out.append((name, body))
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences of a section: paragraphs joined, then split after . ! ? before a capital or digit."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        # A line break inside a paragraph is a wrapped line, unless the line is a list item.
        lines = [ln.strip() for ln in paragraph.split("\n") if ln.strip()]
        chunks: list[str] = []
        for ln in lines:
            if re.match(r"^([-*]|\d+[.)])\s+", ln) or not chunks:
                chunks.append(re.sub(r"^([-*]|\d+[.)])\s+", "", ln))
            else:
                chunks[-1] += " " + ln
        for chunk in chunks:
            protected = chunk
            for i, abbreviation in enumerate(_ABBREVIATIONS):
                protected = protected.replace(abbreviation, f"\x00{i}\x00")
            for part in _SENTENCE_END.split(protected):
                for i, abbreviation in enumerate(_ABBREVIATIONS):
                    part = part.replace(f"\x00{i}\x00", abbreviation)
                part = part.strip()
                if len(part) >= 3:
                    sentences.append(part)
    return sentences


def extract(text: str) -> Document:
    """A document from raw text: normalised, in sections, in sentences."""
    normal = normalise(text)
    sections = split_sections(normal)
    sentences: list[Sentence] = []
    for name, body in sections:
        for sentence in split_sentences(body):
            sentences.append(Sentence(section=name, text=sentence, index=len(sentences)))
    return Document(text=normal, sections=sections, sentences=sentences)


def extract_upload(name: str, data: bytes) -> Document:
    return extract(read_upload(name, data))
