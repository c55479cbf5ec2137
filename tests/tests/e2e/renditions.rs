//! End-to-end tests of the `renditions` stage: the generated sample through a short ladder,
//! every output read back by ffprobe (independent of reelforge's own segment parser), and
//! the manifests' promises (aligned key frames, segments starting on key frames, declared
//! bit rates) checked against what ffprobe measures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use reelforge_e2e::{expect_success, ffprobe, run_pipeline, run_reelforge, sample};
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
        expect_success(&run_pipeline(&pipeline, &sample().episode, &workdir));
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
    assert_eq!(languages, ["en", "fr"]);

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
        // The track header keeps the source's ISO 639-2 code; the manifest says it in BCP-47.
        let bcp47 = match stream["tags"]["language"].as_str() {
            Some("eng") => "en",
            Some("fra") => "fr",
            other => panic!("unexpected track language {other:?}"),
        };
        assert_eq!(bcp47, track.attributes["LANGUAGE"]);
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

/// A static file server on 127.0.0.1 for the player test: `/player/…` from tests/player,
/// `/out/…` from the renditions folder, and `POST /report` where the page sends its result.
struct StaticServer {
    port: u16,
    /// Paths requested so far, in order.
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reports: std::sync::mpsc::Receiver<String>,
}

impl StaticServer {
    fn start(player: PathBuf, out: PathBuf) -> StaticServer {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (report_sender, reports) = std::sync::mpsc::channel();
        let log = requests.clone();
        // Detached: the listener lives until the test process ends.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (player, out, log, report_sender) =
                    (player.clone(), out.clone(), log.clone(), report_sender.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("socket clone"));
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).is_err() {
                        return;
                    }
                    let mut content_length = 0usize;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            content_length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut parts = request_line.split_whitespace();
                    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
                    let path = target.split('?').next().unwrap_or("/").to_owned();
                    log.lock().expect("request log").push(path.clone());
                    let mut stream = stream;
                    if method == "POST" && path == "/report" {
                        let mut body = vec![0; content_length];
                        let _ = reader.read_exact(&mut body);
                        let _ = report_sender.send(String::from_utf8_lossy(&body).into_owned());
                        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    let file = match (path.strip_prefix("/player/"), path.strip_prefix("/out/")) {
                        _ if path.contains("..") => None,
                        (Some(rest), _) => Some(player.join(rest)),
                        (_, Some(rest)) => Some(out.join(rest)),
                        _ => None,
                    };
                    let response = file.and_then(|file| std::fs::read(&file).ok().map(|body| (file, body)));
                    let _ = match response {
                        Some((file, body)) => {
                            let kind = match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
                                "html" => "text/html; charset=utf-8",
                                "js" => "text/javascript",
                                "m3u8" => "application/vnd.apple.mpegurl",
                                "mpd" => "application/dash+xml",
                                "mp4" => "video/mp4",
                                "m4s" => "video/iso.segment",
                                "vtt" => "text/vtt",
                                _ => "application/octet-stream",
                            };
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body))
                        }
                        None => stream.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        ),
                    };
                });
            }
        });
        StaticServer { port, requests, reports }
    }

    /// Rung folders (`media/vN`) whose media segments were requested since the last call.
    fn take_fetched_rungs(&self) -> Vec<String> {
        let mut log = self.requests.lock().expect("request log");
        let mut rungs: Vec<String> = log
            .iter()
            .filter(|path| path.ends_with(".m4s"))
            .filter_map(|path| path.split('/').find(|part| part.starts_with('v')).map(str::to_owned))
            .collect();
        log.clear();
        rungs.sort();
        rungs.dedup();
        rungs
    }
}

/// The tool, or `None` (skip) outside CI; under CI a missing tool fails the test.
fn required_tool(name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{name} is missing under CI; {install}");
        eprintln!("SKIPPED: {name} not found; {install}");
    }
    found
}

