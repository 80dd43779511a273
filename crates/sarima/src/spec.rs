//! Model orders.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Result, SarimaError};

/// The orders of a SARIMA(p,d,q)(P,D,Q)s model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Order {
    pub p: usize,
    pub d: usize,
    pub q: usize,
    pub seasonal_p: usize,
    pub seasonal_d: usize,
    pub seasonal_q: usize,
    /// Seasonal period `s`; 0 or 1 means no seasonal part.
    pub period: usize,
}

/// Largest orders accepted: beyond these the state vector and the optimisation get large
/// enough that the model is almost surely a mistake.
const MAX_ORDER: usize = 10;
const MAX_DIFF: usize = 2;
const MAX_PERIOD: usize = 400;

impl Order {
    /// A non-seasonal ARIMA(p,d,q).
    pub fn arima(p: usize, d: usize, q: usize) -> Self {
        Self {
            p,
            d,
            q,
            seasonal_p: 0,
            seasonal_d: 0,
            seasonal_q: 0,
            period: 0,
        }
    }

    /// A SARIMA(p,d,q)(P,D,Q)s.
    pub fn sarima(p: usize, d: usize, q: usize, sp: usize, sd: usize, sq: usize, s: usize) -> Self {
        Self {
            p,
            d,
            q,
            seasonal_p: sp,
            seasonal_d: sd,
            seasonal_q: sq,
            period: s,
        }
    }

    /// Whether the model has a seasonal part.
    pub fn is_seasonal(&self) -> bool {
        self.period > 1 && self.seasonal_p + self.seasonal_d + self.seasonal_q > 0
    }

    /// The seasonal period actually used (1 for a non-seasonal model).
    pub fn step(&self) -> usize {
        if self.is_seasonal() { self.period } else { 1 }
    }

    /// Checks the orders describe a model this crate can fit.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(SarimaError::InvalidOrder {
                order: self.to_string(),
                reason,
            })
        };
        if self.p > MAX_ORDER
            || self.q > MAX_ORDER
            || self.seasonal_p > MAX_ORDER
            || self.seasonal_q > MAX_ORDER
        {
            return bad(format!("AR and MA orders must be at most {MAX_ORDER}"));
        }
        if self.d > MAX_DIFF || self.seasonal_d > MAX_DIFF {
            return bad(format!("differencing orders must be at most {MAX_DIFF}"));
        }
        let seasonal_terms = self.seasonal_p + self.seasonal_d + self.seasonal_q;
        if seasonal_terms > 0 && self.period < 2 {
            return bad("a seasonal part needs a period of at least 2".into());
        }
        if self.period > MAX_PERIOD {
            return bad(format!("the seasonal period must be at most {MAX_PERIOD}"));
        }
        Ok(())
    }

    /// Number of ARMA coefficients (`p + q + P + Q`).
    pub fn n_arma(&self) -> usize {
        self.p + self.q + self.seasonal_p + self.seasonal_q
    }

    /// Number of differencing states, `d + s·D`: also the observations lost to differencing.
    pub fn k_diff(&self) -> usize {
        self.d + self.step() * self.seasonal_d
    }

    /// Degree of the reduced AR polynomial, `p + s·P`.
    pub fn ar_degree(&self) -> usize {
        self.p + self.step() * self.seasonal_p
    }

    /// Degree of the reduced MA polynomial, `q + s·Q`.
    pub fn ma_degree(&self) -> usize {
        self.q + self.step() * self.seasonal_q
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({},{},{})", self.p, self.d, self.q)?;
        if self.is_seasonal() {
            write!(
                f,
                "({},{},{},{})",
                self.seasonal_p, self.seasonal_d, self.seasonal_q, self.period
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_orders_are_refused_with_the_reason() {
        let e = Order::sarima(1, 0, 0, 1, 0, 0, 1).validate().unwrap_err();
        assert!(e.to_string().contains("period of at least 2"), "{e}");
        assert!(Order::arima(11, 0, 0).validate().is_err());
        assert!(Order::arima(0, 3, 0).validate().is_err());
        assert!(Order::sarima(1, 1, 1, 1, 1, 1, 7).validate().is_ok());
        assert_eq!(
            Order::sarima(1, 1, 1, 1, 1, 1, 7).to_string(),
            "(1,1,1)(1,1,1,7)"
        );
        assert_eq!(Order::arima(2, 1, 0).to_string(), "(2,1,0)");
    }
}
