"""The linkage model: Splink comparisons and blocking rules, unsupervised training, versioned JSON.

Comparisons and blocking adapt to the fields a source actually has (a legacy CSV may have
no NHS number; FEBRL has no sex), so one definition serves the hub, ``cylch link csv`` and
the benchmark. A missing value is always Splink's null level, "unknown", never disagreement.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import splink.comparison_level_library as cll
from splink import Linker, SettingsCreator
from splink.internals.comparison_library import CustomComparison

MODEL_FORMAT = 1
# Thresholds on Splink's match weight (log2 of the posterior odds). Chosen by measurement on
# the demo's hard population; see docs/linkage.md for the table that chose them.
DEFAULT_AUTO_LINK_WEIGHT = 8.0
DEFAULT_REVIEW_WEIGHT = 0.0
# Two clusters joined only by review-band pairs are one person, without review, when their
# cluster-level score (the mean weight of the pairs across them that scored in the band or above,
# ``batch.cluster_score``) is at least this. A model saved before this existed (no key in its
# JSON) has none.
DEFAULT_CLUSTER_LINK_WEIGHT = 5.5
TWIN_LEVEL = "Different given name, same date of birth and surname (twins?)"
NOT_TWINS_LEVEL = "Different given name, same date of birth, surname and identifier"
VARIANT_TYPO_LEVEL = "Welsh/English form misspelt (Rese/Rhys)"
VARIANT_TYPO_SIMILARITY = 0.92
IDENTIFIERS = ("nhs_number", "pupil_number", "other_id")
# Term frequencies kept in the saved model for online matching: names seen at least this often.
TF_MIN_COUNT = 2


def quiet() -> None:
    """Splink reports every EM iteration and each untrained level; the caller reports what matters."""
    logging.getLogger("splink").setLevel(logging.ERROR)


def _exact(col: str, label: str, tf: bool = False):
    return cll.ExactMatchLevel(col, term_frequency_adjustments=tf).configure(label_for_charts=label)


def _custom(sql: str, label: str):
    return cll.CustomLevel(sql, label_for_charts=label)


def _best_form_similarity(forms: str, name: str) -> str:
    """SQL: the highest Jaro-Winkler similarity of one side's given name to any form of the other's."""
    return (
        f'list_max(list_transform("given_variants_{forms}", lambda v: jaro_winkler_similarity(v, "given_name_{name}")))'
    )


def _null(*cols: str):
    sql = " OR ".join(f'"{c}_l" IS NULL OR "{c}_r" IS NULL' for c in cols)
    return cll.CustomLevel(sql, label_for_charts="Not known on one side").configure(is_null_level=True)


def _identifier(col: str, label: str) -> CustomComparison:
    return CustomComparison(
        output_column_name=col,
        comparison_description=label,
        comparison_levels=[
            cll.NullLevel(col),
            _exact(col, "Same"),
            # Two different people's numbers are one slip apart about once in ten million pairs:
            # random sampling never sees it, so u is set rather than estimated.
            cll.DamerauLevenshteinLevel(col, 1).configure(
                label_for_charts="One character different", u_probability=1e-7, fix_u_probability=True
            ),
            cll.ElseLevel(),
        ],
    )


def comparisons_for(fields: set[str]) -> list:
    """The comparisons the model makes, given the fields the data has."""
    out = []
    if "given_name" in fields:
        levels = [
            cll.NullLevel("given_name"),
            _exact("given_name", "Same given name", tf=True),
            _custom(
                'array_contains("given_variants_l", "given_name_r") OR array_contains("given_variants_r", "given_name_l")',
                "Welsh/English form or short name (Dafydd/David/Dai)",
            ),
            cll.JaroWinklerLevel("given_name", 0.92).configure(
                label_for_charts="Nearly the same (Jaro-Winkler ≥ 0.92)"
            ),
            # A Welsh/English form misspelt ("Rese"/"Rhys", "Dfydd"/"David"): the best Jaro-Winkler
            # of one name against every known form of the other. Both forms are in the list.
            _custom(
                f"{_best_form_similarity('l', 'r')} >= {VARIANT_TYPO_SIMILARITY} "
                f"OR {_best_form_similarity('r', 'l')} >= {VARIANT_TYPO_SIMILARITY}",
                VARIANT_TYPO_LEVEL,
            ),
        ]
        if "surname" in fields:
            levels.append(_custom('"given_name_l" = "surname_r"', "Given name is the other's surname (swapped)"))
        levels.append(
            cll.JaroWinklerLevel("given_name", 0.8).configure(label_for_charts="Similar (Jaro-Winkler ≥ 0.8)")
        )
        if "date_of_birth" in fields and "surname" in fields:
            # Twins: a shared birthday is no evidence when the given names differ and the surnames
            # agree. Its weights are set after training (``_neutralise_twins``); until then it
            # counts strongly against.
            twins = '"dob_l" = "dob_r" AND jaro_winkler_similarity("surname_l", "surname_r") >= 0.8'
            levels.append(
                _custom(twins, TWIN_LEVEL).configure(
                    m_probability=1e-6, u_probability=1.0, fix_m_probability=True, fix_u_probability=True
                )
            )
        levels.append(cll.ElseLevel())
        out.append(CustomComparison(levels, "given_name", "Given name"))
    if "surname" in fields:
        levels = [
            cll.NullLevel("surname"),
            _exact("surname", "Same surname", tf=True),
            cll.JaroWinklerLevel("surname", 0.92).configure(label_for_charts="Nearly the same (Jaro-Winkler ≥ 0.92)"),
        ]
        if "given_name" in fields:
            levels.append(_custom('"surname_l" = "given_name_r"', "Surname is the other's given name (swapped)"))
        levels += [
            cll.JaroWinklerLevel("surname", 0.8).configure(label_for_charts="Similar (Jaro-Winkler ≥ 0.8)"),
            cll.ElseLevel(),
        ]
        out.append(CustomComparison(levels, "surname", "Surname"))
    if "date_of_birth" in fields:
        out.append(
            CustomComparison(
                [
                    cll.NullLevel("dob"),
                    _exact("dob", "Same date of birth"),
                    _custom('"dob_l" = "dob_swapped_r"', "Day and month swapped"),
                    cll.DamerauLevenshteinLevel("dob", 1).configure(label_for_charts="One digit different"),
                    _custom('"birth_year_l" = "birth_year_r"', "Same year of birth"),
                    cll.ElseLevel(),
                ],
                "dob",
                "Date of birth",
            )
        )
    if "sex" in fields:
        out.append(
            CustomComparison(
                [cll.NullLevel("sex"), _exact("sex", "Same sex"), cll.ElseLevel()],
                "sex",
                "Sex",
            )
        )
    has_pc, has_addr = "postcode" in fields, "address" in fields
    if has_pc or has_addr:
        levels = []
        if has_pc and has_addr:
            levels.append(
                cll.CustomLevel(
                    '("postcode_l" IS NULL OR "postcode_r" IS NULL) AND ("address_l" IS NULL OR "address_r" IS NULL)',
                    label_for_charts="Not known on one side",
                ).configure(is_null_level=True)
            )
            levels.append(
                cll.And(cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("address", 0.9)).configure(
                    label_for_charts="Same address"
                )
            )
        elif has_pc:
            levels.append(cll.NullLevel("postcode"))
        else:
            levels.append(cll.NullLevel("address"))
        if has_pc:
            levels.append(_exact("postcode", "Same postcode"))
        if has_addr:
            levels.append(
                cll.JaroWinklerLevel("address", 0.9).configure(
                    label_for_charts="Same street address, postcode differs or missing"
                )
            )
        if has_pc:
            levels.append(_exact("postcode_sector", "Same postcode sector (moved nearby)"))
            levels.append(_exact("postcode_district", "Same postcode district"))
        levels.append(cll.ElseLevel().configure(label_for_charts="Elsewhere (moved, or another household)"))
        out.append(CustomComparison(levels, "address", "Address and postcode"))
    if "town" in fields:
        out.append(
            CustomComparison(
                [
                    cll.NullLevel("town"),
                    _exact("town", "Same town"),
                    cll.JaroWinklerLevel("town", 0.9).configure(label_for_charts="Similar town"),
                    cll.ElseLevel(),
                ],
                "town",
                "Town",
            )
        )
    if "nhs_number" in fields:
        out.append(_identifier("nhs_number", "NHS number"))
    if "pupil_number" in fields:
        out.append(_identifier("pupil_number", "Unique pupil number"))
    if "other_id" in fields:
        out.append(_identifier("other_id", "Other identifier"))
    return out


@dataclass(frozen=True)
class BlockingRule:
    name: str
    sql: str


def blocking_rules_for(fields: set[str]) -> list[BlockingRule]:
    """Which pairs are compared at all: each rule catches what the others miss (docs/linkage.md)."""
    rules = []
    for col in ("nhs_number", "pupil_number", "other_id"):
        if col in fields:
            rules.append(BlockingRule(f"same {col.replace('_', ' ')}", f'l."{col}" = r."{col}"'))
    dob, given, surname = "date_of_birth" in fields, "given_name" in fields, "surname" in fields
    if dob and surname:
        rules.append(
            BlockingRule(
                "same date of birth and surname initial",
                'l."dob" = r."dob" AND l."surname_initial" = r."surname_initial"',
            )
        )
        rules.append(
            BlockingRule(
                "date of birth with day and month swapped, same surname initial",
                'l."dob_swapped" = r."dob" AND l."surname_initial" = r."surname_initial"',
            )
        )
    if dob and given:
        rules.append(
            BlockingRule(
                "same date of birth and given name form", 'l."dob" = r."dob" AND l."given_canon" = r."given_canon"'
            )
        )
    if given and surname and dob:
        rules.append(
            BlockingRule(
                "same names and year of birth",
                'l."surname" = r."surname" AND l."given_canon" = r."given_canon" AND l."birth_year" = r."birth_year"',
            )
        )
    elif given and surname:
        rules.append(BlockingRule("same names", 'l."surname" = r."surname" AND l."given_canon" = r."given_canon"'))
    if "postcode" in fields and given:
        rules.append(
            BlockingRule(
                "same postcode and given name form", 'l."postcode" = r."postcode" AND l."given_canon" = r."given_canon"'
            )
        )
    # Household rules compare everyone at one postcode with a surname or street address in common:
    # their pairs grow faster than the population (more households share a postcode), which a
    # million hub records cannot afford, and the hub's NHS and pupil numbers find most of what
    # they would. A source without them (a legacy CSV, FEBRL) keeps them (docs/linkage.md).
    household = "postcode" in fields and not {"nhs_number", "pupil_number"} & fields
    if "postcode" in fields and surname and (household or not dob):
        rules.append(
            BlockingRule("same postcode and surname", 'l."postcode" = r."postcode" AND l."surname" = r."surname"')
        )
    if "postcode" in fields and dob:
        rules.append(
            BlockingRule("same postcode and date of birth", 'l."postcode" = r."postcode" AND l."dob" = r."dob"')
        )
    if household and "address" in fields:
        rules.append(
            BlockingRule(
                "same postcode and street address", 'l."postcode" = r."postcode" AND l."address" = r."address"'
            )
        )
    if "address" in fields and dob:
        rules.append(
            BlockingRule(
                "same street address and year of birth",
                'l."address" = r."address" AND l."birth_year" = r."birth_year"',
            )
        )
    if "address" in fields and given:
        rules.append(
            BlockingRule(
                "same street address and given name form",
                'l."address" = r."address" AND l."given_canon" = r."given_canon"',
            )
        )
    # A year of birth with a slip no rule above compares (a slip in the day or month keeps the year):
    # the day and month beside the street address find many. (Beside both names they found a few
    # more for 4.6% more pairs at a million records: docs/linkage.md.)
    if "address" in fields and dob:
        rules.append(
            BlockingRule(
                "same street address and day and month of birth",
                'l."address" = r."address" AND l."birth_month_day" = r."birth_month_day"',
            )
        )
    if given and surname and "postcode" in fields:
        rules.append(
            BlockingRule(
                "names swapped, same postcode",
                'l."given_name" = r."surname" AND l."surname" = r."given_name" AND l."postcode" = r."postcode"',
            )
        )
    if given and surname and dob:
        rules.append(
            BlockingRule(
                "names swapped, same date of birth",
                'l."given_name" = r."surname" AND l."surname" = r."given_name" AND l."dob" = r."dob"',
            )
        )
    return rules


def settings_for(fields: set[str]) -> dict[str, Any]:
    unknown = fields - {
        "given_name", "surname", "date_of_birth", "sex", "postcode", "address", "town",
        "nhs_number", "pupil_number", "other_id",
    }  # fmt: skip
    if unknown:
        raise ValueError(f"Unknown linkage fields: {', '.join(sorted(unknown))}")
    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons_for(fields),
        blocking_rules_to_generate_predictions=[r.sql for r in blocking_rules_for(fields)],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=True,
    )
    return creator.create_settings_dict("duckdb")


@dataclass
class LinkageModel:
    """A trained model: Splink's settings and parameters plus what online matching needs."""

    version: str
    fields: list[str]
    splink: dict[str, Any]
    term_frequencies: dict[str, dict[str, float]] = field(default_factory=dict)
    auto_link_weight: float = DEFAULT_AUTO_LINK_WEIGHT
    review_weight: float = DEFAULT_REVIEW_WEIGHT
    cluster_link_weight: float | None = DEFAULT_CLUSTER_LINK_WEIGHT
    trained_at: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    format: int = MODEL_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LinkageModel:
        data = json.loads(text)
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"Linkage model format {data.get('format')!r} is not {MODEL_FORMAT}.")
        data.setdefault("cluster_link_weight", None)  # saved before cluster-level links: none
        return cls(**data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> LinkageModel:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def for_population(self, records: int) -> LinkageModel:
        """This model for linking among ``records`` agency records.

        λ, the chance that two records picked at random are one person, falls as the population
        grows (each person has about as many records whatever their number), so a model trained
        on fewer records than it is used on scores every pair too high: about 3.3 at ten times
        as many (the shipped model on a million records: pair precision 0.99745 instead of
        0.9993, docs/linkage.md). λ is scaled down by the ratio; never up, precision first."""
        trained = int(self.training.get("records") or 0)
        if trained <= 0 or records <= trained:
            return self
        splink = dict(self.splink)
        splink["probability_two_random_records_match"] = (
            splink["probability_two_random_records_match"] * trained / records
        )
        return replace(self, splink=splink)

    def tf(self, column: str, value: str | None) -> float | None:
        """The term frequency of a value, or the rarest known frequency for one never seen."""
        if value is None:
            return None
        table = self.term_frequencies.get(column) or {}
        return table.get(value, table.get("__min__"))


def train(
    linker_for,
    *,
    fields: set[str],
    records: int,
    version: str | None = None,
    u_pairs: float = 1e6,
    em_pairs: float = 2e6,
) -> LinkageModel:
    """Train a model without labels: λ from deterministic rules, u by random sampling, m by EM.

    ``linker_for(settings)`` returns a Splink ``Linker`` over the prepared table, so the same
    training runs on DuckDB or Spark.
    """
    settings = settings_for(fields)
    linker: Linker = linker_for(settings)
    quiet()
    training = linker.training
    deterministic = []
    for col in ("nhs_number", "pupil_number", "other_id"):
        if col in fields:
            deterministic.append(f'l."{col}" = r."{col}"')
    if {"given_name", "surname", "date_of_birth"} <= fields:
        deterministic.append('l."given_name" = r."given_name" AND l."surname" = r."surname" AND l."dob" = r."dob"')
    if deterministic:
        training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=1)
    sample = min(1.0, max(0.05, em_pairs / max(records, 1) / 20))
    sessions = []
    if "date_of_birth" in fields:
        sessions.append('l."dob" = r."dob"')
    if {"given_name", "surname"} <= fields:
        sessions.append('l."surname" = r."surname" AND l."given_canon" = r."given_canon"')
    # The given-name comparison reads the surname (swapped names) and the date of birth (twins),
    # so neither session above can estimate it: a third, on an identifier, does. (Blocking EM
    # on the postcode instead makes it learn "same household", not "same person".)
    ident = next((c for c in ("nhs_number", "other_id", "pupil_number") if c in fields), None)
    if ident and "date_of_birth" in fields:
        sessions.append(f'l."{ident}" = r."{ident}"')
    elif "postcode" in fields and len(sessions) < 2:
        sessions.append('l."postcode" = r."postcode"')
    for rule in sessions:
        training.estimate_parameters_using_expectation_maximisation(
            rule, max_pairs=em_pairs, record_sample_proportion=sample
        )
    trained = _neutralise_twins(linker.misc.save_model_to_json())
    tf = _term_frequencies(linker, fields)
    now = datetime.now(UTC)
    return LinkageModel(
        version=version or now.strftime("%Y%m%d-%H%M%S"),
        fields=sorted(fields),
        splink=trained,
        term_frequencies=tf,
        trained_at=now.isoformat(timespec="seconds"),
        training={"records": records, "em_blocking_rules": sessions, "u_max_pairs": u_pairs},
    )


