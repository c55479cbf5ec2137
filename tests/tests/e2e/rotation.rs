//! A clip whose display matrix says "turn me" (a phone's portrait video stored landscape)
//! comes out upright everywhere pictures are made: keyframes, renditions, artwork, sprites
//! and the trailer match ffmpeg's own autorotated decode, and the outputs carry no rotation
//! flag a player would apply a second time (issue #24).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::trailer::psnr;
use reelforge_e2e::{expect_success, ffprobe, run_reelforge};

fn ffmpeg(args: &[&std::ffi::OsStr]) {
    let status = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).status().expect("run ffmpeg");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// 4 s of moving test pattern, then 4 s of still colour bars, 640x360, flagged "rotate 90°".
fn rotated_clip(dir: &Path) -> PathBuf {
    let plain = dir.join("plain.mp4");
    ffmpeg(&[
        "-f".as_ref(),
        "lavfi".as_ref(),
        "-i".as_ref(),
        "testsrc2=s=640x360:r=25:d=4".as_ref(),
        "-f".as_ref(),
        "lavfi".as_ref(),
        "-i".as_ref(),
        "smptebars=s=640x360:r=25:d=4".as_ref(),
        "-f".as_ref(),
        "lavfi".as_ref(),
        "-i".as_ref(),
        "sine=d=8".as_ref(),
        "-filter_complex".as_ref(),
        "[0][1]concat=n=2:v=1:a=0[v]".as_ref(),
        "-map".as_ref(),
        "[v]".as_ref(),
        "-map".as_ref(),
        "2".as_ref(),
        "-c:v".as_ref(),
        "libx264".as_ref(),
        "-c:a".as_ref(),
        "aac".as_ref(),
        plain.as_os_str(),
    ]);
    let rotated = dir.join("rotated.mp4");
    ffmpeg(&[
        "-i".as_ref(),
        plain.as_os_str(),
        "-c".as_ref(),
        "copy".as_ref(),
        "-metadata:s:v:0".as_ref(),
        "rotate=90".as_ref(),
        rotated.as_os_str(),
    ]);
    rotated
}

/// ffmpeg's autorotated picture at `seconds`, through `filter` (e.g. a scale), as PNG.
fn reference(clip: &Path, seconds: f64, filter: &str, png: &Path) {
    ffmpeg(&[
        "-ss".as_ref(),
        format!("{seconds}").as_ref(),
        "-i".as_ref(),
        clip.as_os_str(),
        "-vf".as_ref(),
        filter.as_ref(),
        "-frames:v".as_ref(),
        "1".as_ref(),
        png.as_os_str(),
    ]);
}

/// One picture of `media` at `seconds` (0 for a still image), as PNG.
fn picture(media: &Path, seconds: f64, png: &Path) {
    ffmpeg(&[
        "-ss".as_ref(),
        format!("{seconds}").as_ref(),
        "-i".as_ref(),
        media.as_os_str(),
        "-frames:v".as_ref(),
        "1".as_ref(),
        png.as_os_str(),
    ]);
}

/// Width, height and whether a display matrix is left on the first video stream.
fn shape(media: &Path) -> (u64, u64, bool) {
    let probe = ffprobe(media);
    let video =
        probe["streams"].as_array().expect("streams").iter().find(|s| s["codec_type"] == "video").cloned();
    let video = video.expect("a video stream");
    let flagged = video["side_data_list"]
        .as_array()
        .is_some_and(|list| list.iter().any(|s| s["side_data_type"] == "Display Matrix"));
    (video["width"].as_u64().expect("width"), video["height"].as_u64().expect("height"), flagged)
}

fn command(args: &[&std::ffi::OsStr]) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--progress".as_ref(), "none".as_ref()];
    all.extend_from_slice(args);
    expect_success(&run_reelforge(all));
}

#[test]
fn a_rotated_clip_comes_out_upright_everywhere() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path();
    let clip = rotated_clip(dir);
    let (shots, renditions, artwork, trailer) =
        (dir.join("shots"), dir.join("renditions"), dir.join("artwork"), dir.join("trailer"));
    command(&["shots".as_ref(), clip.as_os_str(), "-o".as_ref(), shots.as_os_str()]);
    command(&["renditions".as_ref(), clip.as_os_str(), "-o".as_ref(), renditions.as_os_str()]);
    command(&[
        "artwork".as_ref(),
        clip.as_os_str(),
        "--shots".as_ref(),
        shots.as_os_str(),
        "-o".as_ref(),
        artwork.as_os_str(),
    ]);
    command(&[
        "trailer".as_ref(),
        clip.as_os_str(),
        "--shots".as_ref(),
        shots.as_os_str(),
        "--duration".as_ref(),
        "5".as_ref(),
        "-o".as_ref(),
        trailer.as_os_str(),
    ]);
    let check = |name: &str, ours: &Path, seconds: f64, width: u32, height: u32| {
        let expected = dir.join(format!("{name}-expected.png"));
        reference(&clip, seconds, &format!("scale={width}:{height}"), &expected);
        let score = psnr(ours, &expected);
        assert!(score > 30.0, "{name}: PSNR {score:.1} dB against ffmpeg's autorotated picture");
    };

    // Keyframe of the still second shot (colour bars), 360 wide as shown.
    let keyframe = shots.join("keyframes/shot_002.jpg");
    let (width, height, _) = shape(&keyframe);
    assert_eq!((width, height), (360, 640), "keyframes are portrait");
    check("keyframe", &keyframe, 6.0, 360, 640);

    // The largest rendition: portrait, no rotation flag left, the same picture.
    let master = fs::read_to_string(renditions.join("hls/master.m3u8")).expect("master playlist");
    assert!(master.contains("RESOLUTION=360x640") && !master.contains("RESOLUTION=640x360"), "{master}");
    let rendition = dir.join("v1.mp4");
    ffmpeg(&[
        "-i".as_ref(),
        renditions.join("hls/video_v1.m3u8").as_os_str(),
        "-c".as_ref(),
        "copy".as_ref(),
        rendition.as_os_str(),
    ]);
    assert_eq!(shape(&rendition), (360, 640, false));
    let frame = dir.join("rendition.png");
    picture(&rendition, 6.0, &frame);
    check("rendition", &frame, 6.0, 360, 640);

    // Every artwork crop is cut from the upright picture.
    let document: Value =
        serde_json::from_slice(&fs::read(artwork.join("artwork.json")).expect("artwork.json")).expect("JSON");
    let pick = &document["profiles"][0]["picks"][0];
    let seconds = pick["time_seconds"].as_f64().expect("time");
    let poster =
        pick["images"].as_array().expect("images").iter().find(|i| i["name"] == "poster").expect("poster");
    let rect = &poster["source_rect"];
    let expected = dir.join("poster-expected.png");
    let (x, y, w, h) = (&rect["x"], &rect["y"], &rect["width"], &rect["height"]);
    let crop = format!("crop={w}:{h}:{x}:{y},scale={}:{}", poster["width"], poster["height"]);
    reference(&clip, seconds, &crop, &expected);
    let score = psnr(&artwork.join(poster["jpeg"].as_str().expect("jpeg path")), &expected);
    assert!(score > 30.0, "poster: PSNR {score:.1} dB");
    let (sprite_width, sprite_height, _) = shape(&artwork.join("sprite_001.jpg"));
    assert!(
        sprite_height > sprite_width,
        "the sprite's one thumbnail is portrait: {sprite_width}x{sprite_height}"
    );

    // The trailer: portrait and unflagged.
    assert_eq!(shape(&trailer.join("trailer.mp4")), (360, 640, false));
}
