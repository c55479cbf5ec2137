//! Writers for edit lists: CSV, OpenTimelineIO JSON, CMX3600 EDL, Final Cut Pro X XML
//! (FCPXML) and Final Cut 7 XML (xmeml), plus timecode maths.
//!
//! Everything takes a [`Timeline`] of plain numbers and returns a `String`: no files, no
//! FFmpeg, and nothing about how the clips were found, so any stage (shot detection, trailer
//! cutting) can describe its result as a [`Timeline`] (and an [`Edit`] for transitions) and
//! reuse these writers.

mod csv;
mod edl;
mod fcpxml;
mod otio;
mod timecode;
mod xmeml;

pub use csv::to_csv;
pub use edl::{to_cmx3600_edl, to_cmx3600_edl_with};
pub use otio::{to_otio_json, to_otio_json_with};
pub use timecode::{Timecode, TimecodeError};

/// A frame rate as an exact fraction, e.g. 24000/1001 for "23.976".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameRate {
    num: u32,
    den: u32,
}

/// Why a timeline cannot be described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimelineError {
    #[error("frame rate {num}/{den} is not a positive number of frames per second")]
    InvalidFrameRate { num: i64, den: i64 },
}

impl FrameRate {
    /// Both parts must be positive.
    pub fn new(num: u32, den: u32) -> Result<Self, TimelineError> {
        if num == 0 || den == 0 {
            return Err(TimelineError::InvalidFrameRate { num: i64::from(num), den: i64::from(den) });
        }
        Ok(Self { num, den })
    }

    /// From a signed fraction such as a container's declared rate.
    pub fn from_signed(num: i32, den: i32) -> Result<Self, TimelineError> {
        let invalid = || TimelineError::InvalidFrameRate { num: i64::from(num), den: i64::from(den) };
        Self::new(u32::try_from(num).map_err(|_| invalid())?, u32::try_from(den).map_err(|_| invalid())?)
    }

    pub fn num(self) -> u32 {
        self.num
    }

    pub fn den(self) -> u32 {
        self.den
    }

    pub fn as_f64(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// Frames per second that non-drop timecode counts: the rate rounded to a whole number
    /// (24 for 23.976, 30 for 29.97), so timecode runs slightly slower than the clock there.
    pub fn timecode_base(self) -> u32 {
        ((u64::from(self.num) + u64::from(self.den) / 2) / u64::from(self.den)).max(1) as u32
    }
}

/// A cut list over one source: which frame ranges of the source play, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// Title of the edit (EDL `TITLE:`, OTIO timeline name).
    pub name: String,
    /// Where the source media is, as the editor should resolve it (a path or a URL).
    pub source_url: String,
    /// Short human name of the source (OTIO media reference name).
    pub source_name: String,
    pub rate: FrameRate,
    /// Frames in the source (the range available to every clip).
    pub total_frames: u64,
    pub clips: Vec<Clip>,
}

/// One range of source frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    pub name: String,
    pub start_frame: u64,
    /// First frame after the clip.
    pub end_frame_exclusive: u64,
    /// Presentation time of the first frame, from the source's timestamps (exact even for
    /// variable frame rate, unlike `start_frame / rate`).
    pub start_seconds: f64,
    /// When the clip stops being shown.
    pub end_seconds: f64,
    /// How the clip begins, e.g. "cut", "dissolve"; free text written as-is.
    pub transition: String,
}

/// What an edit has beyond a cut list (a trailer's dissolves and sound).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EditOptions {
    /// Per clip, in clip order: frames of a cross-dissolve that starts at the clip's first
    /// frame while the previous clip plays on past its out-point; 0 (or no entry) is a cut.
    /// The first clip cannot dissolve (there is nothing before it).
    pub dissolve_frames: Vec<u64>,
    /// Adds an audio track with the same clips and transitions as the video: an OTIO audio
    /// track, and EDL events on the stereo pair (`AA`) beside each video event.
    pub audio_track: bool,
    /// A title card after the last clip.
    pub title_card: Option<TitleCardEdit>,
}

/// A generated title card closing the edit: black with `text`, no source media.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TitleCardEdit {
    pub text: String,
    pub frames: u64,
    /// Frames the last clip's sound plays on under the card (its source continues past the
    /// out-point); the rest of the card is silent. Only with `audio_track`.
    pub audio_run_on_frames: u64,
}

impl Clip {
    pub fn duration_frames(&self) -> u64 {
        self.end_frame_exclusive.saturating_sub(self.start_frame)
    }
}

/// A transition into a clip, placed around the edit (the clip's first frame) as OpenTimelineIO
/// places one: the outgoing clip plays on `out_frames` past its out-point and the incoming clip
/// starts `in_frames` before its in-point, so the two overlap for `in_frames + out_frames`.
/// A shot list's dissolve straddles the shot boundary; a trailer's starts on the edit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transition {
    /// Frames of the transition before the edit.
    pub in_frames: u64,
    /// Frames of the transition from the edit on.
    pub out_frames: u64,
}

impl Transition {
    pub fn frames(self) -> u64 {
        self.in_frames + self.out_frames
    }
}

/// Record timecode of the first frame in every format (EDL, OTIO, FCPXML, xmeml): by
/// convention one hour in.
const RECORD_START_HOURS: u64 = 1;

