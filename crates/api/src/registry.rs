//! Serving from the MLflow model registry (`--models-uri models:/NAME@ALIAS`): each replica
//! resolves the alias itself, downloads the version's files through the artifact proxy into its
//! own cache, verifies them by loading them, then swaps them in. Replicas share nothing, and a
//! new champion rolls out as each replica's next check sees it.
//!
//! The cache holds one directory per version (`v12/`) and a symlink `served` to the one being
//! served, swapped by rename so that a reload never sees a half-written directory. The service's
//! models directory is that symlink, so `/status`, SIGHUP and the reload route work as with
//! `--models-dir`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use salescast_models::serving::{MANIFEST_FILE, Manifest, Predictor};
use salescast_tracking::registry::{self, ModelUri};
use salescast_tracking::{Credentials, MlflowClient};
use serde::Serialize;

use crate::state::AppState;

/// The name of the symlink to the served version inside the cache.
pub const SERVED: &str = "served";

/// What `/status` shows about the registry.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RegistryStatus {
    /// The `models:/` URI followed.
    pub uri: String,
    /// The registered version being served, once one loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the registry was last asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Seconds between checks (0: only at start, on SIGHUP and on `/admin/reload`).
    pub poll_seconds: u64,
    /// Why the last check failed, if it did (the served version keeps serving).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A registered model followed by this replica.
#[derive(Debug)]
pub struct Registry {
    client: MlflowClient,
    uri: ModelUri,
    cache: PathBuf,
    pub poll: Duration,
    status: RwLock<RegistryStatus>,
    /// One check at a time (the poll loop, SIGHUP and the reload route may overlap).
    busy: tokio::sync::Mutex<()>,
}

impl Registry {
    /// `tracking_uri` is the MLflow server (`MLFLOW_TRACKING_URI`); `cache` is created if needed.
    /// Requests carry MLflow's credentials from the environment (`MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD`, or `MLFLOW_TRACKING_TOKEN`): a replica needs only READ.
    pub fn new(
        tracking_uri: &str,
        uri: &str,
        cache: &Path,
        poll: Duration,
    ) -> Result<Self, String> {
        let credentials = Credentials::from_env().map_err(|e| e.to_string())?;
        Self::with_credentials(tracking_uri, uri, cache, poll, &credentials)
    }

    /// [`Self::new`] with the credentials given rather than the environment's.
    pub fn with_credentials(
        tracking_uri: &str,
        uri: &str,
        cache: &Path,
        poll: Duration,
        credentials: &Credentials,
    ) -> Result<Self, String> {
        let uri = ModelUri::parse(uri).map_err(|e| e.to_string())?;
        if !tracking_uri.starts_with("http://") && !tracking_uri.starts_with("https://") {
            return Err(format!(
                "--models-uri needs MLFLOW_TRACKING_URI to name an MLflow server (http://...), \
                 got {tracking_uri:?}"
            ));
        }
        let client = MlflowClient::with_credentials(
            tracking_uri,
            salescast_tracking::client::Retry {
                attempts: 2,
                first_delay: Duration::from_millis(200),
            },
            credentials,
        )
        .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(cache)
            .map_err(|e| format!("the models cache {}: {e}", cache.display()))?;
        Ok(Self {
            status: RwLock::new(RegistryStatus {
                uri: uri.to_string(),
                poll_seconds: poll.as_secs(),
                ..Default::default()
            }),
            client,
            uri,
            cache: cache.to_path_buf(),
            poll,
            busy: tokio::sync::Mutex::new(()),
        })
    }

    /// The directory the service loads from: the `served` symlink.
    pub fn served_dir(&self) -> PathBuf {
        self.cache.join(SERVED)
    }

