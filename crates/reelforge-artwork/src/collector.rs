//! The analyzer the artwork stage lends to the shared decode pass: measures a bounded set of
//! candidate frames per shot and keeps small thumbnails at regular times for the trick-play
//! sprite. Memory: at most `max_candidates_per_shot` records per shot plus the capped
//! thumbnails — never frames.

use reelforge_core::{FrameRequest, PixelLayout, VideoAnalyzer, VideoFrame, VideoInfo};

use crate::ArtworkSettings;
use crate::features::FrameMeter;
use crate::gate::ShotPlan;
use crate::profile::Candidate;

/// A small RGB24 picture of the video at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Thumbnail {
    pub time_seconds: f64,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// What the pass gathered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Collected {
    pub candidates: Vec<Candidate>,
    pub thumbnails: Vec<Thumbnail>,
    /// Source picture width in square pixels and height (for full-size extraction).
    pub display_width: u32,
    pub height: u32,
    /// End of the last decoded frame, in seconds.
    pub duration_seconds: f64,
}

/// Used when the container declares no frame rate (only to spread samples over a shot).
const FALLBACK_FRAME_RATE: f64 = 25.0;

#[derive(Debug)]
pub struct CandidateCollector {
    settings: ArtworkSettings,
    plan: ShotPlan,
    /// Frame indices to measure, ascending, with their shot; filled by `configure`.
    targets: Vec<(u64, usize)>,
    next: usize,
    meter: FrameMeter,
    thumbnail_interval: f64,
    next_thumbnail: f64,
    frame_duration: f64,
    collected: Collected,
}

impl CandidateCollector {
    pub fn new(settings: ArtworkSettings, plan: ShotPlan) -> Self {
        Self {
            settings,
            plan,
            targets: Vec::new(),
            next: 0,
            meter: FrameMeter::new(),
            thumbnail_interval: 0.0,
            next_thumbnail: 0.0,
            frame_duration: 0.0,
            collected: Collected::default(),
        }
    }

    /// Everything gathered so far (the whole video once the pass has finished).
    pub fn into_collected(self) -> Collected {
        self.collected
    }

    /// Spreads `samples_per_second` (at most `max_candidates_per_shot`, at least one) evenly
    /// over each shot: sample k of n sits at the middle of the k-th n-th of the shot.
    fn plan_targets(&mut self, frame_rate: f64) {
        self.targets.clear();
        for (shot, &(start, end)) in self.plan.shots.iter().enumerate() {
            let length = end.saturating_sub(start) + 1;
            let wanted = (length as f64 / frame_rate * self.settings.samples_per_second).ceil();
            let n =
                (wanted as u64).clamp(1, u64::from(self.settings.max_candidates_per_shot.max(1))).min(length);
            self.targets.extend((0..n).map(|k| (start + (2 * k + 1) * length / (2 * n), shot)));
        }
        self.targets.sort_unstable();
        self.targets.dedup_by_key(|t| t.0);
    }

    fn keep_thumbnail(&mut self, frame: &VideoFrame, time: f64) {
        let sprite = &self.settings.sprite;
        if self.collected.thumbnails.len() >= sprite.max_thumbnails as usize
            || time + 1e-6 < self.next_thumbnail
        {
            return;
        }
        let width = sprite.thumbnail_width.max(2);
        let height =
            ((u64::from(width) * u64::from(frame.height) / u64::from(frame.width.max(1))) as u32).max(2);
        let mut data = Vec::with_capacity((width * height * 3) as usize);
        resize_area(frame, width, height, &mut data);
        self.collected.thumbnails.push(Thumbnail { time_seconds: time, width, height, data });
        self.next_thumbnail += self.thumbnail_interval;
    }
}

impl VideoAnalyzer for CandidateCollector {
    fn configure(&mut self, source: &VideoInfo) -> FrameRequest {
        let rate = source.frame_rate.as_f64();
        let rate = if rate > 0.0 { rate } else { FALLBACK_FRAME_RATE };
        self.frame_duration = 1.0 / rate;
        self.plan_targets(rate);
        let sprite = &self.settings.sprite;
        // Long episodes widen the interval so the sprite stays under its cap.
        let cap_interval = source.duration.map_or(0.0, |d| d / f64::from(sprite.max_thumbnails.max(1)));
        self.thumbnail_interval = sprite.interval_seconds.max(cap_interval).max(0.04);
        self.collected.display_width = source.display_width().round() as u32;
        self.collected.height = source.height;
        FrameRequest::fit_width(source, self.settings.analysis_width.max(32), PixelLayout::Rgb24)
    }