/// A timeline with its transitions and what [`EditOptions`] adds, as every writer takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Edit<'a> {
    pub timeline: &'a Timeline,
    /// Per clip, in clip order: the transition into it; `None` (or no entry) is a cut. The first
    /// clip's entry is ignored (nothing comes before it). A transition longer than the clips
    /// around it leave room for is shortened to fit (see [`Edit::fitted_transitions`]).
    pub transitions: Vec<Option<Transition>>,
    pub audio_track: bool,
    pub title_card: Option<&'a TitleCardEdit>,
}

impl<'a> Edit<'a> {
    /// The edit `options` describe: each dissolve starts on the edit (`in_frames` 0).
    pub fn new(timeline: &'a Timeline, options: &'a EditOptions) -> Self {
        let transitions = options
            .dissolve_frames
            .iter()
            .map(|&frames| (frames > 0).then_some(Transition { in_frames: 0, out_frames: frames }))
            .collect();
        Self {
            timeline,
            transitions,
            audio_track: options.audio_track,
            title_card: options.title_card.as_ref(),
        }
    }

    /// Cuts only, video only.
    pub fn cuts(timeline: &'a Timeline) -> Self {
        Self { timeline, transitions: Vec::new(), audio_track: false, title_card: None }
    }

    /// Per clip, the transition into it, each shortened so that it stays within the two clips
    /// it joins and clear of the transition before it (editors reject overlapping ones).
    pub fn fitted_transitions(&self) -> Vec<Option<Transition>> {
        let clips = &self.timeline.clips;
        let mut fitted: Vec<Option<Transition>> = Vec::with_capacity(clips.len());
        for (index, clip) in clips.iter().enumerate() {
            let wanted = self.transitions.get(index).copied().flatten();
            let transition = match (wanted, index.checked_sub(1)) {
                (Some(wanted), Some(previous)) => {
                    let used = fitted[previous].map_or(0, |t| t.out_frames);
                    let room_before = clips[previous].duration_frames().saturating_sub(used);
                    Some(Transition {
                        in_frames: wanted.in_frames.min(room_before),
                        out_frames: wanted.out_frames.min(clip.duration_frames()),
                    })
                    .filter(|t| t.frames() > 0)
                }
                _ => None,
            };
            fitted.push(transition);
        }
        fitted
    }

    /// First record frame (01:00:00:00) at the timecode base.
    pub(crate) fn record_start_frames(&self) -> u64 {
        RECORD_START_HOURS * 3600 * u64::from(self.timeline.rate.timecode_base())
    }

    /// OpenTimelineIO JSON: see [`to_otio_json`].
    pub fn to_otio_json(&self) -> String {
        otio::write(self)
    }

    /// CMX3600: see [`to_cmx3600_edl_with`].
    pub fn to_cmx3600_edl(&self) -> String {
        edl::write(self)
    }

    /// Final Cut Pro X XML: see the `fcpxml` module.
    pub fn to_fcpxml(&self) -> String {
        fcpxml::write(self)
    }

    /// Final Cut 7 XML (xmeml), as Premiere Pro and DaVinci Resolve import it.
    pub fn to_xmeml(&self) -> String {
        xmeml::write(self)
    }
}

/// The source as a `file://` URL (what FCPXML and xmeml want), or `source_url` as given when
/// it already is a URL.
pub(crate) fn file_url(source_url: &str) -> String {
    if source_url.contains("://") {
        return source_url.to_owned();
    }
    // Everything but unreserved characters and the path separator is escaped.
    const PATH: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    format!("file://{}", percent_encoding::utf8_percent_encode(source_url, PATH))
}

#[cfg(test)]
pub(crate) mod sample {
    use super::*;

    /// Two clips at 24 fps: frames 0..96 (4 s) and 96..120 (1 s).
    pub(crate) fn two_clips(rate: FrameRate) -> Timeline {
        let seconds = |frame: u64| frame as f64 / rate.as_f64();
        Timeline {
            name: "Episode 1".into(),
            source_url: "/media/ep1.mp4".into(),
            source_name: "ep1".into(),
            rate,
            total_frames: 120,
            clips: vec![
                Clip {
                    name: "shot_001".into(),
                    start_frame: 0,
                    end_frame_exclusive: 96,
                    start_seconds: seconds(0),
                    end_seconds: seconds(96),
                    transition: "start".into(),
                },
                Clip {
                    name: "shot_002".into(),
                    start_frame: 96,
                    end_frame_exclusive: 120,
                    start_seconds: seconds(96),
                    end_seconds: seconds(120),
                    transition: "dissolve".into(),
                },
            ],
        }
    }

    /// The edit of [`two_clips`] with a 16-frame dissolve into shot_002 that starts 6 frames
    /// before its cut and ends 10 frames after it.
    pub(crate) fn straddling_dissolve(timeline: &Timeline) -> Edit<'_> {
        Edit {
            transitions: vec![None, Some(Transition { in_frames: 6, out_frames: 10 })],
            ..Edit::cuts(timeline)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timecode_base_rounds_ntsc_rates() {
        assert_eq!(FrameRate::new(24000, 1001).map(FrameRate::timecode_base), Ok(24));
        assert_eq!(FrameRate::new(30000, 1001).map(FrameRate::timecode_base), Ok(30));
        assert_eq!(FrameRate::new(25, 1).map(FrameRate::timecode_base), Ok(25));
    }

    #[test]
    fn zero_or_negative_rates_are_rejected() {
        assert!(FrameRate::new(0, 1).is_err());
        assert!(FrameRate::new(25, 0).is_err());
        assert_eq!(FrameRate::from_signed(-25, 1), Err(TimelineError::InvalidFrameRate { num: -25, den: 1 }));
    }
}
