//! Sends a [`RunRecord`] to an MLflow server.
//!
//! Every step can be repeated without creating anything twice, so a record can be replayed after
//! a failure at any point: the run is found again by its key tag, identical metric points are
//! de-duplicated by MLflow, params are re-sent with the same values, artifacts overwrite, and the
//! logged model and registered version leave checkpoint tags on the run that a replay reads.

use std::path::PathBuf;

use crate::client::{MlflowClient, batches};
use crate::error::{Result, TrackingError};
use crate::mlmodel;
use crate::record::{MAX_PARAM_VALUE, RUN_KEY_TAG, RunRecord, RunStatus, now_ms};

/// Run tag recording the logged model's id (or `run:<folder>` on servers without logged models).
pub const MODEL_TAG: &str = "salescast.model_id";
/// Run tag recording the registered model version made from this run.
pub const VERSION_TAG: &str = "salescast.model_version";
/// The alias moved to the best version.
pub const CHAMPION_ALIAS: &str = "champion";

/// Uploads files concurrently: each upload is one request whose latency dominates, not bytes.
async fn put_files(client: &MlflowClient, root: &str, files: Vec<(String, PathBuf)>) -> Result<()> {
    let mut set = tokio::task::JoinSet::new();
    for (path, local) in files {
        let (client, root) = (client.clone(), root.to_owned());
        set.spawn(async move {
            let bytes = tokio::fs::read(&local)
                .await
                .map_err(|e| TrackingError::io("reading", &local, e))?;
            client.put_artifact(&root, &path, bytes).await
        });
    }
    while let Some(done) = set.join_next().await {
        done.map_err(|e| TrackingError::Config(format!("upload task: {e}")))??;
    }
    Ok(())
}

/// Sends `record`; returns the MLflow run id. A run the server refuses part of is marked FAILED
/// with the reason in the `salescast.tracking_error` tag, so it does not linger as RUNNING.
pub async fn send(client: &MlflowClient, record: &RunRecord) -> Result<String> {
    record.validate()?;
    let exp = client.experiment(&record.experiment).await?;
    let filter = format!("tags.`{RUN_KEY_TAG}` = '{}'", record.key);
    let existing = if record.fresh {
        Vec::new()
    } else {
        client
            .search_runs(&[exp.experiment_id.as_str()], &filter)
            .await?
    };
    let run = match existing.into_iter().next() {
        Some(r) => r,
        None => {
            let tags = vec![
                (RUN_KEY_TAG.to_owned(), record.key.clone()),
                ("mlflow.runName".to_owned(), record.run_name.clone()),
            ];
            client
                .create_run(
                    &exp.experiment_id,
                    &record.run_name,
                    &record.user,
                    record.start_time,
                    &tags,
                )
                .await?
        }
    };
    let run_id = run.info.run_id.clone();
    match fill(
        client,
        record,
        &exp.experiment_id,
        &run_id,
        &run.info.artifact_uri,
    )
    .await
    {
        Ok(()) => Ok(run_id),
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            let _ = client
                .set_tag(&run_id, "salescast.tracking_error", &e.to_string())
                .await;
            let _ = client
                .finish_run(&run_id, RunStatus::Failed.as_mlflow(), now_ms())
                .await;
            Err(e)
        }
    }
}

async fn fill(
    client: &MlflowClient,
    record: &RunRecord,
    experiment_id: &str,
    run_id: &str,
    root: &str,
) -> Result<()> {
    let (run_id, root) = (run_id.to_owned(), root.to_owned());

    // Params MLflow would silently truncate are stored whole as artifacts.
    let mut params = Vec::new();
    for (k, v) in &record.params {
        if v.chars().count() > MAX_PARAM_VALUE {
            let path = format!("params/{k}.txt");
            client
                .put_artifact(&root, &path, v.clone().into_bytes())
                .await?;
            params.push((
                k.clone(),
                format!("(longer than {MAX_PARAM_VALUE} characters: artifact {path})"),
            ));
        } else {
            params.push((k.clone(), v.clone()));
        }
    }
    let tags: Vec<(String, String)> = record
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Values, run artifacts and the model are independent once the run exists, so they go out
    // together; each is a chain of small requests whose latency, not bandwidth, sets the time.
    let values = async {
        for (m, p, t) in batches(&record.metrics, &params, &tags) {
            client.log_batch(&run_id, &m, &p, &t).await?;
        }
        Ok::<(), TrackingError>(())
    };
    let files = record
        .artifacts
        .iter()
        .map(|a| (a.path.clone(), a.local.clone()))
        .collect();
    let artifacts = put_files(client, &root, files);
    let model = async {
        match &record.model {
            Some(spec) => {
                model_and_registry(client, record, spec, experiment_id, &run_id, &root).await
            }
            None => Ok(()),
        }
    };
    // The registered model is looked up early so the registration after the upload is short.
    let registry = async {
        match record
            .model
            .as_ref()
            .and_then(|m| m.registered_name.as_ref())
        {
            Some(name) => client.ensure_registered_model(name).await,
            None => Ok(()),
        }
    };
    let (v, a, m, r) = tokio::join!(values, artifacts, model, registry);
    r?;
    v?;
    a?;
    m?;

    if let Some((end, status)) = record.end {
        client.finish_run(&run_id, status.as_mlflow(), end).await?;
    }
    Ok(())
}

