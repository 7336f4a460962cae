"""Altair charts the pages draw: pure functions from catalog frames to interactive charts.

Every chart has tooltips, axis titles with units, and, where points can crowd, zoom on the
time axis (drag to pan, scroll to zoom, double-click to reset). Legends are clickable:
selecting an entry highlights its marks.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from dashboard.choices import NOT_PUBLISHED

PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d")
UNPUBLISHED_GREY = "#bab0ac"
RELEASE_AXIS = alt.Axis(title="Release date", format="%Y", tickCount="year")
RELEASE_SCALE = alt.Scale(padding=14)  # keeps the first and last models clear of the plot's edges
MODEL_TOOLTIP = [
    alt.Tooltip("name:N", title="Model"),
    alt.Tooltip("organization:N", title="Organisation"),
    alt.Tooltip("released:N", title="Released"),
]


def color_scale(order: Sequence[str]) -> alt.Scale:
    """Stable colours per label, oldest convention first, grey for values the catalog does not publish."""
    colours, palette = [], iter(PALETTE * 4)
    for label in order:
        colours.append(UNPUBLISHED_GREY if label == NOT_PUBLISHED else next(palette))
    return alt.Scale(domain=list(order), range=colours)


def trend_height(order: Sequence[str]) -> int:
    """Total height of a Trends chart in pixels (title, axis and legend included), so both charts of a row align."""
    return 220 + 58 * len(order)


def choice_timeline(frame: pd.DataFrame, labels: pd.Series, order: Sequence[str], title: str) -> alt.Chart:
    """Every model as a dot at its release date, in the row of the choice it made (the rows name the choices)."""
    data = frame[["name", "organization", "released", "release_date", "layer_pattern"]].assign(label=labels.to_numpy())
    zoom = alt.selection_interval(bind="scales", encodings=["x"])
    return (
        alt.Chart(data, title=f"{title}: each model at its release")
        .transform_calculate(jitter="(random() - 0.5) * 14")
        .mark_circle(size=90, stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("release_date:T", axis=RELEASE_AXIS, scale=RELEASE_SCALE),
            y=alt.Y("label:N", sort=list(order), title=None, axis=alt.Axis(labelLimit=180)),
            yOffset=alt.YOffset("jitter:Q"),
            color=alt.Color("label:N", scale=color_scale(order), legend=None),
            tooltip=[*MODEL_TOOLTIP, alt.Tooltip("label:N", title=title)],
        )
        .add_params(zoom)
        .properties(height=trend_height(order))
    )


def choice_adoption(shares: pd.DataFrame, order: Sequence[str], title: str) -> alt.Chart:
    """Stacked share of the models released up to each year, per label of the choice."""
    legend = alt.selection_point(fields=["label"], bind="legend")
    return (
        alt.Chart(shares, title="Adoption so far")
        .mark_area(interpolate="step-after", line=True)
        .encode(
            x=alt.X("year:Q", title="Release year (cumulative)", axis=alt.Axis(format="d", tickMinStep=1)),
            y=alt.Y("share:Q", stack="zero", title="Share of models (%)", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("label:N", scale=color_scale(order), sort=list(order),
                            legend=alt.Legend(title=None, orient="bottom", direction="vertical", labelLimit=170)),
            order=alt.Order("rank:Q"),
            opacity=alt.condition(legend, alt.value(0.85), alt.value(0.15)),
            tooltip=[
                alt.Tooltip("year:Q", title="Up to year", format="d"),
                alt.Tooltip("label:N", title=title),
                alt.Tooltip("models:Q", title="Models"),
                alt.Tooltip("total:Q", title="Of all models"),
                alt.Tooltip("share:Q", title="Share", format=".0%"),
            ],
        )
        .transform_calculate(rank=f"indexof({list(order)!r}, datum.label)")
        .add_params(legend)
        .properties(height=trend_height(order))
    )


def over_time(
    frame: pd.DataFrame,
    column: str,
    axis_title: str,
    *,
    log: bool = False,
    value_format: str = ",.0f",
    axis_format: str | None = None,
    color: str | None = None,
    color_title: str | None = None,
    details: Sequence[tuple[str, str, str]] = (),
) -> alt.Chart:
    """One numeric column of each model against its release date; `details` add (column, title, format) tooltips."""
    data = frame.dropna(subset=[column])
    zoom = alt.selection_interval(bind="scales")
    tooltip = [*MODEL_TOOLTIP, alt.Tooltip(f"{column}:Q", title=axis_title, format=value_format)]
    tooltip += [alt.Tooltip(f"{name}:Q", title=title, format=fmt) for name, title, fmt in details]
    encoding = {
        "x": alt.X("release_date:T", axis=RELEASE_AXIS, scale=RELEASE_SCALE),
        "y": alt.Y(f"{column}:Q", title=axis_title, scale=alt.Scale(type="log") if log else alt.Scale(zero=False),
                   axis=alt.Axis(format=axis_format) if axis_format else alt.Axis()),
        "tooltip": tooltip,
    }
    params = [zoom]
    if color:
        legend = alt.selection_point(fields=[color], bind="legend")
        encoding["color"] = alt.Color(f"{color}:N", title=color_title or color, legend=alt.Legend(orient="bottom"))
        encoding["opacity"] = alt.condition(legend, alt.value(0.9), alt.value(0.15))
        tooltip.append(alt.Tooltip(f"{color}:N", title=color_title or color))
        params.append(legend)
    return (
        alt.Chart(data)
        .mark_circle(size=80, stroke="white", strokeWidth=0.5)
        .encode(**encoding)
        .add_params(*params)
        .properties(height=380)
    )


def with_reference_lines(chart: alt.Chart, lines: Sequence[tuple[float, str]]) -> alt.LayerChart:
    """Dashed horizontal rules at (value, label), each labelled at the left edge."""
    rules = pd.DataFrame({"value": [value for value, _ in lines], "label": [label for _, label in lines]})
    rule = alt.Chart(rules).mark_rule(strokeDash=[6, 4], color="#666").encode(
        y="value:Q", tooltip=[alt.Tooltip("label:N", title="Reference")])
    text = alt.Chart(rules).mark_text(align="left", dx=4, dy=-7, color="#444", fontSize=11).encode(
        x=alt.value(0), y="value:Q", text="label:N")
    return alt.layer(chart, rule, text)


def with_band(chart: alt.Chart, low: float, high: float, label: str) -> alt.LayerChart:
    """A shaded horizontal band from `low` to `high`, drawn under the points."""
    band = pd.DataFrame({"low": [low], "high": [high], "label": [label]})
    area = alt.Chart(band).mark_rect(opacity=0.12, color="#54a24b").encode(
        y="low:Q", y2="high:Q", tooltip=[alt.Tooltip("label:N", title="Reference")])
    text = alt.Chart(band).mark_text(align="left", dx=4, dy=8, color="#2d6a2a", fontSize=11).encode(
        x=alt.value(0), y="high:Q", text="label:N")
    return alt.layer(area, text, chart)


def models_per_year(frame: pd.DataFrame) -> alt.Chart:
    """How many of the listed models were released each year, stacked by architecture kind."""
    legend = alt.selection_point(fields=["arch"], bind="legend")
    return (
        alt.Chart(frame[["year", "arch", "name"]])
        .mark_bar()
        .encode(
            x=alt.X("year:O", title="Release year"),
            y=alt.Y("count():Q", title="Models (count)"),
            color=alt.Color("arch:N", title="Architecture", legend=alt.Legend(orient="bottom")),
            opacity=alt.condition(legend, alt.value(0.9), alt.value(0.2)),
            tooltip=[alt.Tooltip("year:O", title="Year"), alt.Tooltip("arch:N", title="Architecture"),
                     alt.Tooltip("count():Q", title="Models")],
        )
        .add_params(legend)
        .properties(height=220)
    )


def grouped_bars(data: pd.DataFrame, value: str, value_title: str, group: str, group_title: str,
                 *, category: str = "name", category_title: str = "Model", value_format: str = ",.0f",
                 axis_format: str = "~s", extra_tooltip: Sequence[alt.Tooltip] = ()) -> alt.Chart:
    """Horizontal bars of `value` per `category`, side by side per `group` (e.g. per device or per figure)."""
    legend = alt.selection_point(fields=[group], bind="legend")
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y(f"{category}:N", title=category_title, sort=None),
            yOffset=alt.YOffset(f"{group}:N"),
            x=alt.X(f"{value}:Q", title=value_title, axis=alt.Axis(format=axis_format)),
            color=alt.Color(f"{group}:N", title=group_title, legend=alt.Legend(orient="bottom")),
            opacity=alt.condition(legend, alt.value(0.9), alt.value(0.2)),
            tooltip=[alt.Tooltip(f"{category}:N", title=category_title), alt.Tooltip(f"{group}:N", title=group_title),
                     alt.Tooltip(f"{value}:Q", title=value_title, format=value_format), *extra_tooltip],
        )
        .add_params(legend)
    )
