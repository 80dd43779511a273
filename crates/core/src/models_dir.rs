//! The names of the files of a models directory, defined once: the train stage writes them,
//! and the API, the monitor, the UI, the Python package and the tests read them by these names.
//!
//! ```text
//! models/
//!   manifest.json            the models, their checksums, versions and scores (MANIFEST)
//!   transform.json           the feature transform the models were fitted with (TRANSFORM)
//!   random_forest.bin, gradient_boosting.bin
//!   sarima.json              the daily revenue champion (DAILY)
//!   reference.json           the monitor's reference profile (REFERENCE)
//!   reference.parquet        its sample of reference rows (REFERENCE_SAMPLE)
//!   history.json             daily sales by store and category (HISTORY)
//!   tracking.json            each model version's tracking run (RUN_KEYS)
//!   timings.json             wall-clock figures, outside DVC's hashes (TIMINGS)
//!   evaluation/              the evaluation fit, when the served models were refitted (EVALUATION)
//! ```

/// The manifest: which models the directory holds, their checksums and scores.
pub const MANIFEST: &str = "manifest.json";
/// The feature transform the models were fitted with.
pub const TRANSFORM: &str = "transform.json";
/// The daily revenue champion.
pub const DAILY: &str = "sarima.json";
/// The monitor's reference profile.
pub const REFERENCE: &str = "reference.json";
/// The reference profile's sample of rows.
pub const REFERENCE_SAMPLE: &str = "reference.parquet";
/// Daily sales by store and category, for the analysts' routes.
pub const HISTORY: &str = "history.json";
/// Each model version's tracking run (run keys and, with a server, run ids).
pub const RUN_KEYS: &str = "tracking.json";
/// Wall-clock figures of the stage that wrote the directory (see
/// [`crate::artifact::TIMINGS_FILE`]).
pub const TIMINGS: &str = crate::artifact::TIMINGS_FILE;
/// The evaluation fit's subdirectory, when the served models were refitted on every day.
pub const EVALUATION: &str = "evaluation";
