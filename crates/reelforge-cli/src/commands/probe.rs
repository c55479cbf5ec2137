//! `reelforge probe`: what a media file contains.

use std::path::Path;

use anyhow::Context;
use reelforge_media::{MediaInfo, StreamInfo};

pub fn run(input: &Path, json: bool) -> anyhow::Result<()> {
    let info = reelforge_media::probe(input)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info).context("serialising probe result")?);
    } else {
        print!("{}", table(&info));
    }
    Ok(())
}

fn table(info: &MediaInfo) -> String {
    let mut out = format!(
        "{}\n  container: {}\n  duration:  {}\n  size:      {} bytes{}\n",
        info.path.display(),
        info.format_long_name.as_deref().unwrap_or(&info.format_name),
        info.duration_seconds.map_or_else(|| "unknown".to_owned(), |d| format!("{d:.3} s")),
        info.size_bytes,
        info.bit_rate.map_or_else(String::new, |b| format!(", {:.0} kb/s", b as f64 / 1000.0)),
    );
    for stream in &info.streams {
        out.push_str(&format!("  #{} {}\n", stream.index, describe(stream)));
    }
    out
}

fn describe(stream: &StreamInfo) -> String {
    let mut parts = vec![format!("{:?}", stream.kind).to_lowercase(), stream.codec_name.clone()];
    if let Some(profile) = &stream.profile {
        parts.push(format!("({profile})"));
    }
    if let Some(v) = &stream.video {
        parts.push(format!("{}x{}", v.width, v.height));
        if let Some(sar) = v.sample_aspect_ratio {
            parts.push(format!("SAR {}:{}", sar.num, sar.den));
        }
        if let Some(dar) = v.display_aspect_ratio {
            parts.push(format!("DAR {}:{}", dar.num, dar.den));
        }
        parts.push(format!("{:.3} fps", v.avg_fps));
        if let Some(format) = &v.pixel_format {
            parts.push(format.clone());
        }
        if let Some(depth) = v.bit_depth {
            parts.push(format!("{depth}-bit"));
        }
        if v.rotation_degrees != 0 {
            parts.push(format!("rotated {}°", v.rotation_degrees));
        }
    }
    if let Some(a) = &stream.audio {
        parts.push(format!("{} Hz", a.sample_rate));
        parts.push(a.channel_layout.clone().unwrap_or_else(|| format!("{} channels", a.channels)));
    }
    if let Some(bit_rate) = stream.bit_rate {
        parts.push(format!("{:.0} kb/s", bit_rate as f64 / 1000.0));
    }
    if let Some(language) = &stream.language {
        parts.push(format!("[{language}]"));
    }
    if stream.default {
        parts.push("default".to_owned());
    }
    parts.join(" ")
}
