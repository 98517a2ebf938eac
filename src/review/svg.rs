//! The review page's two charts, drawn as inline SVG: attainment against target (bars) and
//! the strongest signals with their intervals (a forest plot on a log axis).
//!
//! The SVG is inline HTML5 SVG, so it needs no `xmlns` (which would put a URL in a page
//! that must not have any). Text is escaped like the rest of the page; colours and fonts
//! come from the page's CSS classes, so the charts print like the page.

use super::html::{escape, num, pct, truncate, width, Tr};

/// Width of every chart's viewBox; the SVG scales to the page.
const W: f64 = 960.0;
/// Pixels per display column of a 12–13px label (a CJK character is two columns).
const PX_PER_COL: f64 = 6.6;

/// One bar of the attainment chart.
pub struct Bar {
    /// `浙江省 (330000) · 药品`: plain text, escaped when drawn.
    pub label: String,
    /// Attainment (1.0 = the target), when there is a rate.
    pub attainment: Option<f64>,
    pub on_track: Option<bool>,
    /// Plain text after the bar: the numbers behind it, or why there is no rate.
    pub detail: String,
    /// Bars of one class share a band.
    pub group: String,
}

/// A step between ticks that gives at most about six ticks up to `max`.
fn linear_step(max: f64) -> f64 {
    [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
        .into_iter()
        .find(|s| max / s <= 6.0)
        .unwrap_or(max / 5.0)
}

/// Horizontal bars of attainment, one per targeted region × class, with a line at 100%.
pub fn attainment_chart(bars: &[Bar], tr: Tr) -> String {
    let label_cols = bars.iter().map(|b| width(&b.label)).max().unwrap_or(10);
    let x0 = (label_cols as f64 * PX_PER_COL + 20.0).clamp(120.0, 330.0);
    let right = 250.0;
    let plot_w = W - x0 - right;
    let (top, row_h, bar_h) = (34.0, 28.0, 16.0);
    let h = top + row_h * bars.len() as f64 + 34.0;

    let max = bars
        .iter()
        .filter_map(|b| b.attainment)
        .fold(1.0_f64, f64::max)
        * 1.08;
    let step = linear_step(max);
    let xmax = (max / step).ceil() * step;
    let x = |v: f64| x0 + plot_w * (v.clamp(0.0, xmax) / xmax);

    let mut s = String::new();
    w!(
        s,
        r#"<svg class="chart attainment" viewBox="0 0 {W} {h}" role="img" aria-label="{}">"#,
        escape(tr.t(
            "Attainment against target by region and class",
            "各地区、各类别报告数达标情况"
        ))
    );
    // Bands: one shade per class, alternating, so the groups read at a glance.
    let mut shade = false;
    let mut prev_group: Option<&str> = None;
    for (i, b) in bars.iter().enumerate() {
        if prev_group != Some(b.group.as_str()) {
            shade = !shade;
            prev_group = Some(&b.group);
        }
        if shade {
            let y = top + row_h * i as f64;
            w!(
                s,
                r#"<rect class="band" x="0" y="{y}" width="{W}" height="{row_h}"/>"#
            );
        }
    }
    // Grid and ticks.
    let axis_y = top + row_h * bars.len() as f64;
    let mut t = 0.0;
    while t <= xmax + 1e-9 {
        let xt = x(t);
        w!(
            s,
            r#"<line class="grid" x1="{xt:.1}" y1="{top}" x2="{xt:.1}" y2="{axis_y}"/><text class="tick" x="{xt:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            axis_y + 16.0,
            format_pct_tick(t)
        );
        t += step;
    }
    w!(
        s,
        r#"<line class="axis" x1="{x0}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}"/>"#,
        x0 + plot_w
    );
    for (i, b) in bars.iter().enumerate() {
        let y = top + row_h * i as f64;
        let cy = y + row_h / 2.0;
        let (class, value) = match (b.attainment, b.on_track) {
            (Some(a), Some(true)) => ("met", Some(a)),
            (Some(a), _) if a >= 1.0 => ("met", Some(a)),
            (Some(a), _) => ("below", Some(a)),
            (None, _) => ("nodata", None),
        };
        let bw = value.map(|a| x(a) - x0).unwrap_or(0.0);
        w!(
            s,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 8.0,
            cy + 4.0,
            escape(&truncate(&b.label, ((x0 - 16.0) / PX_PER_COL) as usize))
        );
        w!(
            s,
            r#"<rect class="bar {class}" x="{x0}" y="{:.1}" width="{bw:.1}" height="{bar_h}"><title>{}: {}</title></rect>"#,
            cy - bar_h / 2.0,
            escape(&b.label),
            escape(&b.detail)
        );
        let text = match value {
            Some(a) => format!("{} · {}", pct(a), b.detail),
            None => b.detail.clone(),
        };
        w!(
            s,
            r#"<text class="value {class}" x="{:.1}" y="{:.1}">{}</text>"#,
            x0 + bw + 6.0,
            cy + 4.0,
            escape(&truncate(&text, 44))
        );
    }
    // The target line goes on top of the bars.
    let xt = x(1.0);
    w!(
        s,
        r#"<line class="target" x1="{xt:.1}" y1="{:.1}" x2="{xt:.1}" y2="{axis_y}"/><text class="target-label" x="{xt:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        top - 8.0,
        top - 13.0,
        escape(tr.t("target 100%", "目标 100%"))
    );
    s.push_str("</svg>");
    s
}

fn format_pct_tick(t: f64) -> String {
    format!("{:.0}%", t * 100.0)
}

/// One row of the forest plot.
pub struct Interval {
    /// Plain text, escaped when drawn.
    pub label: String,
    pub lower: Option<f64>,
    pub point: Option<f64>,
    pub upper: Option<f64>,
}

/// Ticks of a log axis over `[lo, hi]`: 1-2-5 per decade, or decades when that is many.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    let mut ticks = Vec::new();
    let decades = hi.log10() - lo.log10();
    let mantissas: &[f64] = if decades > 3.0 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    for e in first..=last {
        for m in mantissas {
            let v = m * 10f64.powi(e);
            if v >= lo * 0.999 && v <= hi * 1.001 {
                ticks.push(v);
            }
        }
    }
    ticks
}

