//! Audience profiles: weights and constraints over the normalised features, and the top-K
//! selection with diversity across shots, optionally steered by a learned bandit.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bandit::LinUcb;
use crate::features::{Features, Measurements, hamming};
use crate::gate::{QualityGate, Rejections};

/// One audience profile, as written under `artwork: profiles:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name used in output paths, artwork.json and the impressions log.
    pub name: String,
    /// How much each normalised feature (0-1) adds to the score; negative avoids it.
    #[serde(default)]
    pub weights: Features,
    /// Hard limits; a candidate outside them is never picked for this profile.
    #[serde(default)]
    pub constraints: Constraints,
}

/// Limits over normalised features (0-1); absent = no limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Constraints {
    #[schemars(range(min = 0.0, max = 1.0))]
    pub min_brightness: Option<f64>,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_brightness: Option<f64>,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_motion: Option<f64>,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub min_colourfulness: Option<f64>,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub min_skin: Option<f64>,
}

impl Constraints {
    /// The first limit `f` breaks, described; `None` when it keeps them all.
    pub fn violation(&self, f: &Features) -> Option<String> {
        let checks = [
            (self.min_brightness, f.brightness, true, "brightness"),
            (self.max_brightness, f.brightness, false, "brightness"),
            (self.max_motion, f.motion, false, "motion"),
            (self.min_colourfulness, f.colourfulness, true, "colourfulness"),
            (self.min_skin, f.skin, true, "skin"),
        ];
        checks.into_iter().find_map(|(limit, value, is_min, name)| {
            let limit = limit?;
            let broken = if is_min { value < limit } else { value > limit };
            broken.then(|| format!("{name} {value:.2} {} {limit:.2}", if is_min { "<" } else { ">" }))
        })
    }
}

impl Profile {
    /// Weighted mean of the features: Σ wᵢfᵢ / Σ|wᵢ|, so scores of profiles compare (-1..1).
    pub fn score(&self, f: &Features) -> f64 {
        let (w, v) = (self.weights.to_array(), f.to_array());
        let total: f64 = w.iter().map(|x| x.abs()).sum();
        if total == 0.0 { 0.0 } else { w.iter().zip(v).map(|(w, v)| w * v).sum::<f64>() / total }
    }

    /// The defaults: `action` wants motion, saturated colour and contrast; `drama` wants
    /// faces (skin) and stillness; `family` wants bright, colourful, well-exposed frames.
    pub fn defaults() -> Vec<Profile> {
        let weights = |sharpness, exposure, contrast, colourfulness, motion, skin, brightness| Features {
            sharpness,
            exposure,
            contrast,
            colourfulness,
            motion,
            skin,
            brightness,
        };
        vec![
            Profile {
                name: "action".into(),
                weights: weights(1.0, 0.5, 1.5, 1.5, 3.0, 0.0, 0.0),
                constraints: Constraints { min_brightness: Some(0.15), ..Constraints::default() },
            },
            Profile {
                name: "drama".into(),
                weights: weights(1.0, 0.5, 1.5, -1.0, -1.0, 3.0, 0.0),
                constraints: Constraints { max_motion: Some(0.6), ..Constraints::default() },
            },
            Profile {
                name: "family".into(),
                weights: weights(0.5, 1.5, 0.0, 2.0, 0.0, 0.5, 2.5),
                constraints: Constraints { min_brightness: Some(0.3), ..Constraints::default() },
            },
        ]
    }
}

/// A measured candidate frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Frame index in the decode pass (the numbering of shots.json).
    pub frame: u64,
    pub time_seconds: f64,
    pub shot: usize,
    pub measurements: Measurements,
    pub features: Features,
    pub hash: u64,
    pub rejections: Rejections,
}

/// How a pick got its place.
#[derive(Clone, Debug, PartialEq)]
pub enum PickKind {
    /// Highest profile score.
    Score,
    /// Highest click rate predicted by the profile's bandit.
    Learned { predicted_click_rate: f64 },
    /// An exploration slot: the candidate the bandit is least sure about.
    Exploration { uncertainty: f64 },
}

/// One chosen candidate of one profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Pick {
    /// Index into the candidates slice.
    pub candidate: usize,
    /// 1-based rank within the profile.
    pub rank: usize,
    pub profile_score: f64,
    pub kind: PickKind,
    /// Why it won, for people.
    pub reasons: Vec<String>,
}

