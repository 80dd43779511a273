//! The data contract (`DATA_CONTRACT.md`) as code: column names, which are required, and the
//! parsing rule of every field.
//!
//! The CSV reader, the API's JSON and CSV bodies and the monitor all call [`parse_row`], so a
//! value that is rejected in one place is rejected everywhere, with the same reason.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A column of the raw transaction format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    TransactionId,
    Date,
    StoreId,
    ProductId,
    Category,
    UnitPrice,
    Quantity,
    Discount,
    Promotion,
    CustomerSegment,
    PaymentMethod,
    Revenue,
}

impl Column {
    /// Every column, in the contract's order.
    pub const ALL: [Column; 12] = [
        Column::TransactionId,
        Column::Date,
        Column::StoreId,
        Column::ProductId,
        Column::Category,
        Column::UnitPrice,
        Column::Quantity,
        Column::Discount,
        Column::Promotion,
        Column::CustomerSegment,
        Column::PaymentMethod,
        Column::Revenue,
    ];

    /// The header name.
    pub const fn name(self) -> &'static str {
        match self {
            Column::TransactionId => "transaction_id",
            Column::Date => "date",
            Column::StoreId => "store_id",
            Column::ProductId => "product_id",
            Column::Category => "category",
            Column::UnitPrice => "unit_price",
            Column::Quantity => "quantity",
            Column::Discount => "discount",
            Column::Promotion => "promotion",
            Column::CustomerSegment => "customer_segment",
            Column::PaymentMethod => "payment_method",
            Column::Revenue => "revenue",
        }
    }

    /// Looks a header name up (exact, after trimming spaces and a UTF-8 BOM).
    pub fn from_header(name: &str) -> Option<Column> {
        let name = name.trim_start_matches('\u{feff}').trim();
        Column::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The contract column a field name outside the contract was most likely meant to be:
    /// the same letters without case, `_`, `-` or spaces, or at most two edits away.
    pub fn closest(name: &str) -> Option<Column> {
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| !matches!(c, '_' | '-' | ' '))
                .flat_map(char::to_lowercase)
                .collect()
        };
        let wanted = squash(name);
        Column::ALL
            .iter()
            .copied()
            .map(|c| (c, strsim::levenshtein(&wanted, &squash(c.name()))))
            .filter(|&(_, d)| d <= 2)
            .min_by_key(|&(_, d)| d)
            .map(|(c, _)| c)
    }

    /// Why a field name outside the contract is refused, with the column it was most likely
    /// meant to be.
    pub fn unknown_message(name: &str) -> String {
        match Column::closest(name) {
            Some(c) => {
                format!("`{name}` is not a field of the data contract (did you mean `{c}`?)")
            }
            None => format!(
                "`{name}` is not a field of the data contract (its fields: {})",
                Column::ALL.map(Column::name).join(", ")
            ),
        }
    }

    /// Whether a file must have this column.
    pub fn required(self, mode: Mode) -> bool {
        match self {
            Column::Date | Column::StoreId | Column::ProductId => true,
            Column::Quantity | Column::Revenue => mode == Mode::Training,
            _ => false,
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether rows are training data (targets required) or rows to score (targets ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Training,
    Scoring,
}

/// Where each contract column sits in a file's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    index: [Option<usize>; 12],
    /// Header names that are not part of the contract (ignored, reported once).
    pub extra: Vec<String>,
}

/// A required column is absent from a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingColumns(pub Vec<Column>, pub Option<Separator>);

/// A separator other than the comma that a one-column header seems to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    Semicolon,
    Tab,
}

impl Separator {
    /// The separator a header read as a single column most likely uses: one that splits it into
    /// several names, at least one of them a contract column.
    pub fn detect<S: AsRef<str>>(headers: &[S]) -> Option<Separator> {
        let [only] = headers else { return None };
        [(';', Separator::Semicolon), ('\t', Separator::Tab)]
            .into_iter()
            .find(|(c, _)| {
                only.as_ref()
                    .split(*c)
                    .filter_map(Column::from_header)
                    .count()
                    > 0
                    && only.as_ref().contains(*c)
            })
            .map(|(_, s)| s)
    }
}