def _level(settings: dict[str, Any], column: str, label: str) -> dict[str, Any] | None:
    for comp in settings["comparisons"]:
        if comp["output_column_name"] == column:
            return next((lvl for lvl in comp["comparison_levels"] if lvl.get("label_for_charts") == label), None)
    return None


def _neutralise_twins(settings: dict[str, Any]) -> dict[str, Any]:
    """Weigh "different given name, same date of birth" as a different given name whose date of
    birth is not known: the level's Bayes factor is the different-name one divided by the
    same-date one, so the two cancel. Siblings share a surname and an address, so for twins the
    model's independence assumption would otherwise count the birthday as 2^14 for a match."""
    twin = _level(settings, "given_name", TWIN_LEVEL)
    other = _level(settings, "given_name", "All other comparisons")
    same_dob = _level(settings, "dob", "Same date of birth")
    if not (twin and other and same_dob):
        return settings
    try:
        m_else, u_else = float(other["m_probability"]), float(other["u_probability"])
        m_dob, u_dob = float(same_dob["m_probability"]), float(same_dob["u_probability"])
    except (KeyError, TypeError):
        return settings  # untrained: keep the placeholder, which counts against a match
    twin["u_probability"] = u_else
    twin["m_probability"] = m_else * u_dob / m_dob
    _add_not_twins(settings, twin, m_else, u_else)
    return settings


