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

# Okabe & Ito's colour-blind-safe palette (blue, orange, bluish green, vermillion, sky blue, reddish purple,
# yellow, black), in the order the most common labels get them.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
SHAPES = ("circle", "square", "triangle-up", "diamond", "cross", "triangle-down")
UNPUBLISHED_GREY = "#bab0ac"
RELEASE_AXIS = alt.Axis(title="Release date", format="%Y", tickCount="year")
RELEASE_SCALE = alt.Scale(padding=14)  # keeps the first and last models clear of the plot's edges
MODEL_TOOLTIP = [
    alt.Tooltip("name:N", title="Model"),
    alt.Tooltip("organization:N", title="Organisation"),
    alt.Tooltip("released:N", title="Released"),
    alt.Tooltip("paper:N", title="Paper"),
]
# d3's SI format writes thousands as k and billions as G; people read K and B.
SI_LABELS = "replace(replace(format(datum.value, '~s'), 'G', 'B'), 'k', 'K')"
# Token counts that are powers of two read as 2K, 128K, 1M (binary units).
BINARY_LABELS = ("datum.value >= 1048576 ? format(datum.value / 1048576, '~g') + 'M' : datum.value >= 1024 ? "
                 "format(datum.value / 1024, '~g') + 'K' : format(datum.value, '~g')")


def si_axis(title: str, values: Sequence[float] | None = None, binary: bool = False) -> alt.Axis:
    """An axis labelled 1K, 10M, 7B (not 7G), or 2K, 128K in binary units, with explicit tick values where the
    story needs them."""
    return alt.Axis(title=title, labelExpr=BINARY_LABELS if binary else SI_LABELS,
                    values=list(values) if values else alt.Undefined)


def _reference_axis(title: str, ticks: Sequence[float], references: Sequence[tuple[float, str]]) -> alt.Axis:
    """Tick labels that name the reference values ('4× plain') where the rules are, plain numbers elsewhere."""
    named = " : ".join(f"abs(datum.value - {value!r}) < 1e-6 ? {label!r}" for value, label in references)
    values = sorted({*ticks, *(value for value, _ in references)})
    return alt.Axis(title=title, values=values, labelExpr=f"{named} : format(datum.value, '~g')" if named else alt.Undefined)


def color_scale(order: Sequence[str]) -> alt.Scale:
    """Stable colours per label, oldest convention first, grey for values the catalog does not publish."""
    colours, palette = [], iter(PALETTE * 4)
    for label in order:
        colours.append(UNPUBLISHED_GREY if label == NOT_PUBLISHED else next(palette))
    return alt.Scale(domain=list(order), range=colours)


def _model_links(data: pd.DataFrame) -> pd.DataFrame:
    """Adds `page`, the model's page in this app, which clicking a point opens."""
    return data.assign(page="/model?model=" + data["key"])


def spread_offsets(frame: pd.DataFrame, by: Sequence[str], step: float = 9.0) -> pd.Series:
    """Deterministic vertical offsets (pixels) that fan out points sharing `by` and a release year, centred on
    their row: the same layout on every rerun, ordered by release date then name."""
    ordered = frame.sort_values(["release_date", "name"])
    groups = ordered.groupby([*by, ordered["release_date"].dt.year], sort=False)
    rank = groups.cumcount()
    size = groups["name"].transform("size")
    return ((rank - (size - 1) / 2) * step).reindex(frame.index)


