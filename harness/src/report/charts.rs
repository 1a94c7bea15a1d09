//! SVG charts drawn with `plotters` (SVG backend, no fonts or files needed): text stays
//! `<text>` elements, so the SVG embeds in HTML without any external resource.
//!
//! - [`workload_chart`]: one figure per workload with two panels: the headline figure per
//!   profile as horizontal bars with min–max whiskers over repetitions (unstable cells
//!   hatched lighter and starred), and the latency percentile curves of the workload's main
//!   operation (x: p0 to p99.99 on a "nines" scale, y: log latency).
//! - [`change_chart`]: relative change per cell between two runs, with the threshold.
//!
//! Layout choices, each fixing what a browser showed: bars sit on a plain numeric axis with
//! one label per bar (`bar_axis`; plotters' segmented axis keeps an empty segment above
//! the last bar); the latency axis gets its own labels, powers of ten, or 1-2-5 steps over a
//! narrow range, with units (`500 µs`, `2 ms`) ([`log_ticks`]; plotters' own crowd one
//! decade and leave others bare); the legend goes below the curves, never over them.

use plotters::coord::combinators::{BindKeyPoints as _, WithKeyPoints};
use plotters::coord::types::RangedCoordi32;
use plotters::prelude::*;

use crate::model::summary::CellSummary;

/// Width of a workload figure, pixels.
pub(super) const WIDTH: u32 = 1000;
const BAR_HEIGHT: u32 = 26;
/// Height of a legend row under the latency curves, pixels.
const LEGEND_ROW: u32 = 17;

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the {chart} chart: {detail}")]
pub struct ChartError {
    /// Which chart.
    pub chart: String,
    /// What plotters reported.
    pub detail: String,
}

/// Colours of series, by profile position (colour-blind friendly Okabe-Ito palette).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// The colour of the `i`th series.
#[must_use]
pub(super) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// x position of a percentile on the "nines" scale: p90 → 1, p99 → 2, p99.9 → 3.
#[must_use]
pub(super) fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).max(1e-6).log10()
}

fn nines_label(x: f64) -> String {
    match x.round() as i64 {
        0 => "p0".to_owned(),
        1 => "p90".to_owned(),
        2 => "p99".to_owned(),
        3 => "p99.9".to_owned(),
        4 => "p99.99".to_owned(),
        _ => String::new(),
    }
}

/// The vertical axis of a horizontal bar chart of `n` bars: `0..2n`, bar `i` (in list
/// order, top to bottom) from `2(n - 1 - i)` to two above, one key point at each bar's
/// centre, so there is exactly one label per bar and no empty slot. (Whole numbers, as
/// plotters formats mesh labels of integer axes only.)
fn bar_axis(n: usize) -> WithKeyPoints<RangedCoordi32> {
    let n = i32::try_from(n).unwrap_or(i32::MAX / 2);
    let points = (0..n).map(|j| 2 * j + 1).collect();
    (0..2 * n).with_key_points(points)
}

/// The bottom of bar `i` of `n` (list order, top to bottom) on [`bar_axis`]; its centre
/// is one above, its top two above.
fn bar_slot(i: usize, n: usize) -> i32 {
    i32::try_from(2 * (n - 1 - i)).unwrap_or(0)
}

/// The label at key point `y` of [`bar_axis`].
fn bar_label(labels: &[String], y: i32) -> String {
    let Ok(slot) = usize::try_from(y / 2) else {
        return String::new();
    };
    labels
        .len()
        .checked_sub(slot + 1)
        .and_then(|i| labels.get(i).cloned())
        .unwrap_or_default()
}

