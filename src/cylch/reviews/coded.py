"""Coded reviews in the national repository: their details, their codes, and the coding
assistant's suggestions with the reviewer's decision on each (issue 9, item 7).

The final coding (``ReviewCode`` rows) is the truth; a suggestion's decision records what the
reviewer did with it, and never contradicts the coding: an accepted suggestion's code is
present, a rejected one's is not. Every write is one transaction with its audit entry. An
uploaded review is read in memory and never stored; its text is kept only when the reviewer
says it is the published, anonymised version (the public repository searches it).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from cylch.access.audit import audit_record
from cylch.access.models import AuditAction, BoardArea, User
from cylch.reviews import services
from cylch.reviews.coding import extract as ex
from cylch.reviews.coding import suggest as sg
from cylch.reviews.models import CodedReview, CodeSuggestion, PreviousHistory, ReviewCode

# Published reviews are a few MB at most; this bounds the memory one upload can take.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
TEXT_SUFFIXES = frozenset({"", ".txt", ".text", ".md"})
GENDERS = {"female": gettext_lazy("Girl"), "male": gettext_lazy("Boy"), "not_known": gettext_lazy("Not stated")}
# The two sets of age bands (TA tables 2 and 3): the child's age, not a judgement, so they are
# set from the age when it is known, and at most one band of each set is coded.
AGE_GROUPS = ("age", "age_panel")
OLDEST_MONTHS = 19 * 12  # the TA's oldest band is 18 years

# The template's section names (coding/extract.py), for the pages in both languages.
SECTION_LABELS = {
    ex.PREAMBLE: gettext_lazy("Before the first heading"),
    "Brief outline of circumstances resulting in the review": gettext_lazy(
        "Brief outline of circumstances resulting in the review"
    ),
    "Circumstances": gettext_lazy("Circumstances"),
    "Scope of the review panel": gettext_lazy("Scope of the review panel"),
    "Objectives": gettext_lazy("Objectives"),
    "Family tree": gettext_lazy("Family tree"),
    "Agency involvement": gettext_lazy("Agency involvement"),
    "Timeline of significant events": gettext_lazy("Timeline of significant events"),
    "Family members' perspectives": gettext_lazy("Family members' perspectives"),
    "Practice and organisational learning": gettext_lazy("Practice and organisational learning"),
    "Improving systems and practice": gettext_lazy("Improving systems and practice"),
    "Recommendations": gettext_lazy("Recommendations"),
    "Statement by reviewer(s)": gettext_lazy("Statement by reviewer(s)"),
    "Learning event": gettext_lazy("Learning event"),
    "Summary timeline": gettext_lazy("Summary timeline"),
}


def language() -> str:
    return "cy" if (get_language() or "en").startswith("cy") else "en"


def code_label(code_id: str, lang: str | None = None) -> str:
    """A code's name in the page's language (the code id itself if the code book lost it)."""
    try:
        return sg.load_codebook().label(code_id, lang or language())
    except KeyError:
        return code_id


def code_group(code_id: str) -> str:
    return code_id.split(".", 1)[0]


# --- who may code a board's reviews -----------------------------------------------------------


def board_for(user: User) -> BoardArea:
    """The board area of a member of a board's review sub-group or its analyst; anyone else,
    a national-board member included (their organisation has no area), is refused."""
    org = user.organisation
    if user.role not in services.BOARD_ROLES or org is None or org.board_area_id is None:
        raise PermissionDenied(_("Only a safeguarding board's review sub-group and analysts code its reviews."))
    return org.board_area


def _check(user: User, coded: CodedReview) -> None:
    if board_for(user).pk != coded.board_area_id:
        raise PermissionDenied(_("This review belongs to another board."))


def coded_review_for(user: User, public_id) -> CodedReview:
    """One of the user's board's coded reviews; another board's is not found, as if absent."""
    area = board_for(user)
    found = CodedReview.objects.select_related("board_area").filter(public_id=public_id, board_area=area).first()
    if found is None:
        raise Http404
    return found


