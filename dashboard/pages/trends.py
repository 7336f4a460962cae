"""Trends: what the models of each year chose, the consensus since a year in one line, and each choice's story."""

import pandas as pd
import streamlit as st

from dashboard import charts, filters
from dashboard.choices import (CHOICES, CHOICES_BY_NAME, HEADLINE_CHOICES, choice_labels, consensus_summary,
                               first_adopters, legend_order, yearly_shares)
from dashboard.data import models_or_stop

st.title("How LM architecture choices evolved")

models = models_or_stop()
left, right = st.columns([3, 2])
with left:
    years = filters.year_range(models)
with right:
    kinds = filters.architecture_kinds(models)
selected = filters.apply(models, years=years, kinds=kinds)
if selected.empty:
    filters.empty_state()
    st.stop()

last = int(selected["year"].max())
since = st.select_slider("Consensus since", sorted(selected["year"].astype(int).unique()),
                         value=max(int(selected["year"].min()), last - 2), key="since", bind="query-params",
                         help="The summary line counts the models released in this year or later.")
st.info(consensus_summary(selected, since, HEADLINE_CHOICES), icon=":material/insights:")
st.caption(f"{len(selected)} of {len(models)} models. Shares are per release year: of the models released in a "
           "year, how many made each choice (the year's count is in brackets), not a running total.")

consensus, detail = st.tabs(["Consensus by year", "One choice in detail"])
with consensus:
    rows = []
    for choice in CHOICES:
        labels = choice_labels(selected, choice)
        shares = yearly_shares(selected, labels)
        order = legend_order(labels, choice)
        shares["rank"] = shares["label"].map({label: index for index, label in enumerate(order)})
        rows.append(shares.assign(choice=choice.title).sort_values(["rank", "year"]))
    st.altair_chart(charts.consensus_heatmap(pd.concat(rows, ignore_index=True)), width="stretch")

with detail:
    name = st.selectbox("Choice", [c.name for c in CHOICES], format_func=lambda n: CHOICES_BY_NAME[n].title,
                        key="choice", bind="query-params")
    choice = CHOICES_BY_NAME[name]
    labels = choice_labels(selected, choice)
    order = legend_order(labels, choice)
    st.markdown(f"**Why it matters.** {choice.story}")
    if choice.papers:
        st.markdown("Papers: " + " · ".join(f"[{paper.title}]({paper.url})" for paper in choice.papers))
    firsts = first_adopters(selected, labels)
    st.caption("First adopters: " + " · ".join(f"**{row.label}**: {row.models} ({row.first})"
                                                for row in firsts.itertuples())
               + ". Click a dot to open the model's page; click a legend entry to highlight it.")
    timeline, share = st.columns([3, 2])
    with timeline:
        st.altair_chart(charts.choice_timeline(selected, labels, order, choice.title, firsts), width="stretch")
    with share:
        st.altair_chart(charts.yearly_share_chart(yearly_shares(selected, labels), order, choice.title),
                        width="stretch")
