"""Hyperparameters: the shape ratios and sizes of every model over time, against the published rules of thumb."""

import pandas as pd
import streamlit as st

from dashboard import charts, filters
from dashboard.choices import first_adopters_line
from dashboard.data import models_or_stop
from zoo.labels import label

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
    chart = charts.over_time(ffn, "ffn_ratio", "d_ff / d_model (×, log scale)", log=True, value_format=".2f",
                             ticks=[1.5, 2, 6, 8], domain=(1.5, 8), references=[(4.0, "4× plain"), (8 / 3, "8/3× gated")],
                             color="mlp", color_title="MLP", shape=True,
                             details=[("d_ff", "d_ff", ",d"), ("d_model", "d_model", ",d")])
    chart_or_note(chart, ffn, "ffn_ratio")
with second:
    st.subheader("Aspect ratio: d_model / n_layers")
    st.markdown("Width per layer; scaling studies (Kaplan et al. 2020) found loss flat across a wide range, "
                "and most models sit in the **100–200** band.")
    chart = charts.over_time(selected, "aspect_ratio", "d_model / n_layers (width per layer, log scale)", log=True,
                             value_format=".0f", ticks=[25, 50, 100, 200, 400], domain=(20, 500),
                             band=(100, 200, "100–200 band"), details=SHAPE)
    chart_or_note(chart, selected, "aspect_ratio")

first, second = st.columns(2)
with first:
    st.subheader("Head ratio: n_heads · head_dim / d_model")
    st.markdown("**1** when the heads split the residual width between them; above 1 when heads are wider.")
    chart = charts.over_time(selected, "head_ratio", "n_heads · head_dim / d_model (×, log scale)", log=True,
                             value_format=".2f", ticks=[0.5, 1.5, 2, 3], domain=(0.5, 3), references=[(1.0, "1×")],
                             details=[("n_heads", "Heads", ",d"), ("head_dim", "head_dim", ",d"),
                                      ("d_model", "d_model", ",d")])
    chart_or_note(chart, selected, "head_ratio")
with second:
    st.subheader("Vocabulary size")
    st.markdown("Multilingual training needs a larger vocabulary than a mostly-English one.")
    vocab = selected.assign(languages=selected["multilingual"].map({True: "multilingual", False: "monolingual"}))
    chart_or_note(charts.over_time(vocab, "vocab_size", "Vocabulary (tokens, log scale)", log=True, si=True,
                                   ticks=[30_000, 50_000, 100_000, 150_000, 250_000], color="languages",
                                   color_title="Training languages", shape=True), vocab, "vocab_size")

first, second = st.columns(2)
with first:
    st.subheader("Parameters")
    st.markdown("As published, and as computed from the architecture: total, and active per token for "
                "mixture-of-experts models.")
    figures = {"params_published": "published", "params_total": "computed total", "params_active": "active per token"}
    params = selected.melt(id_vars=["key", "name", "organization", "released", "release_date", "paper"],
                           value_vars=list(figures),
                           var_name="figure", value_name="parameters").dropna(subset=["parameters"])
    params["figure"] = params["figure"].map(figures)
    params["parameters"] = params["parameters"].astype(float)
    chart_or_note(charts.over_time(params, "parameters", "Parameters (log scale)", log=True, value_format=",.0f",
                                   si=True, ticks=[1e8, 1e9, 1e10, 1e11, 1e12], color="figure", color_title="Figure",
                                   shape=True), params, "parameters")
with second:
    st.subheader("Context length")
    st.markdown("Sequence length the model was trained on.")
    chart_or_note(charts.over_time(selected, "context_length", "Context length (tokens, log scale)", log=True,
                                   binary=True, ticks=[512, 2048, 8192, 32768, 131072, 1048576, 10485760],
                                   value_format=",d"),
                  selected, "context_length")

st.subheader("KV-cache bytes per token")
st.markdown("Keys and values cached per generated token at 16-bit precision over all layers: what multi-query, "
            "grouped-query and local attention cut.")
kv = selected.assign(attention_kind=selected["attention"].map(lambda v: label("attention", v), na_action="ignore"))
chart_or_note(charts.over_time(kv, "kv_cache_bytes_per_token", "KV cache per token (bytes, log scale)",
                               log=True, value_format=",.0f", si=True, ticks=[1e4, 1e5, 1e6, 1e7],
                               color="attention_kind", color_title="Attention",
                               shape=True, details=[("n_kv_heads", "KV heads", ",d"), ("n_layers", "Layers", ",d")]),
              kv, "kv_cache_bytes_per_token")

st.subheader("Mixtures of experts")
moe = selected[selected["n_experts"].notna()].assign(
    active_share=lambda f: f["params_active"].astype(float) / f["params_total"].astype(float),
    granularity=lambda f: f["expert_d_ff"].astype(float) / f["d_model"].astype(float),
    shared=lambda f: f["n_shared_experts"].fillna(0).map(lambda n: "with shared experts" if n else "routed only"))
st.markdown(first_adopters_line(selected))
if moe.empty:
    st.info("None of the selected models is a mixture of experts.", icon=":material/info:")
else:
    first, second, third = st.columns(3)
    with first:
        st.markdown("**Routed experts per MoE layer**: from 8 (Mixtral) to hundreds of fine-grained ones.")
        st.altair_chart(charts.over_time(moe, "n_experts", "Routed experts (log scale)", log=True, value_format=",d",
                                         ticks=[8, 16, 32, 64, 128, 256], color="shared", color_title="Experts",
                                         shape=True, details=[("experts_per_token", "Per token", ",d"),
                                                              ("n_shared_experts", "Shared", ",d")]),
                        width="stretch")
    with second:
        st.markdown("**Expert granularity**: one expert's width over d_model; below 1, experts are fine-grained.")
        st.altair_chart(charts.over_time(moe, "granularity", "expert_d_ff / d_model (×, log scale)", log=True,
                                         value_format=".2f", references=[(1.0, "1×")], ticks=[0.25, 0.5, 2, 4],
                                         details=[("expert_d_ff", "expert_d_ff", ",d"), ("d_model", "d_model", ",d")]),
                        width="stretch")
    with third:
        st.markdown("**Active share**: the parameters a token uses over all the model holds.")
        st.altair_chart(charts.over_time(moe, "active_share", "Active / total parameters (log scale)", log=True,
                                         value_format=".1%", ticks=[0.03, 0.1, 0.3], details=[
                                             ("params_active", "Active", ",d"), ("params_total", "Total", ",d")]),
                        width="stretch")