/// How selection behaves for one profile.
#[derive(Clone, Copy, Debug)]
pub struct Selection<'a> {
    pub picks: usize,
    pub gate: &'a QualityGate,
    pub bandit: Option<&'a LinUcb>,
    /// Share (0-1) of the picks that go to exploration when a bandit is present.
    pub exploration_share: f64,
}

/// Picks up to `selection.picks` candidates for `profile`: only those that pass the gate and
/// the profile's constraints, ranked by the bandit's predicted click rate when one is given
/// (else by profile score), at most one per shot while other shots have eligible candidates,
/// never two near-duplicates.
pub fn select(candidates: &[Candidate], profile: &Profile, selection: Selection<'_>) -> Vec<Pick> {
    let eligible: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            candidates[i].rejections.is_empty()
                && profile.constraints.violation(&candidates[i].features).is_none()
        })
        .collect();
    let estimates: Vec<Option<(f64, f64)>> =
        candidates.iter().map(|c| selection.bandit.and_then(|b| b.estimate(&c.features))).collect();
    let learned = selection.bandit.is_some() && eligible.iter().all(|&i| estimates[i].is_some());
    let exploration_slots = if learned {
        (selection.picks as f64 * selection.exploration_share.clamp(0.0, 1.0)).round() as usize
    } else {
        0
    };
    let exploit = |i: usize| match estimates[i] {
        Some((rate, _)) if learned => rate,
        _ => profile.score(&candidates[i].features),
    };
    let mut by_exploit = eligible.clone();
    by_exploit.sort_by(|&a, &b| exploit(b).total_cmp(&exploit(a)).then(a.cmp(&b)));
    let mut by_uncertainty = eligible.clone();
    let uncertainty = |i: usize| estimates[i].map_or(0.0, |(_, u)| u);
    by_uncertainty.sort_by(|&a, &b| uncertainty(b).total_cmp(&uncertainty(a)).then(a.cmp(&b)));

    let mut chosen: Vec<usize> = Vec::new();
    let exploit_slots = selection.picks.saturating_sub(exploration_slots);
    fill(candidates, &by_exploit, exploit_slots, selection.gate, &mut chosen);
    fill(candidates, &by_uncertainty, selection.picks, selection.gate, &mut chosen);
    // Too few distinct candidates for the exploration slots: give them back to exploitation.
    fill(candidates, &by_exploit, selection.picks, selection.gate, &mut chosen);

    chosen
        .iter()
        .enumerate()
        .map(|(position, &i)| {
            let kind = match estimates[i] {
                Some((_, u))
                    if learned && position >= exploit_slots.min(chosen.len()) && exploration_slots > 0 =>
                {
                    PickKind::Exploration { uncertainty: u }
                }
                Some((rate, _)) if learned => PickKind::Learned { predicted_click_rate: rate },
                _ => PickKind::Score,
            };
            let reasons = reasons(candidates, &eligible, profile, i, &kind, selection);
            Pick {
                candidate: i,
                rank: position + 1,
                profile_score: profile.score(&candidates[i].features),
                kind,
                reasons,
            }
        })
        .collect()
}

/// Adds candidates from `order` until `chosen` holds `target`: first only from shots not yet
/// used, then from any shot; never a near-duplicate of a chosen one.
fn fill(
    candidates: &[Candidate],
    order: &[usize],
    target: usize,
    gate: &QualityGate,
    chosen: &mut Vec<usize>,
) {
    for new_shots_only in [true, false] {
        for &i in order {
            if chosen.len() >= target {
                return;
            }
            let c = &candidates[i];
            let clash = chosen.iter().any(|&j| {
                j == i
                    || (new_shots_only && candidates[j].shot == c.shot)
                    || hamming(candidates[j].hash, c.hash) <= gate.duplicate_max_distance
            });
            if !clash {
                chosen.push(i);
            }
        }
    }
}

