//! End-to-end tests of the `renditions` stage: the generated sample through a short ladder,
//! every output read back by ffprobe (independent of reelforge's own segment parser), and
//! the manifests' promises (aligned key frames, segments starting on key frames, declared
//! bit rates) checked against what ffprobe measures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use reelforge_e2e::{expect_success, ffprobe, run_reelforge, sample};
use serde_json::Value;

/// A short ladder keeps the test quick; keyframes at cuts exercise the shots hand-over.
const PIPELINE: &str = "\
version: 1
name: renditions-e2e
stages:
  - probe: {}
  - shots: {}
  - renditions:
      ladder:
        - { width: 416, height: 234, bitrate_kbps: 250 }
        - { width: 640, height: 360, bitrate_kbps: 600 }
        - { width: 768, height: 432, bitrate_kbps: 900 }
      keyframes_at_cuts: true
      audio_bitrate_kbps: 96
";

/// Runs the pipeline once per test binary and returns the workdir.
fn encoded() -> &'static Path {
    static WORKDIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    WORKDIR.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("renditions-e2e").tempdir().expect("temp dir").keep();
        let pipeline = dir.join("pipeline.yaml");
        std::fs::write(&pipeline, PIPELINE).expect("writing the pipeline");
        let workdir = dir.join("work");
        let output = run_reelforge([
            "--progress".as_ref(),
            "none".as_ref(),
            "run".as_ref(),
            pipeline.as_os_str(),
            "--input".as_ref(),
            sample().episode.as_os_str(),
            "--workdir".as_ref(),
            workdir.as_os_str(),
        ]);
        expect_success(&output);
        workdir
    })
}

/// `KEY=VALUE,KEY="VALUE"` attributes of an HLS tag line.
fn attributes(line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = line.split_once(':').map_or("", |(_, r)| r);
    while let Some((key, after)) = rest.split_once('=') {
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            (&quoted[..end], quoted[end + 1..].trim_start_matches(','))
        } else {
            match after.split_once(',') {
                Some((value, next)) => (value, next),
                None => (after, ""),
            }
        };
        out.insert(key.to_owned(), value.to_owned());
        rest = next;
    }
    out
}

/// A variant of the master playlist with its media playlist's init and segment paths.
struct Track {
    attributes: BTreeMap<String, String>,
    init: PathBuf,
    segments: Vec<(PathBuf, f64)>,
}

/// Reads a media playlist: EXT-X-MAP and (segment, EXTINF) pairs, paths resolved.
fn media_playlist(hls: &Path, name: &str, tags: BTreeMap<String, String>) -> Track {
    let text = std::fs::read_to_string(hls.join(name)).expect("media playlist");
    let mut init = None;
    let mut segments = Vec::new();
    let mut duration = None;
    for line in text.lines() {
        if line.starts_with("#EXT-X-MAP:") {
            init = Some(hls.join(&attributes(line)["URI"]));
        } else if let Some(value) = line.strip_prefix("#EXTINF:") {
            duration = Some(value.trim_end_matches(',').parse::<f64>().expect("EXTINF"));
        } else if !line.starts_with('#') && !line.is_empty() {
            segments.push((hls.join(line), duration.take().expect("EXTINF before a segment")));
        }
    }
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{name} is not a complete VOD playlist");
    Track { attributes: tags, init: init.expect("EXT-X-MAP"), segments }
}

/// Video variants (in master order) and audio renditions of `DIR/hls/master.m3u8`.
fn hls_tracks(dir: &Path) -> (Vec<Track>, Vec<Track>) {
    let hls = dir.join("hls");
    let master = std::fs::read_to_string(hls.join("master.m3u8")).expect("master.m3u8");
    let lines: Vec<&str> = master.lines().collect();
    let mut video = Vec::new();
    let mut audio = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.starts_with("#EXT-X-STREAM-INF:") {
            video.push(media_playlist(&hls, lines[index + 1], attributes(line)));
        } else if line.starts_with("#EXT-X-MEDIA:TYPE=AUDIO") {
            let attributes = attributes(line);
            let uri = attributes["URI"].clone();
            audio.push(media_playlist(&hls, &uri, attributes));
        }
    }
    (video, audio)
}

