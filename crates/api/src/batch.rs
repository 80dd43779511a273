//! `/predict_batch_csv`: a CSV upload read as it arrives, scored in chunks on the rayon pool,
//! and written back with two more columns.
//!
//! A chunk keeps its rows' fields back to back in one buffer, so that a 100,000-row upload
//! costs a few allocations per few thousand rows rather than several per row; reading stays on
//! the calling thread while the chunks already read are scored in parallel.

use std::io::Read;

use rayon::prelude::*;
use salescast_core::Mode;
use salescast_core::schema::ColumnMap;
use salescast_models::Kind;
use salescast_models::serving::{Predictor, ScoreError};

use crate::error::ApiError;

/// Rows read before a chunk is handed to the scoring threads.
const CHUNK: usize = 4096;

/// The rows of one chunk: every field's bytes back to back, with where each field ends and
/// where each row's fields begin.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    bytes: Vec<u8>,
    /// `bytes` as text, once [`Cells::finish`] found them all UTF-8 (the usual case): fields
    /// are then sliced without checking each one again.
    text: String,
    /// End offset in `bytes` of each field, all rows together.
    ends: Vec<usize>,
    /// Index in `ends` of each row's first field, plus one past the last row.
    starts: Vec<usize>,
}

impl Cells {
    fn with_capacity(rows: usize) -> Self {
        let mut starts = Vec::with_capacity(rows + 1);
        starts.push(0);
        Self {
            bytes: Vec::with_capacity(rows * 80),
            text: String::new(),
            ends: Vec::with_capacity(rows * 12),
            starts,
        }
    }

    fn push(&mut self, rec: &csv::ByteRecord) {
        let mut end = self.bytes.len();
        self.bytes.extend_from_slice(rec.as_slice());
        for field in rec {
            end += field.len();
            self.ends.push(end);
        }
        self.starts.push(self.ends.len());
    }

    fn push_empty(&mut self) {
        self.starts.push(self.ends.len());
    }

    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the text once for the whole chunk; returns whether each row is UTF-8.
    fn finish(&mut self) -> Vec<bool> {
        let bytes = std::mem::take(&mut self.bytes);
        match String::from_utf8(bytes) {
            Ok(text) => {
                self.text = text;
                // Valid as a whole, a row is still not text if a field boundary splits a
                // character between two fields.
                (0..self.len())
                    .map(|row| {
                        self.ends[self.starts[row]..self.starts[row + 1]]
                            .iter()
                            .all(|&e| self.text.is_char_boundary(e))
                    })
                    .collect()
            }
            Err(e) => {
                self.bytes = e.into_bytes();
                (0..self.len())
                    .map(|row| {
                        (0..self.width(row)).all(|i| {
                            self.field(row, i)
                                .is_some_and(|f| std::str::from_utf8(f).is_ok())
                        })
                    })
                    .collect()
            }
        }
    }

    fn buffer(&self) -> &[u8] {
        if self.bytes.is_empty() {
            self.text.as_bytes()
        } else {
            &self.bytes
        }
    }

    fn span(&self, row: usize, i: usize) -> Option<(usize, usize)> {
        if i >= self.width(row) {
            return None;
        }
        let k = self.starts[row] + i;
        Some((if k == 0 { 0 } else { self.ends[k - 1] }, self.ends[k]))
    }

    /// The number of fields of `row`.
    pub fn width(&self, row: usize) -> usize {
        self.starts[row + 1] - self.starts[row]
    }

    /// The bytes of field `i` of `row`, if the row has it.
    pub fn field(&self, row: usize, i: usize) -> Option<&[u8]> {
        let (start, end) = self.span(row, i)?;
        self.buffer().get(start..end)
    }

    /// Field `i` of `row` as text (`None` when absent or not UTF-8).
    pub fn text(&self, row: usize, i: usize) -> Option<&str> {
        let (start, end) = self.span(row, i)?;
        if self.bytes.is_empty() {
            self.text.get(start..end)
        } else {
            std::str::from_utf8(self.bytes.get(start..end)?).ok()
        }
    }

    /// Whether any field of the chunk would need quoting in CSV output.
    fn needs_quoting(&self) -> bool {
        needs_quoting(self.buffer())
    }
}

/// A chunk of scored rows.
#[derive(Debug, Clone)]
pub struct ScoredChunk {
    pub cells: Cells,
    /// Whether each row's cells are all UTF-8 (the others are written back lossily).
    utf8: Vec<bool>,
    pub results: Vec<Result<f64, String>>,
}

/// A scored CSV upload.
#[derive(Debug, Clone)]
pub struct ScoredCsv {
    pub headers: Vec<String>,
    pub chunks: Vec<ScoredChunk>,
}

impl ScoredCsv {
    /// Every row's prediction or the reason it has none, in upload order.
    pub fn results(&self) -> impl Iterator<Item = &Result<f64, String>> {
        self.chunks.iter().flat_map(|c| &c.results)
    }

    pub fn rows(&self) -> usize {
        self.chunks.iter().map(|c| c.results.len()).sum()
    }

