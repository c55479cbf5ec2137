//! HLS playlists for fragmented-MP4 segments: the master playlist (variants, audio and
//! subtitle groups, I-frame variants) and one media playlist per track. They live in
//! `DIR/hls/` and reach the shared segments under `DIR/media/` by relative URIs.

use std::fmt::Write;

use crate::presentation::{INIT_FILE_NAME, PackagedTrack, Presentation, SubtitleTrack, segment_file_name};

/// One playlist: its name inside `DIR/hls/` and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HlsFile {
    pub name: String,
    pub text: String,
}

const AUDIO_GROUP: &str = "audio";
const SUBTITLE_GROUP: &str = "subs";
/// From `DIR/hls/` back to `DIR/`.
const ROOT: &str = "../";

/// Every playlist of the presentation; the first is `master.m3u8`.
pub fn hls_files(presentation: &Presentation) -> Vec<HlsFile> {
    let mut files = vec![HlsFile { name: "master.m3u8".into(), text: master(presentation) }];
    for video in &presentation.video {
        files.push(HlsFile { name: video_playlist(&video.id), text: media_playlist(&video.track) });
        files.push(HlsFile { name: iframe_playlist(&video.id), text: iframes_playlist(&video.track) });
    }
    for audio in &presentation.audio {
        files.push(HlsFile { name: audio_playlist(&audio.id), text: media_playlist(&audio.track) });
    }
    for subtitle in &presentation.subtitles {
        files.push(HlsFile { name: subtitle_playlist(&subtitle.id), text: subtitle_playlist_text(subtitle) });
    }
    files
}

fn video_playlist(id: &str) -> String {
    format!("video_{id}.m3u8")
}
fn iframe_playlist(id: &str) -> String {
    format!("iframes_{id}.m3u8")
}
fn audio_playlist(id: &str) -> String {
    format!("audio_{id}.m3u8")
}
fn subtitle_playlist(id: &str) -> String {
    format!("subtitles_{id}.m3u8")
}

/// Escapes nothing but refuses quotes, which HLS quoted strings cannot hold.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace(['"', '\n', '\r'], "'"))
}

fn master(presentation: &Presentation) -> String {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\n");
    for audio in &presentation.audio {
        let _ =
            write!(text, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",NAME={}", quoted(&audio.name));
        if let Some(language) = &audio.language {
            let _ = write!(text, ",LANGUAGE={}", quoted(language));
        }
        let default = if audio.default { "YES" } else { "NO" };
        let _ = writeln!(
            text,
            ",DEFAULT={default},AUTOSELECT=YES,CHANNELS=\"{}\",URI={}",
            audio.channels,
            quoted(&audio_playlist(&audio.id))
        );
    }
    for subtitle in &presentation.subtitles {
        // Subtitles never switch on by themselves; AUTOSELECT lets a player follow the viewer's
        // language preference.
        let _ = writeln!(
            text,
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{SUBTITLE_GROUP}\",NAME={},LANGUAGE={},DEFAULT=NO,\
             AUTOSELECT=YES,FORCED=NO,URI={}",
            quoted(&subtitle.name),
            quoted(&subtitle.language),
            quoted(&subtitle_playlist(&subtitle.id))
        );
    }
    if !presentation.audio.is_empty() || !presentation.subtitles.is_empty() {
        text.push('\n');
    }
    // A variant's bandwidth includes the heaviest audio rendition it may be played with.
    let audio_peak = presentation.audio.iter().map(|a| a.track.bitrate().peak).max().unwrap_or(0);
    let audio_average = presentation.audio.iter().map(|a| a.track.bitrate().average).max().unwrap_or(0);
    let audio_codec = presentation.audio.first().map(|a| a.codecs.as_str());
    for video in &presentation.video {
        let rate = video.track.bitrate();
        let codecs = match audio_codec {
            Some(audio) => format!("{},{audio}", video.codecs),
            None => video.codecs.clone(),
        };
        let _ = write!(
            text,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS={},RESOLUTION={}x{},FRAME-RATE={:.3}",
            rate.peak + audio_peak,
            rate.average + audio_average,
            quoted(&codecs),
            video.width,
            video.height,
            video.frame_rate
        );
        if !presentation.audio.is_empty() {
            let _ = write!(text, ",AUDIO=\"{AUDIO_GROUP}\"");
        }
        if !presentation.subtitles.is_empty() {
            let _ = write!(text, ",SUBTITLES=\"{SUBTITLE_GROUP}\"");
        }
        let _ = writeln!(text, "\n{}", video_playlist(&video.id));
    }
    text.push('\n');
    for video in &presentation.video {
        let _ = writeln!(
            text,
            "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={},CODECS={},RESOLUTION={}x{},URI={}",
            video.track.key_frame_peak().max(1),
            quoted(&video.codecs),
            video.width,
            video.height,
            quoted(&iframe_playlist(&video.id))
        );
    }
    text
}

