"""The benchmark run reports SPEC §14's budgets beside its figures (never asserting a time)."""

from __future__ import annotations

from benchmarks.run import budgets


def test_budgets_judge_each_figure_against_its_limit_and_vendor():
    results = {
        "auth_vs_drf_token": 0.7,
        "load_vs_plain_drf": {"10": 1.2, "100": 1.0, "1000": 0.8},
        "revalidate_vs_plain_drf": 0.51,
        "served_load_vs_plain_drf": None,
    }
    sqlite = budgets(results, "sqlite")
    assert sqlite["auth_vs_drf_token"] == {"value": 0.7, "limit": 1.0, "op": "<=", "met": True}
    assert sqlite["load_vs_plain_drf[10]"]["met"] is False
    assert sqlite["load_vs_plain_drf[100]"]["met"] is True  # at the limit
    assert (
        sqlite["load_vs_plain_drf[1000]"]["limit"] == 0.7
        and sqlite["load_vs_plain_drf[1000]"]["met"] is False
    )
    assert sqlite["revalidate_vs_plain_drf"]["met"] is False
    assert sqlite["served_load_vs_plain_drf"] == {"value": None, "limit": 0.8, "op": ">=", "met": None}
    postgres = budgets({**results, "served_load_vs_plain_drf": 0.85}, "postgresql")
    assert postgres["load_vs_plain_drf[1000]"] == {"value": 0.8, "limit": 1.0, "op": "<=", "met": True}
    assert postgres["served_load_vs_plain_drf"]["met"] is True
