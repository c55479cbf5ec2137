//! Trimming the configured ladder to one source: no upscaling, the source's display aspect
//! ratio, square pixels and even dimensions (4:2:0 chroma needs them).

use crate::error::DeliveryError;
use crate::settings::{RenditionSettings, VideoCodec};
use reelforge_core::CheckSettings;

/// What the ladder needs to know about the source picture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SourceVideo {
    pub width: u32,
    pub height: u32,
    /// Sample (pixel) aspect ratio as (num, den); (1, 1) for square pixels.
    pub sample_aspect: (u32, u32),
}

impl SourceVideo {
    /// Width and height as displayed (anamorphic pixels stretched to square ones).
    fn display_size(&self) -> (f64, f64) {
        let (num, den) = self.sample_aspect;
        let sar = if num == 0 || den == 0 { 1.0 } else { f64::from(num) / f64::from(den) };
        (f64::from(self.width) * sar, f64::from(self.height))
    }
}

/// One rung as it will be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRung {
    /// Short stable name, also the media folder: "v0", "v1", … in ascending bit rate.
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub codec: VideoCodec,
    /// Average bit rate in bit/s.
    pub bitrate: u64,
    /// VBV maximum rate in bit/s.
    pub max_rate: u64,
    /// VBV buffer size in bits.
    pub buffer_size: u64,
}

/// The rungs to encode for `source`, lowest bit rate first.
pub fn plan_ladder(
    settings: &RenditionSettings,
    source: SourceVideo,
) -> Result<Vec<PlannedRung>, DeliveryError> {
    validate(settings)?;
    if source.width < 2 || source.height < 2 {
        return Err(DeliveryError::InvalidSettings(format!(
            "the source picture {}x{} is too small to encode",
            source.width, source.height
        )));
    }
    let (display_w, display_h) = source.display_size();
    let portrait = display_h > display_w;
    let (source_short, source_long) = if portrait { (display_w, display_h) } else { (display_h, display_w) };
    // A rung's `height` is its short side; the long side follows the source's aspect ratio.
    let fit = |short: f64| -> (u32, u32) {
        let short_px = even(short);
        let long_px = even(short * source_long / source_short);
        if portrait { (short_px, long_px) } else { (long_px, short_px) }
    };
    let mut rungs: Vec<(u32, u32, VideoCodec, u64)> = settings
        .ladder
        .iter()
        .filter(|rung| f64::from(rung.height) <= source_short)
        .map(|rung| {
            let (w, h) = fit(f64::from(rung.height));
            (w, h, rung.codec, u64::from(rung.bitrate_kbps) * 1000)
        })
        .collect();
    if rungs.is_empty() {
        // A source smaller than every rung still gets one rendition, at its own size and the
        // lowest configured bit rate.
        let lowest = settings.ladder.iter().min_by_key(|rung| rung.bitrate_kbps);
        if let Some(rung) = lowest {
            let (w, h) = fit(source_short);
            rungs.push((w, h, rung.codec, u64::from(rung.bitrate_kbps) * 1000));
        }
    }
    rungs.sort_by_key(|&(w, h, _, bitrate)| (bitrate, w, h));
    rungs.dedup();
    Ok(rungs
        .into_iter()
        .enumerate()
        .map(|(index, (width, height, codec, bitrate))| {
            let max_rate = (bitrate as f64 * settings.max_rate_ratio).round() as u64;
            PlannedRung {
                name: format!("v{index}"),
                width,
                height,
                codec,
                bitrate,
                max_rate,
                buffer_size: (max_rate as f64 * settings.gop_seconds).round() as u64,
            }
        })
        .collect())
}

/// Rounds to the nearest even number of at least 2.
fn even(value: f64) -> u32 {
    ((value / 2.0).round() as u32 * 2).max(2)
}