    /// The upload's rows plus `predicted_revenue` and `error`, as CSV: chunks are written in
    /// parallel and joined.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let head: Vec<&[u8]> = self
            .headers
            .iter()
            .map(|h| h.as_bytes())
            .chain([b"predicted_revenue".as_slice(), b"error".as_slice()])
            .collect();
        write_record(&mut out, head);
        let width = self.headers.len();
        let parts: Vec<Vec<u8>> = self.chunks.par_iter().map(|c| c.to_csv(width)).collect();
        out.reserve(parts.iter().map(Vec::len).sum());
        parts.iter().for_each(|p| out.extend_from_slice(p));
        out
    }
}

impl ScoredChunk {
    fn to_csv(&self, width: usize) -> Vec<u8> {
        use std::io::Write as _;
        // The fields, a separator after each, and the two added columns.
        let mut out = Vec::with_capacity(
            self.cells.buffer().len() + self.cells.ends.len() + self.results.len() * 40,
        );
        // Most uploads have no field that needs quoting: then cells are copied as they are.
        let plain = !self.cells.needs_quoting();
        let mut number = Vec::with_capacity(32);
        for (row, result) in self.results.iter().enumerate() {
            for i in 0..width {
                if i > 0 {
                    out.push(b',');
                }
                let field = self.cells.field(row, i).unwrap_or_default();
                if !self.utf8[row] {
                    write_field(&mut out, String::from_utf8_lossy(field).as_bytes());
                } else if plain {
                    out.extend_from_slice(field);
                } else {
                    write_field(&mut out, field);
                }
            }
            out.push(b',');
            match result {
                Ok(v) => {
                    number.clear();
                    // `Display` is the shortest text that reads back to the same number, as
                    // `salescast predict` writes it.
                    let _ = write!(number, "{v}");
                    out.extend_from_slice(&number);
                    out.push(b',');
                }
                Err(e) => {
                    out.push(b',');
                    write_field(&mut out, e.as_bytes());
                }
            }
            out.push(b'\n');
        }
        out
    }
}

/// Whether `bytes` hold a character that makes a CSV field need quotes.
fn needs_quoting(bytes: &[u8]) -> bool {
    memchr::memchr3(b',', b'"', b'\n', bytes).is_some() || memchr::memchr(b'\r', bytes).is_some()
}

/// One CSV field, quoted (with inner quotes doubled) only when it must be, as the `csv`
/// crate's default writer does.
fn write_field(out: &mut Vec<u8>, field: &[u8]) {
    if !needs_quoting(field) {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn write_record<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a [u8]>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_field(out, f);
    }
    out.push(b'\n');
}

/// Reads a CSV in the data contract from `input` as it arrives and scores each row. A bad row
/// gets its reason; a missing column, a non-UTF-8 header, an empty upload or too many rows fail
/// the whole request.
pub fn score_csv(
    input: impl Read,
    p: &Predictor,
    kind: Kind,
    max_rows: usize,
) -> Result<ScoredCsv, ApiError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(input);
    let mut rec = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => {
            return Err(ApiError::unprocessable(
                "empty_csv",
                "the uploaded file is empty: expected a header row and data rows",
            )
            .field("file"));
        }
        Err(e) => {
            return Err(ApiError::unprocessable("bad_csv", format!("header: {e}")).field("file"));
        }
    }
    let mut headers = Vec::with_capacity(rec.len());
    for (i, cell) in rec.iter().enumerate() {
        let cell = if i == 0 {
            cell.strip_prefix(b"\xef\xbb\xbf").unwrap_or(cell)
        } else {
            cell
        };
        let text = std::str::from_utf8(cell).map_err(|_| {
            ApiError::unprocessable(
                "not_utf8",
                "the header row is not UTF-8 text: expected a UTF-8 CSV",
            )
            .field("file")
        })?;
        headers.push(text.trim().to_owned());
    }
    let map = ColumnMap::resolve(&headers, Mode::Scoring).map_err(|m| {
        ApiError::unprocessable("missing_column", m.to_string()).field(
            m.0.first()
                .map(|c| c.name().to_owned())
                .unwrap_or_else(|| "file".into()),
        )
    })?;
    let width = headers.len();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, ScoredChunk)>();
    let mut read = 0usize;
    let mut too_many = false;
    rayon::in_place_scope(|scope| {
        for index in 0.. {
            let mut cells = Cells::with_capacity(CHUNK);
            // A reason found while reading (a broken record), else the width is checked below.
            let mut broken: Vec<Option<String>> = Vec::with_capacity(CHUNK);
            while cells.len() < CHUNK {
                let line = read + 2;
                let got = rdr.read_byte_record(&mut rec);
                if matches!(got, Ok(false)) {
                    break;
                }
                if read == max_rows {
                    too_many = true;
                    break;
                }
                read += 1;
                match got {
                    Ok(_) => {
                        cells.push(&rec);
                        broken.push(None);
                    }
                    Err(e) => {
                        cells.push_empty();
                        broken.push(Some(format!("line {line}: {e}")));
                    }
                }
            }
            let utf8 = cells.finish();
            let unreadable: Vec<Option<String>> = broken
                .into_iter()
                .zip(&utf8)
                .enumerate()
                .map(|(row, (broken, &text))| {
                    if broken.is_some() {
                        broken
                    } else if !text {
                        Some("the row is not UTF-8 text".to_owned())
                    } else if cells.width(row) != width {
                        Some(format!(
                            "the row has {} fields, the header {width}",
                            cells.width(row)
                        ))
                    } else {
                        None
                    }
                })
                .collect();
            if cells.is_empty() || too_many {
                break;
            }
            let done = done_tx.clone();
            let map = &map;
            scope.spawn(move |_| {
                let results = score_chunk(&cells, unreadable, map, p, kind);
                let _ = done.send((
                    index,
                    ScoredChunk {
                        cells,
                        utf8,
                        results,
                    },
                ));
            });
        }
    });
    drop(done_tx);
    if too_many {
        return Err(ApiError::too_large(format!(
            "more than {max_rows} rows in one upload (SALESCAST_MAX_BATCH_ROWS)"
        ))
        .field("file"));
    }
    let mut chunks: Vec<(usize, ScoredChunk)> = done_rx.into_iter().collect();
    chunks.sort_unstable_by_key(|(i, _)| *i);
    let scored = ScoredCsv {
        headers,
        chunks: chunks.into_iter().map(|(_, c)| c).collect(),
    };
    if scored.rows() == 0 {
        return Err(ApiError::unprocessable(
            "empty_csv",
            "the uploaded file has a header but no rows",
        )
        .field("file"));
    }
    Ok(scored)
}