/// init + segments concatenated: a plain fragmented MP4 that ffprobe reads on its own.
fn joined(track: &Track, segments: &[(PathBuf, f64)], out: &Path) -> PathBuf {
    let mut bytes = std::fs::read(&track.init).expect("init segment");
    for (segment, _) in segments {
        bytes.extend(std::fs::read(segment).expect("media segment"));
    }
    std::fs::write(out, bytes).expect("writing the joined file");
    out.to_path_buf()
}

/// (pts seconds, size bytes, key frame) of every packet of the first stream.
fn packets(path: &Path) -> Vec<(f64, u64, bool)> {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "0",
            "-show_entries",
            "packet=pts_time,size,flags",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("running ffprobe");
    assert!(output.status.success(), "ffprobe failed on {}", path.display());
    let value: Value = serde_json::from_slice(&output.stdout).expect("ffprobe JSON");
    value["packets"]
        .as_array()
        .expect("packets")
        .iter()
        .map(|p| {
            let pts = p["pts_time"].as_str().and_then(|t| t.parse().ok()).expect("pts_time");
            let size = p["size"].as_str().and_then(|s| s.parse().ok()).expect("size");
            (pts, size, p["flags"].as_str().is_some_and(|f| f.starts_with('K')))
        })
        .collect()
}

#[test]
fn every_rendition_reads_and_rungs_share_their_key_frames() {
    let workdir = encoded();
    let dir = workdir.join("renditions");
    let scratch = tempfile::tempdir().expect("temp dir");
    let (video, audio) = hls_tracks(&dir);
    assert_eq!(video.len(), 3, "three rungs fit a 720p source");
    assert_eq!(audio.len(), 2, "one AAC rendition per source audio stream");
    let languages: Vec<&str> = audio.iter().map(|a| a.attributes["LANGUAGE"].as_str()).collect();
    assert_eq!(languages, ["eng", "fra"]);

    let mut key_times: Vec<Vec<f64>> = Vec::new();
    for (index, track) in video.iter().enumerate() {
        let file = joined(track, &track.segments, &scratch.path().join(format!("v{index}.mp4")));
        let probed = ffprobe(&file);
        let stream = &probed["streams"][0];
        assert_eq!(stream["codec_name"], "h264");
        let resolution = format!("{}x{}", stream["width"], stream["height"]);
        assert_eq!(resolution, track.attributes["RESOLUTION"]);
        let duration: f64 =
            probed["format"]["duration"].as_str().and_then(|d| d.parse().ok()).expect("duration");
        assert!((duration - 60.0).abs() < 0.2, "rung {index} lasts {duration} s");
        key_times.push(packets(&file).into_iter().filter(|p| p.2).map(|p| p.0).collect());

        // Every segment, read on its own behind the init segment, starts with a key frame.
        for (number, segment) in track.segments.iter().enumerate() {
            let single = joined(track, std::slice::from_ref(segment), &scratch.path().join("one.mp4"));
            let first = packets(&single).first().copied().expect("a segment has packets");
            assert!(first.2, "rung {index} segment {number} does not start with a key frame");
        }
    }
    for (index, keys) in key_times.iter().enumerate().skip(1) {
        assert_eq!(keys, &key_times[0], "rung {index} has its key frames elsewhere than rung 0");
    }
    // An IDR frame every 2 s, and at every cut the shots stage found.
    let start = key_times[0][0];
    let has_key = |t: f64| key_times[0].iter().any(|k| (k - start - t).abs() < 0.021);
    for n in 0..30 {
        assert!(has_key(2.0 * f64::from(n)), "no key frame at {} s", 2 * n);
    }
    let shots: Value =
        serde_json::from_str(&std::fs::read_to_string(workdir.join("shots/shots.json")).expect("shots"))
            .expect("shots.json");
    for boundary in shots["boundaries"].as_array().expect("boundaries") {
        let time = boundary["time_seconds"].as_f64().expect("time_seconds");
        assert!(has_key(time), "no key frame at the cut at {time} s");
    }

    for (index, track) in audio.iter().enumerate() {
        let probed = ffprobe(&joined(track, &track.segments, &scratch.path().join(format!("a{index}.mp4"))));
        let stream = &probed["streams"][0];
        assert_eq!(stream["codec_name"], "aac");
        assert_eq!(stream["channels"], 2);
        assert_eq!(stream["tags"]["language"], track.attributes["LANGUAGE"]);
    }

    // Both manifests open in FFmpeg with every track (it wants an absolute MPD path).
    let hls = ffprobe(&dir.join("hls/master.m3u8"));
    let mut widths: Vec<u64> =
        hls["streams"].as_array().expect("streams").iter().filter_map(|s| s["width"].as_u64()).collect();
    widths.sort_unstable();
    widths.dedup();
    assert_eq!(widths, [416, 640, 768], "{hls}");
    let dash = ffprobe(&dir.join("dash/manifest.mpd").canonicalize().expect("mpd path"));
    assert_eq!(dash["streams"].as_array().map(Vec::len), Some(5), "{dash}");
}