/// Labelled ticks of a log axis from `lo` to `hi` (µs): powers of ten when the range spans
/// three decades or more, else 1-2-5 steps, else (under a decade) 1-1.5-2-3-5-7 steps; at
/// most eight labels, and at least two when the range allows.
#[must_use]
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo) {
        return Vec::new();
    }
    let ticks = |mantissas: &[f64]| -> Vec<f64> {
        let first = lo.log10().floor() as i32 - 1;
        let last = hi.log10().ceil() as i32 + 1;
        (first..=last)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo * 0.999_999 && *v <= hi * 1.000_001)
            .collect()
    };
    for mantissas in [
        &[1.0][..],
        &[1.0, 2.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
    ] {
        let t = ticks(mantissas);
        if t.len() >= 3 || mantissas.len() == 6 {
            if t.len() > 8 {
                let step = t.len().div_ceil(8);
                return t.into_iter().step_by(step).collect();
            }
            return t;
        }
    }
    Vec::new()
}

/// Minor grid lines of a log axis: every whole multiple of each decade in range.
fn log_minor(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo) {
        return Vec::new();
    }
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    (first..=last)
        .flat_map(|e| (1..10).map(move |m| f64::from(m) * 10f64.powi(e)))
        .filter(|v| *v >= lo && *v <= hi)
        .collect()
}

/// A latency in µs as an axis label: `0.5 µs`, `500 µs`, `2 ms`, `1.5 s`.
#[must_use]
pub(super) fn latency_label(us: f64) -> String {
    let trim = |v: f64| {
        let text = format!("{v:.1}");
        text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
    };
    if us >= 1e6 {
        format!("{} s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else if us >= 1.0 {
        format!("{} µs", trim(us))
    } else {
        format!("{} µs", crate::report::format::number(us))
    }
}

/// One bar of a workload chart.
pub(super) struct Bar<'a> {
    /// Label.
    pub label: String,
    /// The cell.
    pub cell: &'a CellSummary,
    /// Colour index (the cell's position in the workload).
    pub colour: usize,
}

/// The workload figure: headline bars and latency curves. `op` is the operation whose
/// latency is drawn.
pub(super) fn workload_chart(
    workload: &str,
    bars: &[Bar<'_>],
    op: &str,
) -> Result<String, ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError {
        chart: workload.to_owned(),
        detail: e.to_string(),
    };
    let n = bars.len().max(1);
    // The legend goes under the latency curves, two entries per row.
    let legend_rows = u32::try_from(bars.len().div_ceil(2)).unwrap_or(u32::MAX);
    let legend_height = legend_rows * LEGEND_ROW + 16;
    let height = (n as u32 * BAR_HEIGHT + 110).max(300 + legend_height);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (left, right) = root.split_horizontally(WIDTH / 2);
        draw_headline_bars(&left, workload, bars, &err)?;
        let curves = latency_curves(bars, op);
        let (plot_area, legend_area) = right.split_vertically(height - legend_height);
        draw_latency_curves(&plot_area, op, &curves, &err)?;
        draw_legend(&legend_area, &curves, &err)?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// A drawing area of a chart.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// How a drawing error becomes the chart's error.
type ErrorOf<'e> = dyn Fn(&dyn std::fmt::Display) -> ChartError + 'e;

/// Left half: one bar per cell, the median with the min-max range, unstable cells paler
/// and marked.
fn draw_headline_bars(
    area: &Area<'_>,
    workload: &str,
    bars: &[Bar<'_>],
    err: &ErrorOf<'_>,
) -> Result<(), ChartError> {
    let n = bars.len().max(1);
    let headline = bars.first().map_or("value", |b| b.cell.headline.label());
    let values: Vec<Option<crate::model::summary::Spread>> =
        bars.iter().map(|b| b.cell.headline_display()).collect();
    let top = values
        .iter()
        .flatten()
        .map(|s| s.max)
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.12;
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{workload}: {headline}"), ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(150)
        .build_cartesian_2d(0.0..top, bar_axis(n))
        .map_err(|e| err(&e))?;
    let label_of = |y: &i32| bar_label(&labels, *y);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_label_formatter(&label_of)
        .x_desc(headline)
        .x_label_formatter(&|v| crate::report::format::number(*v))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (bar, value)) in bars.iter().zip(&values).enumerate() {
        let Some(s) = value else { continue };
        let bottom = bar_slot(i, n);
        let centre = bottom + 1;
        let base = colour(bar.colour);
        let fill = if bar.cell.unstable {
            base.mix(0.35).filled()
        } else {
            base.filled()
        };
        let mut rect = Rectangle::new([(0.0, bottom), (s.median, bottom + 2)], fill);
        rect.set_margin(4, 4, 0, 0);
        chart
            .draw_series(std::iter::once(rect))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(s.min, centre), (s.max, centre)],
                BLACK.stroke_width(2),
            )))
            .map_err(|e| err(&e))?;
        if bar.cell.unstable {
            chart
                .draw_series(std::iter::once(Text::new(
                    "* unstable",
                    (s.max, centre),
                    ("sans-serif", 11).into_font().color(&RED),
                )))
                .map_err(|e| err(&e))?;
        }
    }
    Ok(())
}

