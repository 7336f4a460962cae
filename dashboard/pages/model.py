"""Model: one record in full: its figures, its choices against its year's consensus, a diagram of its
architecture, its sources, every field with its provenance, and the code that builds it."""

import streamlit as st

from dashboard.choices import CHOICES
from dashboard.data import models_or_stop, record
from dashboard.diagram import architecture_svg
from dashboard.model_fields import build_snippet, choices_against_year, field_rows, gap_text, parameter_gap, present
from zoo import CatalogError
from zoo.display import format_number

models = models_or_stop()
names = dict(zip(models["key"], models["name"]))
requested = st.query_params.get("model")
if requested is not None and requested not in names:
    try:
        record(requested)
    except CatalogError as error:
        st.warning(f"The address asks for a model the catalog does not have: {error}.", icon=":material/warning:")
    requested = None
if requested and "model_choice" not in st.session_state:
    st.session_state["model_choice"] = requested

key = st.sidebar.selectbox("Model", list(names), format_func=names.get, key="model_choice", index=None,
                   placeholder="Choose a model")
if key is None:
    st.title("Model")
    st.info("Choose a model in the sidebar, or open one from the Explorer.", icon=":material/description:")
    st.stop()
st.query_params["model"] = key

spec = record(key)
row = models.set_index("key").loc[key]
st.title(spec.name)
st.caption(f"{spec.organization} · {spec.family} family · released {spec.released} · {spec.architecture.arch.value}"
           f" · {'multilingual' if spec.multilingual else 'monolingual'}")
if spec.notes.strip():
    st.markdown(spec.notes.strip())

st.subheader("Parameters and KV cache")
published, total, active, kv = (present(row[name]) for name in
                                ("params_published", "params_total", "params_active", "kv_cache_bytes_per_token"))
gap = parameter_gap(published, total)
cells = st.columns(4)
cells[0].metric("Published parameters", "—" if published is None else format_number(published),
                help="As the paper or model card states them." + ("" if published is None else f" {published:,}"))
cells[1].metric("Computed parameters", "—" if total is None else format_number(total),
                delta=gap_text(gap), delta_color="off", delta_arrow="off",
                help="Exact count of the full-size model the builder instantiates from this spec."
                     + ("" if total is None else f" {total:,}"))
cells[2].metric("Active per token", "—" if active is None else format_number(active),
                help="Differs from the total only for mixture of experts." + ("" if active is None else f" {active:,}"))
cells[3].metric("KV cache per token", "—" if kv is None else f"{format_number(kv)} B",
                help="Bytes of keys and values cached per token at 16-bit precision, all layers."
                     + ("" if kv is None else f" {kv:,} bytes"))
if gap is not None:
    st.caption("Published counts are rounded (\"7B\"); the computed count can also differ through tied or padded "
               "vocabularies, biases and experts. `zoo show " + key + "` explains this record's gap.")

diagram, choices = st.columns([3, 2])
with diagram:
    st.subheader("Architecture")
    st.markdown(architecture_svg(spec.architecture, spec.name), unsafe_allow_html=True)
with choices:
    st.subheader(f"Its choices, against {spec.released[:4]}")
    st.caption("Each choice of this model, and the share of the models released the same year that made the "
               "same one (this model included).")
    st.table(choices_against_year(models, key, CHOICES), border="horizontal")

st.subheader("Sources")
st.markdown("\n".join(f"- [{source.title}]({source.url}) ({source.kind.value})" for source in spec.sources))

st.subheader("Build it")
st.code(build_snippet(key), language="python")
st.code(f"zoo show {key}\nzoo build {key} --scale tiny --device cpu", language="bash")

st.subheader("Every field")
st.caption("Provenance: the spec's citation for the value, or why it was assumed or is unpublished. "
           "Assumed values are what the builder uses; the public table shows them as null.")
st.table(field_rows(spec).set_index("field"), border="horizontal")
