//! Measuring a search by comparison: how well a cheap estimator *ranks* architectures against a
//! reference (Kendall's τ, Spearman's ρ), and how a found architecture places among uniformly
//! random ones retrained under the same protocol.
//!
//! ```text
//! let report = rank_estimator(&mut shared_weights, &mut retrain_from_scratch, &archs)?;
//! println!("{report}");                      // τ and ρ of the estimator against the reference
//! write("rank.png", report.scatter_png()?);
//!
//! let cmp = compare_with_random(&space, &found, 5, 7, |arch, _| retrain_accuracy(arch))?
//!     .with_metric("test accuracy");
//! println!("{cmp}");                         // found 0.8830 ranks 1 of 6 (random: …)
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::AtomicBool;

use burn_nas_estimator::{Estimate, Estimator};
use burn_nas_space::{Architecture, SearchSpace, Token};
use plotters::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SearchError, invalid};
use crate::plot::{font_available, render_png};

/// Kendall's rank correlation τ-b of two paired samples, in `[-1, 1]`: 1 when both order the
/// points alike, -1 when one reverses the other. Ties are corrected for (τ-b), so a sample
/// that is a strictly increasing function of the other gives 1 even when it has ties.
///
/// `None` when the lengths differ, there are fewer than 2 points, a value is NaN, or either
/// sample is constant (the correlation is undefined).
pub fn kendall_tau(x: &[f64], y: &[f64]) -> Option<f64> {
    if !comparable(x, y) {
        return None;
    }
    let n = x.len();
    let (mut concordant, mut discordant) = (0u64, 0u64);
    let (mut ties_x, mut ties_y) = (0u64, 0u64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[i].partial_cmp(&x[j])?;
            let dy = y[i].partial_cmp(&y[j])?;
            match (dx, dy) {
                (Ordering::Equal, Ordering::Equal) => {
                    ties_x += 1;
                    ties_y += 1;
                }
                (Ordering::Equal, _) => ties_x += 1,
                (_, Ordering::Equal) => ties_y += 1,
                _ if dx == dy => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let pairs = (n * (n - 1) / 2) as f64;
    let denominator = ((pairs - ties_x as f64) * (pairs - ties_y as f64)).sqrt();
    if denominator == 0.0 {
        return None;
    }
    Some(((concordant as f64 - discordant as f64) / denominator).clamp(-1.0, 1.0))
}

/// Spearman's rank correlation ρ of two paired samples, in `[-1, 1]`: the Pearson correlation
/// of their ranks, tied values sharing the average of the ranks they span.
///
/// `None` in the same cases as [`kendall_tau`].
pub fn spearman_rho(x: &[f64], y: &[f64]) -> Option<f64> {
    if !comparable(x, y) {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Equal lengths, at least two points, no NaN.
fn comparable(x: &[f64], y: &[f64]) -> bool {
    x.len() == y.len() && x.len() >= 2 && !x.iter().chain(y).any(|v| v.is_nan())
}

/// 1-based ranks, ties getting the mean of the ranks they span. `values` holds no NaN.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].partial_cmp(&values[b]).unwrap_or(Ordering::Equal));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Pearson's correlation coefficient r of two series, in \[−1, 1\]: how linearly `y` follows
/// `x`. `None` when the series differ in length, hold fewer than two points or any NaN, or one
/// of them has no spread.
///
/// ```
/// use burn_nas_search::pearson_r;
/// assert_eq!(pearson_r(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
/// assert_eq!(pearson_r(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]), None);
/// ```
pub fn pearson_r(x: &[f64], y: &[f64]) -> Option<f64> {
    if !comparable(x, y) {
        return None;
    }
    pearson(x, y)
}

/// Pearson's r of two comparable series (`None` without spread).
fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let denominator = (sxx * syy).sqrt();
    if denominator == 0.0 || !denominator.is_finite() {
        return None;
    }
    Some((sxy / denominator).clamp(-1.0, 1.0))
}

/// One architecture of a [`RankReport`]: what the estimator and the reference said of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankPoint {
    /// The architecture, as its versioned JSON document ([`Architecture::to_json`]).
    pub arch_json: serde_json::Value,
    /// The reward the estimator under study gave it.
    pub estimate: f64,
    /// The reward the reference estimator gave it.
    pub reference: f64,
    /// Seconds the estimator under study took on it (its `Metrics::seconds`).
    pub estimate_seconds: f64,
    /// Seconds the reference took on it (its `Metrics::seconds`).
    pub reference_seconds: f64,
}

/// How well an estimator ranks architectures against a reference: what [`rank_estimator`]
/// returns. Serializes to JSON for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankReport {
    /// One point per architecture, in the order given.
    pub points: Vec<RankPoint>,
    /// Kendall's τ-b of estimate against reference, over the points where both are finite
    /// (`None` when undefined, see [`kendall_tau`]).
    pub kendall_tau: Option<f64>,
    /// Spearman's ρ of estimate against reference, over the same points.
    pub spearman_rho: Option<f64>,
    /// The name of the estimator under study ([`Estimator::name`]).
    pub estimator: String,
    /// The name of the reference estimator.
    pub reference: String,
}

/// Ranks `archs` with a cheap `estimator` and with an expensive `reference` (typically
/// training each architecture from scratch) and measures how well the two orders agree.
///
/// Each estimator scores every architecture once, the estimator under study first, all of them
/// in one [`Estimator::estimate_many`] call (an estimator with a device pool spreads them over
/// it); the reward of each [`Estimate`] is what is compared. Neither estimator is
/// [`prepare`](Estimator::prepare)d here: train a weight-sharing supernet before calling.
/// Correlations use the points where both rewards are finite.
///
/// # Errors
/// [`SearchError::InvalidSetting`] for fewer than 2 architectures;
/// [`SearchError::Estimator`] when either estimator fails.
pub fn rank_estimator<A: Architecture>(
    estimator: &mut dyn Estimator<A>,
    reference: &mut dyn Estimator<A>,
    archs: &[A],
) -> Result<RankReport> {
    if archs.len() < 2 {
        return Err(invalid(
            "archs",
            format!(
                "ranking needs at least 2 architectures, got {}",
                archs.len()
            ),
        ));
    }
    let estimates = estimate_all(estimator, archs)?;
    let references = estimate_all(reference, archs)?;
    let points: Vec<RankPoint> = archs
        .iter()
        .zip(estimates.iter().zip(&references))
        .map(|(arch, (e, r))| {
            let json = arch.to_json();
            RankPoint {
                arch_json: serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json)),
                estimate: e.reward,
                reference: r.reward,
                estimate_seconds: e.metrics.seconds,
                reference_seconds: r.metrics.seconds,
            }
        })
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = points
        .iter()
        .filter(|p| p.estimate.is_finite() && p.reference.is_finite())
        .map(|p| (p.estimate, p.reference))
        .unzip();
    Ok(RankReport {
        kendall_tau: kendall_tau(&x, &y),
        spearman_rho: spearman_rho(&x, &y),
        estimator: estimator.name().to_string(),
        reference: reference.name().to_string(),
        points,
    })
}

