//! SVG charts drawn with `plotters` (SVG backend, no fonts or files needed): text stays
//! `<text>` elements, so the SVG embeds in HTML without any external resource.
//!
//! - [`workload_chart`]: one figure per workload with two panels: the headline figure per
//!   profile as horizontal bars with min–max whiskers over repetitions (unstable cells
//!   hatched lighter and starred), and the latency percentile curves of the workload's main
//!   operation (x: p0 to p99.99 on a "nines" scale, y: log latency).
//! - [`change_chart`]: relative change per cell between two runs, with the threshold.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::report::summary::CellSummary;

/// Width of a workload figure, pixels.
pub const WIDTH: u32 = 1000;
const BAR_HEIGHT: u32 = 26;

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
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// x position of a percentile on the "nines" scale: p90 → 1, p99 → 2, p99.9 → 3.
#[must_use]
pub fn nines(percentile: f64) -> f64 {
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

/// The label of a horizontal bar's segment. Bars run top to bottom in list order: bar `i`
/// of `n` sits in segment `n - 1 - i` (segment 0 is at the bottom).
fn segment_label(labels: &[String], v: &SegmentValue<usize>) -> String {
    match v {
        SegmentValue::CenterOf(j) => labels
            .len()
            .checked_sub(j + 1)
            .and_then(|i| labels.get(i).cloned())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// One bar of a workload chart.
pub struct Bar<'a> {
    /// Label.
    pub label: String,
    /// The cell.
    pub cell: &'a CellSummary,
    /// Colour index (the cell's position in the workload).
    pub colour: usize,
}

/// The workload figure: headline bars and latency curves. `op` is the operation whose
/// latency is drawn.
pub fn workload_chart(workload: &str, bars: &[Bar<'_>], op: &str) -> Result<String, ChartError> {
    let err = |e: &dyn std::fmt::Display| ChartError {
        chart: workload.to_owned(),
        detail: e.to_string(),
    };
    let n = bars.len().max(1);
    let height = (n as u32 * BAR_HEIGHT + 110).max(300);
    let headline = bars.first().map_or("value", |b| b.cell.headline.label());
    let values: Vec<Option<crate::report::summary::Spread>> =
        bars.iter().map(|b| b.cell.headline_display()).collect();
    let top = values
        .iter()
        .flatten()
        .map(|s| s.max)
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.12;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (left, right) = root.split_horizontally(WIDTH / 2);

        let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
        let mut chart = ChartBuilder::on(&left)
            .caption(format!("{workload}: {headline}"), ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..top, (0..n).into_segmented())
            .map_err(|e| err(&e))?;
        let label_of = |v: &SegmentValue<usize>| segment_label(&labels, v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&label_of)
            .x_desc(headline)
            .x_label_formatter(&|v| crate::report::format::number(*v))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, (bar, value)) in bars.iter().zip(&values).enumerate() {
            let Some(s) = value else { continue };
            let i = n - 1 - i;
            let base = colour(bar.colour);
            let fill = if bar.cell.unstable {
                base.mix(0.35).filled()
            } else {
                base.filled()
            };
            let mut rect = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (s.median, SegmentValue::Exact(i + 1)),
                ],
                fill,
            );
            rect.set_margin(4, 4, 0, 0);
            chart
                .draw_series(std::iter::once(rect))
                .map_err(|e| err(&e))?;
            let centre = SegmentValue::CenterOf(i);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(s.min, centre.clone()), (s.max, centre)],
                    BLACK.stroke_width(2),
                )))
                .map_err(|e| err(&e))?;
            if bar.cell.unstable {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "* unstable",
                        (s.max, SegmentValue::CenterOf(i)),
                        ("sans-serif", 11).into_font().color(&RED),
                    )))
                    .map_err(|e| err(&e))?;
            }
        }

        let curves: Vec<(&Bar<'_>, Vec<(f64, f64)>)> = bars
            .iter()
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
            .collect();
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
        let mut lat = ChartBuilder::on(&right)
            .caption(
                format!("{op} latency percentiles (µs, log)"),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..4.2, (lo..hi).log_scale())
            .map_err(|e| err(&e))?;
        lat.configure_mesh()
            .x_labels(5)
            .x_label_formatter(&|x| nines_label(*x))
            .y_label_formatter(&|y| crate::report::format::number(*y))
            .x_desc("percentile")
            .draw()
            .map_err(|e| err(&e))?;
        for (bar, points) in &curves {
            let c = colour(bar.colour);
            lat.draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(bar.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        if !curves.is_empty() {
            lat.configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 11))
                .draw()
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// One row of a change chart.
pub struct Change {
    /// Label.
    pub label: String,
    /// `new / old - 1`, oriented so that negative is worse.
    pub ratio: f64,
}

/// Horizontal bars of relative change (negative = worse), with the threshold marked.
pub fn change_chart(title: &str, rows: &[Change], threshold: f64) -> Result<String, ChartError> {
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
            .build_cartesian_2d(-extent..extent, (0..n).into_segmented())
            .map_err(|e| err(&e))?;
        let label_of = |v: &SegmentValue<usize>| segment_label(&labels, v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&label_of)
            .x_desc("change (%), negative is worse")
            .x_label_formatter(&|v| format!("{v:+.0}%"))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, row) in rows.iter().enumerate() {
            let i = n - 1 - i;
            let pct = row.ratio * 100.0;
            let colour = if row.ratio < -threshold {
                RGBColor(213, 94, 0)
            } else if row.ratio > threshold {
                RGBColor(0, 158, 115)
            } else {
                RGBColor(150, 150, 150)
            };
            let mut rect = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (pct, SegmentValue::Exact(i + 1)),
                ],
                colour.filled(),
            );
            rect.set_margin(4, 4, 0, 0);
            chart
                .draw_series(std::iter::once(rect))
                .map_err(|e| err(&e))?;
        }
        for t in [-threshold * 100.0, threshold * 100.0] {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(t, SegmentValue::Exact(0)), (t, SegmentValue::Last)],
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
