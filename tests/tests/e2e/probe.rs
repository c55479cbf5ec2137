use reelforge_e2e::{expect_success, ffprobe, run_reelforge, sample};
use serde_json::Value;

fn number(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

#[test]
fn probe_of_sample_matches_ffprobe() {
    let sample = sample();
    let ours: Value = serde_json::from_str(&expect_success(&run_reelforge([
        "probe".as_ref(),
        "--json".as_ref(),
        sample.episode.as_os_str(),
    ])))
    .expect("probe --json prints JSON");
    let theirs = ffprobe(&sample.episode);

    assert!((number(&ours["duration"]) - number(&theirs["format"]["duration"])).abs() < 0.001);
    let our_streams = ours["streams"].as_array().expect("streams");
    let their_streams = theirs["streams"].as_array().expect("streams");
    assert_eq!(our_streams.len(), their_streams.len());
    assert_eq!(our_streams.len(), 3, "one video and two audio streams");

    for (o, t) in our_streams.iter().zip(their_streams) {
        assert_eq!(o["index"], t["index"]);
        assert_eq!(o["codec_name"], t["codec_name"], "stream {}", t["index"]);
        match t["codec_type"].as_str() {
            Some("video") => {
                assert_eq!(o["width"], t["width"]);
                assert_eq!(o["height"], t["height"]);
                assert_eq!(o["pix_fmt"], t["pix_fmt"]);
                let their_rate: Vec<f64> =
                    t["avg_frame_rate"].as_str().unwrap_or("0/1").split('/').map(|x| x.parse().unwrap_or(0.0)).collect();
                let their_fps = their_rate[0] / their_rate[1];
                assert!((number(&o["avg_frame_rate_fps"]) - their_fps).abs() < 1e-6);
                assert_eq!(number(&o["nb_frames"]), number(&t["nb_frames"]));
            }
            Some("audio") => {
                assert_eq!(number(&o["sample_rate"]), number(&t["sample_rate"]));
                assert_eq!(o["channels"], t["channels"]);
                assert_eq!(o["channel_layout"], t["channel_layout"]);
                assert_eq!(o["language"], t["tags"]["language"]);
            }
            other => panic!("unexpected stream type {other:?}"),
        }
    }
}

#[test]
fn probe_prints_a_readable_table() {
    let out = expect_success(&run_reelforge(["probe".as_ref(), sample().episode.as_os_str()]));
    assert!(out.contains("h264"), "{out}");
    assert!(out.contains("1280x720"), "{out}");
    assert!(out.contains("fra"), "{out}");
}
