//! SMPTE non-drop timecode (HH:MM:SS:FF) at a whole-number frame base: the one place that
//! converts between frame counts and timecode.

use std::fmt;

/// A non-drop timecode; hours are not wrapped at 24.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timecode {
    pub hours: u64,
    pub minutes: u8,
    pub seconds: u8,
    pub frames: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimecodeError {
    #[error("`{0}` is not a timecode of the form HH:MM:SS:FF")]
    Malformed(String),
    #[error("`{text}` counts {frames} frames, but a second has only {base}")]
    FrameOutOfRange { text: String, frames: u32, base: u32 },
}

impl Timecode {
    /// The timecode of frame number `frames` (0 is 00:00:00:00) at `base` frames per second.
    pub fn from_frames(frames: u64, base: u32) -> Self {
        let base = u64::from(base.max(1));
        let total_seconds = frames / base;
        Self {
            hours: total_seconds / 3600,
            minutes: (total_seconds / 60 % 60) as u8,
            seconds: (total_seconds % 60) as u8,
            frames: (frames % base) as u32,
        }
    }

    /// The frame number this timecode names at `base` frames per second.
    pub fn to_frames(self, base: u32) -> u64 {
        let seconds = self.hours * 3600 + u64::from(self.minutes) * 60 + u64::from(self.seconds);
        seconds * u64::from(base.max(1)) + u64::from(self.frames)
    }

    /// Parses `HH:MM:SS:FF` (also `;` before the frames, as drop-frame notation writes it,
    /// though the count stays non-drop).
    pub fn parse(text: &str, base: u32) -> Result<Self, TimecodeError> {
        let malformed = || TimecodeError::Malformed(text.to_owned());
        let mut parts = text.trim().split([':', ';']);
        let mut next = || parts.next().ok_or_else(malformed);
        let (hours, minutes, seconds, frames) = (next()?, next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(malformed());
        }
        let timecode = Self {
            hours: hours.parse().map_err(|_| malformed())?,
            minutes: minutes.parse().ok().filter(|m| *m < 60).ok_or_else(malformed)?,
            seconds: seconds.parse().ok().filter(|s| *s < 60).ok_or_else(malformed)?,
            frames: frames.parse().map_err(|_| malformed())?,
        };
        if timecode.frames >= base.max(1) {
            return Err(TimecodeError::FrameOutOfRange {
                text: text.to_owned(),
                frames: timecode.frames,
                base,
            });
        }
        Ok(timecode)
    }
}

impl fmt::Display for Timecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}:{:02}", self.hours, self.minutes, self.seconds, self.frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_timecode_at_the_frame_base() {
        assert_eq!(Timecode::from_frames(0, 24).to_string(), "00:00:00:00");
        assert_eq!(Timecode::from_frames(96, 24).to_string(), "00:00:04:00");
        assert_eq!(Timecode::from_frames(24 * 3600 + 23, 24).to_string(), "01:00:00:23");
        assert_eq!(Timecode::from_frames(30 * 61 + 29, 30).to_string(), "00:01:01:29");
    }

    #[test]
    fn hours_do_not_wrap_at_a_day() {
        assert_eq!(Timecode::from_frames(25 * 3600 * 25, 25).to_string(), "25:00:00:00");
    }

    #[test]
    fn parse_inverts_display() {
        for frames in [0, 1, 23, 24, 1439, 86_399, 1_000_000] {
            let text = Timecode::from_frames(frames, 24).to_string();
            assert_eq!(Timecode::parse(&text, 24).map(|tc| tc.to_frames(24)), Ok(frames));
        }
    }

    #[test]
    fn parse_rejects_nonsense() {
        assert!(matches!(Timecode::parse("01:00:00", 24), Err(TimecodeError::Malformed(_))));
        assert!(matches!(Timecode::parse("01:61:00:00", 24), Err(TimecodeError::Malformed(_))));
        assert!(matches!(Timecode::parse("01:00:00:00:00", 24), Err(TimecodeError::Malformed(_))));
        assert!(matches!(Timecode::parse("00:00:00:24", 24), Err(TimecodeError::FrameOutOfRange { .. })));
    }
}
