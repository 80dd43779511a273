//! Query strings and form fields, parsed and checked. Every page control is a query parameter,
//! so a view is a URL: bookmarkable, shareable, and Back works.

use chrono::NaiveDate;

use crate::{Result, UiError};

/// Longest value accepted for any one parameter.
pub const MAX_VALUE_CHARS: usize = 200;

/// The parameters of one request, in order (the last of a repeated name wins).
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string. Bad percent-escapes decode lossily rather than failing: the
    /// value is then checked like any other.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    /// The trimmed value, or `None` when absent or blank.
    pub fn text(&self, name: &str) -> Result<Option<&str>> {
        match self.0.iter().rev().find(|(k, _)| k == name) {
            None => Ok(None),
            Some((_, v)) => {
                let v = v.trim();
                if v.chars().count() > MAX_VALUE_CHARS {
                    Err(UiError::bad_input(
                        name,
                        format!("longer than {MAX_VALUE_CHARS} characters"),
                    ))
                } else if v.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(v))
                }
            }
        }
    }

    /// A `YYYY-MM-DD` date.
    pub fn date(&self, name: &str) -> Result<Option<NaiveDate>> {
        self.text(name)?
            .map(|v| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                    UiError::bad_input(name, format!("`{v}` is not a date (YYYY-MM-DD)"))
                })
            })
            .transpose()
    }

    /// A finite number.
    pub fn number(&self, name: &str) -> Result<Option<f64>> {
        self.text(name)?
            .map(|v| match v.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(UiError::bad_input(name, format!("`{v}` is not a number"))),
            })
            .transpose()
    }

    /// A whole number within `[lo, hi]`.
    pub fn integer(&self, name: &str, lo: i64, hi: i64) -> Result<Option<i64>> {
        self.text(name)?
            .map(|v| match v.parse::<i64>() {
                Ok(x) if (lo..=hi).contains(&x) => Ok(x),
                _ => Err(UiError::bad_input(
                    name,
                    format!("`{v}` is not a whole number from {lo} to {hi}"),
                )),
            })
            .transpose()
    }

    /// One of `allowed`.
    pub fn choice<'a>(&self, name: &str, allowed: &[&'a str]) -> Result<Option<&'a str>> {
        self.text(name)?
            .map(|v| {
                allowed.iter().copied().find(|a| *a == v).ok_or_else(|| {
                    UiError::bad_input(name, format!("`{v}` is not one of {}", allowed.join(", ")))
                })
            })
            .transpose()
    }

    /// A value that must be one of the choices the models know (stores, categories).
    pub fn known(&self, name: &str, known: &[String]) -> Result<Option<String>> {
        self.text(name)?
            .map(|v| {
                known
                    .iter()
                    .find(|k| k.as_str() == v)
                    .cloned()
                    .ok_or_else(|| {
                        UiError::bad_input(name, format!("`{v}` is not known to the models"))
                    })
            })
            .transpose()
    }

    /// Whether a parameter was sent at all (a submitted form).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// A query string from pairs, with the empty ones left out (for links between views).
pub fn query(pairs: &[(&str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let p = Params::parse(Some(
            "start=2025-01-02&end=bad&n=3&n=40&store=%20S01%20&x=%ZZ",
        ));
        assert_eq!(
            p.date("start").ok().flatten(),
            NaiveDate::from_ymd_opt(2025, 1, 2)
        );
        let e = p
            .date("end")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("end: `bad`"), "{e}");
        assert_eq!(p.integer("n", 1, 100).ok().flatten(), Some(40));
        assert!(p.integer("n", 1, 10).is_err());
        assert_eq!(p.text("store").ok().flatten(), Some("S01"));
        assert!(p.text("x").is_ok());
        assert_eq!(p.text("missing").ok().flatten(), None);
        assert!(p.choice("store", &["S02"]).is_err());
        let long = format!("a={}", "x".repeat(MAX_VALUE_CHARS + 1));
        assert!(Params::parse(Some(&long)).text("a").is_err());
        assert!(Params::parse(Some("v=NaN")).number("v").is_err());
        assert!(Params::parse(Some("v=inf")).number("v").is_err());
    }

    #[test]
    fn builds_queries_without_blanks() {
        assert_eq!(
            query(&[
                ("a", "1 2".into()),
                ("b", String::new()),
                ("c", "<&>".into())
            ]),
            "a=1+2&c=%3C%26%3E"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_query(raw in ".{0,300}") {
            let p = Params::parse(Some(&raw));
            for name in ["start", "end", "store", "n", "v", ""] {
                let _ = p.date(name);
                let _ = p.number(name);
                let _ = p.integer(name, 0, 10);
                let _ = p.choice(name, &["a"]);
            }
        }
    }
}