/// The schema's ranges are checked when the pipeline loads; a caller that skips it still
/// cannot plan a ladder that breaks the segment rules.
fn validate(settings: &RenditionSettings) -> Result<(), DeliveryError> {
    if settings.ladder.is_empty() {
        return Err(DeliveryError::InvalidSettings("`ladder` is empty; give at least one rung".into()));
    }
    match settings.problems().into_iter().next() {
        Some(problem) => {
            Err(DeliveryError::InvalidSettings(format!("`{}` {}", problem.field, problem.problem)))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Rung;

    fn source(width: u32, height: u32) -> SourceVideo {
        SourceVideo { width, height, sample_aspect: (1, 1) }
    }

    fn sizes(rungs: &[PlannedRung]) -> Vec<(u32, u32, u64)> {
        rungs.iter().map(|r| (r.width, r.height, r.bitrate / 1000)).collect()
    }

    #[test]
    fn default_ladder_is_apples_trimmed_to_a_720p_source() {
        let rungs = plan_ladder(&RenditionSettings::default(), source(1280, 720)).unwrap();
        assert_eq!(
            sizes(&rungs),
            vec![
                (416, 234, 145),
                (640, 360, 365),
                (768, 432, 730),
                (768, 432, 1100),
                (960, 540, 2000),
                (1280, 720, 3000),
                (1280, 720, 4500)
            ]
        );
        assert_eq!(rungs[0].name, "v0");
        assert!(rungs.iter().all(|r| r.codec == VideoCodec::H264));
    }

    #[test]
    fn full_hd_keeps_every_rung() {
        let rungs = plan_ladder(&RenditionSettings::default(), source(1920, 1080)).unwrap();
        assert_eq!(rungs.len(), 9);
        assert_eq!(sizes(&rungs).last(), Some(&(1920, 1080, 7800)));
    }

    #[test]
    fn vbv_caps_the_peak_within_twice_the_average() {
        for rung in plan_ladder(&RenditionSettings::default(), source(1920, 1080)).unwrap() {
            assert!(rung.max_rate > rung.bitrate && rung.max_rate <= 2 * rung.bitrate, "{rung:?}");
            assert_eq!(rung.buffer_size, rung.max_rate * 2);
        }
    }

    #[test]
    fn four_by_three_keeps_its_aspect_ratio_with_even_sizes() {
        let rungs = plan_ladder(&RenditionSettings::default(), source(640, 480)).unwrap();
        assert_eq!(sizes(&rungs), vec![(312, 234, 145), (480, 360, 365), (576, 432, 730), (576, 432, 1100)]);
    }

    #[test]
    fn anamorphic_pal_widescreen_is_displayed_sixteen_by_nine() {
        // 720x576 with 64:45 pixels displays as 1024x576.
        let anamorphic = SourceVideo { width: 720, height: 576, sample_aspect: (64, 45) };
        let rungs = plan_ladder(&RenditionSettings::default(), anamorphic).unwrap();
        assert_eq!(sizes(&rungs).last(), Some(&(960, 540, 2000)));
        assert!(rungs.iter().all(|r| r.width % 2 == 0 && r.height % 2 == 0));
    }

    #[test]
    fn portrait_sources_scale_their_short_side() {
        let rungs = plan_ladder(&RenditionSettings::default(), source(720, 1280)).unwrap();
        assert_eq!(sizes(&rungs)[0], (234, 416, 145));
        assert_eq!(sizes(&rungs).last(), Some(&(720, 1280, 4500)));
    }

    #[test]
    fn tiny_sources_get_one_rung_at_their_own_size() {
        let rungs = plan_ladder(&RenditionSettings::default(), source(320, 180)).unwrap();
        assert_eq!(sizes(&rungs), vec![(320, 180, 145)]);
    }

    #[test]
    fn codec_per_rung_and_duplicates_collapse() {
        let settings = RenditionSettings {
            ladder: vec![
                Rung { width: 640, height: 360, bitrate_kbps: 500, codec: VideoCodec::Av1 },
                // Only the height counts for a 16:9 source: the same rendition as the first.
                Rung { width: 600, height: 360, bitrate_kbps: 500, codec: VideoCodec::Av1 },
                Rung { width: 1280, height: 720, bitrate_kbps: 2000, codec: VideoCodec::Hevc },
            ],
            ..RenditionSettings::default()
        };
        let rungs = plan_ladder(&settings, source(1280, 720)).unwrap();
        assert_eq!(
            rungs.iter().map(|r| r.codec).collect::<Vec<_>>(),
            vec![VideoCodec::Av1, VideoCodec::Hevc]
        );
    }

    #[test]
    fn bad_settings_are_config_errors() {
        // Plain ranges are the schema's, checked when the pipeline loads; these rules hold here too.
        use reelforge_core::{Classify, ErrorClass};
        let cases = [
            RenditionSettings { ladder: vec![], ..RenditionSettings::default() },
            RenditionSettings { segment_seconds: 5.0, ..RenditionSettings::default() },
            RenditionSettings { max_rate_ratio: 1.0, ..RenditionSettings::default() },
            RenditionSettings { gop_seconds: 0.0, ..RenditionSettings::default() },
        ];
        for settings in cases {
            let error = plan_ladder(&settings, source(1280, 720)).unwrap_err();
            assert_eq!(error.class(), ErrorClass::Config, "{error}");
        }
    }
}
