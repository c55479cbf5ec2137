//! A shot list as a [`Timeline`] and its transitions, for the CSV, OTIO, EDL, FCPXML and
//! xmeml writers.

use reelforge_timeline::{Clip, FrameRate, Timeline, TimelineError, Transition};

use crate::shot_list::{ShotList, TransitionKind};

impl ShotList {
    /// One clip per shot (named `shot_001`, …) over the source at `source_url`, at the
    /// frame rate the container declared. Fails when that rate is unknown.
    pub fn to_timeline(
        &self,
        name: &str,
        source_url: &str,
        source_name: &str,
    ) -> Result<Timeline, TimelineError> {
        let rate = FrameRate::from_signed(self.frame_rate.num, self.frame_rate.den)?;
        let clips = self
            .shots
            .iter()
            .map(|shot| Clip {
                name: format!("shot_{:03}", shot.index + 1),
                start_frame: shot.start_frame,
                end_frame_exclusive: shot.end_frame + 1,
                start_seconds: shot.start_seconds,
                end_seconds: shot.end_seconds,
                transition: shot.transition.map_or("start", |kind| kind.as_str()).to_owned(),
            })
            .collect();
        Ok(Timeline {
            name: name.to_owned(),
            source_url: source_url.to_owned(),
            source_name: source_name.to_owned(),
            rate,
            total_frames: self.total_frames,
            clips,
        })
    }
}

impl ShotList {
    /// Per shot, the transition into it as an editor should see it: every fade and dissolve
    /// (whatever its kind, the frames in the source already show it) spans its frames around
    /// the boundary, from `first_frame` to `last_frame`; a cut (and the first shot) has none.
    pub fn edit_transitions(&self) -> Vec<Option<Transition>> {
        self.shots
            .iter()
            .map(|shot| {
                let boundary =
                    self.boundaries.iter().find(|b| b.frame == shot.start_frame && shot.index > 0)?;
                (boundary.kind != TransitionKind::Cut).then(|| Transition {
                    in_frames: boundary.frame.saturating_sub(boundary.first_frame),
                    out_frames: (boundary.last_frame + 1).saturating_sub(boundary.frame),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use reelforge_core::Rational;

    use crate::{Shot, ShotList, TransitionKind};

    fn list(frame_rate: Rational) -> ShotList {
        ShotList {
            frame_rate,
            time_base: Rational::new(1, 90_000),
            total_frames: 50,
            shots: vec![
                Shot {
                    index: 0,
                    start_frame: 0,
                    end_frame: 19,
                    start_seconds: 0.0,
                    end_seconds: 0.8,
                    transition: None,
                },
                Shot {
                    index: 1,
                    start_frame: 20,
                    end_frame: 49,
                    start_seconds: 0.8,
                    end_seconds: 2.0,
                    transition: Some(TransitionKind::FadeThroughBlack),
                },
            ],
            boundaries: Vec::new(),
        }
    }

    #[test]
    fn each_shot_becomes_a_clip_with_its_opening_transition() {
        let timeline = list(Rational::new(25, 1)).to_timeline("ep", "/m/ep.mkv", "ep").expect("known rate");
        let clips: Vec<_> = timeline
            .clips
            .iter()
            .map(|c| (c.name.as_str(), c.start_frame, c.end_frame_exclusive, c.transition.as_str()))
            .collect();
        assert_eq!(clips, [("shot_001", 0, 20, "start"), ("shot_002", 20, 50, "fade_through_black")]);
        assert_eq!(timeline.total_frames, 50);
    }

    #[test]
    fn gradual_boundaries_become_transitions_around_the_shot_start() {
        let mut shots = list(Rational::new(25, 1));
        shots.boundaries.push(crate::Boundary {
            frame: 20,
            kind: TransitionKind::FadeThroughBlack,
            first_frame: 14,
            last_frame: 29,
            confidence: 0.9,
            time_seconds: 0.8,
        });
        let transitions = shots.edit_transitions();
        assert_eq!(
            transitions,
            [None, Some(reelforge_timeline::Transition { in_frames: 6, out_frames: 10 })]
        );
        shots.boundaries[0].kind = TransitionKind::Cut;
        assert_eq!(shots.edit_transitions(), [None, None]);
    }

    #[test]
    fn unknown_frame_rate_is_an_error() {
        assert!(list(Rational::new(0, 1)).to_timeline("ep", "/m/ep.mkv", "ep").is_err());
    }
}
