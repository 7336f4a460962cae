"""Explorer: every model in one filterable table, linked to its model page."""

import streamlit as st

from dashboard import charts, filters
from dashboard.data import models_or_stop
from zoo.labels import label

TABLE_COLUMNS = ["model_page", "name", "organization", "released", "arch", "params_published", "params_total",
                 "n_layers", "d_model", "n_heads", "n_kv_heads", "d_ff", "vocab_size", "context_length", "norm",
                 "norm_position", "activation", "position", "attention", "layer_pattern", "parallel_block",
                 "tied_embeddings", "n_experts"]

st.title("Model explorer")
st.caption("Filter by release year, organisation, architecture kind or any architecture choice; the filters are "
           "kept in the page address, so a filtered view can be shared. Open a model's page from the first column.")

models = models_or_stop()
left, middle, right = st.columns([2, 2, 3])
with left:
    years = filters.year_range(models)
with middle:
    kinds = filters.architecture_kinds(models)
with right:
    orgs = filters.organizations(models)
with st.expander("Architecture choices"):
    restricted = filters.choice_values(models)
selected = filters.apply(models, years=years, kinds=kinds, orgs=orgs, choices=restricted)

if selected.empty:
    filters.empty_state()
    st.stop()

st.caption(f"{len(selected)} of {len(models)} models.")
table = selected.assign(model_page="/model?model=" + selected["key"])[TABLE_COLUMNS]
for column in ("arch", "norm", "norm_position", "activation", "position", "attention"):
    table[column] = table[column].map(lambda value, column=column: label(column, value), na_action="ignore")
st.dataframe(
    table,
    hide_index=True,
    key="models_table",
    column_config={
        "model_page": st.column_config.LinkColumn("Page", display_text="open", help="The model's page"),
        "name": st.column_config.TextColumn("Model", pinned=True),
        "organization": "Organisation",
        "released": "Released",
        "arch": "Architecture",
        "params_published": st.column_config.NumberColumn("Params (published)", format="compact"),
        "params_total": st.column_config.NumberColumn("Params (computed)", format="compact"),
        "n_layers": st.column_config.NumberColumn("Layers", format="localized"),
        "d_model": st.column_config.NumberColumn("Width", format="localized"),
        "n_heads": st.column_config.NumberColumn("Heads", format="localized"),
        "n_kv_heads": st.column_config.NumberColumn("KV heads", format="localized"),
        "d_ff": st.column_config.NumberColumn("MLP width", format="localized"),
        "vocab_size": st.column_config.NumberColumn("Vocabulary", format="localized"),
        "context_length": st.column_config.NumberColumn("Context", format="localized"),
        "norm": "Norm",
        "norm_position": "Norm position",
        "activation": "Activation",
        "position": "Positions",
        "attention": "Attention",
        "layer_pattern": "Layer pattern",
        "parallel_block": "Parallel block",
        "tied_embeddings": "Tied embeddings",
        "n_experts": st.column_config.NumberColumn("Experts", format="localized"),
    },
)
st.download_button("Download these rows (CSV)", selected.drop(columns=["release_date"]).to_csv(index=False),
                   file_name="archzoo-models.csv", mime="text/csv")
st.subheader("Listed models per year")
st.altair_chart(charts.models_per_year(selected), width="stretch")
