//! Drift of 1,000,000 current rows against a 50,000-row reference across every watched column.
fn main() {}
