"""``cylch bench results`` reads every bench's file, whatever cases a bench wrote, and gives each
machine-dependent figure its floor and ratio (the real files of a `make bench` run, in small)."""

from __future__ import annotations

import json

from cylch.core import benchresults


def test_the_linkage_file_with_an_online_case_gives_its_latency_against_the_candidates_lookup(tmp_path):
    doc = {
        "bench": "linkage",
        "at": "2026-12-06T11:03:00+00:00",
        "results": [
            {"case": "febrl4 recordlinkage baseline", "records": 10000, "seconds": 3.1,
             "pairs": {"precision": 1.0, "recall": 0.9996, "f1": 0.9998}, "peak_mb": 348.3},
            {"case": "febrl4 cylch", "records": 10000, "seconds": 4.6,
             "pairs": {"precision": 1.0, "recall": 0.9978, "f1": 0.9989}, "peak_mb": 356.0},
            {"case": "online 100000 postgresql", "records": 100000, "database": "postgresql", "matched": 300,
             "ms_p50": 31.7, "ms_p95": 47.3, "ms_max": 68.3, "candidates_ms_p50": 5.0, "candidates_ms_p95": 15.9,
             "decisions": {"link": 257, "review": 6, "none": 17, "no candidate": 20},
             "linked_to_the_right_person": 257, "with_someone_to_find": 266, "peak_mb": 355.1},
        ],
    }  # fmt: skip
    (tmp_path / "linkage.json").write_text(json.dumps(doc))

    combined = benchresults.collect(tmp_path)

    by_name = {f["figure"]: f for f in combined["figures"]}
    p95 = by_name["online 100000 postgresql: one record matched, p95"]
    assert p95["value"] == 47.3 and p95["floor"]["value"] == 15.9 and p95["ratio"] == 3.0
    assert p95["engine"] == "postgresql" and "100 ms" in p95["aim"]
    right = by_name["online 100000 postgresql: linked to the right person (machine-free)"]
    assert right["value"] == round(257 / 266, 4) and "0 linked to the wrong person" in right["note"]
    assert by_name["febrl4 cylch: records linked per second"]["ratio"] == round(3225.8 / 2173.9, 1)
    assert "linkage" not in combined["missing"] and "online" in benchresults.table(combined)


def _intake_result(batch: int, rate: float, plain: float) -> dict:
    return {
        "database": "postgresql", "batch_size": batch,
        "intake": {"events": 4000, "senders": 2, "events_per_second": rate},
        "rules_off": {"events": 4000, "events_per_second": plain},
        "floor": {"rows_per_second": 100_000.0, "method": "COPY"},
    }  # fmt: skip


def test_an_intake_file_with_two_batch_sizes_gives_each_its_own_figures(tmp_path):
    doc = {"bench": "intake", "at": "2026-12-07T07:00:00+00:00",
           "results": [_intake_result(100, 625.0, 1100.0), _intake_result(1000, 1250.0, 2000.0)]}  # fmt: skip
    (tmp_path / "intake.json").write_text(json.dumps(doc))

    figures = [f for f in benchresults.collect(tmp_path)["figures"] if f["bench"] == "intake"]

    by_name = {f["figure"]: f for f in figures}
    assert len(by_name) == len(figures) == 4  # no figure hides another of the same name
    small = by_name["events stored, rules evaluated (batches of 100, 2 senders)"]
    large = by_name["events stored, rules evaluated (batches of 1000, 2 senders)"]
    assert (small["value"], small["ratio"]) == (625.0, 160.0)
    assert (large["value"], large["ratio"]) == (1250.0, 80.0)
    assert by_name["events stored, rules switched off (batches of 1000)"]["value"] == 2000.0


def test_the_intake_bench_takes_a_list_of_batch_sizes_and_names_a_bad_one():
    import pytest
    from django.core.management import CommandError, call_command

    from cylch.core.management.commands.bench import _sizes

    assert _sizes("100") == [100] and _sizes("100,1000") == [100, 1000]
    for bad in ("", "100,x", "0", "-5"):
        with pytest.raises(CommandError, match="batch sizes such as 100"):
            call_command("bench", "intake", "--batch", bad, "--databases", "sqlite")