/// The playlist header; `target` is the longest segment rounded up, in seconds.
fn header(target: u64) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    )
}

fn target_duration(track: &PackagedTrack) -> u64 {
    let timescale = u64::from(track.timescale.max(1));
    // EXTINF values rounded to the nearest second must not exceed the target duration.
    let longest = track.segments.iter().map(|s| s.duration).max().unwrap_or(0);
    ((longest + timescale / 2) / timescale).max(1)
}

fn media_playlist(track: &PackagedTrack) -> String {
    let timescale = f64::from(track.timescale.max(1));
    let mut text = header(target_duration(track));
    let _ = writeln!(text, "#EXT-X-MAP:URI=\"{ROOT}{}/{INIT_FILE_NAME}\"", track.dir);
    for segment in &track.segments {
        let _ = writeln!(
            text,
            "#EXTINF:{:.6},\n{ROOT}{}/{}",
            segment.duration as f64 / timescale,
            track.dir,
            segment_file_name(segment.number)
        );
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

/// The WebVTT segments of one subtitle track, timed like the media segments.
fn subtitle_playlist_text(subtitle: &SubtitleTrack) -> String {
    // EXTINF values rounded to the nearest second must not exceed the target duration.
    let longest = subtitle.segments.iter().map(|s| s.duration_seconds).fold(0.0, f64::max);
    let mut text = header((longest.round() as u64).max(1));
    for segment in &subtitle.segments {
        let _ = writeln!(text, "#EXTINF:{:.6},\n{ROOT}{}", segment.duration_seconds, segment.path);
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

/// One entry per segment: the byte range of its leading key frame (moof included).
fn iframes_playlist(track: &PackagedTrack) -> String {
    let timescale = f64::from(track.timescale.max(1));
    let mut text = header(target_duration(track));
    text =
        text.replace("#EXT-X-INDEPENDENT-SEGMENTS\n", "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-I-FRAMES-ONLY\n");
    let _ = writeln!(text, "#EXT-X-MAP:URI=\"{ROOT}{}/{INIT_FILE_NAME}\"", track.dir);
    for segment in &track.segments {
        if let Some(end) = segment.key_frame_end {
            let _ = writeln!(
                text,
                "#EXTINF:{:.6},\n#EXT-X-BYTERANGE:{end}@0\n{ROOT}{}/{}",
                segment.duration as f64 / timescale,
                track.dir,
                segment_file_name(segment.number)
            );
        }
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::presentation::{AudioRendition, Segment, SubtitleSegment, SubtitleTrack, VideoRendition};

    pub(crate) fn track(dir: &str, timescale: u32, segments: &[(u64, u64)]) -> PackagedTrack {
        let mut start = 0;
        let segments = segments
            .iter()
            .enumerate()
            .map(|(number, &(duration, bytes))| {
                let segment = Segment {
                    number: number as u64,
                    start,
                    duration,
                    bytes,
                    key_frame_end: dir.contains("/v").then_some(bytes / 10),
                };
                start += duration;
                segment
            })
            .collect();
        PackagedTrack { dir: dir.into(), timescale, segments }
    }

    pub(crate) fn presentation() -> Presentation {
        let video = |id: &str, width, height, scale: u64| VideoRendition {
            id: id.into(),
            width,
            height,
            frame_rate: 30.0,
            codecs: "avc1.64001f".into(),
            track: track(
                &format!("media/{id}"),
                15360,
                &[(92160, 750_000 * scale), (30720, 125_000 * scale)],
            ),
        };
        let audio = |id: &str, language: &str, name: &str, default| AudioRendition {
            id: id.into(),
            language: Some(language.into()),
            name: name.into(),
            codecs: "mp4a.40.2".into(),
            channels: 2,
            sample_rate: 48000,
            default,
            track: track(&format!("media/{id}"), 48000, &[(288_000, 96_000), (96_000, 32_000)]),
        };
        Presentation {
            video: vec![video("v0", 640, 360, 1), video("v1", 1280, 720, 3)],
            audio: vec![audio("a0", "en", "English", true), audio("a1", "fr", "Français", false)],
            subtitles: vec![SubtitleTrack {
                id: "s0".into(),
                language: "en".into(),
                name: "English".into(),
                path: "subtitles/en.vtt".into(),
                segments: vec![
                    SubtitleSegment { path: "subtitles/en/seg_00000.vtt".into(), duration_seconds: 6.0 },
                    SubtitleSegment { path: "subtitles/en/seg_00001.vtt".into(), duration_seconds: 2.0 },
                ],
            }],
        }
    }

    #[test]
    fn master_lists_variants_groups_and_iframe_playlists() {
        let files = hls_files(&presentation());
        let names: Vec<_> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "master.m3u8",
                "video_v0.m3u8",
                "iframes_v0.m3u8",
                "video_v1.m3u8",
                "iframes_v1.m3u8",
                "audio_a0.m3u8",
                "audio_a1.m3u8",
                "subtitles_s0.m3u8"
            ]
        );
        let master = &files[0].text;
        // v0: 875 kB over 8 s = 875 kbit/s average, peak 1 Mbit/s; audio 128 kbit/s flat.
        assert!(master.contains(
            "#EXT-X-STREAM-INF:BANDWIDTH=1128000,AVERAGE-BANDWIDTH=1003000,CODECS=\"avc1.64001f,mp4a.40.2\",\
             RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO=\"audio\",SUBTITLES=\"subs\"\nvideo_v0.m3u8\n"
        ), "{master}");
        assert!(master.contains("NAME=\"Français\",LANGUAGE=\"fr\",DEFAULT=NO"), "{master}");
        assert!(master.contains("NAME=\"English\",LANGUAGE=\"en\",DEFAULT=YES"), "{master}");
        assert!(
            master.contains(
                "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"English\",LANGUAGE=\"en\",DEFAULT=NO,\
             AUTOSELECT=YES,FORCED=NO,URI=\"subtitles_s0.m3u8\""
            ),
            "{master}"
        );
        assert!(master.contains("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,"), "{master}");
    }

    #[test]
    fn media_playlists_reference_the_shared_segments() {
        let files = hls_files(&presentation());
        assert_eq!(
            files[1].text,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"../media/v0/init.mp4\"\n\
             #EXTINF:6.000000,\n../media/v0/seg_00000.m4s\n#EXTINF:2.000000,\n../media/v0/seg_00001.m4s\n\
             #EXT-X-ENDLIST\n"
        );
        assert!(files[2].text.contains("#EXT-X-I-FRAMES-ONLY\n"));
        assert!(files[2].text.contains("#EXT-X-BYTERANGE:75000@0\n../media/v0/seg_00000.m4s\n"));
        assert_eq!(
            files[7].text,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXTINF:6.000000,\n../subtitles/en/seg_00000.vtt\n#EXTINF:2.000000,\n../subtitles/en/seg_00001.vtt\n\
             #EXT-X-ENDLIST\n"
        );
    }
}