#[test]
fn hls_js_and_dash_js_play_to_the_end_in_chromium_switching_rungs() {
    let Some(chromium) = required_tool("chromium", "apt-get install chromium") else { return };
    if required_tool("npm", "apt-get install npm").is_none() {
        return;
    }
    let player_dir = reelforge_e2e::repo_root().join("tests/player");
    if !player_dir.join("node_modules/hls.js").exists() || !player_dir.join("node_modules/dashjs").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&player_dir)
            .status()
            .expect("running npm ci");
        assert!(status.success(), "npm ci --prefix tests/player failed");
    }

    // A short 640x360 episode and three small rungs: quick to encode and to play.
    let scratch = tempfile::tempdir().expect("temp dir");
    let episode = short_sample(scratch.path());
    let pipeline = scratch.path().join("pipeline.yaml");
    std::fs::write(
        &pipeline,
        "version: 1\nname: players\nstages:\n  - renditions:\n      ladder:\n        \
         - { width: 416, height: 234, bitrate_kbps: 200 }\n        \
         - { width: 512, height: 288, bitrate_kbps: 400 }\n        \
         - { width: 640, height: 360, bitrate_kbps: 800 }\n",
    )
    .expect("writing the pipeline");
    let out = scratch.path().join("renditions");
    expect_success(&run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "renditions".as_ref(),
        episode.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
    ]));

    let server = StaticServer::start(player_dir, out);
    for (player, manifest) in [("hls", "hls/master.m3u8"), ("dash", "dash/manifest.mpd")] {
        let profile = tempfile::tempdir().expect("browser profile");
        let url =
            format!("http://127.0.0.1:{}/player/play.html?player={player}&src=/out/{manifest}", server.port);
        let mut browser = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--autoplay-policy=no-user-gesture-required",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting chromium");
        // The page plays 20 s at double speed; it gives up and reports after 100 s.
        let report = server.reports.recv_timeout(std::time::Duration::from_secs(120));
        let _ = browser.kill();
        let _ = browser.wait();
        let report: Value =
            serde_json::from_str(&report.expect("the page reported back")).expect("report JSON");
        let rungs = server.take_fetched_rungs();
        eprintln!("{player}: {report}\n  rungs fetched: {rungs:?}");
        assert_eq!(report["fatal"], serde_json::json!([]), "{player} reported errors: {report}");
        assert_eq!(report["ended"], true, "{player} did not play to the end: {report}");
        assert_eq!(report["levelCount"], 3, "{player}: {report}");
        assert!(rungs.len() > 1, "{player} fetched segments of only {rungs:?}");
        assert!(report["fetchedLevels"].as_array().is_some_and(|l| l.len() > 1), "{player}: {report}");
    }
}

/// A 20 s 640x360 sample episode generated into `dir`.
fn short_sample(dir: &Path) -> PathBuf {
    let sample_dir = dir.join("sample");
    expect_success(&run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "sample".as_ref(),
        "--out".as_ref(),
        sample_dir.as_os_str(),
        "--size".as_ref(),
        "640x360".as_ref(),
        "--duration".as_ref(),
        "20".as_ref(),
    ]));
    sample_dir.join("episode.mp4")
}

#[test]
fn hevc_and_av1_rungs_are_selectable_and_keep_the_key_frames_aligned() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let episode = short_sample(scratch.path());
    let pipeline = scratch.path().join("pipeline.yaml");
    std::fs::write(
        &pipeline,
        "version: 1\nname: codecs\nstages:\n  - renditions:\n      ladder:\n        \
         - { width: 416, height: 234, bitrate_kbps: 200 }\n        \
         - { width: 640, height: 360, bitrate_kbps: 500, codec: hevc }\n        \
         - { width: 640, height: 360, bitrate_kbps: 400, codec: av1 }\n",
    )
    .expect("writing the pipeline");
    let out = scratch.path().join("renditions");
    expect_success(&run_reelforge([
        "--progress".as_ref(),
        "none".as_ref(),
        "renditions".as_ref(),
        episode.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
    ]));
    let (video, _) = hls_tracks(&out);
    let mut codecs = Vec::new();
    let mut key_times = Vec::new();
    for (index, track) in video.iter().enumerate() {
        let file = joined(track, &track.segments, &scratch.path().join(format!("v{index}.mp4")));
        let stream = ffprobe(&file)["streams"][0].clone();
        codecs.push(format!(
            "{}/{}",
            stream["codec_name"].as_str().unwrap_or("?"),
            stream["codec_tag_string"].as_str().unwrap_or("?")
        ));
        // Encoders differ in their start delay (B-frames): compare times from the first frame.
        let keys: Vec<f64> = packets(&file).into_iter().filter(|p| p.2).map(|p| p.0).collect();
        let first = keys[0];
        key_times.push(keys.iter().map(|k| ((k - first) * 1000.0).round() as i64).collect::<Vec<_>>());
    }
    codecs.sort();
    assert_eq!(codecs, ["av1/av01", "h264/avc1", "hevc/hvc1"]);
    for keys in &key_times {
        assert_eq!(keys, &(0..10).map(|n| n * 2000).collect::<Vec<i64>>(), "key frames every 2 s");
    }
    let mpd = std::fs::read_to_string(out.join("dash/manifest.mpd")).expect("manifest.mpd");
    assert_eq!(mpd.matches("contentType=\"video\"").count(), 3, "one AdaptationSet per codec:\n{mpd}");
}