def choice_timeline(frame: pd.DataFrame, labels: pd.Series, order: Sequence[str], title: str,
                    firsts: pd.DataFrame) -> alt.LayerChart:
    """Every model as a dot at its release date, in the row of the choice it made, the first adopter of each
    choice named beside its dot; clicking a dot opens the model's page."""
    data = _model_links(frame[["key", "name", "organization", "released", "release_date", "paper"]]
                        .assign(label=labels.to_numpy()))
    data["offset"] = spread_offsets(data, ["label"])
    first_names = {(row.label, name) for row in firsts.itertuples() for name in row.models.split(", ")}
    data["first"] = [(label, name) in first_names for label, name in zip(data["label"], data["name"])]
    zoom = alt.selection_interval(bind="scales", encodings=["x"])
    legend = alt.selection_point(fields=["label"], bind="legend")
    base = alt.Chart(data).encode(
        x=alt.X("release_date:T", axis=RELEASE_AXIS, scale=RELEASE_SCALE),
        y=alt.Y("label:N", sort=list(order), title=None, axis=alt.Axis(labelLimit=200)),
        yOffset=alt.YOffset("offset:Q", scale=None),
    )
    dots = base.mark_circle(size=80, stroke="white", strokeWidth=0.5, cursor="pointer").encode(
        color=alt.Color("label:N", scale=color_scale(order), sort=list(order),
                        legend=alt.Legend(title=None, orient="bottom", columns=3, labelLimit=220)),
        opacity=alt.condition(legend, alt.value(0.95), alt.value(0.15)),
        href="page:N",
        tooltip=[*MODEL_TOOLTIP, alt.Tooltip("label:N", title=title)],
    ).add_params(zoom, legend)
    names = base.transform_filter("datum.first").mark_text(align="left", dx=7, fontSize=11, color="#333").encode(
        text="name:N")
    return alt.layer(dots, names, title=f"{title}: each model at its release (first adopters named)").properties(
        height=70 + 46 * len(order))


def yearly_share_chart(shares: pd.DataFrame, order: Sequence[str], title: str) -> alt.Chart:
    """Per release year, the share of that year's models that made each choice (stacked to 100%)."""
    legend = alt.selection_point(fields=["label"], bind="legend")
    data = shares.assign(year_label=shares["year"].astype(str) + " (" + shares["total"].astype(str) + ")")
    return (
        alt.Chart(data, title="Share of each year's releases")
        .mark_bar()
        .encode(
            x=alt.X("year_label:O", title="Release year (models released)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("share:Q", stack="zero", title="Share of that year's models", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("label:N", scale=color_scale(order), sort=list(order),
                            legend=alt.Legend(title=None, orient="bottom", columns=2, labelLimit=220)),
            order=alt.Order("rank:Q"),
            opacity=alt.condition(legend, alt.value(0.9), alt.value(0.15)),
            tooltip=[
                alt.Tooltip("year:Q", title="Year", format="d"),
                alt.Tooltip("label:N", title=title),
                alt.Tooltip("models:Q", title="Models"),
                alt.Tooltip("total:Q", title="Released that year"),
                alt.Tooltip("share:Q", title="Share", format=".0%"),
            ],
        )
        .transform_calculate(rank=f"indexof({list(order)!r}, datum.label)")
        .add_params(legend)
        .properties(height=70 + 46 * len(order))
    )


def consensus_heatmap(shares: pd.DataFrame) -> alt.Chart:
    """Choice x year: each cell the share of that year's models making the row's choice (rows: the choice's
    labels, grouped by choice)."""
    data = shares.assign(row=shares["choice"] + ": " + shares["label"])
    return (
        alt.Chart(data)
        .mark_rect(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X("year:O", title="Release year", axis=alt.Axis(labelAngle=0, orient="top")),
            y=alt.Y("row:N", title=None, sort=list(dict.fromkeys(data["row"])),
                    axis=alt.Axis(labelLimit=340, labelOverlap=False)),
            color=alt.Color("share:Q", title="Share of the year's models",
                            scale=alt.Scale(domain=[0, 1], range=["#f6f8fa", "#08519c"]),
                            legend=alt.Legend(format="%", orient="bottom")),
            tooltip=[alt.Tooltip("choice:N", title="Choice"), alt.Tooltip("label:N", title="Value"),
                     alt.Tooltip("year:O", title="Year"), alt.Tooltip("models:Q", title="Models"),
                     alt.Tooltip("total:Q", title="Released that year"),
                     alt.Tooltip("share:Q", title="Share", format=".0%")],
        )
        .properties(height=alt.Step(21))
    ) + (
        alt.Chart(data).mark_text(fontSize=10).encode(
            x="year:O", y=alt.Y("row:N", sort=list(dict.fromkeys(data["row"]))),
            text=alt.Text("share:Q", format=".0%"),
            color=alt.condition("datum.share > 0.6", alt.value("white"), alt.value("#333")),
            opacity=alt.condition("datum.models > 0", alt.value(1), alt.value(0)),
        )
    )