impl fmt::Display for MissingColumns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.0.iter().map(|c| c.name()).collect();
        write!(f, "missing required column(s): {}", names.join(", "))?;
        match self.1 {
            Some(Separator::Semicolon) => f.write_str(
                "; the header looks semicolon-separated: the data contract's files are comma-separated",
            ),
            Some(Separator::Tab) => f.write_str(
                "; the header looks tab-separated: the data contract's files are comma-separated",
            ),
            None => Ok(()),
        }
    }
}

impl ColumnMap {
    /// Maps a header row onto the contract. A repeated contract column keeps its first position.
    pub fn resolve<S: AsRef<str>>(
        headers: &[S],
        mode: Mode,
    ) -> std::result::Result<Self, MissingColumns> {
        let mut map = ColumnMap::default();
        for (i, h) in headers.iter().enumerate() {
            match Column::from_header(h.as_ref()) {
                Some(c) if map.index[c as usize].is_none() => map.index[c as usize] = Some(i),
                _ => map.extra.push(h.as_ref().to_owned()),
            }
        }
        let missing: Vec<_> = Column::ALL
            .iter()
            .copied()
            .filter(|c| c.required(mode) && map.index[*c as usize].is_none())
            .collect();
        if missing.is_empty() {
            Ok(map)
        } else {
            Err(MissingColumns(missing, Separator::detect(headers)))
        }
    }

    /// The position of `column` in the header, if present.
    pub fn get(&self, column: Column) -> Option<usize> {
        self.index[column as usize]
    }

    /// The first header name outside the contract, as a refusal naming it (see
    /// [`Column::unknown_message`]); `None` when every name is a contract column.
    pub fn unknown(&self) -> Option<(String, String)> {
        self.extra.first().map(|name| {
            let why = if Column::from_header(name).is_some() {
                format!("`{}` appears more than once in the header", name.trim())
            } else {
                Column::unknown_message(name)
            };
            (name.clone(), why)
        })
    }
}

/// Why one field of one row is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub column: Column,
    pub kind: FieldErrorKind,
    /// The offending text, shortened for reports.
    pub value: String,
}

/// The kinds of invalid value the contract names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorKind {
    Missing,
    BadDate,
    NotANumber,
    NotFinite,
    Negative,
    OutOfRange,
    BadFlag,
}

impl FieldErrorKind {
    fn describe(self) -> &'static str {
        match self {
            FieldErrorKind::Missing => "is missing",
            FieldErrorKind::BadDate => "is not a date (YYYY-MM-DD)",
            FieldErrorKind::NotANumber => "is not a number",
            FieldErrorKind::NotFinite => "is not a finite number",
            FieldErrorKind::Negative => "is negative",
            FieldErrorKind::OutOfRange => "is out of range [0, 1)",
            FieldErrorKind::BadFlag => "is not 0/1, true/false or yes/no",
        }
    }
}

impl FieldError {
    fn new(column: Column, kind: FieldErrorKind, value: &str) -> Self {
        let value: String = value.chars().take(40).collect();
        Self {
            column,
            kind,
            value,
        }
    }

    /// A stable key for counting rejections: `"<column>: <kind>"`.
    pub fn code(&self) -> String {
        format!("{}: {}", self.column.name(), snake(self.kind))
    }
}

fn snake(kind: FieldErrorKind) -> &'static str {
    match kind {
        FieldErrorKind::Missing => "missing",
        FieldErrorKind::BadDate => "bad_date",
        FieldErrorKind::NotANumber => "not_a_number",
        FieldErrorKind::NotFinite => "not_finite",
        FieldErrorKind::Negative => "negative",
        FieldErrorKind::OutOfRange => "out_of_range",
        FieldErrorKind::BadFlag => "bad_flag",
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == FieldErrorKind::Missing {
            write!(f, "{} {}", self.column, self.kind.describe())
        } else {
            write!(
                f,
                "{} {:?} {}",
                self.column,
                self.value,
                self.kind.describe()
            )
        }
    }
}

