"""Hyperparameters: the shape ratios and sizes of every model over time, against the published rules of thumb."""

import pandas as pd
import streamlit as st

from dashboard import charts, filters
from dashboard.data import models_or_stop

st.title("Hyperparameters over time")
st.caption("Hover a point for the model and its values; drag to pan, scroll to zoom, double-click to reset. "
           "Click a legend entry to highlight it. Values the catalog does not publish are left out.")

models = models_or_stop()
left, right = st.columns(2)
with left:
    years = filters.year_range(models)
with right:
    kinds = filters.architecture_kinds(models)
selected = filters.apply(models, years=years, kinds=kinds)
if selected.empty:
    filters.empty_state()
    st.stop()
st.caption(f"{len(selected)} of {len(models)} models.")

SHAPE = [("d_model", "d_model", ",d"), ("n_layers", "Layers", ",d")]


def chart_or_note(chart, data: pd.DataFrame, column: str) -> None:
    """Draw the chart, or say that no selected model publishes this value."""
    if data[column].notna().any():
        st.altair_chart(chart, width="stretch")
    else:
        st.info(f"None of the selected models has a published or computed `{column}`.", icon=":material/info:")


first, second = st.columns(2)
with first:
    st.subheader("MLP width: ffn_ratio = d_ff / d_model")
    st.markdown("Plain MLPs settled on **4×**; gated MLPs (SwiGLU, GeGLU) have three matrices, so **8/3×** keeps "
                "the parameter count of a 4× plain MLP.")
    ffn = selected.assign(mlp=selected["gated_mlp"].map({True: "gated", False: "plain"}))
    chart = charts.over_time(ffn, "ffn_ratio", "d_ff / d_model (×)", log=True, value_format=".2f",
                             color="mlp", color_title="MLP",
                             details=[("d_ff", "d_ff", ",d"), ("d_model", "d_model", ",d")])
    chart_or_note(charts.with_reference_lines(chart, [(4.0, "4× (plain MLP)"), (8 / 3, "8/3× (gated MLP)")]),
                  ffn, "ffn_ratio")
with second:
    st.subheader("Aspect ratio: d_model / n_layers")
    st.markdown("Width per layer; scaling studies (Kaplan et al. 2020) found loss flat across a wide range, "
                "and most models sit in the **100–200** band.")
    chart = charts.over_time(selected, "aspect_ratio", "d_model / n_layers (width per layer)", log=True,
                             value_format=".0f", details=SHAPE)
    chart_or_note(charts.with_band(chart, 100, 200, "100–200 band"), selected, "aspect_ratio")

first, second = st.columns(2)
with first:
    st.subheader("Head ratio: n_heads · head_dim / d_model")
    st.markdown("**1** when the heads split the residual width between them; above 1 when heads are wider.")
    chart = charts.over_time(selected, "head_ratio", "n_heads · head_dim / d_model (×, log scale)", log=True,
                             value_format=".2f",
                             details=[("n_heads", "Heads", ",d"), ("head_dim", "head_dim", ",d"),
                                      ("d_model", "d_model", ",d")])
    chart_or_note(charts.with_reference_lines(chart, [(1.0, "1×")]), selected, "head_ratio")
with second:
    st.subheader("Vocabulary size")
    st.markdown("Multilingual training needs a larger vocabulary than a mostly-English one.")
    vocab = selected.assign(languages=selected["multilingual"].map({True: "multilingual", False: "monolingual"}))
    chart_or_note(charts.over_time(vocab, "vocab_size", "Vocabulary (tokens, log scale)", log=True, axis_format="~s",
                                   color="languages", color_title="Training languages"), vocab, "vocab_size")

first, second = st.columns(2)
with first:
    st.subheader("Parameters")
    st.markdown("As published, and as computed from the architecture: total, and active per token for "
                "mixture-of-experts models.")
    figures = {"params_published": "published", "params_total": "computed total", "params_active": "active per token"}
    params = selected.melt(id_vars=["name", "organization", "released", "release_date"], value_vars=list(figures),
                           var_name="figure", value_name="parameters").dropna(subset=["parameters"])
    params["figure"] = params["figure"].map(figures)
    params["parameters"] = params["parameters"].astype(float)
    chart_or_note(charts.over_time(params, "parameters", "Parameters (log scale)", log=True, value_format=".3s",
                                   axis_format="~s",
                                   color="figure", color_title="Figure"), params, "parameters")
with second:
    st.subheader("Context length")
    st.markdown("Sequence length the model was trained on.")
    chart_or_note(charts.over_time(selected, "context_length", "Context length (tokens, log scale)", log=True,
                                   axis_format="~s"),
                  selected, "context_length")

st.subheader("KV-cache bytes per token")
st.markdown("Keys and values cached per generated token at 16-bit precision over all layers: what multi-query, "
            "grouped-query and local attention cut.")
chart_or_note(charts.over_time(selected, "kv_cache_bytes_per_token", "KV cache per token (bytes, log scale)",
                               log=True, value_format=".3s", axis_format="~s", color="attention", color_title="Attention",
                               details=[("n_kv_heads", "KV heads", ",d"), ("n_layers", "Layers", ",d")]),
              selected, "kv_cache_bytes_per_token")
