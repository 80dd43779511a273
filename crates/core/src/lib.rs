//! Domain types shared by every Salescast crate.
//!
//! The data contract (`schema`), the holiday calendar (`calendar`) and artifact I/O (`artifact`)
//! live here so that training, serving and monitoring agree on them by construction: a rule
//! changed here changes everywhere at once.
//!
//! ```
//! use salescast_core::{calendar, schema::parse_date};
//! let d = parse_date("2024-11-29T10:15:00").unwrap();
//! assert_eq!(calendar::holiday_on(d), Some(calendar::Holiday::BlackFriday));
//! ```

pub mod artifact;
pub mod calendar;
pub mod error;
pub mod history;
pub mod html;
#[cfg(feature = "logging")]
pub mod logging;
pub mod models_dir;
pub mod schema;
pub mod split;

pub use error::{CoreError, Result};
pub use schema::{Column, FieldError, Mode, Transaction};
pub use split::{DayRange, Part, TimeSplit};