impl std::error::Error for FieldError {}

/// The label a blank categorical field gets.
pub const UNKNOWN: &str = "Unknown";

/// One valid transaction, as the contract defines it, before imputation.
///
/// Optional fields stay `None` when blank; imputation (which needs statistics learned on
/// training days) is the preprocessor's job, not the parser's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub transaction_id: Option<String>,
    pub date: NaiveDate,
    pub store_id: String,
    pub product_id: String,
    pub category: Option<String>,
    pub unit_price: Option<f64>,
    pub quantity: Option<f64>,
    pub discount: f64,
    pub promotion: bool,
    pub customer_segment: String,
    pub payment_method: String,
    pub revenue: Option<f64>,
}

/// Trims a field; blank (empty or only spaces) is `None`.
pub fn non_blank(s: Option<&str>) -> Option<&str> {
    let s = s?;
    let b = s.as_bytes();
    // Most fields start and end with a visible ASCII character: they skip the Unicode-aware
    // trim, which is a measurable part of scoring a large upload.
    let s = match (b.first(), b.last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        _ => s.trim(),
    };
    (!s.is_empty()).then_some(s)
}

/// Parses a date: `YYYY-MM-DD`, or an ISO datetime whose time is dropped.
pub fn parse_date(s: &str) -> std::result::Result<NaiveDate, FieldError> {
    let t = s.trim();
    let bad = || FieldError::new(Column::Date, FieldErrorKind::BadDate, s);
    let b = t.as_bytes();
    if b.len() < 10 || !b.is_ascii() {
        return Err(bad());
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(bad());
    };
    let date = NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(bad)?;
    if b.len() == 10 {
        return Ok(date);
    }
    // An ISO datetime: the time must itself be valid, so that "2024-01-01garbage" is rejected.
    if b[10] != b'T' && b[10] != b' ' {
        return Err(bad());
    }
    let iso = t.replacen(' ', "T", 1);
    let ok = chrono::DateTime::parse_from_rfc3339(&iso).is_ok()
        || chrono::NaiveDateTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || chrono::NaiveDateTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M").is_ok();
    if ok { Ok(date) } else { Err(bad()) }
}

/// Parses a non-negative decimal number (`.` as the decimal point).
pub fn parse_non_negative(column: Column, s: &str) -> std::result::Result<f64, FieldError> {
    let t = s.trim();
    // Rust's float parser accepts "inf" and "NaN"; the contract does not.
    let v: f64 = t
        .parse()
        .map_err(|_| FieldError::new(column, FieldErrorKind::NotANumber, s))?;
    if !v.is_finite() {
        return Err(FieldError::new(column, FieldErrorKind::NotFinite, s));
    }
    if v < 0.0 {
        return Err(FieldError::new(column, FieldErrorKind::Negative, s));
    }
    Ok(v + 0.0) // normalises -0.0
}

/// Parses a discount: a fraction in `[0, 1)`.
pub fn parse_discount(s: &str) -> std::result::Result<f64, FieldError> {
    let v = parse_non_negative(Column::Discount, s)?;
    if v >= 1.0 {
        return Err(FieldError::new(
            Column::Discount,
            FieldErrorKind::OutOfRange,
            s,
        ));
    }
    Ok(v)
}

/// Parses a promotion flag: 0/1, true/false, yes/no (any case).
pub fn parse_flag(s: &str) -> std::result::Result<bool, FieldError> {
    let t = s.trim();
    let is = |words: [&str; 4]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
    match () {
        () if is(["1", "true", "yes", "1.0"]) => Ok(true),
        () if is(["0", "false", "no", "0.0"]) => Ok(false),
        () => Err(FieldError::new(
            Column::Promotion,
            FieldErrorKind::BadFlag,
            s,
        )),
    }
}

