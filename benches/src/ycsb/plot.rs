//! The SVG report: latency by percentile (x in "nines": 90% = 1, 99% = 2, 99.9% = 3, ...;
//! y log µs) for each store and operation, above throughput over time (ops/s per second)
//! for each run. Plain SVG, opened by any browser.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use super::report::Report;

/// Largest "nines" plotted (99.999%).
const MAX_NINES: f64 = 5.0;

fn nines(percentile: f64) -> f64 {
    let rest = 1.0 - percentile / 100.0;
    if rest <= 10f64.powf(-MAX_NINES) {
        MAX_NINES
    } else {
        -rest.log10()
    }
}

fn series_color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    COLORS[i % COLORS.len()]
}

fn label(r: &Report) -> String {
    format!("{} {} t{}", r.store, r.workload, r.threads)
}

/// Writes the SVG report of `reports` to `path`.
pub fn write_svg(reports: &[Report], title: &str, path: &Path) -> anyhow::Result<()> {
    let err = |e: String| anyhow!("cannot draw {}: {e}", path.display());
    let root = SVGBackend::new(path, (1100, 1000)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let root = root
        .titled(title, ("sans-serif", 22))
        .map_err(|e| err(e.to_string()))?;
    let (top, bottom) = root.split_vertically(560);

    let max_us = reports
        .iter()
        .flat_map(|r| r.ops.iter().map(|o| o.max_us))
        .max()
        .unwrap_or(1)
        .max(10) as f64;
    let mut chart = ChartBuilder::on(&top)
        .caption("Latency by percentile", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..MAX_NINES, (1f64..max_us * 1.5).log_scale())
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs)")
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            format!("{}%", (p * 1e4).round() / 1e4)
        })
        .x_labels(6)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let mut i = 0;
    for r in reports {
        for op in &r.ops {
            let color = series_color(i);
            i += 1;
            let points: Vec<(f64, f64)> = op
                .percentiles
                .iter()
                .map(|&(p, us)| (nines(p), (us as f64).max(1.0)))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(format!("{} {}", label(r), op.name))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(e.to_string()))?;

    let max_t = reports
        .iter()
        .flat_map(|r| r.timeline.iter().map(|p| p.t_secs))
        .fold(1.0f64, f64::max);
    let max_ops = reports
        .iter()
        .flat_map(|r| r.timeline.iter().map(|p| p.ops_per_sec))
        .fold(1.0f64, f64::max);
    let mut chart = ChartBuilder::on(&bottom)
        .caption("Throughput over time", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..max_t, 0f64..max_ops * 1.1)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("ops/s")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (i, r) in reports.iter().enumerate() {
        let color = series_color(i);
        let points: Vec<(f64, f64)> = r
            .timeline
            .iter()
            .map(|p| (p.t_secs, p.ops_per_sec))
            .collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(label(r))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
