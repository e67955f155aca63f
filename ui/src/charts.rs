//! The PRODUCCIÓN tab's charts: SVG drawn by plotters from the figures `zeues-sync` computes
//! (`domain::produccion`), inserted in the page. Pure (no DOM), so they are tested and
//! benchmarked natively.

use plotters::prelude::*;
use zeues_sync::domain::produccion::Produccion;

pub const WIDTH: u32 = 860;
pub const HEIGHT: u32 = 320;

const BACKGROUND: RGBColor = RGBColor(0x0B, 0x24, 0x40);
const INK: RGBColor = RGBColor(0xE8, 0xEE, 0xF6);
const GRID: RGBColor = RGBColor(0x2A, 0x44, 0x66);

/// One colour per operation, the same in every chart.
pub fn color(op: &str) -> RGBColor {
    match op {
        "ARM" => RGBColor(0xFF, 0x6B, 0x35),
        "SOLD" => RGBColor(0x4D, 0xA3, 0xFF),
        "REPARACION" => RGBColor(0xFF, 0xC1, 0x45),
        _ => RGBColor(0x2E, 0xCC, 0x71),
    }
}

/// The operation as the plant reads it.
pub fn label(op: &str) -> &str {
    match op {
        "REPARACION" => "REPARACIÓN",
        "METROLOGIA" => "METROLOGÍA",
        other => other,
    }
}

type Drawn = Result<(), String>;

fn draw(f: impl FnOnce(Root<'_>) -> Drawn) -> String {
    let mut svg = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        f(root)
    };
    match outcome {
        Ok(()) => svg,
        Err(e) => format!(
            "<p class=\"hint warn\">No se pudo dibujar el gráfico: {}</p>",
            e.replace('<', "&lt;")
        ),
    }
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK)
}

type Root<'b> = DrawingArea<SVGBackend<'b>, plotters::coord::Shift>;
type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The frame every chart shares: background, caption, y axis from 0 to a little above `max`,
/// the house mesh style, and `x_labels` ticks named by `x_label`.
fn frame<'a, 'b>(
    root: &'a Root<'b>,
    caption: &str,
    x: std::ops::Range<f64>,
    max: f64,
    y_desc: &str,
    x_labels: usize,
    x_label: &dyn Fn(&f64) -> String,
) -> Result<Chart<'a, 'b>, String> {
    root.fill(&BACKGROUND).map_err(err)?;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .caption(caption, font(20))
        .x_label_area_size(34)
        .y_label_area_size(48)
        .build_cartesian_2d(x, 0.0..max.max(1.0) * 1.15)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .light_line_style(BACKGROUND)
        .axis_style(GRID)
        .label_style(font(13))
        .y_desc(y_desc)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_labels(x_labels)
        .x_label_formatter(x_label)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// The legend, top left, then the finished drawing.
fn legend_and_present<'a, 'b: 'a>(mut chart: Chart<'a, 'b>, root: &Root<'b>) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(BACKGROUND.mix(0.85))
        .border_style(GRID)
        .label_font(font(13))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Grouped bars: one group per x label, one bar per series.
fn grouped_bars(
    caption: &str,
    labels: &[String],
    series: &[(String, Vec<f64>)],
    y_desc: &str,
) -> String {
    draw(|root| {
        let max = series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0_f64, f64::max);
        let n = labels.len().max(1) as f64;
        let step = (labels.len() / 14).max(1);
        let mut chart = frame(
            &root,
            caption,
            0.0..n,
            max,
            y_desc,
            labels.len().min(14),
            &|x| {
                let i = x.floor() as usize;
                if i.is_multiple_of(step) {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            },
        )?;
        let k = series.len().max(1) as f64;
        let width = 0.8 / k;
        for (j, (op, values)) in series.iter().enumerate() {
            let c = color(op);
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    let x0 = i as f64 + 0.1 + j as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.92, *v)], c.filled())
                }))
                .map_err(err)?
                .label(label(op).to_string())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], c.filled()));
        }
        legend_and_present(chart, &root)
    })
}

/// Lines: one per series along the x labels; `None` values leave a gap.
fn lines(
    caption: &str,
    labels: &[String],
    series: &[(String, Vec<Option<f64>>, bool)],
    y_desc: &str,
) -> String {
    draw(|root| {
        let max = series
            .iter()
            .flat_map(|(_, v, _)| v.iter().flatten().copied())
            .fold(0.0_f64, f64::max);
        let last = labels.len().saturating_sub(1).max(1) as f64;
        let step = (labels.len() / 12).max(1);
        let mut chart = frame(
            &root,
            caption,
            -0.2..last + 0.2,
            max,
            y_desc,
            labels.len().min(24),
            &|x| {
                let i = x.round();
                if (x - i).abs() > 0.01 || i < 0.0 {
                    return String::new();
                }
                let i = i as usize;
                if i.is_multiple_of(step) || i + 1 == labels.len() {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            },
        )?;
        for (name, values, dashed) in series {
            let op = name.split_whitespace().next().unwrap_or(name);
            let c = color(op);
            let style = if *dashed {
                c.mix(0.55).stroke_width(2)
            } else {
                c.stroke_width(3)
            };
            // Each run of known values is its own line: a week with nothing is a gap.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (i, v) in values.iter().enumerate() {
                match v {
                    Some(v) => {
                        if let Some(run) = runs.last_mut() {
                            run.push((i as f64, *v));
                        }
                    }
                    None => runs.push(Vec::new()),
                }
            }
            let mut first = true;
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                let points = run.clone();
                let drawn = chart
                    .draw_series(LineSeries::new(run, style))
                    .map_err(err)?;
                if first {
                    let legend = name.replace(op, label(op));
                    drawn
                        .label(legend)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
                    first = false;
                }
                chart
                    .draw_series(points.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                    .map_err(err)?;
            }
        }
        legend_and_present(chart, &root)
    })
}

