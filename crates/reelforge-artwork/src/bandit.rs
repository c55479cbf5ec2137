//! Learning from engagement: one LinUCB contextual bandit per audience profile over the
//! normalised feature vector (plus a constant), updated from impression/click logs.
//!
//! Log format (CSV, UTF-8, header required, columns in any order, no quoting):
//! `profile,image_id,impressions,clicks`. A row can aggregate many impressions
//! (`action,f000412-9c0e…,1200,57`) or stand for one (`impressions` 1, `clicks` 0 or 1); both
//! update the model identically. `image_id` is the `image_id` of a pick in `artwork.json`.

use std::collections::BTreeMap;

use reelforge_core::{Classify, ErrorClass};
use serde::{Deserialize, Serialize};

use crate::features::{FEATURE_COUNT, Features};

/// Dimension of the bandit's context: the features plus a constant 1 (the base click rate).
pub const CONTEXT_DIMENSION: usize = FEATURE_COUNT + 1;

/// Errors reading an impressions log or a bandit state.
#[derive(Debug, thiserror::Error)]
pub enum BanditError {
    #[error("impressions log line {line}: {message}")]
    Log { line: usize, message: String },
    #[error("bandit state: {0}")]
    State(#[from] serde_json::Error),
    #[error("bandit state has version {found}; this reelforge reads version {STATE_VERSION}")]
    StateVersion { found: u32 },
}

impl Classify for BanditError {
    fn class(&self) -> ErrorClass {
        // Both are files the user hands in: a wrong one is a usage error, not a retry case.
        ErrorClass::Config
    }
}

/// Version of the JSON layout of [`BanditState`].
pub const STATE_VERSION: u32 = 1;

/// Every profile's model, as stored in the state JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanditState {
    pub version: u32,
    pub profiles: BTreeMap<String, LinUcb>,
}

impl Default for BanditState {
    fn default() -> Self {
        Self { version: STATE_VERSION, profiles: BTreeMap::new() }
    }
}

impl BanditState {
    pub fn from_json(text: &str) -> Result<Self, BanditError> {
        let state: BanditState = serde_json::from_str(text)?;
        if state.version != STATE_VERSION {
            return Err(BanditError::StateVersion { found: state.version });
        }
        Ok(state)
    }

    pub fn to_json(&self) -> String {
        // A map of numbers always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Adds every row of `log` to its profile's model. `features_of` gives an image's
    /// features by id; an unknown id is an error naming its line (a log from another
    /// catalogue would otherwise be learned from silently).
    pub fn learn(
        &mut self,
        log: &str,
        features_of: impl Fn(&str) -> Option<Features>,
    ) -> Result<LearnSummary, BanditError> {
        let rows = parse_log(log)?;
        let mut summary = LearnSummary::default();
        for row in rows {
            let features = features_of(&row.image_id).ok_or_else(|| BanditError::Log {
                line: row.line,
                message: format!("image `{}` is not in the given artwork.json files", row.image_id),
            })?;
            self.profiles.entry(row.profile).or_default().update(&features, row.impressions, row.clicks);
            summary.rows += 1;
            summary.impressions += row.impressions;
            summary.clicks += row.clicks;
        }
        Ok(summary)
    }
}

/// What one `learn` call added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnSummary {
    pub rows: usize,
    pub impressions: u64,
    pub clicks: u64,
}

struct LogRow {
    line: usize,
    profile: String,
    image_id: String,
    impressions: u64,
    clicks: u64,
}

fn parse_log(text: &str) -> Result<Vec<LogRow>, BanditError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty());
    let Some((_, header)) = lines.next() else { return Ok(Vec::new()) };
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &str| {
        columns.iter().position(|c| c.eq_ignore_ascii_case(name)).ok_or_else(|| BanditError::Log {
            line: 1,
            message: format!("missing column `{name}` (header must be profile,image_id,impressions,clicks)"),
        })
    };
    let (p, i, n, c) = (find("profile")?, find("image_id")?, find("impressions")?, find("clicks")?);
    let mut rows = Vec::new();
    for (line, text) in lines {
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        let field = |index: usize| {
            fields.get(index).copied().ok_or_else(|| BanditError::Log {
                line,
                message: format!("expected {} fields, found {}", columns.len(), fields.len()),
            })
        };
        let number = |index: usize, name: &str| -> Result<u64, BanditError> {
            let value = field(index)?;
            value.parse().map_err(|_| BanditError::Log {
                line,
                message: format!("`{name}` must be a whole number, found `{value}`"),
            })
        };
        let (impressions, clicks) = (number(n, "impressions")?, number(c, "clicks")?);
        if clicks > impressions {
            return Err(BanditError::Log {
                line,
                message: format!("{clicks} clicks exceed {impressions} impressions"),
            });
        }
        rows.push(LogRow {
            line,
            profile: field(p)?.to_owned(),
            image_id: field(i)?.to_owned(),
            impressions,
            clicks,
        });
    }
    Ok(rows)
}

/// LinUCB (Li et al. 2010) with ridge prior 1: `A = I + Σ n·x·xᵀ`, `b = Σ clicks·x`; the
/// predicted click rate is `θ·x` with `θ = A⁻¹b`, its uncertainty `sqrt(xᵀA⁻¹x)`.
/// An aggregated row of `n` impressions and `c` clicks is exactly `n` single updates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinUcb {
    /// `A`, row-major, CONTEXT_DIMENSION².
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    pub impressions: u64,
    pub clicks: u64,
}

impl Default for LinUcb {
    fn default() -> Self {
        let d = CONTEXT_DIMENSION;
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            a[i * d + i] = 1.0;
        }
        Self { a, b: vec![0.0; d], impressions: 0, clicks: 0 }
    }
}

