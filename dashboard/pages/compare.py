"""Compare: two to four models side by side, their differences highlighted, with parameter and KV-cache figures."""

import streamlit as st

from dashboard import charts
from dashboard.comparison import SUGGESTIONS, comparison_table, differing, highlight_against_first
from dashboard.data import models_or_stop, record
from dashboard.diagram import architecture_svg
from zoo.labels import label

MAX_MODELS = 4

st.title("Compare models")
st.caption("Pick two to four models; the selection is kept in the page address (`?models=a&models=b`).")

models = models_or_stop()
names = dict(zip(models["key"], models["name"]))
requested = st.query_params.get_all("models")
unknown = [key for key in requested if key not in names]
if unknown:
    st.warning(f"The address names models the catalog does not have: {', '.join(f'`{k}`' for k in unknown)}. "
               "They are left out.", icon=":material/warning:")
if "compare_models" not in st.session_state:
    st.session_state["compare_models"] = list(dict.fromkeys(k for k in requested if k in names))[:MAX_MODELS]


def _suggest(pair: tuple[str, ...]) -> None:
    st.session_state["compare_models"] = list(pair)


suggested = [(title, pair) for title, pair in SUGGESTIONS if all(key in names for key in pair)]
st.caption("Suggested comparisons:")
for column, (title, pair) in zip(st.columns(len(suggested) or 1), suggested):
    column.button(title, on_click=_suggest, args=(pair,), key=f"suggest_{'_'.join(pair)}", width="stretch")

keys = st.multiselect("Models", list(names), format_func=names.get, key="compare_models",
                      max_selections=MAX_MODELS, placeholder="Choose two to four models")
st.query_params["models"] = keys
if len(keys) < 2:
    st.info("Choose at least two models to compare, or start from a suggestion above.", icon=":material/compare_arrows:")
    st.stop()

table = comparison_table(models, keys)
differs = differing(table)
st.subheader(f"What differs ({int(differs.sum())} of {len(table)} fields)")
st.caption("Cells that differ from the first model are highlighted.")
difference = table[differs]
st.dataframe(difference.style.apply(highlight_against_first, axis=None), width="stretch", key="differences",
             height=min(38 * (len(difference) + 1) + 2, 760))
with st.expander(f"Fields they share ({int((~differs).sum())})"):
    st.dataframe(table[~differs], width="stretch", key="shared")

st.subheader("Architectures")
for column, key in zip(st.columns(len(keys)), keys):
    with column:
        st.markdown(architecture_svg(record(key).architecture, names[key]), unsafe_allow_html=True)

selected = models.set_index("key").loc[keys].reset_index()
figures = {"params_published": "published", "params_total": "computed total", "params_active": "active per token"}
params = selected.melt(id_vars=["name"], value_vars=list(figures), var_name="figure",
                       value_name="parameters").dropna(subset=["parameters"])
params["figure"] = params["figure"].map(figures)
params["parameters"] = params["parameters"].astype(float)
left, right = st.columns(2)
with left:
    st.subheader("Parameters")
    if params.empty:
        st.info("No parameter count is published or computed for these models.", icon=":material/info:")
    else:
        st.altair_chart(charts.grouped_bars(params, "parameters", "Parameters", "figure", "Figure",
                                            value_format=",.0f"), width="stretch")
with right:
    st.subheader("KV cache per token")
    kv = selected.dropna(subset=["kv_cache_bytes_per_token"]).assign(
        kv=lambda f: f["kv_cache_bytes_per_token"].astype(float),
        attention_kind=lambda f: f["attention"].map(lambda v: label("attention", v), na_action="ignore").fillna("—"))
    if kv.empty:
        st.info("No KV-cache figure for these models in this catalog build.", icon=":material/info:")
    else:
        st.altair_chart(charts.grouped_bars(kv, "kv", "KV cache per token (bytes, 16-bit)", "attention_kind",
                                            "Attention", value_format=",.0f"), width="stretch")