def coded_reviews(board_area: BoardArea):
    """The board's coded reviews with their counts of codes and of suggestions waiting (one query)."""
    return CodedReview.objects.filter(board_area=board_area).annotate(
        code_count=Count("codes", distinct=True),
        pending_count=Count(
            "suggestions", filter=Q(suggestions__decision=CodeSuggestion.Decision.PENDING), distinct=True
        ),
    )


# --- details ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewDetails:
    """What a reviewer records about a coded review (the codes aside)."""

    reference: str
    type: str
    title: str
    incident_on: date | None = None
    referred_on: date | None = None
    learning_event_on: date | None = None
    signed_off_on: date | None = None
    published_on: date | None = None
    child_gender: str = "not_known"
    child_age_months: int | None = None
    previous_history: str = PreviousHistory.NOT_KNOWN
    excluded: bool = False
    public_summary: str = ""
    public_summary_cy: str = ""
    is_public: bool = False


DETAIL_FIELDS = tuple(ReviewDetails.__dataclass_fields__)
# The review's dates in the order they happen; a later one cannot come before an earlier one.
DATE_ORDER = (
    ("incident_on", gettext_lazy("the incident")),
    ("referred_on", gettext_lazy("the referral")),
    ("learning_event_on", gettext_lazy("the learning event")),
    ("signed_off_on", gettext_lazy("sign-off")),
    ("published_on", gettext_lazy("publication")),
)


def _validate(details: ReviewDetails, board_area: BoardArea, exclude_pk: int | None) -> ReviewDetails:
    errors: dict[str, list[str]] = {}
    reference, title = details.reference.strip(), details.title.strip()
    if not reference:
        errors["reference"] = [_("Enter the board's reference for the review.")]
    elif len(reference) > 60:
        errors["reference"] = [_("The reference must be 60 characters or fewer.")]
    elif CodedReview.objects.filter(board_area=board_area, reference__iexact=reference).exclude(pk=exclude_pk).exists():
        errors["reference"] = [_("The board already has a coded review with this reference.")]
    if not title:
        errors["title"] = [_("Enter the review's title.")]
    elif len(title) > 200:
        errors["title"] = [_("The title must be 200 characters or fewer.")]
    if details.type not in services.config()["types"]:
        errors["type"] = [_("Choose the type of review.")]
    today = timezone.localdate()
    seen: list[tuple[date, str]] = []
    for name, label in DATE_ORDER:
        day = getattr(details, name)
        if day is None:
            continue
        if day > today:
            errors[name] = [_("The date cannot be in the future.")]
        else:
            before = [lbl for earlier, lbl in seen if day < earlier]
            if before:
                errors[name] = [_("This cannot be before %(event)s.") % {"event": before[-1]}]
        seen.append((day, label))
    if details.child_gender not in GENDERS:
        errors["child_gender"] = [_("Choose the child's gender, or 'Not stated'.")]
    months = details.child_age_months
    if months is not None and not (isinstance(months, int) and 0 <= months < OLDEST_MONTHS):
        errors["child_age_months"] = [_("The child's age must be from 0 months to 18 years 11 months.")]
    if details.previous_history not in PreviousHistory.values:
        errors["previous_history"] = [_("Choose the child's previous history with children's services.")]
    if details.is_public and not details.public_summary.strip():
        errors["public_summary"] = [_("Write the public summary before showing the review in the public repository.")]
    if details.is_public and details.published_on is None and "published_on" not in errors:
        errors["published_on"] = [_("Give the publication date: only published reviews go in the public repository.")]
    if errors:
        raise ValidationError(errors)
    return ReviewDetails(**{**details.__dict__, "reference": reference, "title": title})


def _audit(user: User, coded: CodedReview, op: str, **detail) -> None:
    audit_record(action=AuditAction.WRITE, actor=user, object_type="coded_review", object_id=coded.public_id,
                 purpose="Coding a safeguarding review", detail={"op": op, **detail})  # fmt: skip


