//! The little dense linear algebra the estimator needs: least squares for starting values and
//! a small general solve for the ARMA autocovariances.

/// Least squares `min |y - X b|` with `X` given by columns, through the normal equations and a
/// Cholesky factorisation (a tiny ridge keeps collinear columns from failing). `None` when the
/// system is degenerate or there are fewer rows than columns.
pub(crate) fn least_squares(columns: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let k = columns.len();
    let n = y.len();
    if k == 0 {
        return Some(Vec::new());
    }
    if n < k || columns.iter().any(|c| c.len() != n) {
        return None;
    }
    let mut a = vec![0.0; k * k];
    let mut b = vec![0.0; k];
    for i in 0..k {
        for j in 0..=i {
            let v: f64 = columns[i].iter().zip(&columns[j]).map(|(x, y)| x * y).sum();
            a[i * k + j] = v;
            a[j * k + i] = v;
        }
        b[i] = columns[i].iter().zip(y).map(|(x, y)| x * y).sum();
    }
    let scale = (0..k).map(|i| a[i * k + i]).fold(0.0f64, f64::max);
    if scale <= 0.0 || !scale.is_finite() {
        return None;
    }
    for i in 0..k {
        a[i * k + i] += 1e-12 * scale;
    }
    cholesky_solve(&mut a, &mut b, k).then_some(b)
}

/// Solves `A x = b` in place for a symmetric positive definite `A`.
fn cholesky_solve(a: &mut [f64], b: &mut [f64], k: usize) -> bool {
    for j in 0..k {
        let mut d = a[j * k + j];
        for p in 0..j {
            d -= a[j * k + p] * a[j * k + p];
        }
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut v = a[i * k + j];
            for p in 0..j {
                v -= a[i * k + p] * a[j * k + p];
            }
            a[i * k + j] = v / d;
        }
    }
    for i in 0..k {
        let mut v = b[i];
        for p in 0..i {
            v -= a[i * k + p] * b[p];
        }
        b[i] = v / a[i * k + i];
    }
    for i in (0..k).rev() {
        let mut v = b[i];
        for p in i + 1..k {
            v -= a[p * k + i] * b[p];
        }
        b[i] = v / a[i * k + i];
    }
    true
}

/// Solves `A x = b` in place (`A` row-major `n x n`, overwritten) by Gaussian elimination with
/// partial pivoting. `false` when `A` is singular to working precision.
pub(crate) fn solve(a: &mut [f64], b: &mut [f64], n: usize) -> bool {
    for col in 0..n {
        let Some(pivot) =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
        else {
            return false;
        };
        let top = a[pivot * n + col];
        if top == 0.0 || !top.is_finite() {
            return false;
        }
        if pivot != col {
            for c in 0..n {
                a.swap(pivot * n + c, col * n + c);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..n {
            let factor = a[row * n + col] / top;
            if factor == 0.0 {
                continue;
            }
            for c in col..n {
                a[row * n + c] -= factor * a[col * n + c];
            }
            b[row] -= factor * b[col];
        }
    }
    for row in (0..n).rev() {
        let mut v = b[row];
        for c in row + 1..n {
            v -= a[row * n + c] * b[c];
        }
        b[row] = v / a[row * n + row];
    }
    b.iter().all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_system_that_needs_pivoting() {
        // [[0, 2, 1], [1, 1, 0], [3, 0, 1]] x = [7, 3, 6]: the first pivot is zero.
        let mut a = vec![0.0, 2.0, 1.0, 1.0, 1.0, 0.0, 3.0, 0.0, 1.0];
        let x = [1.0, 2.0, 3.0];
        let mut b = vec![7.0, 3.0, 6.0];
        assert!(solve(&mut a, &mut b, 3));
        for (got, want) in b.iter().zip(x) {
            assert!((got - want).abs() < 1e-12, "{b:?}");
        }
        let mut singular = vec![1.0, 2.0, 2.0, 4.0];
        assert!(!solve(&mut singular, &mut [1.0, 2.0], 2));
    }

    #[test]
    fn recovers_an_exact_linear_relation() {
        let x1: Vec<f64> = (0..20).map(|i| i as f64).collect();
        let x2: Vec<f64> = (0..20).map(|i| ((i * 7) % 5) as f64).collect();
        let y: Vec<f64> = x1.iter().zip(&x2).map(|(a, b)| 2.0 * a - 3.0 * b).collect();
        let b = least_squares(&[x1, x2], &y).expect("solvable");
        assert!(
            (b[0] - 2.0).abs() < 1e-8 && (b[1] + 3.0).abs() < 1e-8,
            "{b:?}"
        );
        assert!(least_squares(&[vec![0.0; 5]], &[1.0; 5]).is_none());
    }
}