/// A forest plot: each row's interval on a log axis with its point estimate, a reference
/// line at 1, and the numbers at the right.
pub fn forest_plot(rows: &[Interval], tr: Tr) -> String {
    let label_cols = rows.iter().map(|r| width(&r.label)).max().unwrap_or(10);
    let x0 = (label_cols as f64 * PX_PER_COL + 20.0).clamp(140.0, 380.0);
    let right = 170.0;
    let plot_w = W - x0 - right;
    let (top, row_h) = (22.0, 24.0);
    let h = top + row_h * rows.len() as f64 + 52.0;

    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| [r.lower, r.point, r.upper])
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let lo = values.iter().copied().fold(1.0_f64, f64::min) / 1.25;
    let hi = values.iter().copied().fold(1.0_f64, f64::max) * 1.25;
    let (llo, lhi) = (lo.log10(), hi.log10());
    let x = |v: f64| x0 + plot_w * ((v.max(lo).log10() - llo) / (lhi - llo));

    let mut s = String::new();
    w!(
        s,
        r#"<svg class="chart forest" viewBox="0 0 {W} {h}" role="img" aria-label="{}">"#,
        escape(tr.t(
            "Forest plot of the strongest signals: EBGM with EB05–EB95",
            "最强信号森林图：EBGM 及 EB05–EB95"
        ))
    );
    for i in (0..rows.len()).step_by(2) {
        let y = top + row_h * i as f64;
        w!(
            s,
            r#"<rect class="band" x="0" y="{y}" width="{W}" height="{row_h}"/>"#
        );
    }
    let axis_y = top + row_h * rows.len() as f64;
    for t in log_ticks(lo, hi) {
        let xt = x(t);
        w!(
            s,
            r#"<line class="grid" x1="{xt:.1}" y1="{top}" x2="{xt:.1}" y2="{axis_y}"/><text class="tick" x="{xt:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            axis_y + 16.0,
            super::html::short(t)
        );
    }
    w!(
        s,
        r#"<line class="axis" x1="{x0}" y1="{axis_y}" x2="{:.1}" y2="{axis_y}"/>"#,
        x0 + plot_w
    );
    w!(
        s,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        x0 + plot_w / 2.0,
        axis_y + 40.0,
        escape(tr.t(
            "EBGM and its 90% interval (EB05–EB95), log scale; 1 = no disproportionality",
            "EBGM 及其 90% 区间（EB05–EB95），对数坐标；1 = 无比例失衡"
        ))
    );
    let x1 = x(1.0);
    w!(
        s,
        r#"<line class="reference" x1="{x1:.1}" y1="{:.1}" x2="{x1:.1}" y2="{axis_y}"/>"#,
        top - 6.0
    );
    for (i, r) in rows.iter().enumerate() {
        let cy = top + row_h * i as f64 + row_h / 2.0;
        w!(
            s,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}<title>{}</title></text>"#,
            x0 - 8.0,
            cy + 4.0,
            escape(&truncate(&r.label, ((x0 - 16.0) / PX_PER_COL) as usize)),
            escape(&r.label)
        );
        if let (Some(l), Some(u)) = (r.lower, r.upper) {
            let (xl, xu) = (x(l), x(u));
            w!(
                s,
                r#"<line class="ci" x1="{xl:.1}" y1="{cy:.1}" x2="{xu:.1}" y2="{cy:.1}"/><line class="ci" x1="{xl:.1}" y1="{:.1}" x2="{xl:.1}" y2="{:.1}"/><line class="ci" x1="{xu:.1}" y1="{:.1}" x2="{xu:.1}" y2="{:.1}"/>"#,
                cy - 4.0,
                cy + 4.0,
                cy - 4.0,
                cy + 4.0
            );
        }
        if let Some(p) = r.point {
            let xp = x(p);
            w!(
                s,
                r#"<rect class="point" x="{:.1}" y="{:.1}" width="9" height="9"/>"#,
                xp - 4.5,
                cy - 4.5
            );
        }
        let numbers = format!(
            "{} [{}, {}]",
            r.point.map(num).unwrap_or_else(|| "—".into()),
            r.lower.map(num).unwrap_or_else(|| "—".into()),
            r.upper.map(num).unwrap_or_else(|| "—".into())
        );
        w!(
            s,
            r#"<text class="value" x="{:.1}" y="{:.1}">{}</text>"#,
            x0 + plot_w + 12.0,
            cy + 4.0,
            escape(&numbers)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Lang;

    #[test]
    fn log_ticks_span_the_range() {
        assert_eq!(log_ticks(0.8, 12.0), vec![1.0, 2.0, 5.0, 10.0]);
        assert_eq!(
            log_ticks(0.8, 150.0),
            vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
        );
        assert_eq!(log_ticks(0.5, 3000.0), vec![1.0, 10.0, 100.0, 1000.0]);
    }

    #[test]
    fn bars_are_drawn_even_without_a_rate() {
        let bars = [
            Bar {
                label: "A".into(),
                attainment: Some(0.5),
                on_track: Some(false),
                detail: "500 / 1,000".into(),
                group: "drug".into(),
            },
            Bar {
                label: "B".into(),
                attainment: None,
                on_track: None,
                detail: "no population".into(),
                group: "drug".into(),
            },
        ];
        let svg = attainment_chart(&bars, Tr(Lang::En));
        assert_eq!(svg.matches(r#"class="bar "#).count(), 2);
        assert!(svg.contains(r#"class="bar below""#));
        assert!(svg.contains(r#"class="bar nodata""#));
        assert!(svg.contains(r#"class="target""#));
    }

    #[test]
    fn forest_plot_handles_missing_values() {
        let rows = [Interval {
            label: "x".into(),
            lower: None,
            point: Some(2.0),
            upper: None,
        }];
        let svg = forest_plot(&rows, Tr(Lang::Zh));
        assert!(svg.contains(r#"class="point""#));
        assert!(!svg.contains("NaN"));
        assert!(forest_plot(&[], Tr(Lang::En)).starts_with("<svg"));
    }
}