/// Scores the readable rows of a chunk together; the others keep their reason.
fn score_chunk(
    cells: &Cells,
    unreadable: Vec<Option<String>>,
    map: &ColumnMap,
    p: &Predictor,
    kind: Kind,
) -> Vec<Result<f64, String>> {
    let readable: Vec<usize> = unreadable
        .iter()
        .enumerate()
        .filter(|(_, u)| u.is_none())
        .map(|(row, _)| row)
        .collect();
    let mut scored = p
        .score_many(
            &readable,
            |&row, c| map.get(c).and_then(|i| cells.text(row, i)),
            Some(kind),
        )
        .into_iter();
    unreadable
        .into_iter()
        .map(|u| match u {
            Some(reason) => Err(reason),
            None => scored
                .next()
                .unwrap_or_else(|| Err(ScoreError::Model("a prediction is missing".into())))
                .map_err(|e| e.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_each_rows_fields() {
        let mut cells = Cells::with_capacity(2);
        cells.push(&csv::ByteRecord::from(vec!["a", "", "ccc"]));
        cells.push_empty();
        cells.push(&csv::ByteRecord::from(vec!["", "dd"]));
        assert_eq!(cells.finish(), vec![true, true, true]);
        assert_eq!(cells.len(), 3);
        assert_eq!(cells.width(0), 3);
        assert_eq!(cells.text(0, 0), Some("a"));
        assert_eq!(cells.text(0, 1), Some(""));
        assert_eq!(cells.text(0, 2), Some("ccc"));
        assert_eq!(cells.text(0, 3), None);
        assert_eq!(cells.width(1), 0);
        assert_eq!(cells.text(1, 0), None);
        assert_eq!(cells.text(2, 0), Some(""));
        assert_eq!(cells.text(2, 1), Some("dd"));
    }

    #[test]
    fn rows_that_are_not_text_are_found() {
        let mut cells = Cells::with_capacity(3);
        cells.push(&csv::ByteRecord::from(vec!["é", "x"]));
        // valid as a whole, but the field boundary splits the two bytes of "é"
        cells.push(&csv::ByteRecord::from(vec![&b"\xc3"[..], &b"\xa9"[..]]));
        cells.push(&csv::ByteRecord::from(vec!["ok", "fine"]));
        assert_eq!(cells.finish(), vec![true, false, true]);
        assert_eq!(cells.text(0, 0), Some("é"));
        assert_eq!(cells.text(1, 0), None);
        assert_eq!(cells.text(2, 1), Some("fine"));
        let mut bad = Cells::with_capacity(2);
        bad.push(&csv::ByteRecord::from(vec![&b"\xff"[..], &b"x"[..]]));
        bad.push(&csv::ByteRecord::from(vec!["a", "b"]));
        assert_eq!(bad.finish(), vec![false, true]);
        assert_eq!(bad.text(1, 1), Some("b"));
        assert_eq!(bad.field(0, 0), Some(&b"\xff"[..]));
    }

    #[test]
    fn fields_are_quoted_as_the_csv_crate_does() {
        let fields: [&[u8]; 6] = [b"plain", b"a,b", b"say \"hi\"", b"two\nlines", b"cr\r", b""];
        let mut ours = Vec::new();
        write_record(&mut ours, fields);
        let mut theirs = csv::Writer::from_writer(Vec::new());
        theirs.write_record(fields).expect("write");
        assert_eq!(ours, theirs.into_inner().expect("flush"));
    }
}