/// Estimates every architecture of `archs` once, in order, through one
/// [`Estimator::estimate_many`] call (so a pooled estimator trains them concurrently, each
/// device taking the next as it comes free).
///
/// # Errors
/// [`SearchError::Estimator`] when the estimator fails; [`SearchError::EstimateCount`] when it
/// returns another number of estimates than it was given architectures.
pub fn estimate_all<A>(estimator: &mut dyn Estimator<A>, archs: &[A]) -> Result<Vec<Estimate>> {
    let children: Vec<(&A, Option<&A>)> = archs.iter().map(|a| (a, None)).collect();
    estimate_children(estimator, &children, &AtomicBool::new(false))
}

/// [`Estimator::estimate_many`] (children with their parents, the stop flag), checked to return
/// one estimate per child: the one way the search, its derivation, multi-fidelity scheduling
/// and the comparisons call an estimator.
pub(crate) fn estimate_children<A, E: Estimator<A> + ?Sized>(
    estimator: &mut E,
    children: &[(&A, Option<&A>)],
    stop: &AtomicBool,
) -> Result<Vec<Estimate>> {
    let estimates = estimator.estimate_many(children, stop)?;
    if estimates.len() != children.len() {
        return Err(SearchError::EstimateCount {
            estimator: estimator.name().to_string(),
            expected: children.len(),
            found: estimates.len(),
        });
    }
    Ok(estimates)
}

/// A correlation for titles and logs: 3 decimals, or `n/a`.
fn corr(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
}

impl RankReport {
    /// Total seconds the estimator under study and the reference took, in that order.
    pub fn seconds(&self) -> (f64, f64) {
        self.points.iter().fold((0.0, 0.0), |(e, r), p| {
            (e + p.estimate_seconds, r + p.reference_seconds)
        })
    }