def coded_review_create(
    *, user: User, board_area: BoardArea, details: ReviewDetails, codes: Iterable[str] = ()
) -> CodedReview:
    """Add a review to the board's repository with its codes (the age bands follow the age)."""
    if board_for(user).pk != board_area.pk:
        raise PermissionDenied(_("You can only add reviews for your own board."))
    details = _validate(details, board_area, None)
    codes = _checked_codes(codes)
    with transaction.atomic():
        coded = CodedReview.objects.create(board_area=board_area, created_by=user, **details.__dict__)
        _set_codes(coded, codes)
        _set_age_codes(coded)
        _align_decisions(coded, user)
        _audit(user, coded, "create", reference=coded.reference, codes=sorted(_final(coded)))
    return coded


def coded_review_update(
    coded: CodedReview, *, user: User, details: ReviewDetails, codes: Iterable[str] | None = None
) -> CodedReview:
    """Change a coded review's details and, when ``codes`` is given, its codes (age bands aside)."""
    _check(user, coded)
    details = _validate(details, coded.board_area, coded.pk)
    checked = _checked_codes(codes) if codes is not None else None
    with transaction.atomic():
        before = {name: getattr(coded, name) for name in DETAIL_FIELDS}
        for name in DETAIL_FIELDS:
            setattr(coded, name, getattr(details, name))
        coded.save()
        if checked is not None:
            _set_codes(coded, checked)
        _set_age_codes(coded)
        _align_decisions(coded, user)
        changed = sorted(name for name in DETAIL_FIELDS if before[name] != getattr(coded, name))
        _audit(user, coded, "update", changed=changed, codes=sorted(_final(coded)))
    return coded


# --- codes --------------------------------------------------------------------------------------


def _final(coded: CodedReview) -> set[str]:
    return set(coded.codes.values_list("code", flat=True))


def _checked_codes(codes: Iterable[str]) -> set[str]:
    """Codes a reviewer ticks: known to the code book and not age bands (those follow the age)."""
    codes = set(codes)
    book = sg.load_codebook()
    unknown = sorted(c for c in codes if c not in book.ids)
    if unknown:
        raise ValidationError({"codes": [_("Not in the code book: %(codes)s.") % {"codes": ", ".join(unknown)}]})
    ages = sorted(c for c in codes if code_group(c) in AGE_GROUPS)
    if ages:
        raise ValidationError({"codes": [_("The age bands follow the child's age: give the age instead.")]})
    return codes


def _set_codes(coded: CodedReview, codes: set[str]) -> None:
    """Make the review's codes other than age bands exactly ``codes``; kept ones keep their source."""
    present = {c.code: c for c in coded.codes.all() if code_group(c.code) not in AGE_GROUPS}
    gone = [c.pk for code, c in present.items() if code not in codes]
    ReviewCode.objects.filter(pk__in=gone).delete()
    ReviewCode.objects.bulk_create(ReviewCode(coded_review=coded, code=code) for code in sorted(codes - set(present)))


def age_codes(months: int) -> set[str]:
    """The child's age band in each set (TA tables 2 and 3)."""
    found = set()
    for bands in sg.load_codebook().age_bands.values():
        for band in bands:
            low, high = band["months"]
            if low <= months < high:
                found.add(band["id"])
    return found


def _set_age_codes(coded: CodedReview) -> None:
    """With a known age, its bands replace any other age band (e.g. an accepted sibling's)."""
    if coded.child_age_months is None:
        return
    wanted = age_codes(coded.child_age_months)
    coded.codes.filter(Q(code__startswith="age.") | Q(code__startswith="age_panel.")).exclude(code__in=wanted).delete()
    present = _final(coded)
    ReviewCode.objects.bulk_create(ReviewCode(coded_review=coded, code=c) for c in sorted(wanted - present))


