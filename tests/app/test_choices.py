"""The choice labels, per-year shares and consensus line the Trends page shows, checked against the catalog's
own columns."""

import pandas as pd
import pytest

from dashboard.choices import (CHOICES, CHOICES_BY_NAME, HEADLINE_CHOICES, NOT_PUBLISHED, choice_labels,
                               consensus_summary, first_adopters, legend_order, yearly_shares)


@pytest.mark.parametrize("choice", CHOICES, ids=[c.name for c in CHOICES])
def test_every_model_gets_a_label_and_the_legend_lists_each_once(frame, choice):
    labels = choice_labels(frame, choice)
    assert labels.notna().all() and len(labels) == len(frame)
    order = legend_order(labels, choice)
    assert sorted(order) == sorted(set(labels))
    assert NOT_PUBLISHED not in order[:-1]


def test_norm_position_labels_follow_the_column(frame):
    labels = choice_labels(frame, CHOICES_BY_NAME["norm_position"])
    assert (labels[frame["norm_position"] == "pre"] == "pre-norm").all()
    assert (labels[frame["norm_position"].isna()] == NOT_PUBLISHED).all()


def test_biases_nope_and_chunked_layers_are_labelled_as_the_records_say(frame):
    by_key = frame.set_index("key")
    biases = choice_labels(frame, CHOICES_BY_NAME["biases"]).set_axis(frame["key"])
    assert biases["transformer-big"] == "MLP only"  # biased MLP, bias-free attention projections
    assert biases["qwen2.5-7b"] == "q/k/v only" and biases["llama-2-7b"] == "none"
    assert biases["gpt2-xl"] == "all linear layers"
    position = choice_labels(frame, CHOICES_BY_NAME["position"]).set_axis(frame["key"])
    assert set(position[by_key["global_nope"].fillna(False).astype(bool)]) == {"RoPE + NoPE global layers"}
    layers = choice_labels(frame, CHOICES_BY_NAME["layer_mix"]).set_axis(frame["key"])
    assert set(layers[by_key["chunked_attention"].fillna(False).astype(bool)]) == {"chunked + global"}
    assert layers["mistral-7b"] == "all sliding" and layers["gemma-2-9b"] == "sliding + global"


@pytest.mark.parametrize("choice", CHOICES, ids=[c.name for c in CHOICES])
def test_yearly_shares_count_each_years_releases_only(frame, choice):
    labels = choice_labels(frame, choice)
    shares = yearly_shares(frame, labels)
    for year, group in shares.groupby("year"):
        released = frame["year"] == year
        assert group["total"].iloc[0] == released.sum()
        assert group["share"].sum() == pytest.approx(1.0)
        for row in group.itertuples():
            assert row.models == (labels[released] == row.label).sum()


def test_gated_mlp_and_rmsnorm_shares_equal_the_frames_columns(frame):
    """Per-year shares against the public row's own booleans and enums, for the filter the page applies."""
    decoders = frame[frame["arch"] == "decoder"]
    gated = yearly_shares(decoders, choice_labels(decoders, CHOICES_BY_NAME["gated_mlp"])).set_index(["year", "label"])
    rms = yearly_shares(decoders, choice_labels(decoders, CHOICES_BY_NAME["norm"])).set_index(["year", "label"])
    for year, group in decoders.groupby("year"):
        assert gated.loc[(year, "gated"), "share"] == pytest.approx(group["gated_mlp"].astype(bool).mean())
        assert rms.loc[(year, "RMSNorm"), "share"] == pytest.approx((group["norm"] == "rmsnorm").mean())


def test_the_consensus_line_is_computed_from_the_rows_it_summarises(frame):
    since = 2023
    recent = frame[frame["year"] >= since]
    line = consensus_summary(frame, since, HEADLINE_CHOICES)
    assert line.startswith(f"Since {since} ({len(recent)} models): ")
    rope = ((recent["position"] == "rope") & ~recent["global_nope"].fillna(False).astype(bool)
            & (recent["nope_layers"] == 0)).mean()
    assert ("all RoPE" if rope == 1 else f"{rope:.0%} RoPE") in line
    gated = recent["gated_mlp"].astype(bool).mean()
    assert ("all gated MLPs" if gated == 1 else f"{gated:.0%} gated MLPs") in line
    rms = (recent["norm"] == "rmsnorm").mean()
    assert ("all RMSNorm" if rms == 1 else f"{rms:.0%} RMSNorm") in line
    assert "post-norm" not in line or "no post-norm" in line


def test_no_two_choices_read_alike_in_the_consensus_line():
    owner = {}
    for choice in CHOICES:
        for label in choice.order:
            assert owner.setdefault(choice.phrase(label), choice.name) == choice.name, choice.phrase(label)


def test_a_label_that_most_earlier_models_chose_and_none_since_reads_no():
    frame = pd.DataFrame({
        "year": [2018, 2019, 2020, 2023, 2024, 2024, 2024],
        "norm_position": ["post", "post", "pre", "pre", "pre", "pre", "double"],
        "name": list("abcdefg"), "released": ["2018-01"] * 7,
    })
    line = consensus_summary(frame, 2023, (CHOICES_BY_NAME["norm_position"],))
    assert line == "Since 2023 (4 models): 75% pre-norm, no post-norm."
    assert consensus_summary(frame, 2025) == "No listed model was released in 2025 or later."


def test_first_adopters_are_the_earliest_release_of_each_label(frame):
    labels = choice_labels(frame, CHOICES_BY_NAME["activation"])
    firsts = first_adopters(frame, labels).set_index("label")
    for label in set(labels) - {NOT_PUBLISHED}:
        assert firsts.loc[label, "first"] == frame.loc[labels == label, "released"].min()
    assert list(firsts["first"]) == sorted(firsts["first"])


def test_shares_of_no_models_are_empty():
    empty = pd.DataFrame(columns=["year", "name", "released"])
    assert yearly_shares(empty, pd.Series([], dtype="object")).empty


def test_frontier_first_adopters_are_the_earliest_rows_making_each_choice(frame):
    from dashboard.choices import first_adopters_line

    line = first_adopters_line(frame)
    mla = frame[frame["attention"] == "mla"]
    first = mla["released"].min()
    names = ", ".join(sorted(mla.loc[mla["released"] == first, "name"]))
    assert f"multi-head latent attention: **{names}** ({first})" in line
    assert first_adopters_line(frame[frame["year"] < 2020]) == ""  # none of these choices before 2020
