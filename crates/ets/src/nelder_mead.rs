//! Nelder–Mead with box constraints by projection and the adaptive coefficients of Gao & Han
//! (2012), the optimiser statsforecast fits ETS models with.
//!
//! argmin's Nelder–Mead has neither the projection nor the simplex statsforecast starts from;
//! without the same search, the same data would give other parameters (Nelder–Mead stops
//! where its simplex collapses, not at a certified optimum), and so other model choices than
//! the tool users compare us with.

/// Settings of a search.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Relative size of the first simplex's steps.
    pub init_step: f64,
    /// Step of a coordinate that starts at zero.
    pub zero_step: f64,
    pub max_iter: usize,
    /// The search stops when the standard deviation of the simplex's values is below this.
    pub tol_std: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            init_step: 0.05,
            zero_step: 1e-4,
            max_iter: 1000,
            tol_std: 1e-4,
        }
    }
}

fn clamp(x: &mut [f64], lower: &[f64], upper: &[f64]) {
    for ((v, lo), up) in x.iter_mut().zip(lower).zip(upper) {
        *v = v.max(*lo).min(*up);
    }
}

fn std_dev(f: &[f64]) -> f64 {
    let n = f.len() as f64;
    let mean = f.iter().sum::<f64>() / n;
    (f.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Minimises `cost` from `x0` within `[lower, upper]`; returns the best vertex of the last
/// ordering and its value.
pub fn minimise(
    mut cost: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    s: &Settings,
) -> (Vec<f64>, f64) {
    let n = x0.len();
    let mut start = x0.to_vec();
    clamp(&mut start, lower, upper);
    let dim = n as f64;
    let (reflect, expand, contract, shrink) = (
        1.0,
        1.0 + 2.0 / dim,
        0.75 - 1.0 / (2.0 * dim),
        1.0 - 1.0 / dim,
    );
    let mut simplex: Vec<Vec<f64>> = vec![start; n + 1];
    for (i, row) in simplex.iter_mut().take(n).enumerate() {
        let v = row[i];
        let moved = if v == 0.0 {
            s.zero_step
        } else {
            v * (1.0 + s.init_step)
        };
        row[i] = moved.max(lower[i]).min(upper[i]);
    }
    let mut f: Vec<f64> = simplex.iter().map(|x| cost(x)).collect();
    let mut best = 0;
    let mut order: Vec<usize> = (0..=n).collect();
    let mut centroid = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let point = |c: &[f64], towards: &[f64], k: f64, out: &mut Vec<f64>| {
        out.clear();
        out.extend(c.iter().zip(towards).map(|(o, t)| o + k * (t - o)));
        clamp(out, lower, upper);
    };
    for _ in 0..s.max_iter {
        if std_dev(&f) < s.tol_std {
            break;
        }
        order.sort_by(|&a, &b| f[a].total_cmp(&f[b]));
        best = order[0];
        let worst = order[n];
        let second = order[n - 1];
        for (j, c) in centroid.iter_mut().enumerate() {
            let sum: f64 = simplex.iter().map(|r| r[j]).sum();
            *c = (sum - simplex[worst][j]) / dim;
        }
        // reflection: centroid + 1·(centroid − worst)
        let mut xr = Vec::with_capacity(n);
        point(&centroid, &simplex[worst], -reflect, &mut xr);
        let fr = cost(&xr);
        if f[best] <= fr && fr < f[second] {
            simplex[worst] = xr;
            f[worst] = fr;
            continue;
        }
        if fr < f[best] {
            point(&centroid, &xr, expand, &mut trial);
            let fe = cost(&trial);
            if fe < fr {
                simplex[worst].clone_from(&trial);
                f[worst] = fe;
            } else {
                simplex[worst] = xr;
                f[worst] = fr;
            }
            continue;
        }
        if f[second] <= fr && fr < f[worst] {
            point(&centroid, &xr, contract, &mut trial);
            let fc = cost(&trial);
            if fc <= fr {
                simplex[worst].clone_from(&trial);
                f[worst] = fc;
                continue;
            }
        } else {
            point(&centroid, &xr, -contract, &mut trial);
            let fc = cost(&trial);
            if fc < f[worst] {
                simplex[worst].clone_from(&trial);
                f[worst] = fc;
                continue;
            }
        }
        // shrink towards the best vertex (the first vertex is left as it is)
        let anchor = simplex[best].clone();
        for j in 1..=n {
            let mut row = std::mem::take(&mut simplex[j]);
            for (v, a) in row.iter_mut().zip(&anchor) {
                *v = a + shrink * (*v - a);
            }
            clamp(&mut row, lower, upper);
            f[j] = cost(&row);
            simplex[j] = row;
        }
    }
    (simplex[best].clone(), f[best])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bowl_is_minimised_and_the_box_holds() {
        let bowl = |x: &[f64]| (x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2);
        let s = Settings {
            tol_std: 1e-14,
            max_iter: 5000,
            ..Settings::default()
        };
        let inf = f64::INFINITY;
        let (x, v) = minimise(bowl, &[3.0, 3.0], &[-inf, -inf], &[inf, inf], &s);
        assert!(
            (x[0] - 1.0).abs() < 1e-5 && (x[1] + 2.0).abs() < 1e-5 && v < 1e-9,
            "{x:?}"
        );
        // with x₁ ≥ 0 the optimum is on the bound
        let (x, _) = minimise(bowl, &[3.0, 3.0], &[-inf, 0.0], &[inf, inf], &s);
        assert!((x[0] - 1.0).abs() < 1e-5 && x[1] == 0.0, "{x:?}");
    }
}