    /// A scatter plot of estimate (x) against reference (y), one dot per architecture, titled
    /// with τ and ρ, as PNG bytes.
    ///
    /// # Errors
    /// [`SearchError::Chart`] when drawing or encoding fails.
    pub fn scatter_png(&self) -> Result<Vec<u8>> {
        let points: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.estimate.is_finite() && p.reference.is_finite())
            .map(|p| (p.estimate, p.reference))
            .collect();
        let title = format!(
            "{} vs {}: Kendall τ = {}, Spearman ρ = {} (n = {})",
            self.estimator,
            self.reference,
            corr(self.kendall_tau),
            corr(self.spearman_rho),
            points.len()
        );
        let x_desc = format!("estimate ({})", self.estimator);
        let y_desc = format!("reference ({})", self.reference);
        render_png(800, 640, |pixels| {
            let x_range = padded(points.iter().map(|p| p.0));
            let y_range = padded(points.iter().map(|p| p.1));
            let text = font_available();
            let root = BitMapBackend::with_buffer(pixels, (800, 640)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let mut builder = ChartBuilder::on(&root);
            builder.margin(16);
            if text {
                builder
                    .caption(&title, ("sans-serif", 20))
                    .x_label_area_size(40)
                    .y_label_area_size(60);
            }
            let mut chart = builder
                .build_cartesian_2d(x_range, y_range)
                .map_err(|e| e.to_string())?;
            if text {
                chart
                    .configure_mesh()
                    .x_desc(x_desc.as_str())
                    .y_desc(y_desc.as_str())
                    .draw()
                    .map_err(|e| e.to_string())?;
            }
            let color = RGBColor(40, 90, 180);
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())
        })
        .map_err(|reason| SearchError::Chart {
            chart: "rank scatter plot",
            reason,
        })
    }
}

impl fmt::Display for RankReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (e, r) = self.seconds();
        write!(
            f,
            "{} vs {} on {} architectures: Kendall τ {}, Spearman ρ {} ({e:.1} s vs {r:.1} s)",
            self.estimator,
            self.reference,
            self.points.len(),
            corr(self.kendall_tau),
            corr(self.spearman_rho),
        )
    }
}

/// The axis range of some values, padded by 5 % (at least 1e-3); `0..1` when there are none.
fn padded(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo.is_finite() && hi.is_finite() {
        let pad = ((hi - lo) * 0.05).max(1e-3);
        lo - pad..hi + pad
    } else {
        0.0..1.0
    }
}

/// A found architecture placed among uniformly random architectures of the same space, all
/// scored by the same protocol: what [`compare_with_random`] returns. Serializes to JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomComparison {
    /// The score of the found architecture.
    pub found: f64,
    /// The scores of the random architectures, in the order they were drawn.
    pub random: Vec<f64>,
    /// The found architecture's place among all `random.len() + 1` (1 = best): one more than
    /// the number of random architectures scoring strictly higher (ties do not count against
    /// it).
    pub rank: usize,
    /// The median of the random scores (the mean of the two middle ones for an even count).
    pub median: f64,
    /// `true` when the found architecture scores strictly above that median.
    pub beats_median: bool,
    /// What the scores are, e.g. `"test accuracy"` (`"score"` unless set with
    /// [`with_metric`](Self::with_metric)).
    pub metric: String,
    /// The name of the search space the random architectures were drawn from.
    pub space: String,
    /// The seed of the `ChaCha8Rng` that drew them: the same seed and space draw the same set.
    pub seed: u64,
    /// The token sequences of the random architectures ([`SearchSpace::decode`] rebuilds them).
    pub random_tokens: Vec<Vec<Token>>,
    /// With repeated scoring ([`compare_with_random_repeated`]): every architecture's score in
    /// each repeat, the found one first, then the random ones in drawing order; `found` and
    /// `random` are their means. Empty when each architecture was scored once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<Vec<f64>>,
    /// With repeated scoring: the standard deviation of one score around its architecture's
    /// mean, pooled over all architectures — the protocol's own noise, against which a lead of
    /// the found architecture should be read. `None` when each architecture was scored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
}

/// Draws `n` architectures uniformly from `space` ([`SearchSpace::sample`] with a
/// `ChaCha8Rng` seeded with `seed`) and scores them and `found` with `evaluate` (higher is
/// better; typically retraining under one protocol and returning test or validation accuracy).
///
/// The random set is drawn before anything is scored, so it depends only on `space`, `n` and
/// `seed`. `evaluate` is called first on `found` with index 0, then on the `i`-th random
/// architecture with index `i` (1-based).
///
/// # Errors
/// [`SearchError::InvalidSetting`] for `n == 0`; [`SearchError::Arch`] if the space cannot
/// decode or encode what it sampled (a bug in the space); whatever `evaluate` returns;
/// [`SearchError::Compare`] when it returns a score that is not a finite number.
pub fn compare_with_random<A, S, F>(
    space: &S,
    found: &A,
    n: usize,
    seed: u64,
    mut evaluate: F,
) -> Result<RandomComparison>
where
    S: SearchSpace<Arch = A>,
    F: FnMut(&A, usize) -> Result<f64>,
{
    compare_with_random_repeated(space, found, n, seed, 1, |arch, index, _| {
        evaluate(arch, index)
    })
}

