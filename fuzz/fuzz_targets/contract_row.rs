//! One CSV row of the data contract, as the pipeline and the API read it: the fields split on
//! commas, every column parsed by the shared rules in both modes, and the date and number
//! parsers on their own. Nothing may panic; a parsed row keeps the contract's invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salescast_core::schema::{self, Column, Mode};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fields: Vec<&str> = text.split(',').collect();
    let get = |c: Column| fields.get(c as usize).copied();
    for mode in [Mode::Training, Mode::Scoring] {
        if let Ok(t) = schema::parse_row(get, mode) {
            assert!(
                t.discount >= 0.0 && t.discount < 1.0,
                "discount {}",
                t.discount
            );
            if let Some(p) = t.unit_price {
                assert!(p >= 0.0 && p.is_finite(), "unit_price {p}");
            }
        }
    }
    for f in &fields {
        let _ = schema::parse_date(f);
        let _ = schema::parse_discount(f);
        let _ = schema::parse_flag(f);
        let _ = schema::parse_non_negative(Column::UnitPrice, f);
    }
});
