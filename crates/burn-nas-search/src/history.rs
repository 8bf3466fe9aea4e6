//! [`Evaluation`]: one line of a search's history, and its JSON-lines and CSV forms.

use serde::{Deserialize, Serialize};

use burn_nas_estimator::Metrics;

/// Why an architecture was evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A proposal of the strategy during the search; its reward was fed back.
    Search,
    /// A candidate for the final answer, scored after the search.
    Derive,
}

/// One evaluated architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// 0-based position in the history.
    pub index: usize,
    /// 0-based search round (a round = the estimator's preparation + its strategy updates).
    pub round: usize,
    /// 0-based strategy update within the round.
    pub update: usize,
    /// Search or derivation.
    pub phase: Phase,
    /// The architecture (the versioned JSON envelope of its space).
    pub arch: serde_json::Value,
    /// The reward the strategy saw.
    pub reward: f64,
    /// The strategy's baseline when the reward was fed back (REINFORCE), if it has one.
    pub baseline: Option<f64>,
    /// Entropy of the policy along this sample (REINFORCE).
    pub entropy: Option<f64>,
    /// Log-probability of the sample under the policy (REINFORCE).
    pub log_prob: Option<f64>,
    /// `true` when the architecture was proposed as a mutation of an earlier one (evolution).
    pub has_parent: bool,
    /// What the estimator measured.
    pub metrics: Metrics,
    /// Seconds since the search started (summed over resumed sessions) when it finished.
    pub elapsed: f64,
}

/// The CSV header of [`csv_line`].
pub(crate) const CSV_HEADER: &str = "index,round,update,phase,reward,baseline,entropy,log_prob,\
valid_accuracy,params,macs,epochs,stopped_early,inherited,retries,compute_spent,compute_saved,\
seconds,elapsed,arch";

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// `e` as one CSV row (the architecture as quoted compact JSON).
pub fn csv_line(e: &Evaluation) -> String {
    let arch = e.arch.to_string().replace('"', "\"\"");
    let m = &e.metrics;
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},\"{arch}\"",
        e.index,
        e.round,
        e.update,
        match e.phase {
            Phase::Search => "search",
            Phase::Derive => "derive",
        },
        e.reward,
        opt(e.baseline),
        opt(e.entropy),
        opt(e.log_prob),
        m.valid_accuracy,
        m.params.map_or_else(String::new, |p| p.to_string()),
        m.macs.map_or_else(String::new, |p| p.to_string()),
        m.epochs(),
        m.stopped_early(),
        m.inherited(),
        m.retries,
        opt(m.compute.map(|c| c.spent)),
        opt(m.compute.map(|c| c.saved)),
        m.seconds,
        e.elapsed,
    )
}

/// Full-fidelity child epochs spent and saved (`Compute`) by the search-phase estimates of
/// `history`: what `summary.json` and the reward plot report.
pub(crate) fn search_compute(history: &[Evaluation]) -> (f64, f64) {
    history
        .iter()
        .filter(|e| e.phase == Phase::Search)
        .filter_map(|e| e.metrics.compute)
        .fold((0.0, 0.0), |(spent, saved), c| {
            (spent + c.spent, saved + c.saved)
        })
}

/// The history as JSON lines.
pub fn to_jsonl(history: &[Evaluation]) -> String {
    let mut out = String::new();
    for e in history {
        // Serializing plain data with string keys cannot fail.
        out.push_str(&serde_json::to_string(e).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The history as CSV (header included).
pub fn to_csv(history: &[Evaluation]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for e in history {
        out.push_str(&csv_line(e));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_have_one_field_per_header_column() {
        let e = Evaluation {
            index: 3,
            round: 1,
            update: 0,
            phase: Phase::Search,
            arch: serde_json::json!({"space": "x", "layers": [1, 2]}),
            reward: 0.5,
            baseline: None,
            entropy: Some(1.0),
            log_prob: Some(-2.0),
            has_parent: false,
            metrics: Metrics {
                valid_accuracy: 0.5,
                retries: 2,
                ..Metrics::default()
            },
            elapsed: 9.0,
        };
        let header: Vec<&str> = CSV_HEADER.split(',').collect();
        let line = csv_line(&e);
        // Fields before the quoted architecture (which holds commas of its own).
        let (fields, arch) = line.split_once(",\"").unwrap();
        let fields: Vec<&str> = fields.split(',').collect();
        assert_eq!(fields.len() + 1, header.len(), "{line}");
        let column = |name: &str| fields[header.iter().position(|h| *h == name).unwrap()];
        assert_eq!(column("retries"), "2");
        assert_eq!(column("index"), "3");
        assert_eq!(column("elapsed"), "9");
        assert!(arch.contains("\"\"layers\"\""), "{arch}");
        assert_eq!(to_csv(&[e]).lines().count(), 2);
    }
}