/// [`compare_with_random`] with every architecture scored `repeats` times (e.g. retrained
/// under `repeats` training seeds): ranks and median are taken on the mean scores, and the
/// comparison keeps every score ([`RandomComparison::repeats`]) and the pooled spread of one
/// score around its architecture's mean ([`RandomComparison::noise`]).
///
/// A short retraining can move one architecture's test accuracy by as much as the whole
/// spread between architectures (docs/results.md measures this for `enas_micro`'s fast
/// preset); averaging over seeds is what lets a comparison resolve smaller differences.
/// `evaluate(arch, index, repeat)` is called for the found architecture (index 0) in every
/// repeat, then for each random one (index `i`, 1-based), repeats `0..repeats` in order.
///
/// # Errors
/// As [`compare_with_random`]; [`SearchError::InvalidSetting`] also for `repeats == 0`.
pub fn compare_with_random_repeated<A, S, F>(
    space: &S,
    found: &A,
    n: usize,
    seed: u64,
    repeats: usize,
    mut evaluate: F,
) -> Result<RandomComparison>
where
    S: SearchSpace<Arch = A>,
    F: FnMut(&A, usize, usize) -> Result<f64>,
{
    if repeats == 0 {
        return Err(invalid(
            "repeats",
            "each architecture must be scored at least once",
        ));
    }
    if n == 0 {
        return Err(invalid(
            "n",
            "comparing with random architectures needs at least one of them",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let archs = (0..n)
        .map(|_| space.sample(&mut rng))
        .collect::<std::result::Result<Vec<A>, _>>()?;
    let random_tokens = archs
        .iter()
        .map(|a| space.encode(a))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut score = |arch: &A, index: usize| -> Result<Vec<f64>> {
        (0..repeats)
            .map(|repeat| {
                let value = evaluate(arch, index, repeat)?;
                if value.is_finite() {
                    Ok(value)
                } else {
                    let which = if index == 0 {
                        "the found architecture".to_string()
                    } else {
                        format!("random architecture {index}")
                    };
                    Err(SearchError::Compare(format!(
                        "the score of {which} is {value}, not a finite number"
                    )))
                }
            })
            .collect()
    };
    let mut all = vec![score(found, 0)?];
    for (i, arch) in archs.iter().enumerate() {
        all.push(score(arch, i + 1)?);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let found_score = mean(&all[0]);
    let random: Vec<f64> = all[1..].iter().map(|v| mean(v)).collect();
    let (rank, median) = rank_and_median(found_score, &random);
    let (repeats, noise) = if repeats > 1 {
        let noise = pooled_sd(&all);
        (all, noise)
    } else {
        (Vec::new(), None)
    };
    Ok(RandomComparison {
        found: found_score,
        rank,
        median,
        beats_median: found_score > median,
        random,
        metric: "score".to_string(),
        space: space.name().to_string(),
        seed,
        random_tokens,
        repeats,
        noise,
    })
}

/// The pooled sample standard deviation of the groups' values around their own means: how far
/// one value strays from its group's mean, e.g. one retraining's score from the mean of its
/// architecture's retrainings. `None` when no group holds two values.
///
/// ```
/// use burn_nas_search::pooled_sd;
/// // Each pair differs by 1: each value strays √0.5 from its pair's mean.
/// let sd = pooled_sd(&[vec![0.0, 1.0], vec![5.0, 6.0]]).unwrap();
/// assert!((sd - 0.5f64.sqrt()).abs() < 1e-12);
/// assert_eq!(pooled_sd(&[vec![0.3], vec![0.4]]), None);
/// ```
pub fn pooled_sd(groups: &[Vec<f64>]) -> Option<f64> {
    let (squares, freedom) = groups.iter().fold((0.0, 0usize), |(squares, freedom), g| {
        let m = g.iter().sum::<f64>() / g.len().max(1) as f64;
        let s: f64 = g.iter().map(|v| (v - m) * (v - m)).sum();
        (squares + s, freedom + g.len().saturating_sub(1))
    });
    (freedom > 0).then(|| (squares / freedom as f64).sqrt())
}

/// The rank of `found` among `found` and `random` (1 + random scores strictly higher) and the
/// median of `random` (NaN when empty). Scores hold no NaN.
fn rank_and_median(found: f64, random: &[f64]) -> (usize, f64) {
    let rank = 1 + random.iter().filter(|&&r| r > found).count();
    let mut sorted = random.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    let m = sorted.len();
    let median = match m {
        0 => f64::NAN,
        _ if m % 2 == 1 => sorted[m / 2],
        _ => (sorted[m / 2 - 1] + sorted[m / 2]) / 2.0,
    };
    (rank, median)
}

impl RandomComparison {
    /// Names what the scores are (e.g. `"test accuracy"`), for [`Display`](fmt::Display) and
    /// the plot.
    pub fn with_metric(mut self, metric: impl Into<String>) -> Self {
        self.metric = metric.into();
        self
    }

    /// The lowest and highest random score (`None` when there are none).
    pub fn random_range(&self) -> Option<(f64, f64)> {
        let lo = self.random.iter().copied().reduce(f64::min)?;
        let hi = self.random.iter().copied().reduce(f64::max)?;
        Some((lo, hi))
    }

    /// A strip plot of the scores as PNG bytes: the random architectures as blue dots, their
    /// median as a grey line, the found architecture in red; titled with where the found one
    /// ranks, the axis labelled with the metric (and, with repeats, one score's noise).
    ///
    /// # Errors
    /// [`SearchError::Chart`] when drawing or encoding fails.
    pub fn png(&self) -> Result<Vec<u8>> {
        const SIZE: (u32, u32) = (900, 320);
        // The metric and the repeats go under the axis, so that the title fits the width.
        let title = self.ranking();
        let metric = match self.repeats_note() {
            Some(repeats) => format!("{} ({repeats})", self.metric),
            None => self.metric.clone(),
        };
        render_png(SIZE.0, SIZE.1, |pixels| {
            let finite = |v: &f64| v.is_finite();
            let x_range = padded(
                self.random
                    .iter()
                    .chain(std::iter::once(&self.found))
                    .copied()
                    .filter(finite),
            );
            let text = font_available();
            let root = BitMapBackend::with_buffer(pixels, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let mut builder = ChartBuilder::on(&root);
            builder.margin(16);
            if text {
                builder
                    .caption(&title, ("sans-serif", 18))
                    .x_label_area_size(40);
            }
            let mut chart = builder
                .build_cartesian_2d(x_range, -1.0..1.0)
                .map_err(|e| e.to_string())?;
            if text {
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .y_labels(0)
                    .x_desc(metric.as_str())
                    .draw()
                    .map_err(|e| e.to_string())?;
            }
            if self.median.is_finite() {
                let grey = RGBColor(150, 150, 150);
                chart
                    .draw_series(LineSeries::new(
                        [(self.median, -0.8), (self.median, 0.8)],
                        grey.stroke_width(2),
                    ))
                    .map_err(|e| e.to_string())?
                    .label("median of random")
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2))
                    });
            }
            // Spread the random dots vertically (golden-ratio jitter) so equal scores stay
            // visible; the found one sits on the centre line.
            let blue = RGBColor(60, 110, 200);
            chart
                .draw_series(
                    self.random
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| v.is_finite())
                        .map(|(i, &v)| {
                            let jitter = ((i as f64 + 1.0) * 0.618_033_988_75).fract() - 0.5;
                            Circle::new((v, jitter), 5, blue.filled())
                        }),
                )
                .map_err(|e| e.to_string())?
                .label(format!("random ({})", self.random.len()))
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, blue.filled()));
            if self.found.is_finite() {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        (self.found, 0.0),
                        8,
                        RED.filled(),
                    )))
                    .map_err(|e| e.to_string())?
                    .label("found")
                    .legend(|(x, y)| Circle::new((x + 10, y), 5, RED.filled()));
            }
            if text {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .position(SeriesLabelPosition::UpperLeft)
                    .draw()
                    .map_err(|e| e.to_string())?;
            }
            root.present().map_err(|e| e.to_string())
        })
        .map_err(|reason| SearchError::Chart {
            chart: "comparison with random architectures",
            reason,
        })
    }
}

