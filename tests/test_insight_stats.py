"""insight.stats against SciPy and scikit-learn, and the `cylch stats` command for analysts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import procrustes
from scipy.spatial.distance import braycurtis, pdist, squareform
from scipy.stats import chi2, chi2_contingency
from scipy.stats.contingency import association
from sklearn.manifold import MDS

from cylch.insight import stats


def random_table(seed: int, cases: int = 33, indicators: int = 10) -> np.ndarray:
    """Binary indicators with different prevalences, some correlated, like coded reviews."""
    rng = np.random.default_rng(seed)
    prevalence = rng.uniform(0.1, 0.6, size=indicators)
    table = (rng.random((cases, indicators)) < prevalence).astype(int)
    latent = rng.random(cases) < 0.3  # a shared cause, so some pairs co-occur
    table[:, : indicators // 3] |= latent[:, None]
    return table


# --- Frequencies ---------------------------------------------------------------------------------


def test_frequencies_give_percent_of_all_and_valid_percent_of_the_known():
    """Ten cases, two missing (None and blank): 3 of 10 is 30% of all and 37.5% of the 8 valid."""
    values = ["neglect", "emotional", None, "neglect", "physical", "", "neglect", "emotional", "sexual", "physical"]
    table = stats.frequencies(values)

    assert (table.total, table.valid, table.missing) == (10, 8, 2)
    assert [r.value for r in table.rows] == ["emotional", "neglect", "physical", "sexual"]
    by_value = {r.value: r for r in table.rows}
    assert by_value["neglect"].count == 3
    assert by_value["neglect"].percent == pytest.approx(30.0)
    assert by_value["neglect"].valid_percent == pytest.approx(37.5)
    assert table.rows[-1].cumulative_percent == pytest.approx(100.0)
    assert sum(r.percent for r in table.rows + table.missing_rows) == pytest.approx(100.0)
    assert sum(r.valid_percent for r in table.rows) == pytest.approx(100.0)
    assert [(r.value, r.count, r.percent, r.valid_percent) for r in table.missing_rows] == [
        (None, 1, 10.0, None),
        ("", 1, 10.0, None),
    ]


def test_frequencies_take_a_missing_list_and_count_nan_as_missing():
    """Codes 9 and NaN are missing when asked; an empty list gives zeros rather than dividing by 0."""
    table = stats.frequencies([1, 1, 0, 9, float("nan")], missing={9})
    assert [(r.value, r.count, r.valid_percent) for r in table.rows] == [
        (0, 1, pytest.approx(100 / 3)),
        (1, 2, pytest.approx(200 / 3)),
    ]
    assert table.missing == 2

    empty = stats.frequencies([])
    assert (empty.total, empty.rows, empty.missing_rows) == (0, [], [])


# --- Phi -----------------------------------------------------------------------------------------


def scipy_phi(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    observed = np.array([[np.sum(x & y), np.sum(x & ~y)], [np.sum(~x & y), np.sum(~x & ~y)]])
    result = chi2_contingency(observed, correction=False)
    return float(np.corrcoef(x, y)[0, 1]), float(result.statistic), float(result.pvalue)


@pytest.mark.parametrize("seed", range(5))
def test_phi_matches_pearson_correlation_and_scipy_chi_square(seed):
    """Phi is the Pearson correlation of the 0/1 vectors; chi² and p are SciPy's uncorrected test."""
    table = random_table(seed).astype(bool)
    for i in range(table.shape[1]):
        for j in range(i + 1, table.shape[1]):
            x, y = table[:, i], table[:, j]
            result = stats.phi(x, y)
            expected_phi, expected_chi2, expected_p = scipy_phi(x, y)
            assert result.phi == pytest.approx(expected_phi, abs=1e-12)
            assert abs(result.phi) == pytest.approx(
                association(
                    np.array([[np.sum(x & y), np.sum(x & ~y)], [np.sum(~x & y), np.sum(~x & ~y)]]), method="cramer"
                ),
                abs=1e-12,
            )
            assert result.chi2 == pytest.approx(expected_chi2, rel=1e-10, abs=1e-12)
            assert result.p == pytest.approx(expected_p, rel=1e-9, abs=1e-15)
            assert result.n == table.shape[0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=60))
def test_phi_agrees_with_scipy_on_any_pair_of_binary_vectors(pairs):
    """For any data phi is either SciPy's figure or, when a column has no variance, None."""
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    result = stats.phi(x, y)
    if x.all() or not x.any() or y.all() or not y.any():
        assert (result.phi, result.chi2, result.p) == (None, None, None)
        return
    expected_phi, expected_chi2, expected_p = scipy_phi(x, y)
    assert result.phi == pytest.approx(expected_phi, abs=1e-12)
    assert result.chi2 == pytest.approx(expected_chi2, rel=1e-10, abs=1e-12)
    assert result.p == pytest.approx(expected_p, rel=1e-9, abs=1e-15)


