"""The last step of a scoring run by hand: every float stored to 10 decimals with -0.0 as 0.0, the
component marginals added to the score tables, provenance on all of them."""

from __future__ import annotations

import datetime as dt

import polars as pl
from scoring_builders import Company, D, Deal, plan

from compscore.provenance import PROVENANCE_COLUMNS, Provenance
from compscore.scoring.finish import COMPONENT_MARGINALS, finished_score_tables, without_float_noise
from compscore.scoring.scores import score_company


def test_floats_are_rounded_to_10_decimals_and_negative_zero_is_zero():
    df = pl.DataFrame(
        {
            "x": [0.12345678904, 0.12345678906, -1e-11, -0.0, None, 42.5],
            "y": pl.Series([1.00000000004, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=pl.Float32),
            "n": [1, 2, 3, 4, 5, 6],
            "s": ["a", "b", "c", "d", "e", "f"],
        }
    )
    cleaned = without_float_noise(df)
    x = cleaned["x"].to_list()
    # 0.1234567890|4 → 0.1234567890, 0.1234567890|6 → 0.1234567891; -1e-11 → -0.0 → 0.0; null stays.
    assert x == [0.123456789, 0.1234567891, 0.0, 0.0, None, 42.5]
    assert [str(v) for v in x[2:4]] == ["0.0", "0.0"]  # not -0.0
    assert cleaned["y"].dtype == pl.Float32 and cleaned["y"][0] == 1.0
    assert cleaned.select("n", "s").equals(df.select("n", "s"))


def test_a_table_without_floats_is_left_as_it_is():
    df = pl.DataFrame({"plan_id": ["a", "b"], "n_reps": [3, 4]})
    assert without_float_noise(df).equals(df)


def test_finished_tables_are_the_score_tables_plus_component_marginals_rounded_with_provenance():
    components = (
        "  - {id: nb, kind: commission, applies_to: [new_business], tiers: [{from: 0.0, rate: 0.10}],\n"
        "     clawback: {window_days: 180, fraction: 1.0}}\n"
        "  - {id: renew, kind: commission, applies_to: [renewal, expansion],\n"
        "     tiers: [{from: 0.0, rate: 0.02}]}\n"
    )
    data = Company(plans=[plan(components)], deals=[Deal("D1", "R1", 50_000, D(2026, 2, 10))]).data()
    scores = score_company(data, as_of=D(2026, 3, 31))
    provenance = Provenance("run-1", dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC), D(2026, 3, 31), "here")
    tables = finished_score_tables(scores, data.plans, provenance)
    assert list(tables) == [*scores.outputs(), COMPONENT_MARGINALS]
    for table in tables.values():
        assert table.columns[-4:] == list(PROVENANCE_COLUMNS)

    # SPEC worked example 3: c = 180/365, m_S = 0.1 · (1 − c), m_R = 0.1 · c + 0.02; stored to 10 decimals.
    c = 180 / 365
    m_s, m_r = 0.1 * (1 - c), 0.1 * c + 0.02
    q1 = tables["plan_scores"].row(0, named=True)
    assert q1["same_day_index"] == round(100 * m_s / (m_s + m_r), 10)  # 42.2535211268
    assert q1["run_id"] == "run-1"
    marginals = tables[COMPONENT_MARGINALS].filter(attainment=1.0, component_id="nb").row(0, named=True)
    assert (marginals["marginal_same_day"], marginals["marginal_retention"]) == (
        round(m_s, 10),
        round(0.1 * c, 10),
    )
    assert marginals["source"] == "here"