def _align_decisions(coded: CodedReview, user: User) -> None:
    """A decided suggestion follows the final coding: unticking an accepted code rejects its
    suggestion, ticking a rejected one accepts it. Waiting ones wait for the reviewer."""
    final = _final(coded)
    decided = coded.suggestions.exclude(decision=CodeSuggestion.Decision.PENDING)
    decided.filter(code__in=final).exclude(decision=CodeSuggestion.Decision.ACCEPTED).update(
        decision=CodeSuggestion.Decision.ACCEPTED, decided_by=user
    )
    decided.exclude(code__in=final).exclude(decision=CodeSuggestion.Decision.REJECTED).update(
        decision=CodeSuggestion.Decision.REJECTED, decided_by=user
    )


def _age_clash(coded: CodedReview, code: str) -> str | None:
    """The age band of the same set already coded, if ``code`` is an age band and one is."""
    group = code_group(code)
    if group not in AGE_GROUPS:
        return None
    return next((c for c in _final(coded) if code_group(c) == group and c != code), None)


def codes_set(coded: CodedReview, *, user: User, codes: Iterable[str]) -> CodedReview:
    """Set the review's codes by hand (every code but the age bands, which follow the age)."""
    _check(user, coded)
    checked = _checked_codes(codes)
    with transaction.atomic():
        _set_codes(coded, checked)
        _align_decisions(coded, user)
        _audit(user, coded, "codes_set", codes=sorted(_final(coded)))
    return coded


def code_add(coded: CodedReview, *, user: User, code: str, evidence: str = "") -> ReviewCode:
    """A code the assistant missed, added by the reviewer with the evidence they found."""
    _check(user, coded)
    if code not in sg.load_codebook().ids:
        raise ValidationError({"code": [_("Choose a code from the code book.")]})
    if coded.codes.filter(code=code).exists():
        raise ValidationError({"code": [_("The review already has this code.")]})
    clash = _age_clash(coded, code)
    if clash:
        raise ValidationError(
            {"code": [_("The child's age is already coded as %(band)s.") % {"band": code_label(clash)}]}
        )
    with transaction.atomic():
        added = ReviewCode.objects.create(coded_review=coded, code=code, evidence=evidence.strip())
        _align_decisions(coded, user)
        _audit(user, coded, "code_add", code=code)
    return added


# --- the assistant: upload, suggestions, decisions ----------------------------------------------


def too_large() -> str:
    return _("The file is larger than %(limit)s: upload a smaller one.") % {"limit": filesizeformat(MAX_UPLOAD_BYTES)}


def _read(name: str, data: bytes) -> ex.Document:
    """The uploaded file as a document, or a ValidationError on ``file`` saying what is wrong."""
    suffix = Path(name or "").suffix.lower()
    is_pdf = suffix == ".pdf" or data[:5] == b"%PDF-"
    if not data:
        raise ValidationError({"file": [_("The file is empty.")]})
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError({"file": [too_large()]})
    if not is_pdf and suffix != ".docx" and suffix not in TEXT_SUFFIXES:
        raise ValidationError({"file": [_("Files of this type cannot be read: upload a PDF or a plain-text file.")]})
    if suffix == ".docx" and not ex.docx_available():
        raise ValidationError(
            {"file": [_("Word documents cannot be read on this server: save the review as PDF and upload that.")]}
        )
    if not is_pdf and suffix in TEXT_SUFFIXES and b"\x00" in data[:4096]:
        raise ValidationError({"file": [_("The file is not plain text: upload a PDF or a plain-text file.")]})
    try:
        document = ex.extract_upload(name or "upload.txt", data)
    except ex.UnsupportedDocument:
        if is_pdf:
            raise ValidationError({"file": [_("The PDF has no text to read (it may be a scan).")]}) from None
        raise ValidationError({"file": [_("The file could not be read: upload a PDF or a plain-text file.")]}) from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, RecursionError) as exc:
        raise ValidationError(
            {"file": [_("The file could not be read (%(kind)s): is it damaged?") % {"kind": type(exc).__name__}]}
        ) from None
    except Exception as exc:  # pypdf raises its own errors for broken PDFs; any of them means unreadable
        if type(exc).__module__.startswith("pypdf"):
            raise ValidationError({"file": [_("The PDF could not be read: is it damaged?")]}) from None
        raise
    if not document.sentences:
        raise ValidationError({"file": [_("No text was found in the file.")]})
    return document