/// Parses one row given a getter for each column's raw text (`None` for an absent column or a
/// null cell). Returns every problem of the row, not just the first.
pub fn parse_row<'a, F>(get: F, mode: Mode) -> std::result::Result<Transaction, Vec<FieldError>>
where
    F: Fn(Column) -> Option<&'a str>,
{
    let mut t = Transaction::default();
    parse_row_into(get, mode, &mut t).map(|()| t)
}

/// As [`parse_row`], into `out`, whose strings are reused: batch scoring parses rows by the
/// hundred thousand and would otherwise allocate six strings for each. On an error `out` is
/// left as it was.
pub fn parse_row_into<'a, F>(
    get: F,
    mode: Mode,
    out: &mut Transaction,
) -> std::result::Result<(), Vec<FieldError>>
where
    F: Fn(Column) -> Option<&'a str>,
{
    let mut errors = Vec::new();
    let field = |c: Column| non_blank(get(c));

    let date = match field(Column::Date) {
        None => {
            errors.push(FieldError::new(Column::Date, FieldErrorKind::Missing, ""));
            None
        }
        Some(s) => parse_date(s).map_err(|e| errors.push(e)).ok(),
    };
    let mut number = |c: Column, required: bool| match field(c) {
        None => {
            if required {
                errors.push(FieldError::new(c, FieldErrorKind::Missing, ""));
            }
            None
        }
        Some(s) => parse_non_negative(c, s).map_err(|e| errors.push(e)).ok(),
    };
    let unit_price = number(Column::UnitPrice, false);
    let training = mode == Mode::Training;
    let (quantity, revenue) = if training {
        (
            number(Column::Quantity, true),
            number(Column::Revenue, true),
        )
    } else {
        (None, None)
    };
    let discount = match field(Column::Discount) {
        None => 0.0,
        Some(s) => parse_discount(s).map_err(|e| errors.push(e)).unwrap_or(0.0),
    };
    let promotion = match field(Column::Promotion) {
        None => false,
        Some(s) => parse_flag(s).map_err(|e| errors.push(e)).unwrap_or(false),
    };
    let Some(date) = date.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    let set = |s: &mut String, v: &str| {
        s.clear();
        s.push_str(v);
    };
    let set_opt = |s: &mut Option<String>, v: Option<&str>| match v {
        Some(v) => set(s.get_or_insert_with(String::new), v),
        None => *s = None,
    };
    set_opt(&mut out.transaction_id, field(Column::TransactionId));
    out.date = date;
    set(&mut out.store_id, field(Column::StoreId).unwrap_or(UNKNOWN));
    set(
        &mut out.product_id,
        field(Column::ProductId).unwrap_or(UNKNOWN),
    );
    set_opt(&mut out.category, field(Column::Category));
    out.unit_price = unit_price;
    out.quantity = quantity;
    out.discount = discount;
    out.promotion = promotion;
    set(
        &mut out.customer_segment,
        field(Column::CustomerSegment).unwrap_or(UNKNOWN),
    );
    set(
        &mut out.payment_method,
        field(Column::PaymentMethod).unwrap_or(UNKNOWN),
    );
    out.revenue = revenue;
    Ok(())
}

/// Days since 1970-01-01, the integer form of a date used in columnar data.
pub fn date_to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - 719_163
}

/// The inverse of [`date_to_days`].
pub fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + 719_163).unwrap_or(NaiveDate::MIN)
}

