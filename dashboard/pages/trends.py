"""Trends: for every categorical architecture choice, who chose what when, and how adoption grew."""

import streamlit as st

from dashboard import charts, filters
from dashboard.choices import CHOICES, adoption, choice_labels, first_adopters, legend_order
from dashboard.data import models_or_stop

st.title("How LM architecture choices evolved")
st.caption(
    "Each dot is one catalogued model at its release date; the area charts show, for each year, the share of all "
    "models released up to then that made each choice. Click a legend entry to highlight it; drag or scroll a "
    "timeline to zoom, double-click to reset."
)

models = models_or_stop()
left, middle, right = st.columns([2, 2, 3])
with left:
    years = filters.year_range(models)
with middle:
    kinds = filters.architecture_kinds(models)
with right:
    shown = st.multiselect("Choices", [c.title for c in CHOICES], key="choices", bind="query-params",
                           placeholder="All choices")
selected = filters.apply(models, years=years, kinds=kinds)

if selected.empty:
    filters.empty_state()
    st.stop()

st.caption(f"{len(selected)} of {len(models)} models.")
for choice in [c for c in CHOICES if c.title in shown] or CHOICES:
    labels = choice_labels(selected, choice)
    order = legend_order(labels, choice)
    st.subheader(choice.title, anchor=choice.name)
    st.markdown(choice.story)
    firsts = first_adopters(selected, labels)
    st.caption(" · ".join(f"**{row.label}** first: {row.models} ({row.first}), {row.count} model(s)"
                          for row in firsts.itertuples()))
    timeline, share = st.columns([3, 2])
    with timeline:
        st.altair_chart(charts.choice_timeline(selected, labels, order, choice.title), width="stretch")
    with share:
        st.altair_chart(charts.choice_adoption(adoption(selected, labels), order, choice.title), width="stretch")
