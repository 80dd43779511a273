//! `/predict_batch_csv`: a CSV upload read as it arrives, scored in chunks on the rayon pool,
//! and written back with two more columns.
//!
//! A chunk keeps its rows' fields in one buffer, each followed by a comma, so that a
//! 100,000-row upload costs a few allocations per few thousand rows rather than several per
//! row, and a row is written back with one copy; reading stays on the calling thread while the
//! chunks already read are scored in parallel.
//!
//! Lines are split by hand while the upload has no quote and no lone carriage return, which is
//! the usual file: in perf profiles of a 100,000-row upload that takes a third to a half of the
//! CPU the general CSV parser takes. The parser takes over from the first line that has one of
//! them (see [`Rows`]).

use std::io::Read;

use rayon::prelude::*;
use salescast_core::schema::ColumnMap;
use salescast_models::Kind;
use salescast_models::serving::{Predictor, ScoreError};

use crate::error::{ApiError, ErrorCode};
use crate::input::{MAX_COLUMNS, MAX_FIELD_CHARS};

/// The number of columns in the data contract.
const COLUMNS: usize = salescast_core::Column::ALL.len();

/// Rows read before a chunk is handed to the scoring threads.
const CHUNK: usize = 4096;

/// The rows of one chunk: every field's bytes followed by a comma, with where each field ends
/// and where each row's fields begin.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    bytes: Vec<u8>,
    /// `bytes` as text, once [`Cells::finish`] found them all UTF-8 (the usual case): fields
    /// are then sliced without checking each one again.
    text: String,
    /// End offset in `bytes` of each field (where its comma is), all rows together; the next
    /// field starts one byte later.
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
        for field in rec {
            self.bytes.extend_from_slice(field);
            self.ends.push(self.bytes.len());
            self.bytes.push(b',');
        }
        self.starts.push(self.ends.len());
    }

    /// A line with no quote and no line break: its fields are what lies between commas.
    fn push_line(&mut self, line: &[u8]) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(line);
        self.bytes.push(b',');
        // Commas are a few bytes apart, too close for `memchr` to pay: a mask of the commas
        // of each 16 bytes (which the compiler makes one vector compare) is walked instead.
        let mut blocks = line.chunks_exact(16);
        let mut at = base;
        for block in &mut blocks {
            let mut commas = block
                .iter()
                .enumerate()
                .fold(0u16, |m, (i, &b)| m | (u16::from(b == b',') << i));
            while commas != 0 {
                self.ends.push(at + commas.trailing_zeros() as usize);
                commas &= commas - 1;
            }
            at += 16;
        }
        for (i, &b) in blocks.remainder().iter().enumerate() {
            if b == b',' {
                self.ends.push(at + i);
            }
        }
        self.ends.push(base + line.len());
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
            // The fields are separated by commas, which a character never contains: when the
            // whole is text, so is every field.
            Ok(text) => {
                self.text = text;
                vec![true; self.len()]
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
        Some((if k == 0 { 0 } else { self.ends[k - 1] + 1 }, self.ends[k]))
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

    /// The fields of the contract's columns (by [`salescast_core::Column`] number) of each of
    /// `rows`, found once per row, straight from the field ends.
    fn contract_fields(&self, rows: &[usize], map: &ColumnMap) -> Vec<[Option<&str>; COLUMNS]> {
        let columns: Vec<(usize, usize)> = salescast_core::Column::ALL
            .iter()
            .filter_map(|&c| Some((c as usize, map.get(c)?)))
            .collect();
        rows.iter()
            .map(|&row| {
                let mut fields = [None; COLUMNS];
                let (first, end) = (self.starts[row], self.starts[row + 1]);
                let ends = &self.ends[first..end];
                let before = first.checked_sub(1).map(|k| self.ends[k]);
                for &(c, i) in &columns {
                    let Some(&stop) = ends.get(i) else { continue };
                    let start = match i {
                        0 => before.map_or(0, |e| e + 1),
                        _ => ends[i - 1] + 1,
                    };
                    fields[c] = if self.bytes.is_empty() {
                        self.text.get(start..stop)
                    } else {
                        self.text(row, i)
                    };
                }
                fields
            })
            .collect()
    }

    /// Whether any field of the chunk would need quoting in CSV output: one holds a quote, a
    /// line break, or a comma (there are more commas than fields).
    fn needs_quoting(&self) -> bool {
        let buffer = self.buffer();
        memchr::memchr3(b'"', b'\n', b'\r', buffer).is_some()
            || memchr::memchr_iter(b',', buffer).count() != self.ends.len()
    }

    /// The bytes of `row`'s fields, each followed by its comma.
    fn row_bytes(&self, row: usize) -> &[u8] {
        self.row_span(row)
            .and_then(|(start, end)| self.buffer().get(start..=end))
            .unwrap_or_default()
    }

    /// Where `row`'s fields start and where its last field ends (its comma), if it has fields.
    fn row_span(&self, row: usize) -> Option<(usize, usize)> {
        let (first, end) = (self.starts[row], self.starts[row + 1]);
        let last = end.checked_sub(1).filter(|&last| last >= first)?;
        let start = first.checked_sub(1).map_or(0, |k| self.ends[k] + 1);
        Some((start, self.ends[last]))
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

    /// The upload's rows plus `predicted_revenue` and `error`, as CSV: the header, then each
    /// chunk's rows, written in parallel. A response sends the parts one after another, with
    /// no copy into one buffer.
    pub fn to_csv_parts(&self) -> Vec<Vec<u8>> {
        let mut head = Vec::new();
        write_record(
            &mut head,
            self.headers
                .iter()
                .map(|h| h.as_bytes())
                .chain([b"predicted_revenue".as_slice(), b"error".as_slice()]),
        );
        let width = self.headers.len();
        let mut parts = vec![head];
        parts.par_extend(self.chunks.par_iter().map(|c| c.to_csv(width)));
        parts
    }
}

impl ScoredChunk {
    fn to_csv(&self, width: usize) -> Vec<u8> {
        // The fields, a separator after each, and the two added columns.
        let mut out = Vec::with_capacity(
            self.cells.buffer().len() + self.cells.ends.len() + self.results.len() * 40,
        );
        // Most uploads have no field that needs quoting: then cells are copied as they are.
        let plain = !self.cells.needs_quoting();
        let mut number = ryu::Buffer::new();
        for (row, result) in self.results.iter().enumerate() {
            if plain && self.utf8[row] && self.cells.width(row) == width {
                // The usual row: its fields and their commas are copied as they are.
                out.extend_from_slice(self.cells.row_bytes(row));
            } else {
                for i in 0..width {
                    let field = self.cells.field(row, i).unwrap_or_default();
                    if !self.utf8[row] {
                        write_field(&mut out, String::from_utf8_lossy(field).as_bytes());
                    } else {
                        write_field(&mut out, field);
                    }
                    out.push(b',');
                }
            }
            match result {
                Ok(v) => {
                    push_number(&mut out, &mut number, *v);
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

/// Appends `v` as `Display` writes it (as `salescast predict` writes it): the shortest text
/// that reads back to the same number, in positional notation. It goes through `ryu`, which is
/// about twice as fast on a 100,000-row upload. The forms in which the two differ (`ryu`
/// writes `1.0` and exponents, `Display` writes `1` and every digit) go through `Display`; the
/// one difference left is where two shortest texts are equally close to the number, which
/// needs a number whose binary digits end early and a text of many digits: the two round the
/// last digit differently, and both read back to the same number.
fn push_number(out: &mut Vec<u8>, buffer: &mut ryu::Buffer, v: f64) {
    use std::io::Write as _;
    if v.is_finite() {
        let text = buffer.format_finite(v);
        if !text.ends_with(".0") && !text.contains('e') {
            out.extend_from_slice(text.as_bytes());
            return;
        }
    }
    let _ = write!(out, "{v}");
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

/// Bytes read from the upload at a time.
const READ: usize = 1 << 18;

/// The records of a CSV upload, read as it arrives, each pushed into a chunk's [`Cells`].
///
/// Lines are split at commas by hand while they hold no quote and no carriage return other
/// than before their line feed: that is exactly how the `csv` crate reads such lines (a blank
/// line is no record; a last line may lack its line break), in a third to a half of the CPU.
/// From the first line with a quote or a lone carriage return on, the `csv` crate reads the
/// rest.
struct Rows<R: Read> {
    source: Source<R>,
    read: Buffer,
    rec: csv::ByteRecord,
}

/// Bytes read and not yet split: `buf[pos..end]`; the rest of `buf` is room for more.
struct Buffer {
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
}

impl Buffer {
    /// Reads more of `input`, keeping the unread part (the room doubles for a line longer than
    /// it).
    fn fill(&mut self, input: &mut impl Read) -> Result<(), String> {
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        if self.end == self.buf.len() {
            self.buf.resize(2 * self.buf.len(), 0);
        }
        let got = loop {
            match input.read(&mut self.buf[self.end..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match got {
            Ok(n) => {
                self.end += n;
                self.eof = n == 0;
                Ok(())
            }
            Err(e) => {
                self.eof = true;
                Err(format!("reading the upload: {e}"))
            }
        }
    }
}

/// A CSV reader's error in our words: the record's shape or encoding, never the crate's text.
fn csv_error_text(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::Io(_) => "the upload could not be read to the end".to_owned(),
        _ => "not a readable CSV record".to_owned(),
    }
}

/// Who reads the upload: lines split by hand, or the `csv` crate from the first line that
/// needs it on (the bytes already read, then the rest).
enum Source<R: Read> {
    Lines(R),
    Csv(Box<csv::Reader<std::io::Chain<std::io::Cursor<Vec<u8>>, R>>>),
    /// Only while handing over.
    Gone,
}

impl<R: Read> Rows<R> {
    fn new(input: R) -> Self {
        Self::with_room(input, READ)
    }

    fn with_room(input: R, room: usize) -> Self {
        Self {
            source: Source::Lines(input),
            read: Buffer {
                buf: vec![0; room.max(1)],
                pos: 0,
                end: 0,
                eof: false,
            },
            rec: csv::ByteRecord::new(),
        }
    }

    /// Pushes the next record into `cells`: `Ok(false)` at the end, `Err` (with an empty row
    /// pushed) for a record that could not be read.
    fn next(&mut self, cells: &mut Cells) -> Result<bool, String> {
        loop {
            let input = match &mut self.source {
                Source::Lines(input) => input,
                Source::Csv(general) => {
                    return match general.read_byte_record(&mut self.rec) {
                        Ok(false) => Ok(false),
                        Ok(true) => {
                            cells.push(&self.rec);
                            Ok(true)
                        }
                        Err(e) => {
                            cells.push_empty();
                            Err(csv_error_text(&e))
                        }
                    };
                }
                Source::Gone => return Ok(false),
            };
            let read = &mut self.read;
            let rest = &read.buf[read.pos..read.end];
            let (line, used) = match memchr::memchr(b'\n', rest) {
                Some(at) => (&rest[..at], at + 1),
                None if !read.eof => {
                    read.fill(input).inspect_err(|_| cells.push_empty())?;
                    continue;
                }
                None if rest.is_empty() => return Ok(false),
                None => (rest, rest.len()),
            };
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if memchr::memchr2(b'"', b'\r', line).is_some() {
                self.hand_over();
                continue;
            }
            read.pos += used;
            if !line.is_empty() {
                cells.push_line(line);
                return Ok(true);
            }
        }
    }

    /// Lets the `csv` crate read everything from the current line on.
    fn hand_over(&mut self) {
        let read = &mut self.read;
        let rest = read.buf[read.pos..read.end].to_vec();
        (read.pos, read.end) = (0, 0);
        if let Source::Lines(input) = std::mem::replace(&mut self.source, Source::Gone) {
            self.source = Source::Csv(Box::new(
                csv::ReaderBuilder::new()
                    .flexible(true)
                    .has_headers(false)
                    .from_reader(std::io::Cursor::new(rest).chain(input)),
            ));
        }
    }
}

/// Reads a CSV in the data contract from `input` as it arrives and scores each row. A bad row
/// gets its reason; a missing column, a non-UTF-8 header, an empty upload or too many rows fail
/// the whole request. A column outside the contract fails it too (422 `unknown_column` naming
/// it) unless `ignore_extra`, which passes such columns through.
pub fn score_csv(
    input: impl Read,
    p: &Predictor,
    kind: Kind,
    max_rows: usize,
    ignore_extra: bool,
) -> Result<ScoredCsv, ApiError> {
    let mut rows = Rows::new(input);
    let mut head = Cells::with_capacity(1);
    match rows.next(&mut head) {
        Ok(true) => {}
        Ok(false) => {
            return Err(ApiError::unprocessable(
                ErrorCode::EmptyCsv,
                "the uploaded file is empty: expected a header row and data rows",
            )
            .field("file"));
        }
        Err(e) => {
            return Err(
                ApiError::unprocessable(ErrorCode::BadCsv, format!("header: {e}")).field("file"),
            );
        }
    }
    if head.width(0) > MAX_COLUMNS {
        return Err(ApiError::unprocessable(
            ErrorCode::TooManyColumns,
            format!(
                "the header has {} columns, more than the limit of {MAX_COLUMNS}",
                head.width(0)
            ),
        )
        .field("file"));
    }
    let mut headers = Vec::with_capacity(head.width(0));
    for i in 0..head.width(0) {
        let cell = head.field(0, i).unwrap_or_default();
        let cell = if i == 0 {
            cell.strip_prefix(b"\xef\xbb\xbf").unwrap_or(cell)
        } else {
            cell
        };
        let text = std::str::from_utf8(cell).map_err(|_| {
            ApiError::unprocessable(
                ErrorCode::NotUtf8,
                "the header row is not UTF-8 text: expected a UTF-8 CSV",
            )
            .field("file")
        })?;
        if text.chars().count() > MAX_FIELD_CHARS {
            return Err(ApiError::unprocessable(
                ErrorCode::FieldTooLong,
                format!(
                    "header column {} is longer than {MAX_FIELD_CHARS} characters",
                    i + 1
                ),
            )
            .field("file"));
        }
        headers.push(text.trim().to_owned());
    }
    let map = crate::input::column_map(&headers, ignore_extra, "file")?;
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
                let got = rows.next(&mut cells);
                if matches!(got, Ok(false)) {
                    break;
                }
                read += 1;
                if read > max_rows {
                    too_many = true;
                    break;
                }
                broken.push(got.err().map(|e| format!("line {line}: {e}")));
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
                        // Bytes bound characters from above: only a long cell is counted.
                        (0..width)
                            .find(|&i| {
                                cells.field(row, i).is_some_and(|f| {
                                    f.len() > MAX_FIELD_CHARS
                                        && String::from_utf8_lossy(f).chars().count()
                                            > MAX_FIELD_CHARS
                                })
                            })
                            .map(|i| {
                                format!(
                                    "{} is longer than {MAX_FIELD_CHARS} characters",
                                    headers[i]
                                )
                            })
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
            ErrorCode::EmptyCsv,
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
    let fields = cells.contract_fields(&readable, map);
    let mut scored = p
        .score_many(&fields, |row, c| row[c as usize], Some(kind))
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
    use salescast_core::Mode;

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
    fn contract_fields_are_found_by_header_position() {
        use salescast_core::Column;
        let headers = ["extra", "store_id", "date", "product_id", "unit_price"];
        let map = ColumnMap::resolve(&headers, Mode::Scoring).expect("columns");
        let mut cells = Cells::with_capacity(3);
        cells.push_line(b"x,S01,2025-01-02,P0001,9.5");
        cells.push(&csv::ByteRecord::from(vec![
            "a,b",
            "S02",
            "2025-01-03",
            "P,2",
            "",
        ]));
        cells.push_line(b"y,S03,2025-01-04,P0003,1.25");
        assert_eq!(cells.finish(), vec![true; 3]);
        let fields = cells.contract_fields(&[0, 1, 2], &map);
        let get = |row: usize, c: Column| fields[row][c as usize];
        assert_eq!(get(0, Column::StoreId), Some("S01"));
        assert_eq!(get(0, Column::Date), Some("2025-01-02"));
        assert_eq!(get(0, Column::UnitPrice), Some("9.5"));
        assert_eq!(get(1, Column::ProductId), Some("P,2"));
        assert_eq!(get(1, Column::UnitPrice), Some(""));
        assert_eq!(get(2, Column::StoreId), Some("S03"));
        assert_eq!(get(2, Column::UnitPrice), Some("1.25"));
        assert_eq!(get(2, Column::Category), None);
        assert_eq!(get(2, Column::TransactionId), None);
        // the second row's comma inside a field makes the chunk's output quoted
        assert!(cells.needs_quoting());
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

    /// Hands out its bytes a few at a time, as an upload arrives.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn ours(input: &[u8], piece: usize, room: usize) -> Vec<Vec<Vec<u8>>> {
        let mut rows = Rows::with_room(Trickle(input, piece), room);
        let mut cells = Cells::with_capacity(4);
        while rows.next(&mut cells).expect("readable") {}
        (0..cells.len())
            .map(|row| {
                (0..cells.width(row))
                    .map(|i| cells.field(row, i).expect("field").to_vec())
                    .collect()
            })
            .collect()
    }

    fn theirs(input: &[u8]) -> Vec<Vec<Vec<u8>>> {
        csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(input)
            .byte_records()
            .map(|r| r.expect("readable").iter().map(<[u8]>::to_vec).collect())
            .collect()
    }

    #[test]
    fn lines_are_read_as_the_csv_crate_reads_them() {
        for input in [
            &b"a,b\nc,d\n"[..],
            b"a,b\r\nc,,\r\n\r\n\nlast",
            b"\n\n,\n",
            b"x,y\nq,\"a,b\",z\n\"\"\ntail,1\n",
            b"a\rb,c\nd\n",
            b"",
            b"only",
        ] {
            for (piece, room) in [(1, 1), (3, 2), (1000, 4), (1000, READ)] {
                assert_eq!(
                    ours(input, piece, room),
                    theirs(input),
                    "{input:?} {piece} {room}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_upload_is_read_as_the_csv_crate_reads_it(
            input in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b'1', b',', b',', b'\n', b'\n', b'\r', b' ', b'"', 0xc3, 0xa9]),
                0..300,
            ),
            piece in 1usize..40,
            room in 1usize..64,
        ) {
            proptest::prop_assert_eq!(ours(&input, piece, room), theirs(&input));
        }
    }

    fn number(v: f64) -> String {
        let mut out = Vec::new();
        push_number(&mut out, &mut ryu::Buffer::new(), v);
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -2.0,
            93.25,
            0.1,
            1e-7,
            1.5e-5,
            123456.789,
            1e15,
            1e16,
            1e21,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
        ] {
            assert_eq!(number(v), v.to_string(), "{v:e}");
        }
        // Exactly halfway between two shortest texts: `ryu` rounds to even, `Display` up.
        // 275180523015376.625, exactly.
        let tie = f64::from_bits(4_823_153_778_395_552_276);
        assert_eq!(number(tie), "275180523015376.62");
        assert_eq!(tie.to_string(), "275180523015376.63");
        assert_eq!("275180523015376.62".parse::<f64>(), Ok(tie));
    }

    proptest::proptest! {
        #[test]
        fn any_number_reads_back_the_same_without_an_exponent(
            bits in proptest::num::u64::ANY,
        ) {
            let v = f64::from_bits(bits);
            let ours = number(v);
            proptest::prop_assert!(!ours.contains('e'), "{ours}");
            if !v.is_nan() {
                proptest::prop_assert_eq!(ours.parse::<f64>().map(f64::to_bits), Ok(bits));
            }
        }

        #[test]
        fn predictions_are_written_as_display_writes_them(v in -1e5f64..1e6) {
            proptest::prop_assert_eq!(number(v), v.to_string());
        }
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