/// Runs every task of a plan in plan order with `reelforge task run`, as a farm would one by
/// one; returns each task's id and its output line.
pub(crate) fn run_plan_tasks(plan: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(plan).expect("plan.json");
    let plan_json: Value = serde_json::from_str(&text).expect("plan JSON");
    plan_json["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter_map(|task| task["id"].as_str())
        .map(|id| {
            let output = run_reelforge([
                "--progress".as_ref(),
                "none".as_ref(),
                "task".as_ref(),
                "run".as_ref(),
                id.as_ref(),
                "--plan".as_ref(),
                plan.as_os_str(),
            ]);
            (id.to_owned(), expect_success(&output).trim().to_owned())
        })
        .collect()
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a folder");
    for entry in std::fs::read_dir(from).expect("reading a folder") {
        let entry = entry.expect("folder entry");
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copying");
        }
    }
}

/// ffmpeg's PSNR (the "average" over all frames, from the mean squared error) of `encoded`
/// against `reference`, after scaling the reference to `size` when given.
fn psnr(reference: &Path, encoded: &Path, size: Option<&str>) -> f64 {
    let filter = match size {
        Some(size) => format!("[0:v]scale={size}:flags=bicubic[r];[r][1:v]psnr"),
        None => "[0:v][1:v]psnr".to_owned(),
    };
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(reference)
        .arg("-i")
        .arg(encoded)
        .args(["-lavfi", &filter, "-f", "null", "-"])
        .output()
        .expect("running ffmpeg (scripts/install-deps installs it)");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "ffmpeg psnr failed: {log}");
    let average = log
        .rsplit("average:")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a PSNR summary line");
    // Identical pictures give "inf".
    average.parse().unwrap_or(f64::INFINITY)
}

