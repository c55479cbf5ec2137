//! `artwork`: thumbnails per audience profile from the shared decode pass. Candidates are
//! measured on small frames in the pass; only the winners are decoded again at full size
//! (by seeking) and cropped for delivery. Also writes a trick-play sprite with a WebVTT track.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use image::RgbImage;
use image::imageops::FilterType;
use reelforge_artwork::{
    ArtworkSettings, BanditState, CandidateCollector, Collected, CropRect, PickKind, Selection, ShotPlan,
    Thumbnail,
};
use reelforge_core::{ErrorClass, PixelLayout, ProgressSink, ProgressUnit, VideoFrame};
use reelforge_media::StreamDamage;
use reelforge_pipeline::{StageError, StageJob, StageName, StageOutcome};

use crate::documents::{
    self, ARTWORK_JSON, ArtworkDocument, CandidateSummary, CropDocument, PickDocument, ProfilePicks,
    SpriteDocument,
};
use crate::{AnalysisStage, Analyzers};

const VTT_FILE: &str = "thumbnails.vtt";

/// The collector while the decode pass runs, with what the stage read beforehand.
pub struct ArtworkAnalysis {
    settings: ArtworkSettings,
    collector: CandidateCollector,
    bandit: Option<BanditState>,
}

impl ArtworkAnalysis {
    /// Reads the shot list and the bandit state first, so a bad file fails before the
    /// decode pass rather than after it (settings were checked when the pipeline loaded).
    pub fn new(settings: ArtworkSettings, job: &StageJob<'_>) -> Result<Self, StageError> {
        let shots_dir = job.upstream.get(&StageName::Shots).ok_or_else(|| {
            StageError::new(ErrorClass::Config, "the artwork stage needs the shots stage's output")
        })?;
        let shots = documents::read_shots(shots_dir)?;
        let plan = ShotPlan {
            shots: shots.shots.iter().map(|s| (s.shot.start_frame, s.shot.end_frame)).collect(),
            transitions: shots.boundaries.iter().map(|b| (b.first_frame, b.last_frame)).collect(),
        };
        let bandit = match &settings.bandit_state {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    StageError::with_source(ErrorClass::Config, format!("reading {}", path.display()), e)
                })?;
                Some(
                    BanditState::from_json(&text)
                        .map_err(|e| StageError::from_classified(format!("reading {}", path.display()), e))?,
                )
            }
            None => None,
        };
        Ok(Self { collector: CandidateCollector::new(settings.clone(), plan), settings, bandit })
    }
}

