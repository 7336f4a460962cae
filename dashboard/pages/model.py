"""Model: one record in full, with its sources, its parameter figures and the code that builds it."""

import streamlit as st

from dashboard.data import models_or_stop, record
from dashboard.model_fields import build_snippet, field_rows, parameter_gap, present, readable
from zoo import CatalogError

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
cells[0].metric("Published parameters", readable(published), help="As the paper or model card states them.")
cells[1].metric("Computed parameters", readable(total),
                delta=None if gap is None else f"{gap:+.2%} vs published", delta_color="off",
                help="Exact count of the full-size model the builder instantiates from this spec.")
cells[2].metric("Active per token", readable(active), help="Differs from the total only for mixture of experts.")
cells[3].metric("KV cache per token", "—" if kv is None else f"{kv:,} B",
                help="Bytes of keys and values cached per token at 16-bit precision, all layers.")
if gap is not None:
    st.caption("Published counts are rounded (\"7B\"); the computed count can also differ through tied or padded "
               "vocabularies, biases and experts. `zoo show " + key + "` explains this record's gap.")

st.subheader("Sources")
st.markdown("\n".join(f"- [{source.title}]({source.url}) ({source.kind.value})" for source in spec.sources))

st.subheader("Build it")
st.code(build_snippet(key), language="python")
st.code(f"zoo show {key}\nzoo build {key} --scale tiny --device cpu", language="bash")

st.subheader("Every field")
st.caption("Provenance: the spec's citation for the value, or why it was assumed or is unpublished. "
           "Assumed values are what the builder uses; the public table shows them as null.")
st.dataframe(field_rows(spec), hide_index=True, width="stretch", key="fields_table",
             column_config={"provenance": st.column_config.TextColumn("Provenance", width="large")})