fn context(features: &Features) -> [f64; CONTEXT_DIMENSION] {
    let mut x = [1.0; CONTEXT_DIMENSION];
    x[1..].copy_from_slice(&features.to_array());
    x
}

impl LinUcb {
    pub fn update(&mut self, features: &Features, impressions: u64, clicks: u64) {
        let x = context(features);
        let d = CONTEXT_DIMENSION;
        for i in 0..d {
            for j in 0..d {
                self.a[i * d + j] += impressions as f64 * x[i] * x[j];
            }
            self.b[i] += clicks as f64 * x[i];
        }
        self.impressions += impressions;
        self.clicks += clicks;
    }

    /// (predicted click rate, uncertainty) for an image with these features; `None` when the
    /// stored matrix is malformed or not positive definite (a hand-edited state).
    pub fn estimate(&self, features: &Features) -> Option<(f64, f64)> {
        let x = context(features);
        let factor = cholesky(&self.a)?;
        let theta = solve(&factor, &self.b)?;
        let a_inv_x = solve(&factor, &x)?;
        let mean = theta.iter().zip(&x).map(|(t, v)| t * v).sum();
        let variance: f64 = a_inv_x.iter().zip(&x).map(|(t, v)| t * v).sum();
        Some((mean, variance.max(0.0).sqrt()))
    }
}

/// Lower-triangular `L` with `L·Lᵀ = a` (a is CONTEXT_DIMENSION² and symmetric positive definite).
fn cholesky(a: &[f64]) -> Option<[f64; CONTEXT_DIMENSION * CONTEXT_DIMENSION]> {
    let d = CONTEXT_DIMENSION;
    if a.len() != d * d {
        return None;
    }
    let mut l = [0.0; CONTEXT_DIMENSION * CONTEXT_DIMENSION];
    for i in 0..d {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                let diagonal = a[i * d + i] - sum;
                if diagonal <= 0.0 || !diagonal.is_finite() {
                    return None;
                }
                l[i * d + i] = diagonal.sqrt();
            } else {
                l[i * d + j] = (a[i * d + j] - sum) / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Solves `L·Lᵀ·z = v`.
fn solve(l: &[f64; CONTEXT_DIMENSION * CONTEXT_DIMENSION], v: &[f64]) -> Option<[f64; CONTEXT_DIMENSION]> {
    let d = CONTEXT_DIMENSION;
    if v.len() != d {
        return None;
    }
    let mut y = [0.0; CONTEXT_DIMENSION];
    for i in 0..d {
        y[i] = (v[i] - (0..i).map(|k| l[i * d + k] * y[k]).sum::<f64>()) / l[i * d + i];
    }
    let mut z = [0.0; CONTEXT_DIMENSION];
    for i in (0..d).rev() {
        z[i] = (y[i] - (i + 1..d).map(|k| l[k * d + i] * z[k]).sum::<f64>()) / l[i * d + i];
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(colourfulness: f64, skin: f64) -> Features {
        Features {
            sharpness: 0.8,
            exposure: 0.9,
            contrast: 0.5,
            colourfulness,
            motion: 0.3,
            skin,
            brightness: 0.5,
        }
    }

    #[test]
    fn aggregated_and_single_rows_learn_the_same() {
        let f = features(0.7, 0.1);
        let mut aggregated = LinUcb::default();
        aggregated.update(&f, 10, 3);
        let mut single = LinUcb::default();
        for click in [1, 1, 1, 0, 0, 0, 0, 0, 0, 0] {
            single.update(&f, 1, click);
        }
        assert_eq!((aggregated.impressions, aggregated.clicks), (single.impressions, single.clicks));
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
        assert!(close(&aggregated.a, &single.a) && close(&aggregated.b, &single.b));
    }

    #[test]
    fn estimate_converges_to_the_click_rate() {
        let f = features(0.5, 0.5);
        let mut model = LinUcb::default();
        let (_, before) = model.estimate(&f).expect("identity is positive definite");
        model.update(&f, 100_000, 5_000);
        let (rate, after) = model.estimate(&f).expect("positive definite");
        assert!((rate - 0.05).abs() < 0.001, "rate {rate}");
        assert!(after < before / 100.0);
    }

    #[test]
    fn log_errors_name_their_line() {
        let mut state = BanditState::default();
        let log = "profile,image_id,impressions,clicks\naction,a,10,2\naction,a,ten,2\n";
        let error = state.learn(log, |_| Some(features(0.1, 0.1))).expect_err("bad number");
        assert_eq!(
            error.to_string(),
            "impressions log line 3: `impressions` must be a whole number, found `ten`"
        );
        let error =
            state.learn("image_id,profile,clicks,impressions\nb,drama,5,2\n", |_| Some(Features::default()));
        assert!(error.expect_err("clicks > impressions").to_string().contains("line 2"));
        let unknown = state.learn("profile,image_id,impressions,clicks\nfamily,zzz,1,0\n", |_| None);
        assert!(unknown.expect_err("unknown id").to_string().contains("`zzz`"));
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut state = BanditState::default();
        state
            .learn("profile,image_id,impressions,clicks\ndrama,x,40,4\n", |_| Some(features(0.2, 0.9)))
            .expect("valid");
        let back = BanditState::from_json(&state.to_json()).expect("own output parses");
        let probe = features(0.3, 0.5);
        let (a, b) = (state.profiles["drama"].estimate(&probe), back.profiles["drama"].estimate(&probe));
        let ((ra, ua), (rb, ub)) = (a.expect("valid"), b.expect("valid"));
        assert!((ra - rb).abs() < 1e-12 && (ua - ub).abs() < 1e-12);
        assert_eq!(back.profiles["drama"].impressions, 40);
    }
}
