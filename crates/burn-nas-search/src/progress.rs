//! Progress bars (indicatif): one for rounds with the current reward and ETA, one for the
//! minibatches of whatever is training now. Hidden in quiet mode and when stderr is not a
//! terminal.

use std::sync::Arc;

use burn_nas_estimator::BatchObserver;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one search.
#[derive(Debug, Clone)]
pub(crate) struct Bars {
    pub(crate) rounds: ProgressBar,
    pub(crate) batches: ProgressBar,
}

impl Bars {
    pub(crate) fn new(quiet: bool, rounds: Option<u64>) -> Self {
        let multi = MultiProgress::with_draw_target(if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let round_style = ProgressStyle::with_template(
            "{prefix:>8} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} rounds  {msg}  (ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let batch_style = ProgressStyle::with_template(
            "{prefix:>8} {bar:30.green/white} {pos}/{len} batches  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let rounds = multi.add(ProgressBar::new(rounds.unwrap_or(0)).with_style(round_style));
        rounds.set_prefix("search");
        let batches = multi.add(ProgressBar::new(0).with_style(batch_style));
        batches.set_prefix("train");
        Bars { rounds, batches }
    }

    pub(crate) fn observer(&self) -> Arc<dyn BatchObserver> {
        Arc::new(BatchBar(self.batches.clone()))
    }

    pub(crate) fn finish(&self) {
        self.batches.finish_and_clear();
        self.rounds.finish();
    }
}

struct BatchBar(ProgressBar);

impl BatchObserver for BatchBar {
    fn on_batch(&self, done: usize, total: usize, loss: f64) {
        if self.0.length() != Some(total as u64) {
            self.0.set_length(total as u64);
        }
        self.0.set_position(done as u64);
        self.0.set_message(format!("loss {loss:.4}"));
    }
}
