//! The retailer: categories, products and stores, drawn once from the seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dynamics::DayContext;

/// A product category and how its demand behaves.
#[derive(Debug, Clone)]
pub struct Category {
    pub name: &'static str,
    /// Price range of its products (log-uniform).
    pub price_range: (f64, f64),
    /// Mean units per transaction at list price.
    pub base_quantity: f64,
    /// Price elasticity of quantity (quantity ∝ price^-elasticity).
    pub elasticity: f64,
    /// Share of transactions before seasonality.
    pub weight: f64,
    /// Multiplier of the category's share, per month (January first).
    pub season: [f64; 12],
}

/// A product: an id, its category and list price, and how popular it is within the category.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub category: usize,
    pub base_price: f64,
    pub popularity: f64,
}

/// A store: how busy it is, how it prices, and how much its customers buy.
#[derive(Debug, Clone)]
pub struct Store {
    pub weight: f64,
    pub price_factor: f64,
    pub quantity_factor: f64,
}

/// Everything drawn once per seed.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub categories: Vec<Category>,
    pub products: Vec<Product>,
    pub stores: Vec<Store>,
    store_cdf: Vec<f64>,
    /// Per category: product indices and their cumulative popularity.
    product_cdf: Vec<(Vec<usize>, Vec<f64>)>,
}

const FLAT: [f64; 12] = [1.0; 12];
const PRODUCTS_PER_CATEGORY: usize = 25;

fn categories() -> Vec<Category> {
    let c = |name, price_range, base_quantity, elasticity, weight, season| Category {
        name,
        price_range,
        base_quantity,
        elasticity,
        weight,
        season,
    };
    vec![
        c(
            "Electronics",
            (40.0, 900.0),
            0.3,
            1.6,
            0.10,
            [0.8, 0.8, 0.9, 0.9, 0.9, 1.0, 1.0, 1.1, 1.0, 1.0, 1.5, 1.7],
        ),
        c("Grocery", (1.5, 25.0), 3.5, 0.6, 0.26, FLAT),
        c(
            "Clothing",
            (10.0, 150.0),
            0.9,
            1.2,
            0.15,
            [0.8, 0.8, 1.1, 1.1, 1.0, 1.0, 0.9, 1.1, 1.2, 1.1, 1.2, 1.4],
        ),
        c("Home", (8.0, 300.0), 0.6, 1.0, 0.13, FLAT),
        c(
            "Toys",
            (5.0, 120.0),
            0.7,
            1.3,
            0.08,
            [0.7, 0.7, 0.8, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9, 1.0, 1.6, 2.4],
        ),
        c(
            "Sports",
            (10.0, 400.0),
            0.5,
            1.1,
            0.09,
            [0.8, 0.8, 1.0, 1.1, 1.3, 1.4, 1.4, 1.2, 1.0, 0.9, 0.9, 1.1],
        ),
        c(
            "Beauty",
            (4.0, 80.0),
            1.2,
            0.9,
            0.10,
            [0.9, 1.3, 1.0, 1.0, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.4],
        ),
        c(
            "Books",
            (5.0, 60.0),
            0.8,
            0.8,
            0.09,
            [1.1, 1.0, 1.0, 0.9, 0.9, 1.0, 1.1, 1.1, 1.0, 1.0, 1.0, 1.3],
        ),
    ]
}

fn cdf(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    let mut v: Vec<f64> = weights
        .into_iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect();
    let total = acc.max(f64::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= total);
    v
}

/// Index of the first cumulative weight above a uniform draw.
pub(crate) fn draw(rng: &mut ChaCha8Rng, cdf: &[f64]) -> usize {
    let u: f64 = rng.random();
    cdf.partition_point(|&c| c <= u)
        .min(cdf.len().saturating_sub(1))
}

impl Catalog {
    /// Draws the catalog for `seed` with `stores` stores.
    pub fn new(seed: u64, stores: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(0);
        let categories = categories();
        let mut products = Vec::new();
        for (ci, c) in categories.iter().enumerate() {
            let (lo, hi) = c.price_range;
            for k in 0..PRODUCTS_PER_CATEGORY {
                let base_price = (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp();
                products.push(Product {
                    id: format!("P{:04}", products.len() + 1),
                    category: ci,
                    base_price: (base_price * 100.0).round() / 100.0,
                    // Zipf-like: a few best sellers, a long tail.
                    popularity: 1.0 / (k as f64 + 1.0).powf(0.8) * rng.random_range(0.7..1.3),
                });
            }
        }
        let stores: Vec<Store> = (0..stores)
            .map(|_| Store {
                weight: rng.random_range(0.5..1.6),
                price_factor: rng.random_range(0.95..1.08),
                quantity_factor: rng.random_range(0.85..1.2),
            })
            .collect();
        let store_cdf = cdf(stores.iter().map(|s| s.weight));
        let product_cdf = (0..categories.len())
            .map(|ci| {
                let idx: Vec<usize> = (0..products.len())
                    .filter(|&p| products[p].category == ci)
                    .collect();
                let c = cdf(idx.iter().map(|&p| products[p].popularity));
                (idx, c)
            })
            .collect();
        Self {
            categories,
            products,
            stores,
            store_cdf,
            product_cdf,
        }
    }

    pub(crate) fn pick_store(&self, rng: &mut ChaCha8Rng) -> usize {
        draw(rng, &self.store_cdf)
    }

    pub(crate) fn pick_category(&self, rng: &mut ChaCha8Rng, ctx: &DayContext) -> usize {
        draw(rng, &ctx.category_cdf)
    }

    pub(crate) fn pick_product(&self, rng: &mut ChaCha8Rng, category: usize) -> usize {
        let (idx, c) = &self.product_cdf[category];
        idx[draw(rng, c)]
    }
}
