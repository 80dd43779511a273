//! The loaded models and their atomic replacement.
//!
//! Requests take a cheap `Arc` snapshot of the current models, so a reload never disturbs a
//! request in flight. A reload loads and checks the new directory completely before the swap;
//! if anything is wrong the old models keep serving and `/status` shows why.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use salescast_core::history::{DailyHistory, HISTORY_FILE};
use salescast_models::serving::Predictor;
use serde::Serialize;

use crate::metrics::Metrics;

/// One successfully loaded models directory.
#[derive(Debug)]
pub struct Loaded {
    pub predictor: Predictor,
    /// The daily champion (`sarima.json`), when the models directory has one.
    pub daily: Option<salescast_daily::DailyArtifact>,
    pub loaded_at: chrono::DateTime<chrono::Utc>,
    /// `timings.json` of the directory: when training ran and how long each fit took. It is
    /// informative only (untracked, wall-clock), so a missing or broken file is empty.
    pub timings: serde_json::Map<String, serde_json::Value>,
    /// `history.json`: daily sales by store and category, for the read-only analyst routes.
    /// Optional (models trained before it existed have none); a broken file fails the load.
    pub history: Option<salescast_core::history::DailyHistory>,
    /// The monitor's `reference.json`: the typical row and value ranges of the catalog route.
    /// Informative only, so a missing or unreadable file is `None`.
    pub reference: Option<serde_json::Value>,
}

/// File name of the daily model in the models directory (as the train stage writes it).
pub const DAILY_FILE: &str = salescast_core::models_dir::DAILY;
/// The monitor's reference profile, written by the train stage.
pub const REFERENCE_FILE: &str = salescast_core::models_dir::REFERENCE;

/// The outcome of the last load attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoadAttempt {
    pub at: chrono::DateTime<chrono::Utc>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Shared state of the service.
#[derive(Debug)]
pub struct AppState {
    pub models_dir: PathBuf,
    current: RwLock<Option<Arc<Loaded>>>,
    last_attempt: RwLock<Option<LoadAttempt>>,
    pub started: Instant,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub metrics: Metrics,
    pub limits: crate::Limits,
    pub admin_token: Option<String>,
    /// Set when the models come from the MLflow registry.
    pub registry: Option<Arc<crate::registry::Registry>>,
}

impl AppState {
    pub fn new(models_dir: PathBuf, limits: crate::Limits, admin_token: Option<String>) -> Self {
        Self {
            models_dir,
            current: RwLock::new(None),
            last_attempt: RwLock::new(None),
            started: Instant::now(),
            started_at: chrono::Utc::now(),
            metrics: Metrics::new(),
            limits,
            admin_token,
            registry: None,
        }
    }

    /// Reloads the models: from the registry when one is followed (a check that swaps in a new
    /// version if there is one), else from the directory.
    pub async fn refresh(self: &Arc<Self>) -> Result<(), String> {
        if let Some(r) = &self.registry {
            return r.check(self).await.map(|_| ());
        }
        let st = self.clone();
        tokio::task::spawn_blocking(move || st.reload())
            .await
            .map_err(|e| format!("the reload task failed: {e}"))?
            .map(|_| ())
    }

    /// The models serving now.
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn last_attempt(&self) -> Option<LoadAttempt> {
        self.last_attempt
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Loads the models directory and swaps it in; on failure the old models stay.
    pub fn reload(&self) -> Result<Arc<Loaded>, String> {
        let daily_path = self.models_dir.join(DAILY_FILE);
        let result = Predictor::load(&self.models_dir)
            .map_err(|e| format!("loading {}: {e}", self.models_dir.display()))
            .and_then(|p| {
                // A broken daily artifact fails the whole load: the old models keep serving.
                let daily = if daily_path.exists() {
                    Some(
                        salescast_daily::DailyArtifact::load(&daily_path)
                            .map_err(|e| format!("loading {}: {e}", daily_path.display()))?,
                    )
                } else {
                    None
                };
                let history_path = self.models_dir.join(HISTORY_FILE);
                let history = if history_path.exists() {
                    Some(
                        DailyHistory::load(&history_path)
                            .map_err(|e| format!("loading {}: {e}", history_path.display()))?,
                    )
                } else {
                    None
                };
                Ok((p, daily, history))
            });
        // Clients (`/status`, the reload answer) see file names relative to the models
        // directory; the log keeps the whole error.
        let result = result.map_err(|e| {
            tracing::warn!(error = %e, "loading the models failed");
            let dir = self.models_dir.display().to_string();
            e.replace(&format!("{dir}/"), "")
                .replace(&dir, "the models directory")
        });
        let now = chrono::Utc::now();
        let attempt = LoadAttempt {
            at: now,
            ok: result.is_ok(),
            error: result.as_ref().err().cloned(),
        };
        *self.last_attempt.write().unwrap_or_else(|p| p.into_inner()) = Some(attempt);
        let (predictor, daily, history) = result?;
        let loaded = Arc::new(Loaded {
            predictor,
            daily,
            loaded_at: now,
            timings: salescast_core::artifact::load_timings(&self.models_dir),
            history,
            reference: std::fs::read(self.models_dir.join(REFERENCE_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok()),
        });
        self.metrics.set_models(&loaded.predictor);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(loaded.clone());
        Ok(loaded)
    }
}
