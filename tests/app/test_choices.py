"""The choice labels and adoption shares the Trends page charts, checked against the catalog's own columns."""

import pandas as pd
import pytest

from dashboard.choices import CHOICES, NOT_PUBLISHED, adoption, choice_labels, first_adopters, legend_order


@pytest.mark.parametrize("choice", CHOICES, ids=[c.name for c in CHOICES])
def test_every_model_gets_a_label_and_the_legend_lists_each_once(frame, choice):
    labels = choice_labels(frame, choice)
    assert labels.notna().all() and len(labels) == len(frame)
    order = legend_order(labels, choice)
    assert sorted(order) == sorted(set(labels))
    assert NOT_PUBLISHED not in order[:-1]


def test_norm_position_labels_follow_the_column(frame):
    choice = next(c for c in CHOICES if c.name == "norm_position")
    labels = choice_labels(frame, choice)
    assert (labels[frame["norm_position"] == "pre"] == "pre-norm").all()
    assert (labels[frame["norm_position"].isna()] == NOT_PUBLISHED).all()


@pytest.mark.parametrize("choice", CHOICES, ids=[c.name for c in CHOICES])
def test_adoption_shares_are_cumulative_counts_over_all_models_so_far(frame, choice):
    labels = choice_labels(frame, choice)
    shares = adoption(frame, labels)
    for year, group in shares.groupby("year"):
        upto = frame["year"] <= year
        assert group["total"].iloc[0] == upto.sum()
        assert group["share"].sum() == pytest.approx(1.0)
        for row in group.itertuples():
            assert row.models == (labels[upto] == row.label).sum()


def test_first_adopters_are_the_earliest_release_of_each_label(frame):
    choice = next(c for c in CHOICES if c.name == "activation")
    labels = choice_labels(frame, choice)
    firsts = first_adopters(frame, labels).set_index("label")
    for label in set(labels) - {NOT_PUBLISHED}:
        assert firsts.loc[label, "first"] == frame.loc[labels == label, "released"].min()
    assert list(firsts["first"]) == sorted(firsts["first"])


def test_adoption_of_no_models_is_empty():
    empty = pd.DataFrame(columns=["year", "name", "released"])
    assert adoption(empty, pd.Series([], dtype="object")).empty