def test_chi_square_survival_function_on_one_df_matches_scipy():
    for x in [0.0, 1e-9, 0.1, 1.0, 3.841458820694124, 10.0, 50.0, 200.0]:
        assert stats.chi2_sf_1df(x) == pytest.approx(chi2.sf(x, 1), rel=1e-12, abs=1e-300)


def test_not_known_counts_as_absent_and_other_codes_are_refused():
    """None and NaN are 'not known', coded 0 as the TA did; a 2 or a 'yes' is an error."""
    with_unknowns = stats.phi([1, None, 1, 0, float("nan"), 1], [1, 0, None, 0, 1, 1])
    as_zeros = stats.phi([1, 0, 1, 0, 0, 1], [1, 0, 0, 0, 1, 1])
    assert with_unknowns == as_zeros
    with pytest.raises(ValueError, match="2"):
        stats.phi([1, 2, 0], [1, 0, 0])
    with pytest.raises(ValueError, match="yes"):
        stats.phi([1, "yes", 0], [1, 0, 0])


def test_an_indicator_with_no_variance_has_no_phi():
    """Present in every case (or none), phi is 0/0: None, not a crash and not a fake 0."""
    assert stats.phi([1, 1, 1, 1], [1, 0, 1, 0]) == stats.Phi(None, None, None, 4)
    assert stats.phi([0, 0, 0, 0], [1, 0, 1, 0]) == stats.Phi(None, None, None, 4)


