//! Lag polynomials and the parameter transforms that keep AR parts stationary and MA parts
//! invertible during optimisation.
//!
//! The transform is Monahan's (1984): unconstrained reals become partial autocorrelations
//! `r / sqrt(1 + r^2)` in (-1, 1), and the Durbin–Levinson recursion turns those into
//! polynomial coefficients. It is the transform statsmodels' SARIMAX uses, so both optimise
//! over the same surface and reach the same optimum.

/// Product of two polynomials in the lag operator, coefficients indexed by power.
pub fn mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        if x == 0.0 {
            continue;
        }
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// `1 - phi_1 L^step - phi_2 L^(2 step) - ...` as coefficients.
pub fn ar_polynomial(phi: &[f64], step: usize) -> Vec<f64> {
    let mut p = vec![0.0; phi.len() * step + 1];
    p[0] = 1.0;
    for (i, &c) in phi.iter().enumerate() {
        p[(i + 1) * step] = -c;
    }
    p
}

/// `1 + theta_1 L^step + theta_2 L^(2 step) + ...` as coefficients.
pub fn ma_polynomial(theta: &[f64], step: usize) -> Vec<f64> {
    let mut p = vec![0.0; theta.len() * step + 1];
    p[0] = 1.0;
    for (i, &c) in theta.iter().enumerate() {
        p[(i + 1) * step] = c;
    }
    p
}

/// Maps unconstrained reals to the coefficients `phi` of a stationary `1 - phi_1 L - ...`.
pub fn constrain_stationary(u: &[f64]) -> Vec<f64> {
    let n = u.len();
    let mut prev = vec![0.0; n];
    let mut cur = vec![0.0; n];
    for k in 0..n {
        let r = u[k] / (1.0 + u[k] * u[k]).sqrt();
        for i in 0..k {
            cur[i] = prev[i] + r * prev[k - i - 1];
        }
        cur[k] = r;
        prev[..=k].copy_from_slice(&cur[..=k]);
    }
    prev.iter().map(|v| -v).collect()
}

/// Partial autocorrelations of `1 - phi_1 L - ...` by the step-down recursion; `None` when
/// one of them reaches 1 in absolute value (a root on or inside the unit circle).
fn partial_autocorrelations(phi: &[f64]) -> Option<Vec<f64>> {
    let n = phi.len();
    let mut y: Vec<f64> = phi.iter().map(|v| -v).collect();
    let mut r = vec![0.0; n];
    for k in (0..n).rev() {
        let rk = y[k];
        if !rk.is_finite() || rk.abs() >= 1.0 {
            return None;
        }
        r[k] = rk;
        let denom = 1.0 - rk * rk;
        let next: Vec<f64> = (0..k).map(|i| (y[i] - rk * y[k - i - 1]) / denom).collect();
        y[..k].copy_from_slice(&next);
    }
    Some(r)
}

/// Inverse of [`constrain_stationary`]; `None` when `phi` is not stationary.
pub fn unconstrain_stationary(phi: &[f64]) -> Option<Vec<f64>> {
    partial_autocorrelations(phi).map(|r| r.iter().map(|r| r / (1.0 - r * r).sqrt()).collect())
}

/// Whether `1 - phi_1 L - ... - phi_p L^p` has all its roots outside the unit circle.
pub fn is_stationary(phi: &[f64]) -> bool {
    partial_autocorrelations(phi).is_some()
}

/// Whether `1 + theta_1 L + ...` is invertible.
pub fn is_invertible(theta: &[f64]) -> bool {
    let neg: Vec<f64> = theta.iter().map(|v| -v).collect();
    is_stationary(&neg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn products_expand_seasonal_polynomials() {
        // (1 - 0.5 L)(1 - 0.2 L^3) = 1 - 0.5 L - 0.2 L^3 + 0.1 L^4
        let p = mul(&ar_polynomial(&[0.5], 1), &ar_polynomial(&[0.2], 3));
        assert_eq!(p, vec![1.0, -0.5, 0.0, -0.2, 0.1]);
    }

    #[test]
    fn ar1_transform_is_the_textbook_map() {
        let phi = constrain_stationary(&[1.0]);
        assert!((phi[0] + 1.0 / 2f64.sqrt()).abs() < 1e-15);
        assert!(is_stationary(&[0.99]));
        assert!(!is_stationary(&[1.0]));
        assert!(!is_stationary(&[0.5, 0.6]));
        assert!(is_invertible(&[-0.9]));
        assert!(!is_invertible(&[-1.2]));
    }

    proptest! {
        #[test]
        fn constrained_coefficients_are_stationary_and_round_trip(
            u in proptest::collection::vec(-5.0f64..5.0, 1..6)
        ) {
            let phi = constrain_stationary(&u);
            prop_assert!(is_stationary(&phi));
            let back = unconstrain_stationary(&phi).expect("stationary");
            for (a, b) in u.iter().zip(&back) {
                prop_assert!((a - b).abs() < 1e-6 * (1.0 + a.abs()), "{a} vs {b}");
            }
        }
    }
}
