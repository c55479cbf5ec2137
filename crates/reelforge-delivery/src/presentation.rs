//! What was written: the measured tracks that the HLS and DASH manifests describe.

/// File name of every track's initialisation segment.
pub const INIT_FILE_NAME: &str = "init.mp4";
/// printf-style pattern of media segment names (for FFmpeg); see [`segment_file_name`].
pub const SEGMENT_FILE_PATTERN: &str = "seg_%05d.m4s";

/// The name of media segment `number`, matching [`SEGMENT_FILE_PATTERN`].
pub fn segment_file_name(number: u64) -> String {
    format!("seg_{number:05}.m4s")
}

/// One media segment as measured on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its number in the file name (see [`segment_file_name`]).
    pub number: u64,
    /// Decode time of its first sample, in the track timescale.
    pub start: u64,
    /// Duration in the track timescale.
    pub duration: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Bytes from the start of the file to the end of its first (key) frame, for I-frame
    /// playlists; `None` for audio.
    pub key_frame_end: Option<u64>,
}

/// The segments of one track, all in one folder below the output root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackagedTrack {
    /// Folder relative to the output root, with `/` separators, e.g. "media/v0".
    pub dir: String,
    /// Ticks per second of segment times.
    pub timescale: u32,
    pub segments: Vec<Segment>,
}

/// Bit rates in bit/s computed from the segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackBitrate {
    /// Total segment bytes over total duration.
    pub average: u64,
    /// The highest bit rate of any one segment.
    pub peak: u64,
}

impl PackagedTrack {
    pub fn duration_seconds(&self) -> f64 {
        let ticks: u64 = self.segments.iter().map(|s| s.duration).sum();
        ticks as f64 / f64::from(self.timescale.max(1))
    }

    pub fn bitrate(&self) -> TrackBitrate {
        let seconds = |ticks: u64| ticks as f64 / f64::from(self.timescale.max(1));
        let bytes: u64 = self.segments.iter().map(|s| s.bytes).sum();
        let total = self.duration_seconds();
        let average = if total > 0.0 { (bytes as f64 * 8.0 / total).ceil() as u64 } else { 0 };
        let peak = self
            .segments
            .iter()
            .filter(|s| s.duration > 0)
            .map(|s| (s.bytes as f64 * 8.0 / seconds(s.duration)).ceil() as u64)
            .max()
            .unwrap_or(0);
        TrackBitrate { average, peak: peak.max(average) }
    }

    /// Peak bit rate of the key frames alone (an I-frame playlist's BANDWIDTH).
    pub fn key_frame_peak(&self) -> u64 {
        let timescale = f64::from(self.timescale.max(1));
        self.segments
            .iter()
            .filter(|s| s.duration > 0)
            .filter_map(|s| {
                s.key_frame_end.map(|end| (end as f64 * 8.0 * timescale / s.duration as f64).ceil() as u64)
            })
            .max()
            .unwrap_or(0)
    }
}

/// One video rendition.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoRendition {
    /// Stable id, e.g. "v0".
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    /// RFC 6381 codec string, e.g. "avc1.64001f".
    pub codecs: String,
    pub track: PackagedTrack,
}

/// One audio rendition (one language).
#[derive(Clone, Debug, PartialEq)]
pub struct AudioRendition {
    pub id: String,
    /// ISO 639 language code, e.g. "eng"; `None` when the source does not say.
    pub language: Option<String>,
    /// Human-readable name shown in player menus.
    pub name: String,
    pub codecs: String,
    pub channels: u32,
    pub sample_rate: u32,
    /// The track players pick first.
    pub default: bool,
    pub track: PackagedTrack,
}

/// A WebVTT subtitle file (one language), referenced whole.
#[derive(Clone, Debug, PartialEq)]
pub struct SubtitleTrack {
    pub id: String,
    /// BCP-47 tag, e.g. "en".
    pub language: String,
    /// Name shown in player menus, e.g. "English".
    pub name: String,
    /// The whole file (DASH), relative to the output root, e.g. "subtitles/en.vtt".
    pub path: String,
    /// The same cues segmented like the media (HLS), paths relative to the output root.
    pub segments: Vec<SubtitleSegment>,
}

/// One WebVTT segment file and the media time it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct SubtitleSegment {
    pub path: String,
    pub duration_seconds: f64,
}

/// Everything the manifests describe.
#[derive(Clone, Debug, PartialEq)]
pub struct Presentation {
    pub video: Vec<VideoRendition>,
    pub audio: Vec<AudioRendition>,
    pub subtitles: Vec<SubtitleTrack>,
}

impl Presentation {
    /// The longest track's duration.
    pub fn duration_seconds(&self) -> f64 {
        self.video
            .iter()
            .map(|v| v.track.duration_seconds())
            .chain(self.audio.iter().map(|a| a.track.duration_seconds()))
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrates_come_from_segment_sizes_and_durations() {
        let track = PackagedTrack {
            dir: "media/v0".into(),
            timescale: 1000,
            segments: vec![
                Segment { number: 0, start: 0, duration: 6000, bytes: 750_000, key_frame_end: Some(30_000) },
                Segment {
                    number: 1,
                    start: 6000,
                    duration: 2000,
                    bytes: 500_000,
                    key_frame_end: Some(20_000),
                },
            ],
        };
        // 1.25 MB over 8 s = 1.25 Mbit/s average; the 2 s segment peaks at 2 Mbit/s.
        assert_eq!(track.bitrate(), TrackBitrate { average: 1_250_000, peak: 2_000_000 });
        assert_eq!(track.key_frame_peak(), 80_000);
        assert_eq!(segment_file_name(7), "seg_00007.m4s");
    }
}