def _evidence(suggestion: sg.Suggestion) -> list[dict]:
    return [{"section": s.section, "sentence": s.sentence, "reason": s.reason} for s in suggestion.sentences]


def _store(coded: CodedReview, result: sg.Suggestions) -> dict:
    """Keep the suggestions, one row per code: a code suggested again is updated in place (its
    decision kept), a waiting one no longer suggested goes, a decided one stays as history."""
    existing = {s.code: s for s in coded.suggestions.all()}
    new, updated = [], []
    for item in result:
        row = existing.pop(item.code, None)
        if row is None:
            new.append(CodeSuggestion(coded_review=coded, code=item.code, score=item.score, evidence=_evidence(item)))
        else:
            row.score, row.evidence = item.score, _evidence(item)
            updated.append(row)
    CodeSuggestion.objects.bulk_create(new)
    CodeSuggestion.objects.bulk_update(updated, ["score", "evidence"])
    stale = [s.pk for s in existing.values() if s.decision == CodeSuggestion.Decision.PENDING]
    CodeSuggestion.objects.filter(pk__in=stale).delete()
    return {"new": len(new), "updated": len(updated), "withdrawn": len(stale)}


def review_upload(
    coded: CodedReview, *, user: User, name: str, data: bytes, public_version: bool, use_embeddings: bool = True
) -> sg.Suggestions:
    """Read an uploaded review in memory, suggest codes from it and keep the suggestions; keep
    the text itself only when the reviewer says it is the published, anonymised version."""
    _check(user, coded)
    document = _read(name, data)
    result = sg.suggest(document, use_embeddings=use_embeddings)
    with transaction.atomic():
        if public_version:
            coded.public_text = document.text
            coded.save(update_fields=["public_text", "modified_at"])
        counts = _store(coded, result)
        _audit(user, coded, "upload", file=Path(name or "").name[:100], bytes=len(data), sentences=len(document.sentences),
               suggested=len(result), embedding_used=result.embedding_used, public_text_kept=public_version, **counts)  # fmt: skip
    return result


def suggestions_refresh(coded: CodedReview, *, user: User, use_embeddings: bool = True) -> sg.Suggestions:
    """Suggest again from the kept public text (after the code book or the model changed)."""
    _check(user, coded)
    if not coded.public_text.strip():
        raise ValidationError(_("No text is kept for this review: upload it again."))
    result = sg.suggest(coded.public_text, use_embeddings=use_embeddings)
    with transaction.atomic():
        counts = _store(coded, result)
        _audit(user, coded, "suggest_again", suggested=len(result), embedding_used=result.embedding_used, **counts)
    return result


def suggestion_decide(suggestion: CodeSuggestion, *, user: User, accept: bool, sentence: int = 0) -> CodeSuggestion:
    """Accept (the code is added, from the assistant, with a supporting sentence as its
    evidence) or reject (the suggestion is marked; a code added by accepting it earlier goes,
    nothing else changes)."""
    coded = suggestion.coded_review
    _check(user, coded)
    code = coded.codes.filter(code=suggestion.code).first()
    with transaction.atomic():
        if accept:
            clash = _age_clash(coded, suggestion.code)
            if clash:
                raise ValidationError({"code": [_("The child's age is already coded as %(band)s: reject this suggestion, or change the age on the review's page.")
                                                % {"band": code_label(clash)}]})  # fmt: skip
            if code is None:
                evidence = suggestion.evidence[sentence]["sentence"] if 0 <= sentence < len(suggestion.evidence) else ""
                ReviewCode.objects.create(coded_review=coded, code=suggestion.code,
                                          source=ReviewCode.Source.ASSISTANT, evidence=evidence)  # fmt: skip
        else:
            if code is not None and code.source == ReviewCode.Source.MANUAL:
                raise ValidationError(
                    {"code": [_("You coded this yourself: untick it on the review's page if it does not apply.")]}
                )
            if code is not None:
                code.delete()
        suggestion.decision = CodeSuggestion.Decision.ACCEPTED if accept else CodeSuggestion.Decision.REJECTED
        suggestion.decided_by = user
        suggestion.save(update_fields=["decision", "decided_by"])
        _audit(user, coded, "suggestion_decide", code=suggestion.code, decision=suggestion.decision)
    return suggestion


