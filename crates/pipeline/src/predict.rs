//! Offline batch scoring: every input row, in order, with its columns plus `predicted_revenue`
//! (and `error` for a row that could not be scored). CSV is streamed in bounded chunks, so a
//! file larger than memory is fine; Parquet is read whole.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use salescast_core::Mode;
use salescast_core::artifact::write_atomic;
use salescast_core::schema::ColumnMap;
use salescast_models::Kind;
use salescast_models::serving::Predictor;
use salescast_preprocess::RawRows;
use serde::Serialize;

use crate::{PipelineError, Result, bar};

/// Rows scored per parallel chunk: bounds memory whatever the file size.
const CHUNK: usize = 65_536;

/// What a prediction run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictSummary {
    pub rows: usize,
    pub scored: usize,
    pub errors: usize,
    pub model: String,
    pub model_version: String,
    pub seconds: f64,
}

/// A scored row: the prediction and, when explaining, the explanation's cells; `Err` is the
/// message for the `error` column.
type Scored = std::result::Result<(f64, Vec<String>), String>;

/// The columns `--explain` adds: the expected value, then one TreeSHAP contribution per
/// data-contract field and one per model feature, in a fixed order (prefixed, since some
/// fields and features share a name).
#[derive(Debug, Clone)]
struct ExplainColumns {
    fields: Vec<String>,
    features: Vec<String>,
}

impl ExplainColumns {
    fn new(features: &[String]) -> Self {
        let zeros = vec![0.0; features.len()];
        Self {
            fields: salescast_models::serving::by_field(features, &zeros)
                .into_iter()
                .map(|c| c.name)
                .collect(),
            features: features.to_vec(),
        }
    }

    fn header(&self) -> Vec<String> {
        std::iter::once("shap_expected_value".to_owned())
            .chain(self.fields.iter().map(|f| format!("shap_{f}")))
            .chain(self.features.iter().map(|f| format!("shap_feature_{f}")))
            .collect()
    }

    fn len(&self) -> usize {
        1 + self.fields.len() + self.features.len()
    }

    fn cells(&self, e: &salescast_models::serving::Explained) -> Vec<String> {
        let find = |list: &[salescast_models::serving::Contribution], name: &str| {
            list.iter()
                .find(|c| c.name == name)
                .map_or(0.0, |c| c.value)
                .to_string()
        };
        std::iter::once(e.expected_value.to_string())
            .chain(self.fields.iter().map(|f| find(&e.by_field, f)))
            .chain(self.features.iter().map(|f| find(&e.by_feature, f)))
            .collect()
    }
}

/// Scores a chunk of rows together, in parallel, as the API does; with `explain`, each row is
/// explained too (TreeSHAP, row by row in parallel).
fn score_chunk(
    p: &Predictor,
    kind: Kind,
    map: &ColumnMap,
    rows: &[Vec<String>],
    explain: Option<&ExplainColumns>,
) -> Vec<Scored> {
    use rayon::prelude::*;
    fn cell<'r>(map: &ColumnMap, r: &'r [String], c: salescast_core::Column) -> Option<&'r str> {
        map.get(c).and_then(|j| r.get(j)).map(String::as_str)
    }
    match explain {
        None => p
            .score_many(rows, |r, c| cell(map, r, c), Some(kind))
            .into_iter()
            .map(|r| r.map(|v| (v, Vec::new())).map_err(|e| e.to_string()))
            .collect(),
        Some(cols) => rows
            .par_iter()
            .map(|r| {
                p.explain_fields(|c| cell(map, r, c), Some(kind))
                    .map(|e| (e.prediction, cols.cells(&e)))
                    .map_err(|e| e.to_string())
            })
            .collect(),
    }
}

/// Maps the input's header onto the contract (scoring mode: targets not required). A column
/// outside the contract is refused, naming it, unless `ignore_extra` (then it is passed
/// through to the output): a misspelled optional column would otherwise be imputed on every
/// row without a word.
fn resolve(headers: &[String], input: &Path, ignore_extra: bool) -> Result<ColumnMap> {
    let map = ColumnMap::resolve(headers, Mode::Scoring)
        .map_err(|m| PipelineError::BadInput(format!("{}: {m}", input.display())))?;
    if !ignore_extra && let Some((name, why)) = map.unknown() {
        return Err(PipelineError::BadField {
            field: name,
            reason: format!(
                "{}: column {why}; rename it, or pass --ignore-extra-columns to pass such columns through",
                input.display()
            ),
        });
    }
    Ok(map)
}

/// The output CSV, its header written: the input's columns, then the prediction and the error,
/// then any explanation columns.
fn output_writer<'w>(
    w: &'w mut dyn Write,
    headers: &[String],
    explain: Option<&ExplainColumns>,
) -> std::io::Result<csv::Writer<&'w mut dyn Write>> {
    let mut c = csv::Writer::from_writer(w);
    let extra = explain.map(ExplainColumns::header).unwrap_or_default();
    c.write_record(
        headers
            .iter()
            .map(String::as_str)
            .chain(["predicted_revenue", "error"])
            .chain(extra.iter().map(String::as_str)),
    )?;
    Ok(c)
}

fn is_parquet(path: &Path) -> Result<bool> {
    let mut head = [0u8; 4];
    let mut f = File::open(path)
        .map_err(|e| PipelineError::BadInput(format!("{}: {e}", path.display())))?;
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    Ok(n == 4 && &head == b"PAR1")
}