/// Spools completed per day per operation, last 14 days.
pub fn completados(p: &Produccion) -> String {
    let series: Vec<(String, Vec<f64>)> = p
        .completados
        .iter()
        .map(|s| {
            (
                s.operacion.clone(),
                s.valores.iter().map(|v| f64::from(*v)).collect(),
            )
        })
        .collect();
    grouped_bars("Completados por día", &p.dias, &series, "spools")
}

/// Spools in progress per operation at each hour of today's shift.
pub fn en_curso(p: &Produccion) -> String {
    let series: Vec<(String, Vec<Option<f64>>, bool)> = p
        .en_curso
        .iter()
        .map(|s| {
            (
                s.operacion.clone(),
                s.valores.iter().map(|v| Some(f64::from(*v))).collect(),
                false,
            )
        })
        .collect();
    lines("En curso hoy", &p.horas, &series, "spools")
}

/// Median (solid) and p90 (dashed) minutes per operation per week.
pub fn tiempos(p: &Produccion) -> String {
    let mut series = Vec::new();
    for t in &p.tiempos {
        series.push((
            format!("{} mediana", t.operacion),
            t.mediana_min.clone(),
            false,
        ));
        series.push((format!("{} p90", t.operacion), t.p90_min.clone(), true));
    }
    lines("Tiempo por operación (min)", &p.semanas, &series, "minutos")
}

/// Metrología's rejection rate by the defect's origin per week (% of inspections).
pub fn rechazo(p: &Produccion) -> String {
    let series = vec![
        (
            "ARM".to_string(),
            p.rechazo.iter().map(|r| r.tasa(r.rechazos_arm)).collect(),
        ),
        (
            "SOLD".to_string(),
            p.rechazo.iter().map(|r| r.tasa(r.rechazos_sold)).collect(),
        ),
    ];
    grouped_bars(
        "Rechazo por origen del defecto (%)",
        &p.semanas,
        &series,
        "% de inspecciones",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use zeues_sync::domain::produccion::{RechazoSemana, Serie, Tiempos};

    fn sample() -> Produccion {
        Produccion {
            dias: (1..=14).map(|d| format!("{d:02}-12")).collect(),
            completados: ["ARM", "SOLD", "REPARACION", "METROLOGIA"]
                .iter()
                .map(|op| Serie {
                    operacion: op.to_string(),
                    valores: (0..14).map(|d| d * 2).collect(),
                })
                .collect(),
            horas: (6..=10).map(|h| format!("{h:02}:00")).collect(),
            en_curso: ["ARM", "SOLD", "REPARACION"]
                .iter()
                .map(|op| Serie {
                    operacion: op.to_string(),
                    valores: vec![1, 4, 6, 5, 3],
                })
                .collect(),
            semanas: (42..50).map(|w| format!("2026-S{w}")).collect(),
            tiempos: vec![Tiempos {
                operacion: "ARM".into(),
                mediana_min: vec![
                    Some(50.0),
                    None,
                    Some(70.0),
                    Some(65.0),
                    None,
                    None,
                    Some(40.0),
                    Some(45.0),
                ],
                p90_min: vec![
                    Some(90.0),
                    None,
                    Some(120.0),
                    Some(100.0),
                    None,
                    None,
                    Some(80.0),
                    Some(85.0),
                ],
                n: vec![3, 0, 5, 4, 0, 0, 2, 6],
            }],
            rechazo: (42..50)
                .map(|w| RechazoSemana {
                    semana: format!("2026-S{w}"),
                    inspecciones: 20,
                    rechazos_arm: 2,
                    rechazos_sold: 3,
                })
                .collect(),
            eventos: 100,
        }
    }

    #[test]
    fn every_chart_is_an_svg_with_its_title_and_legend() {
        let p = sample();
        for (svg, title, legend) in [
            (completados(&p), "Completados por día", "METROLOGÍA"),
            (en_curso(&p), "En curso hoy", "REPARACIÓN"),
            (tiempos(&p), "Tiempo por operación (min)", "ARM p90"),
            (rechazo(&p), "Rechazo por origen del defecto (%)", "SOLD"),
        ] {
            assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
            assert!(svg.contains(title), "{title}");
            assert!(svg.contains(legend), "{legend} in {title}");
        }
    }

    #[test]
    fn an_empty_plant_still_draws() {
        let p = zeues_sync::domain::produccion::produccion(
            &[],
            chrono::NaiveDate::from_ymd_opt(2026, 12, 3)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap(),
        );
        for svg in [completados(&p), en_curso(&p), tiempos(&p), rechazo(&p)] {
            assert!(svg.starts_with("<svg"), "{svg}");
        }
    }
}