def test_phi_matrix_lists_every_pair_and_bonferroni_multiplies_by_the_number_of_pairs():
    table = random_table(7, indicators=5)
    names = ["mh", "drugs", "criminal", "aces", "da"]
    plain = stats.phi_matrix(table, names)
    corrected = stats.phi_matrix(table, names, bonferroni=True)

    assert [(r.a, r.b) for r in plain] == [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    for row, fixed in zip(plain, corrected, strict=True):
        assert row.phi == fixed.phi
        assert fixed.p == pytest.approx(min(1.0, row.p * 10))
    assert any(f.p == 1.0 for f in corrected)
    by_indicator = stats.phi_matrix(table, names, bonferroni=True, tests=5)
    assert by_indicator[0].p == pytest.approx(min(1.0, plain[0].p * 5))


def test_phi_matrix_keeps_undefined_pairs_without_crashing():
    table = [[1, 0, 1], [0, 0, 1], [1, 0, 0], [0, 0, 1]]
    rows = stats.phi_matrix(table, ["a", "never", "c"], bonferroni=True)
    assert [(r.a, r.b, r.phi, r.p) for r in rows if r.phi is None] == [
        ("a", "never", None, None),
        ("never", "c", None, None),
    ]


# --- Lance and Williams --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_lance_williams_is_bray_curtis_on_boolean_columns(seed):
    table = random_table(seed, indicators=12)
    d = stats.lance_williams(table)
    for i in range(12):
        for j in range(12):
            expected = 0.0 if i == j else braycurtis(table[:, i].astype(bool), table[:, j].astype(bool))
            assert d[i, j] == pytest.approx(expected, abs=1e-12)


def test_lance_williams_ignores_joint_absences():
    """Adding cases where neither indicator is recorded changes phi but not the dissimilarity."""
    base = np.array([[1, 1], [1, 0], [0, 1], [1, 1]])
    padded = np.vstack([base, np.zeros((20, 2), dtype=int)])
    assert stats.lance_williams(base)[0, 1] == stats.lance_williams(padded)[0, 1] == pytest.approx(2 / 6)
    assert stats.phi(base[:, 0], base[:, 1]).phi != stats.phi(padded[:, 0], padded[:, 1]).phi


def test_indicators_never_present_are_identical_to_each_other_and_far_from_the_rest():
    d = stats.lance_williams([[0, 0, 1], [0, 0, 1], [0, 0, 0]])
    assert d[0, 1] == 0.0
    assert d[0, 2] == d[1, 2] == 1.0
    assert np.all(np.isfinite(d))


# --- MDS -----------------------------------------------------------------------------------------


def test_mds_recovers_a_known_configuration_from_its_exact_distances():
    """Exact 2-D distances give stress ~0 and the same shape, up to rotation and reflection."""
    rng = np.random.default_rng(3)
    points = rng.normal(size=(9, 2))
    result = stats.mds(squareform(pdist(points)))

    assert result.stress < 1e-10
    assert np.allclose(squareform(pdist(result.coordinates)), squareform(pdist(points)), atol=1e-6)
    _, _, disparity = procrustes(points, result.coordinates)
    assert disparity < 1e-10
    assert np.allclose(result.coordinates.mean(axis=0), 0, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_mds_stress_is_no_worse_than_scikit_learn(seed):
    """On Lance and Williams matrices of random coded reviews, our SMACOF fits at least as well."""
    delta = stats.lance_williams(random_table(seed, indicators=12))
    ours = stats.mds(delta, seed=seed)
    theirs = MDS(
        n_components=2,
        metric_mds=True,
        metric="precomputed",
        init="random",
        n_init=4,
        random_state=seed,
        normalized_stress=False,
    ).fit_transform(delta)

    assert ours.stress == pytest.approx(stats.normalised_raw_stress(delta, ours.coordinates))
    assert ours.stress <= stats.normalised_raw_stress(delta, theirs) + 1e-9
    assert 0 < ours.stress < 0.2


def test_normalised_raw_stress_is_the_squared_error_over_the_squared_dissimilarities():
    delta = np.array([[0, 1, 2], [1, 0, 1], [2, 1, 0]], dtype=float)
    on_a_line = np.array([[0.0], [1.0], [2.0]])
    squashed = np.array([[0.0], [1.0], [1.0]])
    assert stats.normalised_raw_stress(delta, on_a_line) == 0.0
    assert stats.normalised_raw_stress(delta, squashed) == pytest.approx((1 + 1) / (1 + 4 + 1))


def test_mds_refuses_a_matrix_that_is_not_a_dissimilarity():
    with pytest.raises(ValueError, match="symmetric"):
        stats.mds([[0, 1], [2, 0]])
    with pytest.raises(ValueError, match="square"):
        stats.mds([[0, 1, 2]])


def test_mds_is_reproducible_for_a_seed():
    delta = stats.lance_williams(random_table(11, indicators=8))
    first, second = stats.mds(delta, seed=5), stats.mds(delta, seed=5)
    assert np.array_equal(first.coordinates, second.coordinates)
    assert first.stress == second.stress


# --- The command ---------------------------------------------------------------------------------


def write_csv(path: Path, table: np.ndarray, names: list[str], *, ids: bool = True) -> Path:
    lines = [",".join((["case"] if ids else []) + names)]
    for k, row in enumerate(table, start=1):
        cells = ["1" if v else ("" if k % 3 == 0 else "0") for v in row]  # blanks mean "not known" too
        lines.append(",".join(([f"CPR{k:02d}"] if ids else []) + cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()]


NAMES = ["mental_health", "drugs_alcohol", "criminal_history", "aces", "domestic_abuse", "young_parent"]


def test_stats_phi_writes_one_row_per_pair(tmp_path, capsys, db):  # the export is audited
    table = random_table(2, indicators=6)
    source = write_csv(tmp_path / "parents.csv", table, NAMES)
    out = tmp_path / "phi.csv"
    call_command("stats", "phi", str(source), "--out", str(out), "--bonferroni")

    rows = read_rows(out)
    assert rows[0] == ["a", "b", "phi", "p", "n"]
    assert len(rows) == 1 + 15
    expected = stats.phi_matrix(table, NAMES, bonferroni=True)
    for row, pair in zip(rows[1:], expected, strict=True):
        assert row[:2] == [pair.a, pair.b]
        assert float(row[2]) == pytest.approx(pair.phi, abs=1e-6)
        assert float(row[3]) == pytest.approx(pair.p, rel=1e-5)
        assert row[4] == "33"


def test_stats_mds_writes_coordinates_and_ends_with_the_stress(tmp_path, capsys, db):
    table = random_table(4, indicators=6)
    source = write_csv(tmp_path / "parents.csv", table, NAMES, ids=False)
    out = tmp_path / "mds.csv"
    call_command("stats", "mds", str(source), "--out", str(out), "--dims", "2")

    rows = read_rows(out)
    assert rows[0] == ["indicator", "dim1", "dim2"]
    assert [r[0] for r in rows[1:]] == NAMES
    expected = stats.mds(stats.lance_williams(table))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("normalised raw stress: ")
    assert float(last.split(": ")[1]) == pytest.approx(expected.stress, abs=1e-6)
    assert np.allclose([[float(v) for v in r[1:]] for r in rows[1:]], expected.coordinates, atol=1e-5)


@pytest.mark.parametrize("bad", ["2", "yes"])
def test_a_bad_cell_names_the_file_line_and_column_and_writes_nothing(tmp_path, bad):
    lines = ["id,neglect,emotional_abuse"] + [f"{k},1,0" for k in range(1, 6)] + [f"6,{bad},1", "7,0,1"]
    source = tmp_path / "child.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "phi.csv"

    with pytest.raises(CommandError) as error:
        call_command("stats", "phi", str(source), "--out", str(out))
    message = str(error.value)
    assert str(source) in message
    assert "line 7" in message
    assert '"neglect"' in message
    assert repr(bad) in message
    assert not out.exists()


def test_a_short_row_and_a_missing_file_are_clear_errors(tmp_path):
    source = tmp_path / "short.csv"
    source.write_text("case,a,b\n1,1,0\n2,1\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"short\.csv, line 3: 2 cells where the header has 3"):
        call_command("stats", "mds", str(source), "--out", str(tmp_path / "m.csv"))
    with pytest.raises(CommandError, match="no such file"):
        call_command("stats", "phi", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "p.csv"))
    assert not (tmp_path / "m.csv").exists()