    pub fn status(&self) -> RegistryStatus {
        self.status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Asks the registry which version the URI points to and, when it is not the one served,
    /// downloads, verifies and swaps it in. `Ok(Some(version))` when a new version now serves.
    pub async fn check(&self, state: &Arc<AppState>) -> Result<Option<String>, String> {
        let _one = self.busy.lock().await;
        let result = self.check_locked(state).await;
        let mut s = self.status.write().unwrap_or_else(|p| p.into_inner());
        s.checked_at = Some(chrono::Utc::now());
        match &result {
            Ok(Some(v)) => {
                s.version = Some(v.clone());
                s.error = None;
            }
            Ok(None) => s.error = None,
            Err(e) => s.error = Some(e.clone()),
        }
        result
    }

    async fn check_locked(&self, state: &Arc<AppState>) -> Result<Option<String>, String> {
        let v = registry::resolve(&self.client, &self.uri)
            .await
            .map_err(|e| format!("{}: {e}", self.uri))?;
        let serving = self.status().version;
        if serving.as_deref() == Some(v.version.as_str()) && state.current().is_some() {
            return Ok(None);
        }
        let dir = self.cache.join(format!("v{}", v.version));
        if !dir.join(MANIFEST_FILE).is_file() {
            self.fetch(&v.version, &dir).await?;
        }
        // Swap the symlink by rename: a reload sees the old version or the new one.
        let link = self.served_dir();
        let tmp = self.cache.join(format!(".{SERVED}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(format!("v{}", v.version), &tmp)
            .and_then(|()| std::fs::rename(&tmp, &link))
            .map_err(|e| format!("switching to version {}: {e}", v.version))?;
        let st = state.clone();
        tokio::task::spawn_blocking(move || st.reload())
            .await
            .map_err(|e| format!("the reload task failed: {e}"))?
            .map_err(|e| format!("version {}: {e}", v.version))?;
        self.prune(&v.version, serving.as_deref());
        tracing::info!(uri = %self.uri, version = %v.version, "serving a new registered version");
        Ok(Some(v.version))
    }

    /// Downloads a version into a staging directory, keeps in its manifest the models it holds,
    /// loads it (which checks every model's SHA-256 against the manifest), then renames it into
    /// place.
    async fn fetch(&self, version: &str, dir: &Path) -> Result<(), String> {
        let staging = self.cache.join(format!(".v{version}.part"));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| format!("the models cache: {e}"))?;
        let files = registry::download(&self.client, &self.uri.name, version, &staging)
            .await
            .map_err(|e| format!("downloading version {version}: {e}"))?;
        let check = staging.clone();
        let verified = tokio::task::spawn_blocking(move || keep_present_models(&check))
            .await
            .map_err(|e| format!("the verification task failed: {e}"))?;
        if let Err(e) = verified {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(format!("version {version} does not load: {e}"));
        }
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&staging, dir).map_err(|e| format!("the models cache: {e}"))?;
        tracing::info!(
            version,
            files = files.len(),
            "registered version downloaded and verified"
        );
        Ok(())
    }

    /// Keeps the version served now and the one before (a quick way back); removes the rest.
    fn prune(&self, now: &str, before: Option<&str>) {
        let keep = [Some(format!("v{now}")), before.map(|b| format!("v{b}"))];
        let Ok(entries) = std::fs::read_dir(&self.cache) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_version = name.len() > 1
                && name.starts_with('v')
                && name[1..].chars().all(|c| c.is_ascii_digit());
            if is_version && !keep.iter().flatten().any(|k| *k == name) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// A registered version holds one transaction model (its run's) beside a manifest that names
/// every model of its training: the manifest keeps the ones present, and the set must load.
fn keep_present_models(dir: &Path) -> Result<(), String> {
    let mut m = Manifest::load(dir).map_err(|e| e.to_string())?;
    m.models.retain(|_, e| dir.join(&e.artifact).is_file());
    if !m.models.contains_key(&m.champion) {
        let Some(name) = m.models.keys().next().cloned() else {
            return Err("it holds no model file the manifest names".into());
        };
        m.champion = name;
    }
    if m.daily
        .as_ref()
        .is_some_and(|d| !dir.join(&d.artifact).is_file())
    {
        m.daily = None;
    }
    m.save(dir).map_err(|e| e.to_string())?;
    Predictor::load(dir).map(|_| ()).map_err(|e| e.to_string())
}

/// Checks the registry every `poll` until the process ends.
pub fn spawn_poll(registry: Arc<Registry>, state: Arc<AppState>) {
    if registry.poll.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(registry.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = registry.check(&state).await {
                tracing::warn!(error = %e, "registry check failed; the served version keeps serving");
            }
        }
    });
}
