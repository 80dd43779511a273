//! The daily history by store and category (`models/history.json`), written by the train stage
//! beside the models so that the service can answer the analysts' views without the data.

use std::path::Path;

use salescast_core::history::{DailyHistory, HISTORY_FILE};

use crate::Result;
use crate::reference::processed_dir_for;

/// Aggregates every cleaned day (training and held-out) into `models_dir/history.json`.
/// `None` when the cleaned data are not beside the features (then nothing is written).
pub fn write_history(data_dir: &Path, models_dir: &Path) -> Result<Option<DailyHistory>> {
    write_history_from(
        &processed_dir_for(data_dir).join(salescast_preprocess::frame::CLEAN_FILE),
        models_dir,
    )
}

/// [`write_history`] from the cleaned data in `clean`.
pub fn write_history_from(clean: &Path, models_dir: &Path) -> Result<Option<DailyHistory>> {
    if !clean.is_file() {
        tracing::warn!(path = %clean.display(), "no cleaned data there: the daily history is not written; point training at the cleaned data with --clean-data");
        return Ok(None);
    }
    let rows = salescast_preprocess::frame::read_clean(clean)?;
    let Some(history) = DailyHistory::from_rows(&rows) else {
        return Ok(None);
    };
    history.save(&models_dir.join(HISTORY_FILE))?;
    tracing::info!(
        cells = history.cells.len(),
        from = %history.first,
        to = %history.last,
        "daily history saved"
    );
    Ok(Some(history))
}