def over_time(
    frame: pd.DataFrame,
    column: str,
    axis_title: str,
    *,
    log: bool = False,
    value_format: str = ",.0f",
    si: bool = False,
    binary: bool = False,
    ticks: Sequence[float] | None = None,
    domain: tuple[float, float] | None = None,
    references: Sequence[tuple[float, str]] = (),
    band: tuple[float, float, str] | None = None,
    color: str | None = None,
    color_title: str | None = None,
    shape: bool = False,
    details: Sequence[tuple[str, str, str]] = (),
) -> alt.LayerChart:
    """One numeric column of each model against its release date; clicking a point opens the model's page.

    si / binary: tick labels in K, M, B (or 2K, 128K for token counts); ticks: explicit tick values; domain:
    the y range the story needs, points outside it drawn at its edge and named, so an outlier does not
    squash the rest; references: dashed rules at (value, label), named on the axis where no point can cover
    the label; band: a shaded (low, high, label) range under the points; color: a categorical column with a
    clickable legend (and a shape per category when `shape`); details: (column, title, format) tooltips."""
    data = _model_links(frame.dropna(subset=[column]))
    data["shown"] = data[column].clip(*domain) if domain else data[column]
    zoom = alt.selection_interval(bind="scales", encodings=["x"])
    tooltip = [*MODEL_TOOLTIP, alt.Tooltip(f"{column}:Q", title=axis_title, format=value_format)]
    tooltip += [alt.Tooltip(f"{name}:Q", title=title, format=fmt) for name, title, fmt in details]
    scale = alt.Scale(type="log" if log else "linear", zero=False, domain=list(domain) if domain else alt.Undefined)
    if references:
        axis = _reference_axis(axis_title, ticks or (), references)
    elif si or binary:
        axis = si_axis(axis_title, ticks, binary)
    else:
        axis = alt.Axis(title=axis_title, values=list(ticks) if ticks else alt.Undefined)
    encoding = {
        "x": alt.X("release_date:T", axis=RELEASE_AXIS, scale=RELEASE_SCALE),
        "y": alt.Y("shown:Q", scale=scale, axis=axis),
        "tooltip": tooltip,
        "href": "page:N",
    }
    params = [zoom]
    if color:
        categories = list(dict.fromkeys(data[color].dropna()))
        legend = alt.selection_point(fields=[color], bind="legend")
        encoding["color"] = alt.Color(f"{color}:N", title=color_title or color, legend=alt.Legend(orient="bottom"),
                                      scale=alt.Scale(domain=categories, range=list(PALETTE[:len(categories)])))
        if shape:
            encoding["shape"] = alt.Shape(f"{color}:N", title=color_title or color, legend=alt.Legend(orient="bottom"),
                                          scale=alt.Scale(domain=categories, range=list(SHAPES[:len(categories)])))
        encoding["opacity"] = alt.condition(legend, alt.value(0.85), alt.value(0.12))
        tooltip.append(alt.Tooltip(f"{color}:N", title=color_title or color))
        params.append(legend)
    layers = []
    if band is not None:
        low, high, label = band
        layers.append(alt.Chart(pd.DataFrame({"low": [low], "high": [high], "label": [label]}))
                      .mark_rect(opacity=0.14, color="#009E73")
                      .encode(y=alt.Y("low:Q", scale=scale), y2="high:Q",
                              tooltip=[alt.Tooltip("label:N", title="Reference")]))
    if references:
        rules = pd.DataFrame({"value": [value for value, _ in references], "label": [label for _, label in references]})
        layers.append(alt.Chart(rules).mark_rule(strokeDash=[6, 4], color="#666").encode(
            y=alt.Y("value:Q", scale=scale), tooltip=[alt.Tooltip("label:N", title="Reference")]))
    # Shapes drawn hollow, so a model's coinciding figures (published and computed counts) all stay visible.
    layers.append(alt.Chart(data).mark_point(size=80 if shape else 70, filled=not shape, strokeWidth=1.8,
                                             cursor="pointer").encode(**encoding).add_params(*params))
    if domain is not None:
        outside = data[(data[column] < domain[0]) | (data[column] > domain[1])]
        if not outside.empty:
            notes = outside.assign(note=outside["name"] + ": " + outside[column].map(lambda v: f"{v:,.3g}") + " (off scale)")
            notes["dy"] = notes["shown"].map(lambda v: 10 if v >= domain[1] else -10)  # inside the plot
            layers.append(alt.Chart(notes).mark_text(align="left", dx=8, fontSize=10, color="#555").encode(
                yOffset=alt.YOffset("dy:Q", scale=None),
                x=alt.X("release_date:T"), y=alt.Y("shown:Q", scale=scale), text="note:N"))
    return alt.layer(*layers).properties(height=380)