fn reasons(
    candidates: &[Candidate],
    eligible: &[usize],
    profile: &Profile,
    i: usize,
    kind: &PickKind,
    selection: Selection<'_>,
) -> Vec<String> {
    let c = &candidates[i];
    let mut reasons = Vec::new();
    match kind {
        PickKind::Score => {
            let better = eligible.iter().filter(|&&j| profile.score(&candidates[j].features) > profile.score(&c.features)).count();
            reasons.push(format!(
                "profile score {:.3}, rank {} of {} candidates that passed the gate and the profile's constraints",
                profile.score(&c.features),
                better + 1,
                eligible.len()
            ));
        }
        PickKind::Learned { predicted_click_rate } => reasons.push(format!(
            "predicted click rate {:.2}% from {} logged impressions of this profile",
            predicted_click_rate * 100.0,
            selection.bandit.map_or(0, |b| b.impressions)
        )),
        PickKind::Exploration { uncertainty } => reasons.push(format!(
            "exploration slot ({:.0}% of picks): the candidate the learned model is least sure about (±{uncertainty:.3})",
            selection.exploration_share * 100.0
        )),
    }
    // The features that contributed most to this profile's score.
    let (w, v) = (profile.weights.to_array(), c.features.to_array());
    let mut contributions: Vec<(usize, f64)> =
        (0..w.len()).map(|k| (k, w[k] * v[k])).filter(|&(_, x)| x > 0.0).collect();
    contributions.sort_by(|a, b| b.1.total_cmp(&a.1));
    let strongest: Vec<String> = contributions
        .iter()
        .take(3)
        .map(|&(k, _)| format!("{} {:.2} (weight {})", Features::NAMES[k], v[k], w[k]))
        .collect();
    if !strongest.is_empty() {
        reasons.push(format!("strongest features for `{}`: {}", profile.name, strongest.join(", ")));
    }
    let m = &c.measurements;
    reasons.push(format!(
        "passed the quality gate: Laplacian variance {:.0} (min {}), mean luma {:.0} (min {}), luma std-dev {:.1} (min {}), clipped {:.1}% (max {:.0}%), motion {:.1} (max {}), clear of transitions",
        m.sharpness,
        selection.gate.min_sharpness,
        m.mean_luma,
        selection.gate.min_mean_luma,
        m.contrast,
        selection.gate.min_contrast,
        (m.shadows_clipped + m.highlights_clipped) * 100.0,
        selection.gate.max_clipped_share * 100.0,
        m.motion,
        selection.gate.max_motion
    ));
    reasons.push(format!("from shot {}, no near-duplicate of another pick", c.shot + 1));
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bandit::BanditState;

    fn candidate(shot: usize, hash: u64, features: Features) -> Candidate {
        Candidate {
            frame: shot as u64 * 100,
            time_seconds: shot as f64 * 4.0,
            shot,
            measurements: Measurements::default(),
            features,
            hash,
            rejections: Rejections::default(),
        }
    }

    fn f(colourfulness: f64, motion: f64, skin: f64, brightness: f64) -> Features {
        Features { sharpness: 0.8, exposure: 0.9, contrast: 0.6, colourfulness, motion, skin, brightness }
    }

    /// Four shots with distinct characters; hashes far apart (not near-duplicates).
    fn catalogue() -> Vec<Candidate> {
        vec![
            candidate(0, 0x0000_0000_0000_0000, f(0.9, 0.9, 0.0, 0.4)), // colourful chase
            candidate(1, 0xFFFF_FFFF_0000_0000, f(0.1, 0.05, 0.9, 0.4)), // still close-up
            candidate(2, 0x0000_FFFF_FFFF_0000, f(0.7, 0.1, 0.2, 0.85)), // bright, colourful
            candidate(3, 0xFFFF_0000_0000_FFFF, f(0.3, 0.3, 0.3, 0.5)), // average
        ]
    }

    fn top(candidates: &[Candidate], profile: &Profile, bandit: Option<&LinUcb>, picks: usize) -> Vec<usize> {
        let gate = QualityGate::default();
        let selection = Selection { picks, gate: &gate, bandit, exploration_share: 0.0 };
        select(candidates, profile, selection).iter().map(|p| p.candidate).collect()
    }

    #[test]
    fn profiles_with_different_weights_pick_different_frames() {
        let cands = catalogue();
        let profiles = Profile::defaults();
        let firsts: Vec<usize> = profiles.iter().map(|p| top(&cands, p, None, 1)[0]).collect();
        assert_eq!(firsts, vec![0, 1, 2], "action → chase, drama → close-up, family → bright colourful");
    }

    #[test]
    fn constraints_exclude_candidates() {
        let cands = catalogue();
        let drama = &Profile::defaults()[1];
        // max_motion 0.6 keeps the chase out of drama's picks whatever the count.
        assert!(!top(&cands, drama, None, 4).contains(&0));
        assert_eq!(drama.constraints.violation(&cands[0].features).as_deref(), Some("motion 0.90 > 0.60"));
    }

    #[test]
    fn rejected_candidates_are_never_picked() {
        let mut cands = catalogue();
        cands[0].rejections = QualityGate::default().check(&Measurements::default(), false);
        assert!(!top(&cands, &Profile::defaults()[0], None, 4).contains(&0));
    }

    #[test]
    fn picks_spread_across_shots_and_skip_near_duplicates() {
        let mut cands = catalogue();
        // A second, slightly different frame of the chase shot, and a near-duplicate of it in shot 3.
        cands.push(candidate(0, 0x0000_0000_FFFF_0000, f(0.88, 0.88, 0.0, 0.4)));
        cands.push(candidate(3, 0x0000_0000_0000_0003, f(0.89, 0.89, 0.0, 0.4)));
        let action = &Profile::defaults()[0];
        let picks = top(&cands, action, None, 3);
        assert_eq!(picks[0], 0);
        assert!(!picks.contains(&5), "near-duplicate (2 bits from the first pick) skipped: {picks:?}");
        let shots: Vec<usize> = picks.iter().map(|&i| cands[i].shot).collect();
        assert!(!shots[1..].contains(&shots[0]), "one pick per shot while others remain: {shots:?}");
        // With more picks than shots, the same shot may serve twice (still no duplicates).
        let many = top(&cands, action, None, 5);
        assert!(many.contains(&4) && !many.contains(&5), "{many:?}");
    }

    /// Deterministic xorshift, so the simulation needs no RNG crate and never flakes.
    struct Rng(u64);
    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn learning_loop_finds_the_preferred_image() {
        // The `action` profile's weights put the colourful chase (candidate 0) first. Its real
        // audience, though, clicks on faces: true click rate = 1% + 8% × skin, so the close-up
        // (candidate 1, skin 0.9) has 8.2%, the chase 1%, the bright frame 2.6%, the average 3.4%.
        let cands = catalogue();
        let action = &Profile::defaults()[0];
        assert_eq!(top(&cands, action, None, 1), vec![0]);

        // Each image shown 5,000 times to random `action` viewers; clicks drawn per impression.
        // With this seed the log holds 49, 403, 142 and 146 clicks; the learned model then
        // predicts 8.06 % for the close-up and 0.98 % for the chase.
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut log = String::from("profile,image_id,impressions,clicks\n");
        let mut clicks_of = Vec::new();
        for (i, c) in cands.iter().enumerate() {
            let rate = 0.01 + 0.08 * c.features.skin;
            let clicks = (0..5_000).filter(|_| rng.unit() < rate).count();
            clicks_of.push(clicks);
            log.push_str(&format!("action,img{i},5000,{clicks}\n"));
        }
        let mut state = BanditState::default();
        let summary = state
            .learn(&log, |id| {
                id.strip_prefix("img").and_then(|n| n.parse::<usize>().ok()).map(|n| cands[n].features)
            })
            .expect("valid log");
        assert_eq!((summary.rows, summary.impressions), (4, 20_000));
        let bandit = &state.profiles["action"];

        // After learning, the exploitation pick is the close-up.
        assert_eq!(top(&cands, action, Some(bandit), 1), vec![1]);
        let (rate, _) = bandit.estimate(&cands[1].features).expect("learned model");
        assert!((rate - 0.082).abs() < 0.02, "predicted {rate}, true 0.082 (clicks {clicks_of:?})");
        let (chase, _) = bandit.estimate(&cands[0].features).expect("learned model");
        assert!(chase < 0.03, "chase predicted {chase}, true 0.01");

        // Other profiles are untouched: drama has no model, family still follows its weights.
        assert!(!state.profiles.contains_key("family"));

        // With a 50 % exploration share, one of two picks is the most uncertain candidate,
        // and it says so.
        let gate = QualityGate::default();
        let picks = select(
            &cands,
            action,
            Selection { picks: 2, gate: &gate, bandit: Some(bandit), exploration_share: 0.5 },
        );
        assert_eq!(picks[0].candidate, 1);
        assert!(matches!(picks[0].kind, PickKind::Learned { .. }));
        assert!(matches!(picks[1].kind, PickKind::Exploration { .. }), "{:?}", picks[1]);
        assert!(picks[1].reasons[0].starts_with("exploration slot"));
    }
}
