//! OpenTimelineIO JSON (`.otio`): Timeline.1 → Stack.1 → a video Track.1 (and, when asked, an
//! audio one) of Clip.2 and Transition.1, each clip referring to the source through an
//! ExternalReference.1; a title card is a Clip.2 with a GeneratorReference.1 (and a Gap.1 on
//! the audio track where nothing sounds under it). The timeline starts at 01:00:00:00
//! (`global_start_time`), as the EDL records. Field names follow what the `opentimelineio`
//! Python package writes; fields left out take OTIO's defaults.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Edit, EditOptions, Timeline};

/// Key under which each clip's media reference is stored (OTIO's default key).
const MEDIA_KEY: &str = "DEFAULT_MEDIA";

#[derive(Serialize)]
struct OtioTimeline<'a> {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    metadata: BTreeMap<&'static str, Metadata>,
    name: &'a str,
    global_start_time: Option<RationalTime>,
    tracks: Stack<'a>,
}

#[derive(Serialize)]
struct Stack<'a> {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    metadata: BTreeMap<&'static str, Metadata>,
    name: &'static str,
    source_range: Option<TimeRange>,
    effects: [(); 0],
    markers: [(); 0],
    enabled: bool,
    children: Vec<Track<'a>>,
}

#[derive(Serialize)]
struct Track<'a> {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    metadata: BTreeMap<&'static str, Metadata>,
    name: &'static str,
    source_range: Option<TimeRange>,
    effects: [(); 0],
    markers: [(); 0],
    enabled: bool,
    children: Vec<Item<'a>>,
    kind: &'static str,
}

/// What a track holds: clips, transitions between two of them, and gaps.
#[derive(Serialize, Clone)]
#[serde(untagged)]
enum Item<'a> {
    Clip(Clip<'a>),
    Transition(Transition),
    Gap(Gap),
}

#[derive(Serialize, Clone)]
struct Gap {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    metadata: BTreeMap<&'static str, Metadata>,
    name: &'static str,
    source_range: TimeRange,
    effects: [(); 0],
    markers: [(); 0],
    enabled: bool,
}

/// A cross-dissolve around the cut: `in_offset` frames before it (the incoming clip starts that
/// early) and `out_offset` after it (the outgoing clip plays on past its out-point).
#[derive(Serialize, Clone)]
struct Transition {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    metadata: BTreeMap<&'static str, Metadata>,
    name: String,
    in_offset: RationalTime,
    out_offset: RationalTime,
    transition_type: &'static str,
}

#[derive(Serialize, Clone)]
struct Clip<'a> {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    metadata: BTreeMap<&'static str, Metadata>,
    name: &'a str,
    source_range: TimeRange,
    effects: [(); 0],
    markers: [(); 0],
    enabled: bool,
    media_references: BTreeMap<&'static str, MediaReference<'a>>,
    active_media_reference_key: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(untagged)]
enum MediaReference<'a> {
    External(ExternalReference<'a>),
    Generator(GeneratorReference<'a>),
}

/// Media made by the editing application: here the title card (text on black).
#[derive(Serialize, Clone)]
struct GeneratorReference<'a> {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    metadata: BTreeMap<&'static str, Metadata>,
    name: &'static str,
    available_range: TimeRange,
    generator_kind: &'static str,
    parameters: BTreeMap<&'static str, &'a str>,
}

#[derive(Serialize, Clone)]
struct ExternalReference<'a> {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    metadata: BTreeMap<&'static str, Metadata>,
    name: &'a str,
    available_range: TimeRange,
    target_url: &'a str,
}

#[derive(Serialize, Clone, Copy)]
struct TimeRange {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    duration: RationalTime,
    start_time: RationalTime,
}

#[derive(Serialize, Clone, Copy)]
struct RationalTime {
    #[serde(rename = "OTIO_SCHEMA")]
    schema: &'static str,
    rate: f64,
    value: f64,
}