/// One line, e.g. `test accuracy: found 0.8830 ranks 1 of 6 (random: median 0.8610, min
/// 0.8420, max 0.8790)`; with repeats, `…; means of 2 repeats, one score's sd 0.0089` follows.
impl fmt::Display for RandomComparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.metric.is_empty() {
            write!(f, "{}: ", self.metric)?;
        }
        write!(f, "{}", self.ranking())?;
        if let Some(repeats) = self.repeats_note() {
            write!(f, "; {repeats}")?;
        }
        Ok(())
    }
}

impl RandomComparison {
    /// Where the found architecture ranks: `found 0.8830 ranks 1 of 6 (random: median …)`.
    fn ranking(&self) -> String {
        let place = format!(
            "found {:.4} ranks {} of {}",
            self.found,
            self.rank,
            self.random.len() + 1
        );
        match self.random_range() {
            Some((lo, hi)) => format!(
                "{place} (random: median {:.4}, min {lo:.4}, max {hi:.4})",
                self.median
            ),
            None => format!("{place} (no random architectures)"),
        }
    }

    /// With repeats: `means of K repeats, one score's sd 0.0089`.
    fn repeats_note(&self) -> Option<String> {
        let (noise, first) = (self.noise?, self.repeats.first()?);
        Some(format!(
            "means of {} repeats, one score's sd {noise:.4}",
            first.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_nas_estimator::Metrics;
    use burn_nas_space::MicroSpace;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn perfect_agreement_and_reversal() {
        let x = [0.1, 0.5, 0.2, 0.9, 0.7];
        let up: Vec<f64> = x.iter().map(|v| 3.0 * v + 1.0).collect();
        let down: Vec<f64> = x.iter().map(|v| -v).collect();
        assert!(close(kendall_tau(&x, &up), 1.0));
        assert!(close(spearman_rho(&x, &up), 1.0));
        assert!(close(kendall_tau(&x, &down), -1.0));
        assert!(close(spearman_rho(&x, &down), -1.0));
        // A strictly increasing function keeps τ-b and ρ at 1 even with ties.
        let tied = [1.0, 2.0, 2.0, 3.0, 3.0];
        let squared: Vec<f64> = tied.iter().map(|v| v * v).collect();
        assert!(close(kendall_tau(&tied, &squared), 1.0));
        assert!(close(spearman_rho(&tied, &squared), 1.0));
    }

    #[test]
    fn known_values_without_ties() {
        // x = 1..5, y = [3, 1, 2, 5, 4]. Of the 10 pairs, (1,2), (1,3), (4,5) are discordant,
        // the other 7 concordant: τ = (7 - 3) / 10 = 0.4.
        // Rank differences d = [-2, 1, 1, -1, 1], Σd² = 8: ρ = 1 - 6·8 / (5·24) = 0.6.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [3.0, 1.0, 2.0, 5.0, 4.0];
        assert!(close(kendall_tau(&x, &y), 0.4));
        assert!(close(spearman_rho(&x, &y), 0.6));
    }

    #[test]
    fn known_values_with_ties() {
        // x = [1, 2, 2, 3], y = [1, 3, 2, 4]. Pairs: (2,3) is tied in x only; the other 5
        // are concordant. τ-b = (5 - 0) / √((6 - 1)(6 - 0)) = 5 / √30 = 0.912870929…
        // Average ranks: x → [1, 2.5, 2.5, 4], y → [1, 3, 2, 4]; deviations from 2.5:
        // [-1.5, 0, 0, 1.5] and [-1.5, 0.5, -0.5, 1.5]; Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5:
        // ρ = 4.5 / √22.5 = 0.948683298… (scipy.stats.spearmanr agrees).
        let x = [1.0, 2.0, 2.0, 3.0];
        let y = [1.0, 3.0, 2.0, 4.0];
        assert!(close(kendall_tau(&x, &y), 5.0 / 30f64.sqrt()));
        assert!(close(spearman_rho(&x, &y), 4.5 / 22.5f64.sqrt()));
        // Ties in both samples: x = [1, 1, 2, 3], y = [1, 2, 2, 3]. Pairs: (1,2) tied in x,
        // (2,3) tied in y, the other 4 concordant: τ-b = 4 / √(5·5) = 0.8.
        assert!(close(
            kendall_tau(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 2.0, 3.0]),
            0.8
        ));
    }

    #[test]
    fn undefined_correlations_are_none() {
        assert_eq!(kendall_tau(&[], &[]), None);
        assert_eq!(kendall_tau(&[1.0], &[2.0]), None);
        assert_eq!(spearman_rho(&[1.0, 2.0], &[1.0]), None);
        assert_eq!(kendall_tau(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman_rho(&[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0]), None);
        assert_eq!(kendall_tau(&[1.0, f64::NAN], &[1.0, 2.0]), None);
        assert_eq!(spearman_rho(&[1.0, 2.0], &[f64::NAN, 2.0]), None);
    }

    /// An estimator whose reward is a fixed function of the architecture.
    struct Fake {
        name: &'static str,
        reward: fn(&burn_nas_space::MicroArch) -> f64,
        parallelism: usize,
    }

    impl Estimator<burn_nas_space::MicroArch> for Fake {
        fn estimate(
            &mut self,
            arch: &burn_nas_space::MicroArch,
        ) -> burn_nas_estimator::Result<Estimate> {
            Ok(Estimate {
                reward: (self.reward)(arch),
                metrics: Metrics {
                    seconds: 0.5,
                    ..Metrics::default()
                },
            })
        }
        fn name(&self) -> &'static str {
            self.name
        }
        fn parallelism(&self) -> usize {
            self.parallelism
        }
    }

    fn micro_archs(n: usize, seed: u64) -> Vec<burn_nas_space::MicroArch> {
        let space = MicroSpace::default();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| space.sample(&mut rng).unwrap()).collect()
    }

    #[test]
    fn rank_estimator_measures_agreement() {
        let archs = micro_archs(8, 3);
        let mut cheap = Fake {
            name: "cheap",
            reward: |a| a.to_json().len() as f64,
            parallelism: 3,
        };
        let mut same_order = Fake {
            name: "reference",
            reward: |a| 2.0 * a.to_json().len() as f64 + 1.0,
            parallelism: 1,
        };
        let mut reversed = Fake {
            name: "reversed",
            reward: |a| -(a.to_json().len() as f64),
            parallelism: 1,
        };
        let report = rank_estimator(&mut cheap, &mut same_order, &archs).unwrap();
        assert_eq!(report.points.len(), 8);
        assert!(close(report.kendall_tau, 1.0));
        assert!(close(report.spearman_rho, 1.0));
        assert_eq!(
            (report.estimator.as_str(), report.reference.as_str()),
            ("cheap", "reference")
        );
        assert_eq!(report.seconds(), (4.0, 4.0));
        assert_eq!(report.points[0].arch_json["space"], "enas_micro");
        assert!(report.to_string().contains("Kendall τ 1.000"));
        let back: RankReport =
            serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(back, report);

        let report = rank_estimator(&mut cheap, &mut reversed, &archs).unwrap();
        assert!(close(report.kendall_tau, -1.0));
        assert!(close(report.spearman_rho, -1.0));

        let png = report.scatter_png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

        assert!(matches!(
            rank_estimator(&mut cheap, &mut reversed, &archs[..1]),
            Err(SearchError::InvalidSetting { field: "archs", .. })
        ));
    }

    /// An estimator whose `estimate_many` drops the last child.
    struct Lossy;

    impl Estimator<burn_nas_space::MicroArch> for Lossy {
        fn estimate(
            &mut self,
            _: &burn_nas_space::MicroArch,
        ) -> burn_nas_estimator::Result<Estimate> {
            Ok(Estimate {
                reward: 0.5,
                metrics: Metrics::default(),
            })
        }
        fn estimate_many(
            &mut self,
            children: &[(
                &burn_nas_space::MicroArch,
                Option<&burn_nas_space::MicroArch>,
            )],
            _: &AtomicBool,
        ) -> burn_nas_estimator::Result<Vec<Estimate>> {
            children[1..]
                .iter()
                .map(|(a, _)| self.estimate(a))
                .collect()
        }
        fn name(&self) -> &'static str {
            "lossy"
        }
    }