/// Scores `input` with the model `kind` (default: the champion) into `out`; with `explain`,
/// each row also gets its TreeSHAP explanation as extra columns ([`ExplainColumns`]). Columns
/// outside the data contract are refused unless `ignore_extra`.
pub fn predict(
    models_dir: &Path,
    input: &Path,
    out: &Path,
    kind: Option<Kind>,
    explain: bool,
    progress: bool,
    ignore_extra: bool,
) -> Result<PredictSummary> {
    let started = Instant::now();
    let predictor = Predictor::load(models_dir)?;
    let kind = kind.unwrap_or(predictor.champion);
    let model = predictor.model(Some(kind))?;
    // A model that cannot explain (saved before explanations) fails here, not on every row.
    if explain {
        model.expected_value()?;
    }
    let explain = explain.then(|| ExplainColumns::new(model.feature_names()));
    let explain = explain.as_ref();
    let blank = vec![String::new(); explain.map_or(0, ExplainColumns::len)];
    let version = predictor
        .manifest
        .models
        .get(kind.name())
        .map(|e| e.version.clone())
        .unwrap_or_default();
    let mut summary = PredictSummary {
        rows: 0,
        scored: 0,
        errors: 0,
        model: kind.name().into(),
        model_version: version,
        seconds: 0.0,
    };

    let write_rows = |w: &mut csv::Writer<&mut dyn Write>,
                      rows: &[Vec<String>],
                      results: Vec<Scored>,
                      s: &mut PredictSummary|
     -> std::io::Result<()> {
        for (cells, r) in rows.iter().zip(results) {
            let mut rec = cells.clone();
            match r {
                Ok((v, explained)) => {
                    rec.push(v.to_string());
                    rec.push(String::new());
                    rec.extend(explained);
                    s.scored += 1;
                }
                Err(e) => {
                    rec.push(String::new());
                    rec.push(e);
                    rec.extend(blank.iter().cloned());
                    s.errors += 1;
                }
            }
            s.rows += 1;
            w.write_record(&rec).map_err(std::io::Error::other)?;
        }
        Ok(())
    };

    let mut failure: Option<PipelineError> = None;
    if is_parquet(input)? {
        let table = salescast_preprocess::frame::read_raw(input)?;
        let headers = table.headers().to_vec();
        let map = resolve(&headers, input, ignore_extra)?;
        write_atomic(out, |w| {
            let mut c = output_writer(w, &headers, explain)?;
            let b = bar(progress, table.len() as u64, "scoring");
            for start in (0..table.len()).step_by(CHUNK) {
                let end = (start + CHUNK).min(table.len());
                let rows: Vec<Vec<String>> = (start..end)
                    .map(|i| {
                        (0..headers.len())
                            .map(|j| table.cell(i, j).unwrap_or("").to_owned())
                            .collect()
                    })
                    .collect();
                let results = score_chunk(&predictor, kind, &map, &rows, explain);
                write_rows(&mut c, &rows, results, &mut summary)?;
                b.set_position(end as u64);
            }
            b.finish_and_clear();
            c.flush()
        })?;
    } else {
        let file = File::open(input)
            .map_err(|e| PipelineError::BadInput(format!("{}: {e}", input.display())))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
        let headers: Vec<String> = match reader.byte_headers() {
            Ok(h) => h
                .iter()
                .map(|f| {
                    String::from_utf8_lossy(f)
                        .trim_start_matches('\u{feff}')
                        .to_owned()
                })
                .collect(),
            Err(e) => return Err(PipelineError::BadInput(format!("{}: {e}", input.display()))),
        };
        if headers.iter().all(|h| h.trim().is_empty()) {
            return Err(PipelineError::BadInput(format!(
                "{}: the file is empty",
                input.display()
            )));
        }
        let map = resolve(&headers, input, ignore_extra)?;
        write_atomic(out, |w| {
            let mut c = output_writer(w, &headers, explain)?;
            let b = bar(progress, size, "scoring (bytes)");
            let mut rec = csv::ByteRecord::new();
            loop {
                let mut rows: Vec<Vec<String>> = Vec::with_capacity(CHUNK);
                let mut utf8_bad: Vec<bool> = Vec::with_capacity(CHUNK);
                while rows.len() < CHUNK {
                    match reader.read_byte_record(&mut rec) {
                        Ok(true) => {
                            let mut bad = false;
                            rows.push(
                                rec.iter()
                                    .map(|f| match std::str::from_utf8(f) {
                                        Ok(s) => s.to_owned(),
                                        Err(_) => {
                                            bad = true;
                                            String::from_utf8_lossy(f).into_owned()
                                        }
                                    })
                                    .collect(),
                            );
                            utf8_bad.push(bad);
                        }
                        Ok(false) => break,
                        Err(e) => {
                            failure =
                                Some(PipelineError::BadInput(format!("{}: {e}", input.display())));
                            return Err(std::io::Error::other("unreadable CSV"));
                        }
                    }
                }
                if rows.is_empty() {
                    break;
                }
                let mut results = score_chunk(&predictor, kind, &map, &rows, explain);
                for (r, _) in results.iter_mut().zip(&utf8_bad).filter(|(_, bad)| **bad) {
                    *r = Err("the row is not valid UTF-8".to_owned());
                }
                write_rows(&mut c, &rows, results, &mut summary)?;
                b.set_position(reader.position().byte());
            }
            b.finish_and_clear();
            c.flush()
        })
        .map_err(|e| {
            failure.take().unwrap_or_else(|| PipelineError::Io {
                path: out.to_path_buf(),
                source: e.into(),
            })
        })?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