def _add_not_twins(settings: dict[str, Any], twin: dict[str, Any], m_else: float, u_else: float) -> None:
    """Put, before the twins level, one for the same pair sharing an NHS, pupil or other number:
    twins never do, so it is one person with a given name replaced, weighed as a different given
    name with the birthday counted. Added after training, so EM trains exactly as before: a
    level reading an identifier keeps the given-name comparison out of the EM session blocked on
    that identifier, the only one that estimates it (and as a condition on the twins level it
    moved the other given-name levels: FEBRL4 lost two pairs)."""
    cols = {c["output_column_name"] for c in settings["comparisons"]}
    shared = " OR ".join(f'"{c}_l" = "{c}_r"' for c in IDENTIFIERS if c in cols)
    if not shared or _level(settings, "given_name", NOT_TWINS_LEVEL):
        return
    levels = next(c for c in settings["comparisons"] if c["output_column_name"] == "given_name")["comparison_levels"]
    level = {**twin, "label_for_charts": NOT_TWINS_LEVEL, "sql_condition": f"({twin['sql_condition']}) AND ({shared})",
             "m_probability": m_else, "u_probability": u_else}  # fmt: skip
    levels.insert(levels.index(twin), level)


def _term_frequencies(linker: Linker, fields: set[str]) -> dict[str, dict[str, float]]:
    """Name frequencies for online matching, where Splink cannot compute them from one record."""
    out: dict[str, dict[str, float]] = {}
    for col in ("given_name", "surname"):
        if col not in fields:
            continue
        tf = linker.table_management.compute_tf_table(col)
        rows = linker.misc.query_sql(
            f'select "{col}", "tf_{col}" from {tf.physical_name} order by "tf_{col}" desc', output_type="pandas"
        )
        values = dict(zip(rows[col], rows[f"tf_{col}"], strict=True))
        if not values:
            continue
        smallest = min(values.values())
        kept = {k: float(v) for k, v in values.items() if k is not None and v > smallest * (TF_MIN_COUNT - 0.5)}
        kept["__min__"] = float(smallest)
        out[col] = kept
    return out
