//! The `renditions:` section of a pipeline file.

use reelforge_core::{CheckSettings, SettingProblem};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Video codec of one rung.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    /// H.264 / AVC with libx264 (plays everywhere).
    #[default]
    H264,
    /// H.265 / HEVC with libx265.
    Hevc,
    /// AV1 with libsvtav1.
    Av1,
}

impl VideoCodec {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Hevc => "hevc",
            VideoCodec::Av1 => "av1",
        }
    }
}

/// Encoder speed against compression, by x264's preset names (x265 has the same; svt-av1
/// gets the matching speed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Ultrafast,
    Superfast,
    #[default]
    Veryfast,
    Faster,
    Fast,
    Medium,
    Slow,
    Slower,
    Veryslow,
    Placebo,
}

impl Preset {
    /// The name the encoders take.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Ultrafast => "ultrafast",
            Preset::Superfast => "superfast",
            Preset::Veryfast => "veryfast",
            Preset::Faster => "faster",
            Preset::Fast => "fast",
            Preset::Medium => "medium",
            Preset::Slow => "slow",
            Preset::Slower => "slower",
            Preset::Veryslow => "veryslow",
            Preset::Placebo => "placebo",
        }
    }
}

/// One rung of the ladder: a target picture size and average bit rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// Width in pixels for a 16:9 source. Sources of another aspect ratio keep `height` and
    /// get the width of their own display aspect ratio.
    #[schemars(range(min = 16, max = 7680))]
    pub width: u32,
    /// Height in pixels. Rungs taller than the source are dropped (never upscale).
    #[schemars(range(min = 16, max = 4320))]
    pub height: u32,
    /// Average video bit rate in kbit/s.
    #[schemars(range(min = 16, max = 200000))]
    pub bitrate_kbps: u32,
    /// Video codec of this rung. Default: h264.
    #[serde(default)]
    pub codec: VideoCodec,
}

impl Rung {
    fn h264(width: u32, height: u32, bitrate_kbps: u32) -> Self {
        Rung { width, height, bitrate_kbps, codec: VideoCodec::H264 }
    }
}

/// Settings of the `renditions` stage, as written under `renditions:` in a pipeline file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RenditionSettings {
    /// The ladder, largest first or in any order. Default: Apple's HLS authoring specification
    /// for H.264 (416x234@145k, 640x360@365k, 768x432@730k and 1100k, 960x540@2000k,
    /// 1280x720@3000k and 4500k, 1920x1080@6000k and 7800k), trimmed to the source.
    #[schemars(length(min = 1))]
    pub ladder: Vec<Rung>,
    /// Target segment length in seconds; segments are cut at the keyframe where this elapses.
    /// Must be a whole multiple of `gop_seconds`. Default: 6.
    #[schemars(range(min = 1.0, max = 60.0))]
    pub segment_seconds: f64,
    /// Distance between IDR frames in seconds, the same frames in every rung. Default: 2.
    #[schemars(range(min = 0.1, max = 10.0))]
    pub gop_seconds: f64,
    /// VBV maximum rate as a multiple of the rung's average bit rate (1 < value ≤ 2), which caps
    /// the peak segment bit rate. The VBV buffer holds `gop_seconds` at this rate. Default: 1.5.
    #[schemars(range(min = 1.0, max = 2.0))]
    pub max_rate_ratio: f64,
    /// Also put an IDR frame at every shot cut found by the `shots` stage (when it ran).
    /// Default: false.
    pub keyframes_at_cuts: bool,
    /// x264/x265 preset (svt-av1 gets the matching speed). Default: veryfast.
    pub preset: Preset,
    /// AAC stereo bit rate per audio stream, in kbit/s. Default: 128.
    #[schemars(range(min = 32, max = 512))]
    pub audio_bitrate_kbps: u32,
}

impl Default for RenditionSettings {
    fn default() -> Self {
        RenditionSettings {
            ladder: vec![
                Rung::h264(416, 234, 145),
                Rung::h264(640, 360, 365),
                Rung::h264(768, 432, 730),
                Rung::h264(768, 432, 1100),
                Rung::h264(960, 540, 2000),
                Rung::h264(1280, 720, 3000),
                Rung::h264(1280, 720, 4500),
                Rung::h264(1920, 1080, 6000),
                Rung::h264(1920, 1080, 7800),
            ],
            segment_seconds: 6.0,
            gop_seconds: 2.0,
            max_rate_ratio: 1.5,
            keyframes_at_cuts: false,
            preset: Preset::Veryfast,
            audio_bitrate_kbps: 128,
        }
    }
}

impl CheckSettings for RenditionSettings {
    /// Ranges are in the schema; these rules tie fields together.
    fn problems(&self) -> Vec<SettingProblem> {
        let mut problems = Vec::new();
        let gops_per_segment = self.segment_seconds / self.gop_seconds;
        if !(gops_per_segment >= 1.0 && (gops_per_segment - gops_per_segment.round()).abs() < 1e-6) {
            problems.push(SettingProblem::new(
                "segment_seconds",
                format!(
                    "is {}; it must be a whole multiple of `gop_seconds` ({}) so every segment starts \
                     with an IDR frame",
                    self.segment_seconds, self.gop_seconds
                ),
            ));
        }
        if self.max_rate_ratio <= 1.0 {
            problems.push(SettingProblem::new(
                "max_rate_ratio",
                format!("is {}; it must be above 1 (the peak rate above the average)", self.max_rate_ratio),
            ));
        }
        for (index, rung) in self.ladder.iter().enumerate() {
            if rung.width % 2 == 1 || rung.height % 2 == 1 {
                problems.push(SettingProblem::new(
                    format!("ladder[{index}]"),
                    format!("is {}x{}; 4:2:0 video needs even sizes", rung.width, rung.height),
                ));
            }
            if self.ladder[..index].contains(rung) {
                problems.push(SettingProblem::new(
                    format!("ladder[{index}]"),
                    format!(
                        "repeats an earlier rung ({}x{} at {} kbit/s, {})",
                        rung.width,
                        rung.height,
                        rung.bitrate_kbps,
                        rung.codec.as_str()
                    ),
                ));
            }
        }
        problems
    }
}