# --- agreement ----------------------------------------------------------------------------------


@dataclass
class Agreement:
    """How far the assistant's suggestions agreed with the final coding (docs/review-coding.md)."""

    suggested: int
    pending: int
    figures: dict = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)  # coded, not suggested
    rejected: list[str] = field(default_factory=list)  # suggested, not coded

    @property
    def complete(self) -> bool:
        return self.suggested > 0 and self.pending == 0


def agreement_report(coded: CodedReview) -> Agreement:
    """``suggest.agreement`` over the codes suggested and the final coding."""
    rows = list(coded.suggestions.values_list("code", "decision"))
    suggested = {code for code, _decision in rows}
    final = _final(coded)
    return Agreement(
        suggested=len(suggested),
        pending=sum(1 for _code, decision in rows if decision == CodeSuggestion.Decision.PENDING),
        figures=sg.agreement(suggested, final) if suggested else {},
        missed=sorted(final - suggested),
        rejected=sorted(suggested - final),
    )


# --- for the pages: a supporting sentence with what matched marked, and why in words ------------

_REASON_PART = re.compile(r";\s(?=lexicon: |similarity |age stated: )")
_SIMILARITY = re.compile(r"similarity (?P<score>[\d.]+) to anchor (?P<anchor>.*)", re.DOTALL)


def reasons_in_words(reason: str) -> list[str]:
    """The assistant's reasons (``lexicon: 'x'; similarity 0.71 to anchor '…'``) in the page's language."""
    out = []
    for part in _REASON_PART.split(reason):
        if part.startswith("lexicon: "):
            out.append(_("Words from the code book: %(terms)s") % {"terms": part.removeprefix("lexicon: ")})
        elif part.startswith("age stated: "):
            out.append(_("Age stated: %(words)s") % {"words": part.removeprefix("age stated: ")})
        elif match := _SIMILARITY.match(part):
            out.append(
                _("Close in meaning (similarity %(score)s) to the code's example: %(anchor)s") % match.groupdict()
            )
        else:
            out.append(part)
    return out


def marked(code_id: str, sentence: str) -> list[tuple[str, bool]]:
    """The sentence in pieces, each (text, is it what matched): lexicon terms not negated, or
    the stated age for an age band. A sentence supporting a code by meaning alone has none."""
    spans: list[tuple[int, int]] = []
    if code_group(code_id) in AGE_GROUPS:
        for words, _months in sg.ages_in(sentence):
            start = sentence.find(words)
            if start >= 0:
                spans.append((start, start + len(words)))
    else:
        try:
            code = sg.load_codebook().code(code_id)
        except KeyError:
            code = None
        for _term, pattern in code.patterns if code else ():
            for match in pattern.finditer(sentence):
                if not sg._negated(sentence, match.start()):
                    spans.append(match.span())
    pieces, at = [], 0
    for start, end in sorted(spans):
        if start < at:
            continue  # overlapping matches: the first wins
        if start > at:
            pieces.append((sentence[at:start], False))
        pieces.append((sentence[start:end], True))
        at = end
    if at < len(sentence):
        pieces.append((sentence[at:], False))
    return pieces
