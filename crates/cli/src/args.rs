//! Command-line arguments. Each setting comes from its flag, else its `SALESCAST_*` variable,
//! else `params.yaml`, else the built-in default.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "salescast",
    version,
    about = "Sales-demand forecasting pipeline: each subcommand is one stage."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Settings file [default: ./params.yaml when present, else the built-in copy of the
    /// repository's params.yaml]. Flags and SALESCAST_* variables
    /// take precedence over it.
    #[arg(long, global = true, env = "SALESCAST_PARAMS")]
    pub params: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Print the stage's result as JSON on stdout, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate seeded synthetic transactions in the data contract.
    Generate(GenerateArgs),
    /// Validate and clean raw transactions (CSV or Parquet).
    Preprocess(PreprocessArgs),
    /// Build model features and the daily revenue series from cleaned data.
    Features(FeaturesArgs),
    /// Train the per-transaction models and write artifacts and the manifest.
    Train(TrainArgs),
    /// Score the models on the test days: metrics.json and data for plots.
    Evaluate(EvaluateArgs),
    /// Score a raw file offline with the saved transform and a model (default: the champion).
    Predict(PredictArgs),
    /// Forecast daily revenue between two dates with the saved daily champion (models/sarima.json).
    Forecast(ForecastArgs),
    /// Forecast every series of a long file (one row per series and day): each series gets
    /// the daily champion's cross-validated selection (automatic SARIMA, SARIMA(1,1,1)(1,1,1,7),
    /// ETS, MSTL+ETS, the additive model, Theta and AutoTheta, their combinations) on its own,
    /// in parallel; a series too short or constant gets the seasonal-naive forecast and the
    /// reason.
    ForecastMany(ForecastManyArgs),
    /// Run every stage from a raw file into a working directory.
    Pipeline(PipelineArgs),
    /// Search a tree model's hyperparameters on rolling-origin folds of the training days
    /// (never the test days); writes the best as a params file for `train --tuned`.
    Tune(TuneArgs),
    /// Experiment tracking: upload runs spooled while the MLflow server was down.
    #[command(subcommand)]
    Tracking(TrackingCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum TrackingCommand {
    /// Upload every spooled run to the server in MLFLOW_TRACKING_URI, oldest first, once.
    Sync(TrackingArgs),
    /// List the runs waiting in the spool and where runs go.
    Status(TrackingArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TrackingArgs {
    /// Project directory holding the spool (`.salescast/spool`) and the local store (`mlruns`).
    #[arg(long, env = "SALESCAST_PROJECT_DIR", default_value = ".")]
    pub project_dir: PathBuf,
}

/// Where runs are logged: MLFLOW_TRACKING_URI (a server), else the file store `mlruns/` under the
/// project directory. MLFLOW_EXPERIMENT_NAME names the experiment [default: salescast].
#[derive(Debug, Args, Clone)]
pub(crate) struct TrackSettings {
    /// Do not record this run in experiment tracking.
    #[arg(long, env = "SALESCAST_NO_TRACK")]
    pub no_track: bool,
    /// Project directory holding the spool (`.salescast/spool`) and the local store (`mlruns`).
    #[arg(long, env = "SALESCAST_PROJECT_DIR", default_value = ".")]
    pub project_dir: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct TrainSettings {
    /// Models to train, comma-separated, among random_forest, gradient_boosting and sarima (the
    /// daily revenue champion) [default: `train.models` in the settings: all three].
    #[arg(long = "model", env = "SALESCAST_MODELS", value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// Serve the evaluation fit itself instead of a refit on every day (overrides
    /// `train.refit_on_all_data`).
    #[arg(long)]
    pub no_refit: bool,
    /// A params file written by `salescast tune` (e.g. tuned.yaml): its `train.<model>`
    /// sections replace those of params.yaml.
    #[arg(long, env = "SALESCAST_TUNED")]
    pub tuned: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct TuneArgs {
    /// The model to tune: gradient_boosting or random_forest.
    #[arg(long)]
    pub model: String,
    /// Features directory (or a directory holding `features/`); only its training days are read.
    #[arg(long, env = "SALESCAST_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Where each model's search keeps its study, trial log and summary (`<dir>/<model>/`);
    /// a search started again with the same settings resumes from its log.
    #[arg(long, env = "SALESCAST_TUNE_DIR", default_value = "tune")]
    pub out_dir: PathBuf,
    /// The params file the best parameters go into, as its `train.<model>` section (the other
    /// model's section is kept).
    #[arg(long, default_value = "tuned.yaml")]
    pub params_out: PathBuf,
    /// At most this many trials, the defaults included [default: tune.trials].
    #[arg(long)]
    pub trials: Option<usize>,
    /// No trial starts after this many seconds [default: tune.time_budget_secs].
    #[arg(long)]
    pub time_budget: Option<f64>,
    /// Seed of the candidates [default: tune.seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Start over even when the directory holds a log of the same search (it is kept as
    /// trials.previous.jsonl).
    #[arg(long)]
    pub fresh: bool,
    /// Score this one candidate (a JSON object of the searched values) on the folds and print
    /// the fold MAEs; no log, no params file, no tracking. The objective for another optimiser.
    #[arg(long, value_name = "JSON")]
    pub evaluate: Option<String>,
    #[command(flatten)]
    pub track: TrackSettings,
}

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// Features directory (or a directory holding `features/`).
    #[arg(long, env = "SALESCAST_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Where model artifacts and manifest.json go.
    #[arg(long, env = "SALESCAST_MODELS_DIR")]
    pub models_dir: PathBuf,
    /// The cleaned data (`clean.parquet` from `salescast preprocess`), from which training
    /// writes the monitor's reference profile and the daily history [default:
    /// `processed/clean.parquet` beside the features directory].
    #[arg(long, env = "SALESCAST_CLEAN_DATA")]
    pub clean_data: Option<PathBuf>,
    #[command(flatten)]
    pub train: TrainSettings,
    #[command(flatten)]
    pub track: TrackSettings,
    /// Also write where each model's run was logged (JSON) to this file.
    #[arg(long)]
    pub runs_file: Option<PathBuf>,
    /// Also write the training summary (JSON, without wall-clock figures or run ids, so that
    /// the same inputs give the same bytes) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    /// Features directory (or a directory holding `features/`).
    #[arg(long, env = "SALESCAST_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The models directory `salescast train` wrote (manifest.json and the models).
    #[arg(long, env = "SALESCAST_MODELS_DIR")]
    pub models_dir: PathBuf,
    /// The metrics file to write (DVC metrics).
    #[arg(long, env = "SALESCAST_METRICS")]
    pub metrics: PathBuf,
    /// Directory for plot data (predictions, residuals by day, feature importance).
    #[arg(long, env = "SALESCAST_PLOTS_DIR")]
    pub plots_dir: Option<PathBuf>,
    #[command(flatten)]
    pub track: TrackSettings,
}

#[derive(Debug, Args)]
pub(crate) struct ForecastArgs {
    /// The models directory `salescast train` wrote (manifest.json and the models).
    #[arg(long, env = "SALESCAST_MODELS_DIR")]
    pub models_dir: PathBuf,
    /// First day to forecast (YYYY-MM-DD), after the last training day.
    #[arg(long, value_parser = day)]
    pub start: chrono::NaiveDate,
    /// Last day to forecast (YYYY-MM-DD), at most 366 days after the last training day.
    #[arg(long, value_parser = day)]
    pub end: chrono::NaiveDate,
    /// Prediction interval level in percent.
    #[arg(long, default_value_t = 95.0)]
    pub level: f64,
    /// Forecast one store's series instead of all stores.
    #[arg(long)]
    pub store: Option<String>,
}

/// How to treat a day missing inside a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FillMissing {
    /// The day had no sales: its value is 0.
    Zero,
}

#[derive(Debug, Args)]
pub(crate) struct ForecastManyArgs {
    /// Long CSV or Parquet file: one row per series and day.
    #[arg(long)]
    pub input: PathBuf,
    /// Column naming the series (any text).
    #[arg(long, default_value = "id")]
    pub id_col: String,
    /// Column with the day (YYYY-MM-DD, or a Parquet date).
    #[arg(long, default_value = "date")]
    pub date_col: String,
    /// Column with the value to forecast.
    #[arg(long, default_value = "value")]
    pub value_col: String,
    /// Days to forecast after each series' last day (1-366).
    #[arg(long)]
    pub horizon: usize,
    /// Prediction interval level in percent.
    #[arg(long, default_value_t = 95.0)]
    pub level: f64,
    /// Forecasts (.csv or .parquet): id, date, model, mean, lower_<level>, upper_<level>.
    #[arg(long)]
    pub out: PathBuf,
    /// Per-series table (chosen model, cross-validated MASE, days, fallback reason), in the
    /// format of --out [default: beside it, <out>.series.<ext>].
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Rolling-origin folds of each series' cross-validation [default: as many as fit in a
    /// year, 3 to 8].
    #[arg(long)]
    pub folds: Option<usize>,
    /// Days in each fold [default: the horizon, at least 7].
    #[arg(long)]
    pub fold_days: Option<usize>,
    /// Give the SARIMA candidates the pipeline's calendar regressors (holiday flags and yearly
    /// Fourier terms), as the daily champion has.
    #[arg(long)]
    pub holidays: bool,
    /// A day missing inside a series is refused unless this says what it means.
    #[arg(long, value_enum)]
    pub fill_missing: Option<FillMissing>,
}

#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// The models directory `salescast train` wrote (manifest.json and the models).
    #[arg(long, env = "SALESCAST_MODELS_DIR")]
    pub models_dir: PathBuf,
    /// Raw rows (CSV, streamed; or Parquet).
    #[arg(long)]
    pub input: PathBuf,
    /// Output CSV: every input row plus predicted_revenue and error.
    #[arg(long)]
    pub out: PathBuf,
    /// random_forest or gradient_boosting [default: the champion].
    #[arg(long)]
    pub model: Option<String>,
    /// Also explain every prediction (exact TreeSHAP): adds `shap_expected_value`, one
    /// `shap_<field>` column per data-contract field and one `shap_feature_<name>` per model
    /// feature; the expected value plus either group's columns is the prediction.
    #[arg(long)]
    pub explain: bool,
    /// Pass columns outside the data contract through to the output instead of refusing the
    /// file (a misspelled column, such as `price` for `unit_price`, is refused by default so
    /// that it is not silently imputed).
    #[arg(long)]
    pub ignore_extra_columns: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Output CSV file.
    #[arg(long, env = "SALESCAST_GENERATE_OUT")]
    pub out: PathBuf,
    /// Number of transactions.
    #[arg(long, env = "SALESCAST_ROWS")]
    pub rows: Option<usize>,
    /// Number of days covered.
    #[arg(long, env = "SALESCAST_DAYS")]
    pub days: Option<u32>,
    /// First day (YYYY-MM-DD).
    #[arg(long, env = "SALESCAST_START", value_parser = day)]
    pub start: Option<chrono::NaiveDate>,
    /// Number of stores.
    #[arg(long, env = "SALESCAST_STORES")]
    pub stores: Option<u32>,
    /// Random seed: the same seed gives a byte-identical file.
    #[arg(long, env = "SALESCAST_SEED")]
    pub seed: Option<u64>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct CleanSettings {
    /// Days at the end of the data held out as the test set.
    #[arg(long, env = "SALESCAST_TEST_DAYS")]
    pub test_days: Option<u32>,
    /// k of the outlier fence Q3 + k·IQR (on log1p values, per category).
    #[arg(long, env = "SALESCAST_OUTLIER_K")]
    pub outlier_k: Option<f64>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct FeatureSettings {
    /// Standardise continuous features (for models that need scaling).
    #[arg(long, env = "SALESCAST_SCALE")]
    pub scale: Option<bool>,
}

#[derive(Debug, Args)]
pub(crate) struct PreprocessArgs {
    /// Raw CSV or Parquet file.
    #[arg(long, env = "SALESCAST_INPUT")]
    pub input: PathBuf,
    /// Directory for the cleaned data, rejected rows and report.
    #[arg(long, env = "SALESCAST_PROCESSED_DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub clean: CleanSettings,
}

#[derive(Debug, Args)]
pub(crate) struct FeaturesArgs {
    /// Directory written by `preprocess`.
    #[arg(long, env = "SALESCAST_PROCESSED_DIR")]
    pub in_dir: PathBuf,
    /// Directory for the feature files.
    #[arg(long, env = "SALESCAST_FEATURES_DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub features: FeatureSettings,
}

#[derive(Debug, Args)]
pub(crate) struct PipelineArgs {
    /// Raw CSV or Parquet file.
    #[arg(long, env = "SALESCAST_INPUT")]
    pub input: PathBuf,
    /// Working directory: `data/processed`, `data/features` and later `models` go under it.
    #[arg(long, env = "SALESCAST_WORKDIR")]
    pub workdir: PathBuf,
    #[command(flatten)]
    pub clean: CleanSettings,
    #[command(flatten)]
    pub features: FeatureSettings,
    #[command(flatten)]
    pub train: TrainSettings,
    #[command(flatten)]
    pub track: TrackSettings,
}

/// A day flag: `YYYY-MM-DD`, with a message that says so (chrono's own is "input contains
/// invalid characters").
fn day(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("expected a date as YYYY-MM-DD (for example 2026-01-05), got {s:?}"))
}