/// Logs the model (unless a checkpoint tag says it was), registers a version, moves the alias.
async fn model_and_registry(
    client: &MlflowClient,
    record: &RunRecord,
    spec: &crate::record::ModelSpec,
    experiment_id: &str,
    run_id: &str,
    root: &str,
) -> Result<()> {
    let current = if record.fresh {
        None
    } else {
        Some(client.get_run(run_id).await?)
    };
    let checkpoint = |key: &str| {
        current
            .as_ref()
            .and_then(|r| r.data.tag(key))
            .map(str::to_owned)
    };
    let (source, tagged) = match checkpoint(MODEL_TAG).as_deref() {
        Some(id) => (source_for(id, root, &spec.name), None),
        None => {
            let id = log_model(client, record, spec, experiment_id, run_id, root).await?;
            (source_for(&id, root, &spec.name), Some(id))
        }
    };
    let tag_model = async {
        match &tagged {
            Some(id) => client.set_tag(run_id, MODEL_TAG, id).await,
            None => Ok(()),
        }
    };
    let register = async {
        let Some(name) = &spec.registered_name else {
            return Ok(());
        };
        let version = match checkpoint(VERSION_TAG) {
            Some(v) => v,
            None => {
                client.ensure_registered_model(name).await?;
                let v = client.create_model_version(name, &source, run_id).await?;
                client.set_tag(run_id, VERSION_TAG, &v.version).await?;
                v.version
            }
        };
        if spec.champion {
            client.set_alias(name, CHAMPION_ALIAS, &version).await?;
        }
        Ok::<(), TrackingError>(())
    };
    let (t, r) = tokio::join!(tag_model, register);
    t?;
    r
}

fn source_for(model_tag: &str, run_root: &str, folder: &str) -> String {
    match model_tag.strip_prefix("run:") {
        Some(_) => format!("{run_root}/{folder}"),
        None => format!("models:/{model_tag}"),
    }
}

/// Logs the model with MLflow 3's logged-models flow, or the 2.x run-artifact flow when the
/// server has no logged models. Returns the value of [`MODEL_TAG`].
async fn log_model(
    client: &MlflowClient,
    record: &RunRecord,
    spec: &crate::record::ModelSpec,
    experiment_id: &str,
    run_id: &str,
    run_root: &str,
) -> Result<String> {
    let created = record.end.map(|e| e.0).unwrap_or(record.start_time);
    match client
        .create_logged_model(experiment_id, &spec.name, run_id, &spec.model_type)
        .await?
    {
        Some((model_id, model_root)) => {
            let mut files: Vec<(String, PathBuf)> = spec
                .files
                .iter()
                .map(|f| (f.path.clone(), f.local.clone()))
                .collect();
            let generated = mlmodel::generated_files(spec, run_id, Some(&model_id), created);
            files.retain(|f| !generated.iter().any(|(name, _)| f.0 == *name));
            let put_generated = async {
                for (name, text) in generated {
                    client
                        .put_artifact(&model_root, name, text.into_bytes())
                        .await?;
                }
                Ok::<(), crate::TrackingError>(())
            };
            let (link, upload, mlmodel) = tokio::join!(
                client.link_model_output(run_id, &model_id),
                put_files(client, &model_root, files),
                put_generated
            );
            link?;
            upload?;
            mlmodel?;
            client.finalize_logged_model(&model_id).await?;
            Ok(model_id)
        }
        None => {
            let files = spec
                .files
                .iter()
                .map(|f| (format!("{}/{}", spec.name, f.path), f.local.clone()))
                .collect();
            put_files(client, run_root, files).await?;
            for (name, text) in mlmodel::generated_files(spec, run_id, None, created) {
                client
                    .put_artifact(
                        run_root,
                        &format!("{}/{name}", spec.name),
                        text.into_bytes(),
                    )
                    .await?;
            }
            client
                .log_model_history(run_id, &mlmodel::history_entry(spec, run_id, created))
                .await?;
            Ok(format!("run:{}", spec.name))
        }
    }
}