impl AnalysisStage for ArtworkAnalysis {
    fn analyzers(&mut self) -> Analyzers<'_> {
        Analyzers { video: vec![&mut self.collector], audio: Vec::new() }
    }

    fn write(
        self: Box<Self>,
        job: &StageJob<'_>,
        damage: &[StreamDamage],
        progress: &dyn ProgressSink,
    ) -> Result<StageOutcome, StageError> {
        let Self { settings, collector, bandit } = *self;
        let collected = collector.into_collected();
        let (input, out_dir) = (job.input, job.out_dir);
        let passed = collected.candidates.iter().filter(|c| c.rejections.is_empty()).count();
        if passed == 0 {
            return Err(StageError::new(
                ErrorClass::BadInput,
                format!(
                    "{}: none of {} candidate frames passed the quality gate (all black, flat, blurred or in transitions)",
                    input.display(),
                    collected.candidates.len()
                ),
            ));
        }

        // Select per profile, then decode each distinct winner once at full size.
        let mut selections = Vec::new();
        let mut winners: BTreeMap<usize, usize> = BTreeMap::new();
        for profile in &settings.profiles {
            let model = bandit.as_ref().and_then(|b| b.profiles.get(&profile.name));
            let selection = Selection {
                picks: settings.picks_per_profile as usize,
                gate: &settings.quality,
                bandit: model,
                exploration_share: settings.exploration_share,
            };
            let picks = reelforge_artwork::select(&collected.candidates, profile, selection);
            for pick in &picks {
                let next = winners.len();
                winners.entry(pick.candidate).or_insert(next);
            }
            selections.push((profile, model.is_some(), picks));
        }
        let mut order: Vec<(usize, usize)> = winners.iter().map(|(&c, &slot)| (slot, c)).collect();
        order.sort_unstable();
        let times: Vec<f64> = order.iter().map(|&(_, c)| collected.candidates[c].time_seconds).collect();
        progress.started("artwork", Some(times.len() as u64), ProgressUnit::Items);
        let frames = reelforge_media::extract_frames(
            input,
            &times,
            collected.display_width.max(2),
            PixelLayout::Rgb24,
        )
        .map_err(|e| StageError::from_classified("decoding the chosen frames", e))?;

        let mut profiles = Vec::new();
        for (profile, learned, picks) in selections {
            let dir = out_dir.join(&profile.name);
            std::fs::create_dir_all(&dir).map_err(|e| {
                StageError::with_source(ErrorClass::Other, format!("creating {}", dir.display()), e)
            })?;
            let mut documents = Vec::new();
            for pick in picks {
                let candidate = &collected.candidates[pick.candidate];
                let frame = frames.get(winners[&pick.candidate]).ok_or_else(|| {
                    StageError::new(ErrorClass::Other, "fewer frames decoded than asked for")
                })?;
                let mut images = Vec::new();
                for crop in &settings.crops {
                    let rect = reelforge_artwork::salient_crop(frame, crop.width, crop.height);
                    let stem = format!("{}/{}_{}", profile.name, pick.rank, crop.name);
                    let picture = crop_and_scale(frame, rect, crop.width, crop.height)?;
                    write_jpeg(&out_dir.join(format!("{stem}.jpg")), &picture, settings.jpeg_quality)?;
                    write_webp(&out_dir.join(format!("{stem}.webp")), &picture)?;
                    images.push(CropDocument {
                        name: crop.name.clone(),
                        width: crop.width,
                        height: crop.height,
                        source_rect: rect,
                        jpeg: format!("{stem}.jpg"),
                        webp: format!("{stem}.webp"),
                    });
                }
                let (chosen_by, predicted_click_rate) = match pick.kind {
                    PickKind::Score => ("score", None),
                    PickKind::Learned { predicted_click_rate } => ("learned", Some(predicted_click_rate)),
                    PickKind::Exploration { .. } => ("exploration", None),
                };
                documents.push(PickDocument {
                    rank: pick.rank,
                    image_id: format!("f{:06}-{:016x}", candidate.frame, candidate.hash),
                    frame: candidate.frame,
                    time_seconds: candidate.time_seconds,
                    shot: candidate.shot,
                    chosen_by: chosen_by.to_owned(),
                    profile_score: pick.profile_score,
                    predicted_click_rate,
                    features: candidate.features,
                    measurements: candidate.measurements,
                    reasons: pick.reasons,
                    images,
                });
            }
            progress.advanced("artwork", documents.len() as u64);
            profiles.push(ProfilePicks { name: profile.name.clone(), learned, picks: documents });
        }
        progress.finished("artwork");

        let sprite = write_sprite(out_dir, &collected, &settings)?;
        let mut rejected = BTreeMap::new();
        for candidate in &collected.candidates {
            for reason in candidate.rejections.iter() {
                *rejected.entry(reason).or_insert(0) += 1;
            }
        }
        let summary = format!(
            "{} profiles, {} distinct frames chosen from {} candidates ({} passed the gate), {} sprite thumbnails",
            profiles.len(),
            winners.len(),
            collected.candidates.len(),
            passed,
            sprite.thumbnails
        );
        let document = ArtworkDocument {
            source: input.display().to_string(),
            duration_seconds: collected.duration_seconds,
            settings,
            candidates: CandidateSummary {
                measured: collected.candidates.len(),
                passed_gate: passed,
                rejected,
            },
            profiles,
            sprite,
            damage: damage.to_vec(),
        };
        crate::write_json(&out_dir.join(ARTWORK_JSON), &document)?;
        Ok(StageOutcome { summary: Some(summary) })
    }
}