    #[test]
    fn an_estimator_that_drops_a_child_is_named_in_the_error() {
        let err = estimate_all(&mut Lossy, &micro_archs(3, 1)).unwrap_err();
        assert!(
            matches!(
                &err,
                SearchError::EstimateCount { estimator, expected: 3, found: 2 } if estimator == "lossy"
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "estimator `lossy` returned 2 estimates for 3 architectures"
        );
    }

    #[test]
    fn rank_and_median_logic() {
        // Two random scores are strictly higher; the tie at 0.5 does not count against it.
        let (rank, median) = rank_and_median(0.5, &[0.9, 0.5, 0.1, 0.7]);
        assert_eq!((rank, median), (3, 0.6));
        let (rank, median) = rank_and_median(0.8, &[0.1, 0.9, 0.2]);
        assert_eq!((rank, median), (2, 0.2));
        let (rank, _) = rank_and_median(1.0, &[0.1, 0.9, 0.2]);
        assert_eq!(rank, 1);
    }

    /// A deterministic score of a micro architecture: the sum of its choice tokens.
    fn token_score(space: &MicroSpace, arch: &burn_nas_space::MicroArch) -> Result<f64> {
        Ok(space
            .encode(arch)?
            .iter()
            .filter_map(Token::choice)
            .sum::<usize>() as f64)
    }

    #[test]
    fn compare_with_random_ranks_and_reproduces() {
        let space = MicroSpace::default();
        let found = micro_archs(1, 99).remove(0);
        let mut calls = Vec::new();
        let cmp = compare_with_random(&space, &found, 7, 5, |arch, index| {
            calls.push(index);
            token_score(&space, arch)
        })
        .unwrap()
        .with_metric("token sum");
        assert_eq!(calls, (0..=7).collect::<Vec<_>>());
        assert_eq!(cmp.random.len(), 7);
        assert_eq!(cmp.random_tokens.len(), 7);
        assert_eq!(cmp.found, token_score(&space, &found).unwrap());
        // Independent check of the rank and the median.
        let better = cmp.random.iter().filter(|&&r| r > cmp.found).count();
        assert_eq!(cmp.rank, better + 1);
        let mut sorted = cmp.random.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(cmp.median, sorted[3]);
        assert_eq!(cmp.beats_median, cmp.found > sorted[3]);
        // The tokens rebuild the random architectures, which score as recorded.
        for (tokens, &score) in cmp.random_tokens.iter().zip(&cmp.random) {
            let arch = space.decode(tokens).unwrap();
            assert_eq!(token_score(&space, &arch).unwrap(), score);
        }

        let line = cmp.to_string();
        assert!(line.starts_with("token sum: found "), "{line}");
        assert!(line.contains(&format!("ranks {} of 8", cmp.rank)), "{line}");
        let png = cmp.png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

        // Same seed, same random set; another seed, another one.
        let again =
            compare_with_random(&space, &found, 7, 5, |a, _| token_score(&space, a)).unwrap();
        assert_eq!(again.random_tokens, cmp.random_tokens);
        assert_eq!(again.random, cmp.random);
        let other =
            compare_with_random(&space, &found, 7, 6, |a, _| token_score(&space, a)).unwrap();
        assert_ne!(other.random_tokens, cmp.random_tokens);

        let back: RandomComparison =
            serde_json::from_str(&serde_json::to_string(&cmp).unwrap()).unwrap();
        assert_eq!(back, cmp);
    }

    #[test]
    fn compare_with_random_rejects_bad_input() {
        let space = MicroSpace::default();
        let found = micro_archs(1, 1).remove(0);
        assert!(matches!(
            compare_with_random(&space, &found, 0, 1, |_, _| Ok(0.5)),
            Err(SearchError::InvalidSetting { field: "n", .. })
        ));
        let err = compare_with_random(&space, &found, 3, 1, |_, i| {
            Ok(if i == 2 { f64::NAN } else { 0.5 })
        })
        .unwrap_err();
        assert!(matches!(err, SearchError::Compare(_)));
        assert!(err.to_string().contains("random architecture 2"), "{err}");
        assert!(matches!(
            compare_with_random_repeated(&space, &found, 3, 1, 0, |_, _, _| Ok(0.5)),
            Err(SearchError::InvalidSetting {
                field: "repeats",
                ..
            })
        ));
    }

    #[test]
    fn repeated_comparison_ranks_means_and_measures_the_noise() {
        let space = MicroSpace::default();
        let found = micro_archs(1, 1).remove(0);
        // Each architecture's score is its index ± 0.5 by repeat: the found one (index 0)
        // scores lowest on average, although its first repeat ties random architecture 1's
        // second.
        let mut calls = Vec::new();
        let cmp = compare_with_random_repeated(&space, &found, 4, 3, 2, |_, index, repeat| {
            calls.push((index, repeat));
            Ok(index as f64 + if repeat == 0 { 0.5 } else { -0.5 })
        })
        .unwrap();
        assert_eq!(
            calls,
            [
                (0, 0),
                (0, 1),
                (1, 0),
                (1, 1),
                (2, 0),
                (2, 1),
                (3, 0),
                (3, 1),
                (4, 0),
                (4, 1)
            ]
        );
        assert_eq!(cmp.found, 0.0);
        assert_eq!(cmp.random, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(cmp.rank, 5);
        assert!(!cmp.beats_median);
        assert_eq!(cmp.repeats.len(), 5);
        assert_eq!(cmp.repeats[2], [2.5, 1.5]);
        // Every pair differs by 1: sd of one score around its mean = √(0.5) ≈ 0.7071.
        let noise = cmp.noise.unwrap();
        assert!((noise - 0.5f64.sqrt()).abs() < 1e-12, "{noise}");
        let line = cmp.to_string();
        assert!(
            line.contains("means of 2 repeats, one score's sd 0.7071"),
            "{line}"
        );
        let back: RandomComparison =
            serde_json::from_str(&serde_json::to_string(&cmp).unwrap()).unwrap();
        assert_eq!(back, cmp);
        // One repeat records neither the repeats nor a noise, and reads as before.
        let once =
            compare_with_random_repeated(&space, &found, 4, 3, 1, |_, i, _| Ok(i as f64)).unwrap();
        assert!(once.repeats.is_empty() && once.noise.is_none());
        let json = serde_json::to_string(&once).unwrap();
        assert!(
            !json.contains("repeats") && !json.contains("noise"),
            "{json}"
        );
    }
}
