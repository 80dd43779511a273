//! Models from the MLflow model registry: a `models:/NAME@ALIAS` or `models:/NAME/VERSION`
//! URI resolved to a version, and that version's files downloaded through the server's artifact
//! proxy. This is what lets service replicas load the champion without a shared volume.

use std::path::Path;

use crate::client::{MlflowClient, ModelVersion};
use crate::error::{Result, TrackingError};

/// The most files a model version may hold, and the deepest directory nesting: a version is a
/// handful of artifacts, so anything larger is refused rather than mirrored.
const MAX_FILES: usize = 256;
const MAX_DEPTH: usize = 4;

/// Which version of a registered model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Alias(String),
    Version(String),
}

/// A parsed `models:/` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUri {
    pub name: String,
    pub selector: Selector,
}

impl ModelUri {
    /// Reads `models:/NAME@ALIAS` or `models:/NAME/VERSION`.
    pub fn parse(uri: &str) -> Result<Self> {
        let bad = |why: &str| {
            TrackingError::Config(format!(
                "models URI {uri:?}: {why} (expected models:/NAME@ALIAS or models:/NAME/VERSION)"
            ))
        };
        let rest = uri
            .strip_prefix("models:/")
            .ok_or_else(|| bad("not a models:/ URI"))?;
        let ok_name = |s: &str| {
            !s.is_empty()
                && s.len() <= 256
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        let (name, selector) = if let Some((name, alias)) = rest.split_once('@') {
            if !ok_name(alias) {
                return Err(bad(
                    "the alias is empty or has characters other than letters, digits, - _ .",
                ));
            }
            (name, Selector::Alias(alias.to_owned()))
        } else if let Some((name, version)) = rest.split_once('/') {
            if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad("the version is not a number"));
            }
            (name, Selector::Version(version.to_owned()))
        } else {
            return Err(bad("no @ALIAS or /VERSION"));
        };
        if !ok_name(name) {
            return Err(bad(
                "the model name is empty or has characters other than letters, digits, - _ .",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            selector,
        })
    }
}

impl std::fmt::Display for ModelUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.selector {
            Selector::Alias(a) => write!(f, "models:/{}@{a}", self.name),
            Selector::Version(v) => write!(f, "models:/{}/{v}", self.name),
        }
    }
}

/// The version `uri` points to now.
pub async fn resolve(client: &MlflowClient, uri: &ModelUri) -> Result<ModelVersion> {
    match &uri.selector {
        Selector::Alias(alias) => client.alias(&uri.name, alias).await?.ok_or_else(|| {
            TrackingError::Config(format!(
                "{uri}: the registry has no alias {alias:?} on {:?}",
                uri.name
            ))
        }),
        Selector::Version(v) => Ok(ModelVersion {
            name: uri.name.clone(),
            version: v.clone(),
            source: String::new(),
            run_id: String::new(),
            aliases: Vec::new(),
        }),
    }
}

/// Downloads every file of `version` of the registered model `name` into `dest` (an empty
/// directory the caller owns; the caller verifies and renames it). Returns the files' paths
/// relative to `dest`.
pub async fn download(
    client: &MlflowClient,
    name: &str,
    version: &str,
    dest: &Path,
) -> Result<Vec<String>> {
    let uri = client.download_uri(name, version).await?;
    let root = uri
        .strip_prefix("mlflow-artifacts:/")
        .ok_or_else(|| {
            TrackingError::Config(format!(
                "{name} version {version} is stored at {uri:?}, which the server does not proxy \
                 (start it with --serve-artifacts)"
            ))
        })?
        .trim_matches('/')
        .to_owned();
    let mut files = Vec::new();
    let mut dirs = vec![(String::new(), 0usize)];
    while let Some((dir, depth)) = dirs.pop() {
        let at = if dir.is_empty() {
            root.clone()
        } else {
            format!("{root}/{dir}")
        };
        for entry in client.list_proxied(&at).await? {
            let leaf = entry.path.rsplit('/').next().unwrap_or(&entry.path);
            let rel = if dir.is_empty() {
                leaf.to_owned()
            } else {
                format!("{dir}/{leaf}")
            };
            salescast_core::artifact::check_listed_name(&rel).map_err(|e| {
                TrackingError::Config(format!("{name} version {version}: the listing {e}"))
            })?;
            if entry.is_dir {
                if depth + 1 > MAX_DEPTH {
                    return Err(TrackingError::Config(format!(
                        "{name} version {version}: directories nested deeper than {MAX_DEPTH}"
                    )));
                }
                dirs.push((rel, depth + 1));
            } else {
                files.push(rel);
                if files.len() > MAX_FILES {
                    return Err(TrackingError::Config(format!(
                        "{name} version {version}: more than {MAX_FILES} files"
                    )));
                }
            }
        }
    }
    if files.is_empty() {
        return Err(TrackingError::Config(format!(
            "{name} version {version}: no files at {uri}"
        )));
    }
    for rel in &files {
        let bytes = client.get_proxied(&format!("{root}/{rel}")).await?;
        let path = dest.join(rel);
        salescast_core::artifact::write_atomic(&path, |w| w.write_all(&bytes))?;
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn model_uris_parse_or_name_the_problem() {
        let a = ModelUri::parse("models:/salescast-revenue@champion").unwrap();
        assert_eq!(a.name, "salescast-revenue");
        assert_eq!(a.selector, Selector::Alias("champion".into()));
        assert_eq!(a.to_string(), "models:/salescast-revenue@champion");
        let v = ModelUri::parse("models:/salescast-revenue/12").unwrap();
        assert_eq!(v.selector, Selector::Version("12".into()));
        for bad in [
            "runs:/abc/model",
            "models:/",
            "models:/name",
            "models:/@champion",
            "models:/name@",
            "models:/name/x1",
            "models:/../etc@champion",
            "models:/a b@champion",
        ] {
            let e = ModelUri::parse(bad).unwrap_err().to_string();
            assert!(e.contains("expected models:/NAME@ALIAS"), "{bad}: {e}");
        }
    }
}
