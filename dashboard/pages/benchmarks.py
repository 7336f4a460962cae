"""Benchmarks: the measured runs stored in the catalog, as a table and as throughput, MFU and memory charts."""

import streamlit as st

from dashboard import charts
from dashboard.benchmark_rows import run_names, stored_runs_table, with_spread
from dashboard.data import OPEN_ERRORS, benchmarks_frame, models_or_stop, show_open_error

st.title("Benchmarks")
st.caption("Runs measured with `zoo bench` and stored in the catalog, newest first.")

models = models_or_stop()
try:
    runs = benchmarks_frame()
except OPEN_ERRORS as error:
    show_open_error(error)
    st.stop()

if runs.empty:
    st.info("No benchmark runs are stored in this catalog yet.", icon=":material/speed:")
    st.markdown("Time a scaled proxy of any catalogued model; each run is stored and appears here:")
    example = models["key"].iloc[-1] if not models.empty else "KEY"
    st.code(f"zoo bench {example} --scale tiny --device cpu --mode forward\n"
            "zoo bench --all --scale small --device cpu --mode forward", language="bash")
    st.stop()

names = dict(zip(models["key"], models["name"]))
runs = with_spread(runs).assign(
    model=runs["key"].map(names).fillna(runs["key"]),
    where=runs["device_name"].where(runs["device_name"] != "", runs["device"]),
)
runs["run"] = run_names(runs)
left, right = st.columns(2)
with left:
    modes = sorted(runs["mode"].unique())
    mode = st.segmented_control("Mode", modes, default=modes[0], key="mode", bind="query-params", required=True)
with right:
    devices = sorted(runs["where"].unique())
    chosen = st.pills("Device", devices, selection_mode="multi", key="device", bind="query-params",
                      help="Select none to show every device.")
shown = runs[(runs["mode"] == mode) & runs["where"].isin(chosen or devices)]
if shown.empty:
    st.info("No stored runs match these filters.", icon=":material/filter_alt_off:")
    st.stop()

st.caption(f"{len(shown)} of {len(runs)} runs.")
details = [charts.alt.Tooltip("batch:Q", title="Batch"), charts.alt.Tooltip("seq:Q", title="Sequence"),
           charts.alt.Tooltip("dtype:N", title="dtype"), charts.alt.Tooltip("created_at:N", title="Measured")]


def bars(frame, value, title, missing, **formats):
    """One grouped bar chart of `value` per run and device, or a note when no run has it."""
    frame = frame.dropna(subset=[value])
    if frame.empty:
        st.info(missing, icon=":material/info:")
        return
    chart = charts.grouped_bars(frame, value, title, "where", "Device", category="run", category_title="Run",
                                extra_tooltip=details, **formats)
    st.altair_chart(chart, width="stretch")


first, second, third = st.container(), st.container(), st.container()  # one chart per row: run names need width
with first:
    st.subheader("Throughput")
    bars(shown, "tokens_per_s", "Tokens per second (bar: median; line: interquartile range)",
         "No throughput recorded for these runs.", value_format=",.0f", error=("tokens_per_s_q1", "tokens_per_s_q3"))
with second:
    st.subheader("Model FLOPs utilisation")
    bars(shown, "mfu", "MFU (share of peak FLOP/s)",
         "No MFU for these runs: it needs a device with a known peak (CPU runs have none).",
         value_format=".1%", axis=charts.alt.Axis(title="MFU (share of peak FLOP/s)", format="%"))
with third:
    st.subheader("Peak memory")
    peak = shown["peak_memory_bytes"].astype(float)
    unit, size = ("GiB", 2**30) if peak.max() >= 2**30 else ("MiB", 2**20)  # the unit the largest run reads in
    memory = shown.assign(peak=peak / size)
    bars(memory, "peak", f"Peak memory ({unit})", "No peak memory recorded for these runs.",
         value_format=".2f", axis=charts.alt.Axis(title=f"Peak memory ({unit})", format=",.3~g"))

st.subheader("Stored runs")
st.dataframe(stored_runs_table(shown), hide_index=True, width="stretch", key="runs_table")