/// The renditions stage split as a render farm splits it (each rung in two time ranges, each
/// audio stream whole, then the join) must play exactly like the whole encode of
/// `encoded()`: the same playlists, the same packets at the same times with key frames at
/// the same places, and pictures of the same quality.
#[test]
fn chunked_renditions_play_like_the_whole_encode() {
    let whole = encoded();
    let scratch = tempfile::tempdir().expect("temp dir");
    let pipeline = scratch.path().join("pipeline.yaml");
    std::fs::write(&pipeline, PIPELINE).expect("writing the pipeline");
    let workdir = scratch.path().join("work");
    // probe and shots are the whole run's (same input, pipeline and version: same keys).
    for stage in ["probe", "shots"] {
        copy_dir(&whole.join(stage), &workdir.join(stage));
    }
    let plan = crate::farm::plan_episode(&pipeline, &sample().episode, &workdir, "2");
    let ran = run_plan_tasks(&plan);
    let ids: Vec<&str> = ran.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "probe",
            "shots",
            "renditions-v0-c0",
            "renditions-v0-c1",
            "renditions-v1-c0",
            "renditions-v1-c1",
            "renditions-v2-c0",
            "renditions-v2-c1",
            "renditions-a0",
            "renditions-a1",
            "renditions"
        ]
    );
    assert!(ran[1].1.ends_with("already complete"), "{ran:?}");

    // The same folder as the whole run: same cache key and the same files.
    let manifest = |dir: &Path| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir.join("renditions/manifest.json")).expect("manifest"),
        )
        .expect("manifest JSON")
    };
    let (whole_manifest, chunked_manifest) = (manifest(whole), manifest(&workdir));
    assert_eq!(chunked_manifest["key"], whole_manifest["key"]);
    let paths = |manifest: &Value| -> Vec<String> {
        manifest["outputs"].as_array().expect("outputs").iter().map(|o| o["path"].to_string()).collect()
    };
    assert_eq!(paths(&chunked_manifest), paths(&whole_manifest));

    // Segment lists and durations: the media playlists are the same text.
    let (whole_video, whole_audio) = hls_tracks(&whole.join("renditions"));
    let (chunked_video, chunked_audio) = hls_tracks(&workdir.join("renditions"));
    assert_eq!(chunked_video.len(), 3);
    for name in ["video_v0.m3u8", "video_v1.m3u8", "video_v2.m3u8", "audio_a0.m3u8", "audio_a1.m3u8"] {
        let read = |dir: &Path| std::fs::read_to_string(dir.join("renditions/hls").join(name)).expect(name);
        assert_eq!(read(&workdir), read(whole), "{name}");
    }
    let files = scratch.path().join("probe");
    std::fs::create_dir_all(&files).expect("scratch folder");
    let sizes = ["416:234", "640:360", "768:432"];
    for (index, (chunked, whole_track)) in chunked_video.iter().zip(&whole_video).enumerate() {
        let chunked_file = joined(chunked, &chunked.segments, &files.join(format!("chunked-v{index}.mp4")));
        let whole_file =
            joined(whole_track, &whole_track.segments, &files.join(format!("whole-v{index}.mp4")));
        // ffprobe sees the same packets at the same times, key frames in the same places.
        let timeline =
            |file: &Path| -> Vec<(f64, bool)> { packets(file).into_iter().map(|p| (p.0, p.2)).collect() };
        assert_eq!(timeline(&chunked_file), timeline(&whole_file), "rung {index}");
        // Every segment read on its own behind the init segment starts with a key frame.
        for (number, segment) in chunked.segments.iter().enumerate() {
            let single = joined(chunked, std::slice::from_ref(segment), &files.join("one.mp4"));
            assert!(packets(&single).first().is_some_and(|p| p.2), "rung {index} segment {number}");
        }
        // Decodes without a single error.
        let decode = Command::new("ffmpeg")
            .args(["-v", "error", "-xerror", "-i"])
            .arg(&chunked_file)
            .args(["-f", "null", "-"])
            .output()
            .expect("running ffmpeg");
        assert!(
            decode.status.success() && decode.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&decode.stderr)
        );
        // Pictures: the two encodes differ only as two encodes of the same source at the same
        // bit rate do (each chunk spends its own bit budget), so chunked against whole stays
        // above 28 dB (measured 33.6, 38.9, 36.1 dB); a displaced or broken picture at a
        // chunk edge would fall to 10-20 dB over its GOP and drag the average below. Against
        // the source, the chunked rung loses at most 2 dB to the whole one (measured 0.3 dB).
        let between = psnr(&whole_file, &chunked_file, None);
        eprintln!("rung {index}: chunked vs whole {between:.2} dB");
        assert!(between >= 28.0, "rung {index}: chunked vs whole PSNR {between:.2} dB");
        // Against the source (the top rung only: decoding the source is the slow part).
        if index + 1 == chunked_video.len() {
            let whole_quality = psnr(&sample().episode, &whole_file, Some(sizes[index]));
            let chunked_quality = psnr(&sample().episode, &chunked_file, Some(sizes[index]));
            eprintln!("rung {index} vs source: whole {whole_quality:.2} dB, chunked {chunked_quality:.2} dB");
            assert!(chunked_quality >= whole_quality - 2.0, "rung {index}: {chunked_quality:.2} dB");
        }
    }
    for (chunked, whole_track) in chunked_audio.iter().zip(&whole_audio) {
        for ((a, _), (b, _)) in chunked.segments.iter().zip(&whole_track.segments) {
            assert!(std::fs::read(a).ok() == std::fs::read(b).ok(), "{} differs", a.display());
        }
    }
}

/// The short sample with its audio tracks' titles removed and the second track's language
/// tag too, recognised by the subtitles stage, then packaged with those subtitles: the
/// manifests must name and tag every track from what is known (the container's `eng`, the
/// French the recogniser heard).
fn packaged_with_subtitles() -> &'static Path {
    static OUT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    OUT.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("packaging-e2e").tempdir().expect("temp dir").keep();
        let sample = short_sample(&dir);
        let episode = dir.join("untagged.mp4");
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&sample)
            .args(["-map", "0", "-c", "copy", "-metadata:s:a", "title=", "-metadata:s:a:1", "language=und"])
            .arg(&episode)
            .status()
            .expect("running ffmpeg");
        assert!(status.success(), "ffmpeg could not remux the sample");
        let run = |args: &[&std::ffi::OsStr]| {
            let mut all: Vec<&std::ffi::OsStr> = vec!["--progress".as_ref(), "none".as_ref()];
            all.extend_from_slice(args);
            expect_success(&run_reelforge(all));
        };
        run(&["models".as_ref(), "fetch".as_ref(), "base".as_ref()]);
        let subtitles = dir.join("subtitles");
        run(&["subtitles".as_ref(), episode.as_os_str(), "-o".as_ref(), subtitles.as_os_str(), "--model".as_ref(), "base".as_ref()]);
        let pipeline = dir.join("pipeline.yaml");
        std::fs::write(
            &pipeline,
            "version: 1\nname: packaging\nstages:\n  - renditions:\n      segment_seconds: 4\n      ladder:\n        \
             - { width: 416, height: 234, bitrate_kbps: 200 }\n        \
             - { width: 640, height: 360, bitrate_kbps: 600 }\n",
        )
        .expect("writing the pipeline");
        let out = dir.join("renditions");
        run(&[
            "renditions".as_ref(),
            episode.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--pipeline".as_ref(),
            pipeline.as_os_str(),
            "--subtitles".as_ref(),
            subtitles.as_os_str(),
        ]);
        out
    })
}

