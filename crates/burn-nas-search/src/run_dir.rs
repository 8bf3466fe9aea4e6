//! [`RunDir`]: where a search writes its outputs and checkpoints — created fresh, never
//! overwritten unless asked, every file written atomically (temporary file + rename).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, SearchError, io};

/// What [`RunDir::create`] does with a directory that already holds files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IfExists {
    /// Refuse it ([`SearchError::RunExists`]): nothing is lost unless asked.
    #[default]
    Refuse,
    /// Delete it first, if it holds a run; any other non-empty directory is still refused
    /// ([`SearchError::NotARun`]). The examples' `--overwrite`.
    ReplaceRun,
}

/// The directory of one search run.
///
/// | file | content |
/// |------|---------|
/// | `best_arch.json` | the derived architecture (versioned JSON, readable by `Architecture::from_json`) |
/// | `best_arch.dot` | the same as a Graphviz graph |
/// | `history.jsonl` | one line per evaluation ([`Evaluation`](crate::Evaluation)) |
/// | `history.csv` | the same as a table |
/// | `reward.png` | reward, baseline and best so far vs evaluations |
/// | `summary.json` | settings, status, best architecture, retraining results ([`Summary`](crate::Summary)) |
/// | `retrained.bpk` | weights of the retrained network (burn's burnpack format) |
/// | `checkpoint/` | strategy, estimator and history at the end of the last round |
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// A new run in `path`: creates the directory. An existing directory that is not empty is
    /// an error ([`SearchError::RunExists`]) with [`IfExists::Refuse`]; with
    /// [`IfExists::ReplaceRun`] it is deleted first — but only if it holds a run (a
    /// `summary.json`, `retrain.json`, `rank.json`, `multi_fidelity.json`, an example's
    /// `report.json` or `checkpoint/`); any other non-empty directory is refused
    /// ([`SearchError::NotARun`]).
    ///
    /// # Errors
    /// [`SearchError::RunExists`], [`SearchError::NotARun`], or the directory cannot be created
    /// or cleared.
    pub fn create(path: impl AsRef<Path>, if_exists: IfExists) -> Result<Self> {
        let root = path.as_ref().to_path_buf();
        if root.exists() {
            let empty = fs::read_dir(&root).map_err(io(&root))?.next().is_none();
            if !empty {
                if if_exists == IfExists::Refuse {
                    return Err(SearchError::RunExists(root));
                }
                // Overwriting deletes the directory: only ever one that holds a run.
                let is_run = root.join("summary.json").is_file()
                    || root.join("checkpoint").is_dir()
                    || root.join("retrain.json").is_file()
                    || root.join("rank.json").is_file()
                    || root
                        .join(crate::multi_fidelity::MULTI_FIDELITY_FILE)
                        .is_file()
                    || root.join("report.json").is_file();
                if !is_run {
                    return Err(SearchError::NotARun(root));
                }
                fs::remove_dir_all(&root).map_err(io(&root))?;
            }
        }
        fs::create_dir_all(&root).map_err(io(&root))?;
        Ok(RunDir { root })
    }

    /// The first of `base`, `base-2`, `base-3`, … that does not exist yet, created: a fresh run
    /// directory that never touches an earlier run.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn next_free(base: impl AsRef<Path>) -> Result<Self> {
        let base = base.as_ref();
        let mut candidate = base.to_path_buf();
        let mut n = 1;
        while candidate.exists() {
            n += 1;
            let name = format!(
                "{}-{n}",
                base.file_name()
                    .map_or_else(|| "run".into(), |s| s.to_string_lossy())
            );
            candidate = base.with_file_name(name);
        }
        RunDir::create(candidate, IfExists::Refuse)
    }

    /// An existing run to resume: a [`Search`](crate::Search)'s (`checkpoint/`) or a
    /// [`MultiFidelitySearch`](crate::MultiFidelitySearch)'s (`multi_fidelity.json`).
    ///
    /// # Errors
    /// [`SearchError::Checkpoint`] when `path` has no checkpoint.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let root = path.as_ref().to_path_buf();
        let dir = RunDir { root };
        if !dir.checkpoint_dir().is_dir()
            && !dir.old_checkpoint_dir().is_dir()
            && !dir
                .file(crate::multi_fidelity::MULTI_FIDELITY_FILE)
                .is_file()
        {
            return Err(SearchError::Checkpoint {
                path: dir.root.clone(),
                reason: "there is no checkpoint/ directory or multi_fidelity.json (not a run \
                         directory, or it was stopped before its first round or rung ended)"
                    .into(),
            });
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The path of `name` in the run directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub(crate) fn checkpoint_dir(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    pub(crate) fn old_checkpoint_dir(&self) -> PathBuf {
        self.root.join("checkpoint.old")
    }

    pub(crate) fn new_checkpoint_dir(&self) -> PathBuf {
        self.root.join("checkpoint.new")
    }

    /// Writes `bytes` to `name` atomically: a reader sees the old file or the new one, never
    /// a part.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.root.join(name), bytes)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced, then
/// renamed over `path`.
///
/// # Errors
/// The file cannot be written or renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |s| s.to_string_lossy());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io(path))
}