def models_per_year(frame: pd.DataFrame) -> alt.Chart:
    """How many of the listed models were released each year, stacked by architecture kind."""
    legend = alt.selection_point(fields=["arch"], bind="legend")
    return (
        alt.Chart(frame[["year", "arch", "name"]])
        .mark_bar()
        .encode(
            x=alt.X("year:O", title="Release year"),
            y=alt.Y("count():Q", title="Models (count)"),
            color=alt.Color("arch:N", title="Architecture", legend=alt.Legend(orient="right"),
                            scale=alt.Scale(range=list(PALETTE))),
            opacity=alt.condition(legend, alt.value(0.9), alt.value(0.2)),
            tooltip=[alt.Tooltip("year:O", title="Year"), alt.Tooltip("arch:N", title="Architecture"),
                     alt.Tooltip("count():Q", title="Models")],
        )
        .add_params(legend)
        .properties(height=260)
    )


def grouped_bars(data: pd.DataFrame, value: str, value_title: str, group: str, group_title: str,
                 *, category: str = "name", category_title: str = "Model", value_format: str = ",.0f",
                 axis: alt.Axis | None = None, extra_tooltip: Sequence[alt.Tooltip] = (),
                 error: tuple[str, str] | None = None) -> alt.LayerChart:
    """Horizontal bars of `value` per `category`, side by side per `group` (e.g. per device or per figure), each
    bar a fixed 14 px inside its category's band; `error` = (low, high) columns draws an interval on each bar."""
    legend = alt.selection_point(fields=[group], bind="legend")
    y = alt.Y(f"{category}:N", title=category_title, sort=None, axis=alt.Axis(labelLimit=260))
    y_offset = alt.YOffset(f"{group}:N", scale=alt.Scale(paddingInner=0.1))
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=y, yOffset=y_offset,
            x=alt.X(f"{value}:Q", axis=axis or si_axis(value_title)),
            color=alt.Color(f"{group}:N", title=group_title, legend=alt.Legend(orient="bottom"),
                            scale=alt.Scale(range=list(PALETTE))),
            opacity=alt.condition(legend, alt.value(0.9), alt.value(0.2)),
            tooltip=[alt.Tooltip(f"{category}:N", title=category_title), alt.Tooltip(f"{group}:N", title=group_title),
                     alt.Tooltip(f"{value}:Q", title=value_title, format=value_format), *extra_tooltip],
        )
        .add_params(legend)
    )
    layers = [bars]
    spread = None if error is None else data.dropna(subset=list(error))
    if spread is not None and not spread.empty:  # intervals only where a run stored its step times
        layers.append(alt.Chart(spread).mark_rule(color="#222", strokeWidth=1.5).encode(
            y=y, yOffset=y_offset, x=f"{error[0]}:Q", x2=f"{error[1]}:Q"))
    steps = data[group].nunique() * data[category].nunique()
    return alt.layer(*layers).properties(height=alt.Step(16) if steps else 60)