/// The `#EXT-X-MEDIA` lines of the master playlist of type `kind`, as attribute maps.
fn media_lines(out: &Path, kind: &str) -> Vec<BTreeMap<String, String>> {
    let master = std::fs::read_to_string(out.join("hls/master.m3u8")).expect("master.m3u8");
    let prefix = format!("#EXT-X-MEDIA:TYPE={kind},");
    master.lines().filter(|l| l.starts_with(&prefix)).map(attributes).collect()
}

#[test]
fn every_language_tag_is_bcp47_and_every_track_has_a_human_name() {
    let out = packaged_with_subtitles();
    let audio = media_lines(out, "AUDIO");
    let subtitles = media_lines(out, "SUBTITLES");
    let mut hls_tags: Vec<String> = Vec::new();
    for track in audio.iter().chain(&subtitles) {
        let language = track.get("LANGUAGE").unwrap_or_else(|| panic!("no LANGUAGE in {track:?}"));
        hls_tags.push(language.clone());
        let name = &track["NAME"];
        assert!(
            name.chars().next().is_some_and(char::is_uppercase)
                && name != language
                && !name.starts_with("Audio "),
            "NAME {name:?} is a code or a placeholder, not a name a viewer reads"
        );
    }
    // Audio: the container said eng, the recogniser heard French on the untagged track.
    let audio_described: Vec<_> =
        audio.iter().map(|t| (t["LANGUAGE"].as_str(), t["NAME"].as_str())).collect();
    assert_eq!(audio_described, [("en", "English"), ("fr", "Français")]);
    assert!(subtitles.iter().any(|t| t["LANGUAGE"] == "fr" && t["NAME"] == "Français"), "{subtitles:?}");
    let mpd = std::fs::read_to_string(out.join("dash/manifest.mpd")).expect("manifest.mpd");
    let dash_tags: Vec<String> =
        mpd.split("lang=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect();
    assert_eq!(dash_tags.len(), hls_tags.len(), "{mpd}");
    // Checked by an independent BCP-47 validator (the IANA subtag registry).
    let output = Command::new(reelforge_e2e::python())
        .args(["-c", "import sys\nfrom language_tags import tags\nbad = [t for t in sys.argv[1:] if not tags.check(t)]\nsys.exit(f'not BCP-47: {bad}' if bad else 0)"])
        .args(hls_tags.iter().chain(&dash_tags))
        .output()
        .expect("running python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn subtitles_never_switch_on_by_themselves() {
    let subtitles = media_lines(packaged_with_subtitles(), "SUBTITLES");
    assert!(!subtitles.is_empty(), "no subtitle tracks were packaged");
    for track in &subtitles {
        assert_eq!(
            (track["DEFAULT"].as_str(), track["AUTOSELECT"].as_str(), track["FORCED"].as_str()),
            ("NO", "YES", "NO"),
            "{track:?}"
        );
    }
    let mpd =
        std::fs::read_to_string(packaged_with_subtitles().join("dash/manifest.mpd")).expect("manifest.mpd");
    assert!(mpd.contains("value=\"subtitle\""), "{mpd}");
}

#[test]
fn webvtt_is_segmented_like_the_media_with_a_timestamp_map() {
    let out = packaged_with_subtitles();
    let (video, _) = hls_tracks(out);
    let video_durations: Vec<f64> = video[0].segments.iter().map(|(_, d)| *d).collect();
    assert!(video_durations.len() > 1, "the sample should give several 4 s segments");
    let hls = out.join("hls");
    for track in media_lines(out, "SUBTITLES") {
        // A subtitle playlist has no init segment: (segment, EXTINF) pairs only.
        let text = std::fs::read_to_string(hls.join(&track["URI"])).expect("subtitle playlist");
        let mut segments: Vec<(PathBuf, f64)> = Vec::new();
        let mut extinf = None;
        for line in text.lines() {
            if let Some(value) = line.strip_prefix("#EXTINF:") {
                extinf = value.trim_end_matches(',').parse::<f64>().ok();
            } else if !line.starts_with('#') && !line.is_empty() {
                segments.push((hls.join(line), extinf.take().expect("EXTINF before a segment")));
            }
        }
        let durations: Vec<f64> = segments.iter().map(|(_, d)| *d).collect();
        assert_eq!(durations.len(), video_durations.len(), "{track:?}");
        for (subtitle, media) in durations.iter().zip(&video_durations) {
            assert!(
                (subtitle - media).abs() < 1e-3,
                "subtitle segments {durations:?} vs media {video_durations:?}"
            );
        }
        let target: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
            .and_then(|v| v.parse().ok())
            .expect("TARGETDURATION");
        assert!(target <= 5.0, "TARGETDURATION {target} for 4 s segments");
        // Every segment is WebVTT a parser reads, mapped to the media timeline; together they
        // hold every cue of the whole file.
        let mut cues = std::collections::BTreeSet::new();
        for (segment, _) in &segments {
            let body = std::fs::read_to_string(segment).expect("subtitle segment");
            assert!(body.starts_with("WEBVTT\n"), "{}", segment.display());
            assert!(body.contains("X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"), "{}", segment.display());
            cues.extend(body.lines().filter(|l| l.contains("-->")).map(str::to_owned));
        }
        let mpd = std::fs::read_to_string(out.join("dash/manifest.mpd")).expect("manifest.mpd");
        let lang = &track["LANGUAGE"];
        let whole = mpd
            .split(&format!("mimeType=\"text/vtt\" lang=\"{lang}\""))
            .nth(1)
            .and_then(|rest| rest.split("<BaseURL>").nth(1))
            .and_then(|rest| rest.split("</BaseURL>").next())
            .expect("the DASH text track of the same language");
        let whole = std::fs::read_to_string(out.join("dash").join(whole)).expect("whole WebVTT");
        let all: std::collections::BTreeSet<String> =
            whole.lines().filter(|l| l.contains("-->")).map(str::to_owned).collect();
        assert!(!all.is_empty(), "the {lang} track has no cues");
        assert_eq!(cues, all, "{lang}: the segments do not hold the file's cues");
        // pysubs2 (independent of reelforge) reads each segment.
        let output = Command::new(reelforge_e2e::python())
            .args(["-c", "import sys, pysubs2\nfor p in sys.argv[1:]: pysubs2.load(p, format_='vtt')"])
            .args(segments.iter().map(|(p, _)| p))
            .output()
            .expect("running python");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn no_audio_segment_is_a_runt() {
    let out = packaged_with_subtitles();
    let (_, audio) = hls_tracks(out);
    let scratch = tempfile::tempdir().expect("temp dir");
    for track in &audio {
        let (last, declared) = track.segments.last().expect("audio segments");
        assert!(*declared >= 1.0, "{}: last audio segment declared {declared} s", last.display());
        // What ffprobe measures of the last segment on its own (with the init segment).
        let file =
            joined(track, &track.segments[track.segments.len() - 1..], &scratch.path().join("last.mp4"));
        let probed = ffprobe(&file);
        let measured: f64 =
            probed["format"]["duration"].as_str().and_then(|d| d.parse().ok()).expect("duration");
        assert!(measured >= 1.0, "{}: last audio segment lasts {measured} s", last.display());
    }
}

#[test]
fn every_variant_declares_codecs_resolution_and_frame_rate() {
    let (video, _) = hls_tracks(packaged_with_subtitles());
    assert_eq!(video.len(), 2);
    for variant in &video {
        for key in
            ["BANDWIDTH", "AVERAGE-BANDWIDTH", "CODECS", "RESOLUTION", "FRAME-RATE", "AUDIO", "SUBTITLES"]
        {
            assert!(variant.attributes.contains_key(key), "{key} missing in {:?}", variant.attributes);
        }
        assert!(variant.attributes["CODECS"].contains("mp4a.40.2"), "{:?}", variant.attributes);
    }
}
