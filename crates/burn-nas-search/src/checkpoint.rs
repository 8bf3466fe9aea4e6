//! The checkpoint of a run: everything needed to continue exactly where the last completed
//! round ended — strategy state, estimator state (shared weights, optimizer, RNG…), history.
//!
//! Written as a whole directory `checkpoint.new/`, then swapped in by renames, so a crash at
//! any moment leaves either the previous checkpoint or the new one.

use std::fs;
use std::path::Path;

use burn_nas_estimator::EstimatorState;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SearchError, io};
use crate::history::Evaluation;
use crate::run_dir::{RunDir, write_atomic};

/// Version of the checkpoint layout.
pub const CHECKPOINT_VERSION: u32 = 1;

/// What `checkpoint/search.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    pub(crate) format_version: u32,
    pub(crate) space: String,
    pub(crate) strategy: String,
    pub(crate) estimator: String,
    pub(crate) rounds_done: usize,
    pub(crate) elapsed: f64,
    pub(crate) history: Vec<Evaluation>,
    pub(crate) strategy_state: serde_json::Value,
    pub(crate) estimator_state: serde_json::Value,
    pub(crate) estimator_blobs: Vec<String>,
}

fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.starts_with('.')
}

pub(crate) fn save(run: &RunDir, ckpt: &Checkpoint, blobs: &EstimatorState) -> Result<()> {
    let fresh = run.new_checkpoint_dir();
    if fresh.exists() {
        fs::remove_dir_all(&fresh).map_err(io(&fresh))?;
    }
    fs::create_dir_all(fresh.join("estimator")).map_err(io(&fresh))?;
    for (name, bytes) in &blobs.blobs {
        if !safe_name(name) {
            return Err(SearchError::Checkpoint {
                path: run.path().to_path_buf(),
                reason: format!("the estimator named a state blob `{name}`, not a file name"),
            });
        }
        write_atomic(&fresh.join("estimator").join(name), bytes)?;
    }
    let json = serde_json::to_vec(ckpt).map_err(|e| SearchError::Checkpoint {
        path: run.path().to_path_buf(),
        reason: format!("cannot serialize: {e}"),
    })?;
    write_atomic(&fresh.join("search.json"), &json)?;
    let current = run.checkpoint_dir();
    let old = run.old_checkpoint_dir();
    if old.exists() {
        fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    if current.exists() {
        fs::rename(&current, &old).map_err(io(&current))?;
    }
    fs::rename(&fresh, &current).map_err(io(&fresh))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

pub(crate) fn load(run: &RunDir) -> Result<(Checkpoint, EstimatorState)> {
    // A crash between the two renames of `save` leaves only `checkpoint.old`.
    let dir = if run.checkpoint_dir().is_dir() {
        run.checkpoint_dir()
    } else {
        run.old_checkpoint_dir()
    };
    let bad = |reason: String| SearchError::Checkpoint {
        path: run.path().to_path_buf(),
        reason,
    };
    let file = dir.join("search.json");
    let text = fs::read(&file).map_err(io(&file))?;
    let mut de = serde_json::Deserializer::from_slice(&text);
    let ckpt: Checkpoint =
        serde_path_to_error::deserialize(&mut de).map_err(|e| bad(format!("search.json: {e}")))?;
    if ckpt.format_version != CHECKPOINT_VERSION {
        return Err(bad(format!(
            "format version {} (this build reads {CHECKPOINT_VERSION})",
            ckpt.format_version
        )));
    }
    let mut state = EstimatorState {
        json: ckpt.estimator_state.clone(),
        ..EstimatorState::default()
    };
    for name in &ckpt.estimator_blobs {
        if !safe_name(name) {
            return Err(bad(format!("blob `{name}` is not a file name")));
        }
        let path = dir.join("estimator").join(name);
        let bytes = fs::read(&path).map_err(io(&path))?;
        state.blobs.insert(name.clone(), bytes);
    }
    Ok((ckpt, state))
}

/// `true` when `dir` holds a checkpoint.
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join("checkpoint").join("search.json").is_file()
        || dir.join("checkpoint.old").join("search.json").is_file()
}