/// What reelforge adds under `metadata.reelforge`.
#[derive(Serialize, Clone)]
#[serde(untagged)]
enum Metadata {
    Timeline { total_frames: u64 },
    Clip { transition: String, start_seconds: f64, end_seconds: f64 },
}

fn frames_range(rate: f64, start: u64, duration: u64) -> TimeRange {
    // Frame counts stay exact as f64 below 2^53 frames.
    let time = |value: u64| RationalTime { schema: "RationalTime.1", rate, value: value as f64 };
    TimeRange { schema: "TimeRange.1", duration: time(duration), start_time: time(start) }
}

/// The timeline as pretty-printed OTIO JSON, frame-exact at the timeline's rate.
pub fn to_otio_json(timeline: &Timeline) -> String {
    to_otio_json_with(timeline, &EditOptions::default())
}

/// Like [`to_otio_json`], with the dissolves, the audio track and the title card of `options`.
pub fn to_otio_json_with(timeline: &Timeline, options: &EditOptions) -> String {
    write(&Edit::new(timeline, options))
}

pub(crate) fn write(edit: &Edit<'_>) -> String {
    let timeline = edit.timeline;
    let transitions = edit.fitted_transitions();
    let rate = timeline.rate.as_f64();
    let available_range = frames_range(rate, 0, timeline.total_frames);
    let time = |value: u64| RationalTime { schema: "RationalTime.1", rate, value: value as f64 };
    // Each track: the clips, with `extra` frames on the last one (its run-on under the card).
    let clip_items = |extra: u64| {
        let mut items = Vec::with_capacity(timeline.clips.len() * 2 + 1);
        for (index, clip) in timeline.clips.iter().enumerate() {
            if let Some(transition) = transitions[index] {
                items.push(Item::Transition(Transition {
                    schema: "Transition.1",
                    metadata: BTreeMap::new(),
                    name: format!("Dissolve to {}", clip.name),
                    in_offset: time(transition.in_frames),
                    out_offset: time(transition.out_frames),
                    transition_type: "SMPTE_Dissolve",
                }));
            }
            let extra = if index + 1 == timeline.clips.len() { extra } else { 0 };
            items.push(Item::Clip(Clip {
                schema: "Clip.2",
                metadata: BTreeMap::from([(
                    "reelforge",
                    Metadata::Clip {
                        transition: clip.transition.clone(),
                        start_seconds: clip.start_seconds,
                        end_seconds: clip.end_seconds + extra as f64 / rate,
                    },
                )]),
                name: &clip.name,
                source_range: frames_range(rate, clip.start_frame, clip.duration_frames() + extra),
                effects: [],
                markers: [],
                enabled: true,
                media_references: BTreeMap::from([(
                    MEDIA_KEY,
                    MediaReference::External(ExternalReference {
                        schema: "ExternalReference.1",
                        metadata: BTreeMap::new(),
                        name: &timeline.source_name,
                        available_range,
                        target_url: &timeline.source_url,
                    }),
                )]),
                active_media_reference_key: MEDIA_KEY,
            }));
        }
        items
    };
    let card = edit.title_card;
    let mut video = clip_items(0);
    if let Some(card) = card {
        let range = frames_range(rate, 0, card.frames);
        video.push(Item::Clip(Clip {
            schema: "Clip.2",
            metadata: BTreeMap::new(),
            name: &card.text,
            source_range: range,
            effects: [],
            markers: [],
            enabled: true,
            media_references: BTreeMap::from([(
                MEDIA_KEY,
                MediaReference::Generator(GeneratorReference {
                    schema: "GeneratorReference.1",
                    metadata: BTreeMap::new(),
                    name: "title card",
                    available_range: range,
                    generator_kind: "TitleCard",
                    parameters: BTreeMap::from([
                        ("text", card.text.as_str()),
                        ("background", "black"),
                        ("color", "white"),
                    ]),
                }),
            )]),
            active_media_reference_key: MEDIA_KEY,
        }));
    }
    let run_on = card.map_or(0, |c| c.audio_run_on_frames.min(c.frames));
    let mut audio = clip_items(run_on);
    if let Some(silent) = card.map(|c| c.frames - run_on).filter(|&frames| frames > 0) {
        audio.push(Item::Gap(Gap {
            schema: "Gap.1",
            metadata: BTreeMap::new(),
            name: "",
            source_range: frames_range(rate, 0, silent),
            effects: [],
            markers: [],
            enabled: true,
        }));
    }
    let track = |name: &'static str, kind: &'static str, children| Track {
        schema: "Track.1",
        metadata: BTreeMap::new(),
        name,
        source_range: None,
        effects: [],
        markers: [],
        enabled: true,
        children,
        kind,
    };
    let mut tracks = vec![track("V1", "Video", video)];
    if edit.audio_track {
        tracks.push(track("A1", "Audio", audio));
    }
    let document = OtioTimeline {
        schema: "Timeline.1",
        metadata: BTreeMap::from([("reelforge", Metadata::Timeline { total_frames: timeline.total_frames })]),
        name: &timeline.name,
        global_start_time: Some(time(edit.record_start_frames())),
        tracks: Stack {
            schema: "Stack.1",
            metadata: BTreeMap::new(),
            name: "tracks",
            source_range: None,
            effects: [],
            markers: [],
            enabled: true,
            children: tracks,
        },
    };
    // Only maps with non-string keys or failing custom serialisers make serde_json fail;
    // these structs have neither.
    serde_json::to_string_pretty(&document).expect("OTIO structs serialise to JSON") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::two_clips;
    use crate::{FrameRate, TitleCardEdit};
    use serde_json::Value;

    fn parsed(timeline: &Timeline) -> Value {
        serde_json::from_str(&to_otio_json(timeline)).expect("writer emits valid JSON")
    }

    #[test]
    fn nests_timeline_stack_track_and_clips() {
        let json = parsed(&two_clips(FrameRate::new(24, 1).expect("valid rate")));
        assert_eq!(json["OTIO_SCHEMA"], "Timeline.1");
        assert_eq!(json["name"], "Episode 1");
        assert_eq!(json["tracks"]["OTIO_SCHEMA"], "Stack.1");
        let track = &json["tracks"]["children"][0];
        assert_eq!(track["OTIO_SCHEMA"], "Track.1");
        assert_eq!(track["kind"], "Video");
        let clips = track["children"].as_array().expect("clips array");
        assert_eq!(clips.len(), 2);
        assert!(clips.iter().all(|c| c["OTIO_SCHEMA"] == "Clip.2"));
    }

    #[test]
    fn clip_ranges_are_frame_exact_at_the_timeline_rate() {
        let json = parsed(&two_clips(FrameRate::new(24000, 1001).expect("valid rate")));
        let clip = &json["tracks"]["children"][0]["children"][1];
        let range = &clip["source_range"];
        assert_eq!(range["OTIO_SCHEMA"], "TimeRange.1");
        assert_eq!(range["start_time"]["OTIO_SCHEMA"], "RationalTime.1");
        assert_eq!(range["start_time"]["value"], 96.0);
        assert_eq!(range["duration"]["value"], 24.0);
        assert_eq!(range["duration"]["rate"], 24000.0 / 1001.0);
        assert_eq!(clip["metadata"]["reelforge"]["transition"], "dissolve");
    }

    #[test]
    fn clips_refer_to_the_whole_source() {
        let json = parsed(&two_clips(FrameRate::new(25, 1).expect("valid rate")));
        let clip = &json["tracks"]["children"][0]["children"][0];
        assert_eq!(clip["active_media_reference_key"], "DEFAULT_MEDIA");
        let reference = &clip["media_references"]["DEFAULT_MEDIA"];
        assert_eq!(reference["OTIO_SCHEMA"], "ExternalReference.1");
        assert_eq!(reference["target_url"], "/media/ep1.mp4");
        assert_eq!(reference["available_range"]["start_time"]["value"], 0.0);
        assert_eq!(reference["available_range"]["duration"]["value"], 120.0);
    }

    #[test]
    fn dissolves_become_transitions_and_audio_mirrors_video() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let options = EditOptions { dissolve_frames: vec![0, 12], audio_track: true, title_card: None };
        let json: Value = serde_json::from_str(&to_otio_json_with(&timeline, &options)).expect("valid JSON");
        let tracks = json["tracks"]["children"].as_array().expect("tracks");
        assert_eq!(tracks.len(), 2);
        assert_eq!((tracks[0]["kind"].as_str(), tracks[1]["kind"].as_str()), (Some("Video"), Some("Audio")));
        for track in tracks {
            let items = track["children"].as_array().expect("items");
            let schemas: Vec<&str> = items.iter().filter_map(|i| i["OTIO_SCHEMA"].as_str()).collect();
            assert_eq!(schemas, ["Clip.2", "Transition.1", "Clip.2"]);
            assert_eq!(items[1]["in_offset"]["value"], 0.0);
            assert_eq!(items[1]["out_offset"]["value"], 12.0);
            assert_eq!(items[1]["transition_type"], "SMPTE_Dissolve");
        }
    }

    #[test]
    fn a_straddling_transition_keeps_the_cut_and_starts_on_the_edl_record_timecode() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let edit = crate::sample::straddling_dissolve(&timeline);
        let json: Value = serde_json::from_str(&edit.to_otio_json()).expect("valid JSON");
        assert_eq!(json["global_start_time"]["value"], 86400.0, "01:00:00:00 at 24 fps");
        let items = json["tracks"]["children"][0]["children"].as_array().expect("items");
        assert_eq!(items[0]["source_range"]["duration"]["value"], 96.0);
        assert_eq!(
            (items[1]["in_offset"]["value"].as_f64(), items[1]["out_offset"]["value"].as_f64()),
            (Some(6.0), Some(10.0))
        );
        assert_eq!(items[2]["source_range"]["start_time"]["value"], 96.0);
    }

    #[test]
    fn a_transition_longer_than_its_clips_is_shortened_to_fit() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let edit = Edit {
            transitions: vec![None, Some(crate::Transition { in_frames: 200, out_frames: 30 })],
            ..Edit::cuts(&timeline)
        };
        assert_eq!(
            edit.fitted_transitions(),
            [None, Some(crate::Transition { in_frames: 96, out_frames: 24 })]
        );
    }

    #[test]
    fn exact_text_of_a_one_clip_timeline() {
        let mut timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        timeline.clips.truncate(1);
        timeline.total_frames = 96;
        let expected = include_str!("../testdata/one_clip.otio");
        assert_eq!(to_otio_json(&timeline), expected);
    }

    #[test]
    fn the_title_card_is_a_generated_clip_and_the_last_sound_runs_on_under_it() {
        let timeline = two_clips(FrameRate::new(24, 1).expect("valid rate"));
        let card = TitleCardEdit { text: "Soon".into(), frames: 48, audio_run_on_frames: 24 };
        let options = EditOptions { audio_track: true, title_card: Some(card), ..EditOptions::default() };
        let json: Value = serde_json::from_str(&to_otio_json_with(&timeline, &options)).expect("valid JSON");
        let video = json["tracks"]["children"][0]["children"].as_array().expect("video items");
        let card = &video[2];
        assert_eq!(card["name"], "Soon");
        assert_eq!(card["source_range"]["duration"]["value"], 48.0);
        let reference = &card["media_references"]["DEFAULT_MEDIA"];
        assert_eq!(reference["OTIO_SCHEMA"], "GeneratorReference.1");
        assert_eq!(reference["parameters"]["text"], "Soon");
        let audio = json["tracks"]["children"][1]["children"].as_array().expect("audio items");
        let schemas: Vec<&str> = audio.iter().filter_map(|i| i["OTIO_SCHEMA"].as_str()).collect();
        assert_eq!(schemas, ["Clip.2", "Clip.2", "Gap.1"]);
        assert_eq!(audio[1]["source_range"]["duration"]["value"], 48.0, "24 frames and 24 of run-on");
        assert_eq!(audio[2]["source_range"]["duration"]["value"], 24.0);
    }
}