fn crop_and_scale(
    frame: &VideoFrame,
    rect: CropRect,
    width: u32,
    height: u32,
) -> Result<RgbImage, StageError> {
    let image = RgbImage::from_raw(frame.width, frame.height, frame.data.clone())
        .ok_or_else(|| StageError::new(ErrorClass::Other, "decoded frame buffer does not match its size"))?;
    let window = image::imageops::crop_imm(&image, rect.x, rect.y, rect.width, rect.height).to_image();
    Ok(image::imageops::resize(&window, width, height, FilterType::Lanczos3))
}

/// Tiles the thumbnails into sheets of `columns` x `rows` and writes the WebVTT track that
/// points each time range at its tile (`sprite_001.jpg#xywh=x,y,w,h`).
fn write_sprite(
    out_dir: &Path,
    collected: &Collected,
    settings: &ArtworkSettings,
) -> Result<SpriteDocument, StageError> {
    let thumbs = &collected.thumbnails;
    let (tw, th) = thumbs.first().map_or((0, 0), |t| (t.width, t.height));
    let (columns, rows) = (settings.sprite.columns, settings.sprite.rows);
    let per_sheet = (columns * rows) as usize;
    let mut sheets = Vec::new();
    let mut vtt = String::from("WEBVTT\n");
    for (sheet_index, chunk) in thumbs.chunks(per_sheet).enumerate() {
        let name = format!("sprite_{:03}.jpg", sheet_index + 1);
        let used_rows = chunk.len().div_ceil(columns as usize) as u32;
        let used_columns = (chunk.len() as u32).min(columns);
        let mut sheet = RgbImage::new(used_columns * tw, used_rows * th);
        for (i, thumb) in chunk.iter().enumerate() {
            let (x, y) = ((i as u32 % columns) * tw, (i as u32 / columns) * th);
            let tile = thumbnail_image(thumb)?;
            image::imageops::replace(&mut sheet, &tile, i64::from(x), i64::from(y));
            let global = sheet_index * per_sheet + i;
            let end = thumbs.get(global + 1).map_or(collected.duration_seconds, |t| t.time_seconds);
            // Writing to a String cannot fail.
            let _ = write!(
                vtt,
                "\n{} --> {}\n{name}#xywh={x},{y},{tw},{th}\n",
                vtt_time(thumb.time_seconds),
                vtt_time(end.max(thumb.time_seconds))
            );
        }
        write_jpeg(&out_dir.join(&name), &sheet, settings.jpeg_quality)?;
        sheets.push(name);
    }
    crate::write_text(&out_dir.join(VTT_FILE), &vtt)?;
    Ok(SpriteDocument {
        vtt: VTT_FILE.to_owned(),
        sheets,
        thumbnails: thumbs.len(),
        thumbnail_width: tw,
        thumbnail_height: th,
    })
}

fn thumbnail_image(thumb: &Thumbnail) -> Result<RgbImage, StageError> {
    RgbImage::from_raw(thumb.width, thumb.height, thumb.data.clone())
        .ok_or_else(|| StageError::new(ErrorClass::Other, "thumbnail buffer does not match its size"))
}

/// `HH:MM:SS.mmm`, as WebVTT wants.
fn vtt_time(seconds: f64) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000
    )
}

fn write_jpeg(path: &Path, image: &RgbImage, quality: u8) -> Result<(), StageError> {
    let file = std::fs::File::create(path)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("writing {}", path.display()), e))?;
    let mut writer = std::io::BufWriter::new(file);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut writer, quality)
        .encode_image(image)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("encoding {}", path.display()), e))
}

/// WebP through the `image` crate, whose encoder is lossless only (larger files than lossy
/// WebP; no native libwebp needed).
fn write_webp(path: &Path, image: &RgbImage) -> Result<(), StageError> {
    let file = std::fs::File::create(path)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("writing {}", path.display()), e))?;
    image::codecs::webp::WebPEncoder::new_lossless(std::io::BufWriter::new(file))
        .encode(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| StageError::with_source(ErrorClass::Other, format!("encoding {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vtt_times_are_zero_padded() {
        assert_eq!(vtt_time(0.0), "00:00:00.000");
        assert_eq!(vtt_time(3723.5), "01:02:03.500");
    }
}
