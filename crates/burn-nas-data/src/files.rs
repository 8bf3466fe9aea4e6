//! Reading whole files, with gzip detected by content.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::DataError;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a whole file, telling "not there" apart from "cannot read".
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Returns `bytes` decompressed if they are a gzip stream, else unchanged.
///
/// Detection is by content, not name, because renamed or re-downloaded files often lose or
/// gain the `.gz` suffix. `path` only labels errors.
pub(crate) fn maybe_gunzip(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    // Multi-member decoder: `cat a.gz b.gz` is still a valid gzip file.
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}

/// Reads a file and decompresses it when it is gzipped.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_file(path)?;
    maybe_gunzip(path, bytes)
}

/// The first of `candidates` (file names inside `dir`) that exists.
pub(crate) fn first_existing(dir: &Path, candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}
