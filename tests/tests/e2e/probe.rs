use reelforge_e2e::{expect_success, ffprobe, run_reelforge, sample};
use serde_json::Value;

fn number(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn ratio(value: &Value) -> String {
    format!("{}:{}", value["num"], value["den"])
}

fn rate(text: &Value) -> f64 {
    let parts: Vec<f64> =
        text.as_str().unwrap_or("0/1").split('/').map(|x| x.parse().unwrap_or(0.0)).collect();
    parts[0] / parts[1]
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

    assert!((number(&ours["duration_seconds"]) - number(&theirs["format"]["duration"])).abs() < 0.001);
    assert_eq!(number(&ours["size_bytes"]), number(&theirs["format"]["size"]));
    assert_eq!(number(&ours["bit_rate"]), number(&theirs["format"]["bit_rate"]));
    let our_streams = ours["streams"].as_array().expect("streams");
    let their_streams = theirs["streams"].as_array().expect("streams");
    assert_eq!(our_streams.len(), their_streams.len());
    assert_eq!(our_streams.len(), 3, "one video and two audio streams");

    for (o, t) in our_streams.iter().zip(their_streams) {
        let index = &t["index"];
        assert_eq!(o["index"], *index);
        assert_eq!(o["codec_name"], t["codec_name"], "stream {index}");
        assert_eq!(o["profile"], t["profile"], "stream {index}");
        assert_eq!(o["language"], t["tags"]["language"], "stream {index}");
        assert!((number(&o["duration_seconds"]) - number(&t["duration"])).abs() < 0.001, "stream {index}");
        assert_eq!(number(&o["bit_rate"]), number(&t["bit_rate"]), "stream {index}");
        match t["codec_type"].as_str() {
            Some("video") => {
                let v = &o["video"];
                assert_eq!(v["width"], t["width"]);
                assert_eq!(v["height"], t["height"]);
                assert_eq!(v["pixel_format"], t["pix_fmt"]);
                assert_eq!(ratio(&v["sample_aspect_ratio"]), t["sample_aspect_ratio"].as_str().unwrap_or(""));
                assert_eq!(
                    ratio(&v["display_aspect_ratio"]),
                    t["display_aspect_ratio"].as_str().unwrap_or("")
                );
                assert!((number(&v["avg_fps"]) - rate(&t["avg_frame_rate"])).abs() < 1e-9);
                assert!((number(&v["r_fps"]) - rate(&t["r_frame_rate"])).abs() < 1e-9);
                assert_eq!(number(&o["frame_count"]), number(&t["nb_frames"]));
            }
            Some("audio") => {
                let a = &o["audio"];
                assert_eq!(number(&a["sample_rate"]), number(&t["sample_rate"]));
                assert_eq!(a["channels"], t["channels"]);
                assert_eq!(a["channel_layout"], t["channel_layout"]);
                assert_eq!(a["sample_format"], t["sample_fmt"]);
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
    assert!(out.contains("[fra]"), "{out}");
}