/// An interval level (percent) as the bound columns of every forecast table carry it (`95`,
/// `97.5`: `lower_95`, `upper_97.5`), so the CLI, the UI and `forecast-many` name them alike.
pub fn level_label(level_percent: f64) -> String {
    format!("{level_percent}").trim_end_matches(".0").to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_semicolon_separated_header_is_named() {
        let e = ColumnMap::resolve(&["date;store_id;product_id;revenue"], Mode::Scoring)
            .expect_err("missing");
        assert_eq!(e.1, Some(Separator::Semicolon));
        assert!(e.to_string().contains("semicolon-separated"), "{e}");
        let e = ColumnMap::resolve(&["date\tstore_id"], Mode::Scoring).expect_err("missing");
        assert!(e.to_string().contains("tab-separated"), "{e}");
        let e = ColumnMap::resolve(&["date", "store_id"], Mode::Scoring).expect_err("missing");
        assert_eq!(e.1, None);
        assert_eq!(e.to_string(), "missing required column(s): product_id");
    }

    #[test]
    fn unknown_names_get_the_closest_contract_column() {
        assert_eq!(Column::closest("unitprice"), Some(Column::UnitPrice));
        assert_eq!(Column::closest("Unit-Price"), Some(Column::UnitPrice));
        assert_eq!(Column::closest("store"), Some(Column::StoreId));
        assert_eq!(Column::closest("colour"), None);
        assert_eq!(Column::closest("stor_id"), Some(Column::StoreId));
        assert!(Column::unknown_message("price").contains("its fields: transaction_id, date"));
        let map = ColumnMap::resolve(
            &["date", "store_id", "product_id", "unitprice", "date"],
            Mode::Scoring,
        )
        .expect("resolves");
        let (name, why) = map.unknown().expect("unknown");
        assert_eq!(name, "unitprice");
        assert!(why.contains("did you mean `unit_price`"), "{why}");
        let twice = ColumnMap::resolve(&["date", "store_id", "product_id", "date"], Mode::Scoring)
            .expect("resolves");
        assert!(
            twice
                .unknown()
                .expect("repeated")
                .1
                .contains("more than once")
        );
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn blank_means_empty_or_only_white_space() {
        assert_eq!(non_blank(None), None);
        for blank in ["", " ", "\t \r", "\u{a0}", " \u{2003} "] {
            assert_eq!(non_blank(Some(blank)), None, "{blank:?}");
        }
        for (field, kept) in [
            ("a", "a"),
            ("S01", "S01"),
            (" 1.5", "1.5"),
            ("x\t", "x"),
            ("\u{a0}Cash\u{a0}", "Cash"),
            ("é", "é"),
            ("a b", "a b"),
        ] {
            assert_eq!(non_blank(Some(field)), Some(kept), "{field:?}");
        }
    }

    fn row(pairs: &[(Column, &'static str)]) -> impl Fn(Column) -> Option<&'static str> {
        let pairs = pairs.to_vec();
        move |c| pairs.iter().find(|(k, _)| *k == c).map(|(_, v)| *v)
    }

    #[test]
    fn parsing_into_a_used_transaction_leaves_nothing_of_the_old_row() {
        let first = row(&[
            (Column::TransactionId, "T1"),
            (Column::Date, "2024-01-02"),
            (Column::StoreId, "S01"),
            (Column::ProductId, "P0001"),
            (Column::Category, "Grocery"),
            (Column::UnitPrice, "2.5"),
            (Column::Promotion, "1"),
        ]);
        let second = row(&[
            (Column::Date, "2024-01-03"),
            (Column::StoreId, "S2"),
            (Column::ProductId, "P9"),
        ]);
        let mut t = Transaction::default();
        parse_row_into(&first, Mode::Scoring, &mut t).unwrap();
        assert_eq!(t, parse_row(&first, Mode::Scoring).unwrap());
        parse_row_into(&second, Mode::Scoring, &mut t).unwrap();
        assert_eq!(t, parse_row(&second, Mode::Scoring).unwrap());
        assert_eq!(
            (t.category, t.transaction_id, t.unit_price),
            (None, None, None)
        );
        // a bad row reports its errors and leaves the transaction as it was
        let mut kept = parse_row(&first, Mode::Scoring).unwrap();
        let bad = row(&[(Column::Date, "2024-13-01"), (Column::StoreId, "S1")]);
        assert!(parse_row_into(&bad, Mode::Scoring, &mut kept).is_err());
        assert_eq!(kept, parse_row(&first, Mode::Scoring).unwrap());
    }

    #[test]
    fn dates() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(parse_date("2024-02-29").unwrap(), d);
        assert_eq!(parse_date(" 2024-02-29T23:59:59Z").unwrap(), d);
        assert_eq!(parse_date("2024-02-29 10:00:00").unwrap(), d);
        assert_eq!(parse_date("2024-02-29T10:00:00.123+02:00").unwrap(), d);
        for bad in [
            "2023-02-29",
            "29/02/2024",
            "2024-1-1",
            "2024-01-01x",
            "",
            "abc",
        ] {
            assert_eq!(
                parse_date(bad).unwrap_err().kind,
                FieldErrorKind::BadDate,
                "{bad}"
            );
        }
        assert_eq!(days_to_date(date_to_days(d)), d);
        assert_eq!(
            date_to_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            1
        );
    }

    #[test]
    fn numbers_and_flags() {
        assert_eq!(
            parse_non_negative(Column::UnitPrice, " 12.50 ").unwrap(),
            12.5
        );
        let kind = |s| parse_non_negative(Column::UnitPrice, s).unwrap_err().kind;
        assert_eq!(kind("-1"), FieldErrorKind::Negative);
        assert_eq!(kind("abc"), FieldErrorKind::NotANumber);
        assert_eq!(kind("1,5"), FieldErrorKind::NotANumber);
        assert_eq!(kind("NaN"), FieldErrorKind::NotFinite);
        assert_eq!(kind("inf"), FieldErrorKind::NotFinite);
        assert_eq!(
            parse_discount("1").unwrap_err().kind,
            FieldErrorKind::OutOfRange
        );
        assert_eq!(parse_discount("0.99").unwrap(), 0.99);
        assert!(parse_flag("Yes").unwrap());
        assert!(!parse_flag("FALSE").unwrap());
        assert_eq!(parse_flag("2").unwrap_err().kind, FieldErrorKind::BadFlag);
    }

    #[test]
    fn header_resolution_names_missing_columns() {
        let m = ColumnMap::resolve(
            &["\u{feff}date", "store_id", "product_id", "x"],
            Mode::Scoring,
        )
        .unwrap();
        assert_eq!(m.get(Column::Date), Some(0));
        assert_eq!(m.extra, vec!["x".to_owned()]);
        let err =
            ColumnMap::resolve(&["date", "store_id", "product_id"], Mode::Training).unwrap_err();
        assert_eq!(err.0, vec![Column::Quantity, Column::Revenue]);
        assert!(err.to_string().contains("quantity, revenue"));
    }

    #[test]
    fn row_collects_every_problem() {
        let errs = parse_row(
            row(&[
                (Column::Date, "nope"),
                (Column::UnitPrice, "-3"),
                (Column::Quantity, "ten"),
                (Column::Discount, "1.0"),
                (Column::Revenue, "5"),
            ]),
            Mode::Training,
        )
        .unwrap_err();
        let codes: Vec<_> = errs.iter().map(FieldError::code).collect();
        assert_eq!(
            codes,
            [
                "date: bad_date",
                "unit_price: negative",
                "quantity: not_a_number",
                "discount: out_of_range"
            ]
        );
    }

    #[test]
    fn blanks_get_contract_defaults() {
        let t = parse_row(
            row(&[(Column::Date, "2024-01-05"), (Column::StoreId, "  ")]),
            Mode::Scoring,
        )
        .unwrap();
        assert_eq!(t.store_id, UNKNOWN);
        assert_eq!(t.product_id, UNKNOWN);
        assert_eq!(t.discount, 0.0);
        assert!(!t.promotion);
        assert_eq!(t.category, None);
        assert_eq!(t.unit_price, None);
    }

    proptest! {
        #[test]
        fn parse_row_never_panics(fields in proptest::collection::vec(".{0,12}", 12)) {
            let get = |c: Column| Some(fields[c as usize].as_str());
            let _ = parse_row(get, Mode::Training);
            let _ = parse_row(get, Mode::Scoring);
        }
    }
}