/// Each cell's latency percentiles of `op` in µs, against the number of nines (cells
/// without any are left out).
fn latency_curves<'b, 'a>(bars: &'b [Bar<'a>], op: &str) -> Vec<(&'b Bar<'a>, Vec<(f64, f64)>)> {
    bars.iter()
        .filter_map(|b| {
            let l = b.cell.latency.get(op)?;
            let points: Vec<(f64, f64)> = l
                .curve
                .iter()
                .filter(|(_, ns)| *ns > 0)
                .map(|(p, ns)| (nines(*p), *ns as f64 / 1e3))
                .collect();
            (!points.is_empty()).then_some((b, points))
        })
        .collect()
}

/// Right half, top: the latency curves on a log scale.
fn draw_latency_curves(
    area: &Area<'_>,
    op: &str,
    curves: &[(&Bar<'_>, Vec<(f64, f64)>)],
    err: &ErrorOf<'_>,
) -> Result<(), ChartError> {
    let lo = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(f64::INFINITY, f64::min);
    let hi = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0_f64, f64::max);
    let (lo, hi) = if curves.is_empty() || lo <= 0.0 {
        (1.0, 10.0)
    } else {
        (lo * 0.8, hi * 1.25)
    };
    let ticks = log_ticks(lo, hi);
    let mut lat = ChartBuilder::on(area)
        .caption(
            format!("{op} latency percentiles (log scale)"),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(
            0.0..4.2,
            (lo..hi)
                .log_scale()
                .with_key_points(ticks)
                .with_light_points(log_minor(lo, hi)),
        )
        .map_err(|e| err(&e))?;
    lat.configure_mesh()
        .x_labels(5)
        .x_label_formatter(&|x| nines_label(*x))
        .y_label_formatter(&|y| latency_label(*y))
        .x_desc("percentile")
        .draw()
        .map_err(|e| err(&e))?;
    for (bar, points) in curves {
        let c = colour(bar.colour);
        lat.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(|e| err(&e))?;
    }
    Ok(())
}

/// Right half, below the plot: two columns of a line in the curve's colour and the label.
fn draw_legend(
    area: &Area<'_>,
    curves: &[(&Bar<'_>, Vec<(f64, f64)>)],
    err: &ErrorOf<'_>,
) -> Result<(), ChartError> {
    let column = (WIDTH / 2 - 90) / 2;
    for (k, (bar, _)) in curves.iter().enumerate() {
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        let x = 76 + i32::try_from((k % 2) * column).unwrap_or(0);
        let y = 6 + i32::try_from((k / 2) * LEGEND_ROW).unwrap_or(0);
        let c = colour(bar.colour);
        area.draw(&PathElement::new(
            vec![(x, y + 7), (x + 18, y + 7)],
            c.stroke_width(3),
        ))
        .map_err(|e| err(&e))?;
        area.draw(&Text::new(
            bar.label.clone(),
            (x + 24, y),
            ("sans-serif", 12).into_font(),
        ))
        .map_err(|e| err(&e))?;
    }
    Ok(())
}

/// One row of a change chart.
pub(super) struct Change {
    /// Label.
    pub label: String,
    /// `new / old - 1`, oriented so that negative is worse.
    pub ratio: f64,
}

/// Horizontal bars of relative change (negative = worse), with the threshold marked.
pub(super) fn change_chart(
    title: &str,
    rows: &[Change],
    threshold: f64,
) -> Result<String, ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError {
        chart: title.to_owned(),
        detail: e.to_string(),
    };
    let n = rows.len().max(1);
    let height = (n as u32 * BAR_HEIGHT + 100).max(200);
    let extent = rows
        .iter()
        .map(|r| r.ratio.abs())
        .fold(threshold * 1.5, f64::max)
        * 100.0
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(360)
            .build_cartesian_2d(-extent..extent, bar_axis(n))
            .map_err(|e| err(&e))?;
        let label_of = |y: &i32| bar_label(&labels, *y);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&label_of)
            .x_desc("change (%), negative is worse")
            .x_label_formatter(&|v| format!("{v:+.0}%"))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, row) in rows.iter().enumerate() {
            let bottom = bar_slot(i, n);
            let pct = row.ratio * 100.0;
            let colour = if row.ratio < -threshold {
                RGBColor(213, 94, 0)
            } else if row.ratio > threshold {
                RGBColor(0, 158, 115)
            } else {
                RGBColor(150, 150, 150)
            };
            let mut rect = Rectangle::new([(0.0, bottom), (pct, bottom + 2)], colour.filled());
            rect.set_margin(4, 4, 0, 0);
            chart
                .draw_series(std::iter::once(rect))
                .map_err(|e| err(&e))?;
        }
        for t in [-threshold * 100.0, threshold * 100.0] {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(t, 0), (t, bar_slot(0, n) + 2)],
                    RED.mix(0.6).stroke_width(1),
                )))
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_scale() {
        assert!(nines(0.0).abs() < 1e-12);
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.0) - 2.0).abs() < 1e-9);
        assert!((nines(99.99) - 4.0).abs() < 1e-6);
        assert_eq!(nines_label(3.0), "p99.9");
    }

    #[test]
    fn log_axis_labels_are_spread_over_the_range_with_units() {
        // Three decades or more: powers of ten only.
        assert_eq!(log_ticks(80.0, 120_000.0), vec![100.0, 1e3, 1e4, 1e5]);
        // 300 µs to 2 ms (the range that crowded 500..1000 and left 300..500 bare).
        assert_eq!(log_ticks(300.0, 2_000.0), vec![500.0, 1_000.0, 2_000.0]);
        // Under a decade: finer steps, still at least two labels.
        let narrow = log_ticks(160.0, 420.0);
        assert_eq!(narrow, vec![200.0, 300.0]);
        // Never more than eight.
        assert!(log_ticks(0.01, 1e9).len() <= 8);
        assert_eq!(latency_label(500.0), "500 µs");
        assert_eq!(latency_label(2_000.0), "2 ms");
        assert_eq!(latency_label(1_500_000.0), "1.5 s");
        assert_eq!(latency_label(0.5), "0.50 µs");
    }

    #[test]
    fn one_label_per_bar_and_no_empty_slot() {
        let labels: Vec<String> = ["top", "middle", "bottom"].map(str::to_owned).to_vec();
        assert_eq!(bar_slot(0, 3), 4);
        assert_eq!(bar_label(&labels, 5), "top");
        assert_eq!(bar_label(&labels, 1), "bottom");
        assert_eq!(bar_label(&labels, 7), "");
        let svg = change_chart(
            "t",
            &labels
                .iter()
                .map(|l| Change {
                    label: l.clone(),
                    ratio: 0.05,
                })
                .collect::<Vec<_>>(),
            0.1,
        )
        .unwrap();
        // Each label once, and no tick label for a slot without a bar.
        for l in &labels {
            assert_eq!(svg.matches(&format!(">\n{l}\n<")).count(), 1, "{l}");
        }
    }

    #[test]
    fn change_chart_is_standalone_svg() {
        let svg = change_chart(
            "t",
            &[
                Change {
                    label: "a".to_owned(),
                    ratio: -0.2,
                },
                Change {
                    label: "b".to_owned(),
                    ratio: 0.03,
                },
            ],
            0.1,
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("-20%") || svg.contains("+0%"), "labels drawn");
        assert!(!svg.contains("href"));
    }
}