#[test]
fn declared_bandwidths_match_what_ffprobe_measures() {
    let dir = encoded().join("renditions");
    let scratch = tempfile::tempdir().expect("temp dir");
    let (video, audio) = hls_tracks(&dir);
    // (average, peak) bit/s of a track, from ffprobe's packet sizes per segment.
    let measure = |track: &Track| -> (f64, f64) {
        let mut bytes = 0u64;
        let mut seconds = 0.0;
        let mut peak: f64 = 0.0;
        for segment in &track.segments {
            let file = joined(track, std::slice::from_ref(segment), &scratch.path().join("m.mp4"));
            let size: u64 = packets(&file).iter().map(|p| p.1).sum();
            bytes += size;
            seconds += segment.1;
            peak = peak.max(size as f64 * 8.0 / segment.1);
        }
        (bytes as f64 * 8.0 / seconds, peak)
    };
    let audio_rates: Vec<(f64, f64)> = audio.iter().map(measure).collect();
    let audio_average = audio_rates.iter().map(|r| r.0).fold(0.0, f64::max);
    let audio_peak = audio_rates.iter().map(|r| r.1).fold(0.0, f64::max);
    let mut report = String::new();
    for track in &video {
        let declared_average: f64 = track.attributes["AVERAGE-BANDWIDTH"].parse().expect("AVERAGE-BANDWIDTH");
        let declared_peak: f64 = track.attributes["BANDWIDTH"].parse().expect("BANDWIDTH");
        let (average, peak) = measure(track);
        let measured_average = average + audio_average;
        let measured_peak = peak + audio_peak;
        report.push_str(&format!(
            "{}: average {measured_average:.0} (declared {declared_average}), peak {measured_peak:.0} (declared {declared_peak}), video peak/average {:.2}\n",
            track.attributes["RESOLUTION"],
            peak / average
        ));
        let error = (measured_average - declared_average).abs() / declared_average;
        assert!(error <= 0.10, "average off by {:.1} %:\n{report}", error * 100.0);
        assert!(measured_peak <= declared_peak, "peak above BANDWIDTH:\n{report}");
        assert!(peak <= 2.0 * average, "the VBV cap did not hold the peak within 2x:\n{report}");
    }
    eprintln!("{report}");
    let mpd = std::fs::read_to_string(dir.join("dash/manifest.mpd")).expect("manifest.mpd");
    assert!(mpd.contains("segmentAlignment=\"true\" startWithSAP=\"1\""), "{mpd}");
    assert_eq!(mpd.matches("<Representation").count(), 5);
}