    fn analyze(&mut self, frame: &VideoFrame) {
        let time = frame.time.seconds();
        self.collected.duration_seconds = self.collected.duration_seconds.max(time + self.frame_duration);
        self.keep_thumbnail(frame, time);
        while self.targets.get(self.next).is_some_and(|&(target, _)| target < frame.index) {
            self.next += 1;
        }
        let Some(&(target, shot)) = self.targets.get(self.next) else { return };
        // Luma of the frame before a target gives the target's motion; other frames are skipped.
        if frame.index + 1 == target {
            self.meter.push(frame, false);
        } else if frame.index == target {
            self.next += 1;
            if let Some((measurements, hash)) = self.meter.push(frame, true) {
                let in_transition =
                    self.plan.in_transition(frame.index, self.settings.quality.transition_margin_frames);
                self.collected.candidates.push(Candidate {
                    frame: frame.index,
                    time_seconds: time,
                    shot,
                    features: measurements.normalized(),
                    rejections: self.settings.quality.check(&measurements, in_transition),
                    measurements,
                    hash,
                });
            }
        }
    }
}

/// Area-average resize of an RGB24 frame into `out` (`width` x `height` x 3 bytes).
pub fn resize_area(frame: &VideoFrame, width: u32, height: u32, out: &mut Vec<u8>) {
    out.clear();
    let (sw, sh) = (frame.width as usize, frame.height as usize);
    for ty in 0..height as usize {
        let (y0, y1) =
            (ty * sh / height as usize, ((ty + 1) * sh / height as usize).max(ty * sh / height as usize + 1));
        for tx in 0..width as usize {
            let (x0, x1) = (
                tx * sw / width as usize,
                ((tx + 1) * sw / width as usize).max(tx * sw / width as usize + 1),
            );
            let mut acc = [0u32; 3];
            for y in y0..y1.min(sh) {
                for x in x0..x1.min(sw) {
                    let i = (y * sw + x) * 3;
                    for (a, &v) in acc.iter_mut().zip(&frame.data[i..i + 3]) {
                        *a += u32::from(v);
                    }
                }
            }
            let n = ((y1.min(sh) - y0) * (x1.min(sw) - x0)).max(1) as u32;
            out.extend(acc.map(|a| ((a + n / 2) / n) as u8));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::tests::{frame, sharp_colourful};
    use crate::gate::Rejection;
    use reelforge_core::{Rational, Timestamp};

    fn info() -> VideoInfo {
        VideoInfo {
            width: 160,
            height: 90,
            sample_aspect_ratio: Rational::new(1, 1),
            frame_rate: Rational::new(25, 1),
            time_base: Rational::new(1, 25),
            duration: Some(40.0),
            estimated_frames: Some(1000),
        }
    }

    #[test]
    fn samples_each_shot_and_keeps_regular_thumbnails() {
        // Shot 0: frames 0-499 (20 s), a black fade 480-520, shot 1: 500-999 (20 s).
        let plan = ShotPlan { shots: vec![(0, 499), (500, 999)], transitions: vec![(480, 520)] };
        let settings = ArtworkSettings {
            samples_per_second: 0.5,
            max_candidates_per_shot: 4,
            ..ArtworkSettings::default()
        };
        let mut collector = CandidateCollector::new(settings, plan);
        let request = collector.configure(&info());
        assert_eq!((request.width, request.layout), (160, PixelLayout::Rgb24));
        let picture = frame(160, 90, sharp_colourful);
        for index in 0..1000u64 {
            let mut f = picture.clone();
            f.index = index;
            f.time = Timestamp { pts: index as i64, time_base: Rational::new(1, 25) };
            collector.analyze(&f);
        }
        let collected = collector.into_collected();
        // 20 s × 0.5/s = 10 wanted per shot, capped at 4.
        let frames: Vec<u64> = collected.candidates.iter().map(|c| c.frame).collect();
        assert_eq!(frames, vec![62, 187, 312, 437, 562, 687, 812, 937]);
        assert!(collected.candidates.iter().all(|c| c.rejections.is_empty()));
        // One thumbnail every 10 s: 0, 10, 20, 30.
        let times: Vec<f64> = collected.thumbnails.iter().map(|t| t.time_seconds).collect();
        assert_eq!(times, vec![0.0, 10.0, 20.0, 30.0]);
        assert_eq!((collected.thumbnails[0].width, collected.thumbnails[0].height), (160, 90));
        assert!((collected.duration_seconds - 40.0).abs() < 1e-9);
    }

    #[test]
    fn candidates_inside_transitions_are_marked() {
        let plan = ShotPlan { shots: vec![(0, 99)], transitions: vec![(40, 60)] };
        let settings = ArtworkSettings {
            samples_per_second: 25.0,
            max_candidates_per_shot: 100,
            ..ArtworkSettings::default()
        };
        let mut collector = CandidateCollector::new(settings, plan);
        collector.configure(&info());
        let picture = frame(160, 90, sharp_colourful);
        for index in 0..100u64 {
            let mut f = picture.clone();
            f.index = index;
            collector.analyze(&f);
        }
        let collected = collector.into_collected();
        let marked: Vec<u64> = collected
            .candidates
            .iter()
            .filter(|c| c.rejections.contains(Rejection::InTransition))
            .map(|c| c.frame)
            .collect();
        assert_eq!(marked, (37..=63).collect::<Vec<_>>());
    }
}
