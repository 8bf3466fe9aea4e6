//! `reward.png`: reward, baseline and best-so-far against evaluations, drawn with plotters.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::error::{Result, SearchError};
use crate::history::{Evaluation, Phase, search_compute};

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 560;

/// System fonts tried, in order, for the plot's text (plotters draws no text without one).
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers a system font once; `false` when none was found (plots are drawn without text).
pub(crate) fn font_available() -> bool {
    static FONT: OnceLock<bool> = OnceLock::new();
    *FONT.get_or_init(|| {
        let custom = std::env::var_os("BURN_NAS_PLOT_FONT").map(std::path::PathBuf::from);
        let candidates = custom
            .into_iter()
            .chain(FONTS.iter().map(std::path::PathBuf::from));
        for path in candidates {
            if let Ok(bytes) = std::fs::read(&path) {
                // plotters keeps fonts for the life of the program.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        log::warn!("no TrueType font found for plots: drawing them without text");
        false
    })
}

/// The reward plot of `history` as PNG bytes: the search phase's rewards, the baseline and the
/// best so far; under the x axis, the compute the speed-ups saved (`Compute`) when they saved
/// any.
///
/// # Errors
/// [`SearchError::Plot`] when drawing or encoding fails.
pub fn reward_png(history: &[Evaluation], title: &str, path: &Path) -> Result<Vec<u8>> {
    let fail = |reason: String| SearchError::Plot {
        path: path.to_path_buf(),
        reason,
    };
    render_png(WIDTH, HEIGHT, |pixels| draw(history, title, pixels)).map_err(fail)
}

/// Draws `width` × `height` RGB pixels (starting white) with `draw` and encodes them as PNG.
pub(crate) fn render_png(
    width: u32,
    height: u32,
    draw: impl FnOnce(&mut [u8]) -> Result<(), String>,
) -> Result<Vec<u8>, String> {
    let mut pixels = vec![255u8; (width * height * 3) as usize];
    draw(&mut pixels)?;
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| e.to_string())?;
    }
    Ok(png_bytes)
}

fn draw(history: &[Evaluation], title: &str, pixels: &mut [u8]) -> Result<(), String> {
    let text = font_available();
    let search: Vec<&Evaluation> = history
        .iter()
        .filter(|e| e.phase == Phase::Search)
        .collect();
    let reward: Vec<(f64, f64)> = search
        .iter()
        .enumerate()
        .map(|(i, e)| (i as f64 + 1.0, e.reward))
        .collect();
    let baseline: Vec<(f64, f64)> = search
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.baseline.map(|b| (i as f64 + 1.0, b)))
        .collect();
    let mut best = f64::NEG_INFINITY;
    let best_so_far: Vec<(f64, f64)> = reward
        .iter()
        .map(|&(x, r)| {
            best = best.max(r);
            (x, best)
        })
        .collect();
    let (lo, hi) = reward
        .iter()
        .chain(&baseline)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| {
            (lo.min(y), hi.max(y))
        });
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        let pad = ((hi - lo) * 0.05).max(1e-3);
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    };
    let n = reward.len().max(1) as f64;
    // The compute the speed-ups saved (`Compute`), under the axis: titles are long enough.
    let (spent, saved) = search_compute(history);
    let x_desc = if saved > 0.0 {
        format!(
            "evaluation  ({spent:.2} full-fidelity child epochs spent, {saved:.2} saved: {:.0}%)",
            100.0 * saved / (spent + saved)
        )
    } else {
        "evaluation".to_string()
    };

    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(16);
    if text {
        builder
            .caption(title, ("sans-serif", 22))
            .x_label_area_size(40)
            .y_label_area_size(56);
    }
    let mut chart = builder
        .build_cartesian_2d(0.0..n + 1.0, lo..hi)
        .map_err(|e| e.to_string())?;
    if text {
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("reward")
            .draw()
            .map_err(|e| e.to_string())?;
    }
    let reward_color = RGBColor(120, 160, 220);
    chart
        .draw_series(
            reward
                .iter()
                .map(|&p| Circle::new(p, 2, reward_color.filled())),
        )
        .map_err(|e| e.to_string())?
        .label("reward")
        .legend(move |(x, y)| Circle::new((x + 10, y), 3, reward_color.filled()));
    if !baseline.is_empty() {
        chart
            .draw_series(LineSeries::new(baseline, RED.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label("baseline")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(best_so_far, BLACK.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label("best so far")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    if text {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}
