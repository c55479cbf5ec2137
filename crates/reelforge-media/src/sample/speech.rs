//! Speech tracks: espeak-ng says each line into a WAV, FFmpeg decodes and resamples it, and the
//! line is placed at a known time in a silent mono track.

use std::path::Path;
use std::process::Command;

use ffmpeg_next as ffmpeg;

use crate::error::MediaError;
use crate::open::open_input;
use crate::resample::ToInterleavedF32;

use super::SpeechLine;

/// Sample rate of the episode's audio.
pub(crate) const AUDIO_RATE: u32 = 48_000;
/// Gap kept between two lines when a long line pushes the next one later.
const MIN_GAP_SECONDS: f64 = 0.3;
/// Speech is kept below full scale so the AAC encoder never clips it.
const SPEECH_GAIN: f32 = 0.8;

pub(crate) struct Language {
    /// ISO 639-2 tag written into the container.
    pub code: &'static str,
    pub title: &'static str,
    pub espeak_voice: &'static str,
}

pub(crate) const ENGLISH: Language = Language { code: "eng", title: "English", espeak_voice: "en-us" };
pub(crate) const FRENCH: Language = Language { code: "fra", title: "Français", espeak_voice: "fr" };

/// A mono track of `total_samples` at [`AUDIO_RATE`] with `lines` spoken at planned times.
/// Lines that would run past the end are left out; the truth lists only the lines placed.
pub(crate) fn speech_track(
    out_path: &Path,
    work_dir: &Path,
    language: &Language,
    ordinal: usize,
    lines: &[&str],
    total_samples: usize,
) -> Result<(Vec<f32>, Vec<SpeechLine>), MediaError> {
    let duration = total_samples as f64 / f64::from(AUDIO_RATE);
    let spacing = (duration - 1.0).max(0.0) / lines.len().max(1) as f64;
    let mut track = vec![0.0f32; total_samples];
    let mut placed = Vec::new();
    let mut earliest_start = 0usize;
    for (i, text) in lines.iter().enumerate() {
        let wav = work_dir.join(format!("{}-{i}.wav", language.code));
        say(out_path, language, text, &wav)?;
        let voice = decode_mono(out_path, &wav)?;
        let planned = ((1.0 + i as f64 * spacing) * f64::from(AUDIO_RATE)).round() as usize;
        let start = planned.max(earliest_start);
        let end = start + voice.len();
        if end > total_samples {
            break;
        }
        for (slot, sample) in track[start..end].iter_mut().zip(&voice) {
            *slot = sample * SPEECH_GAIN;
        }
        earliest_start = end + (MIN_GAP_SECONDS * f64::from(AUDIO_RATE)) as usize;
        placed.push(SpeechLine {
            stream_language: language.code.to_owned(),
            audio_ordinal: ordinal,
            start_seconds: microseconds(start),
            end_seconds: microseconds(end),
            start_sample: start as u64,
            end_sample: end as u64,
            text: (*text).to_owned(),
        });
    }
    Ok((track, placed))
}

/// A sample position in seconds, rounded so it survives a JSON round trip unchanged.
fn microseconds(sample: usize) -> f64 {
    (sample as f64 / f64::from(AUDIO_RATE) * 1e6).round() / 1e6
}

fn say(out_path: &Path, language: &Language, text: &str, wav: &Path) -> Result<(), MediaError> {
    let missing = |detail: String| MediaError::MissingTool {
        path: out_path.to_path_buf(),
        tool: "espeak-ng".into(),
        hint: format!("install it (apt install espeak-ng) to generate the sample ({detail})"),
    };
    let output = Command::new("espeak-ng")
        .args(["-v", language.espeak_voice, "-w"])
        .arg(wav)
        .arg(text)
        .output()
        .map_err(|e| missing(e.to_string()))?;
    if !output.status.success() || !wav.exists() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first_line = stderr.lines().next().unwrap_or("no output").to_owned();
        return Err(missing(format!("voice {}: {first_line}", language.espeak_voice)));
    }
    Ok(())
}

/// Decodes a WAV to mono f32 at [`AUDIO_RATE`].
fn decode_mono(out_path: &Path, wav: &Path) -> Result<Vec<f32>, MediaError> {
    let failed = |e| MediaError::ffmpeg(out_path, "decoding espeak-ng's speech", e);
    let mut input = open_input(wav)?;
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Audio)
        .ok_or_else(|| MediaError::NotMedia { path: wav.to_path_buf() })?;
    let index = stream.index();
    let context = ffmpeg::codec::Context::from_parameters(stream.parameters()).map_err(failed)?;
    let mut decoder = context.decoder().audio().map_err(failed)?;
    let mut converter = ToInterleavedF32::new(AUDIO_RATE, 1);
    let mut samples = Vec::new();
    let mut frame = ffmpeg::frame::Audio::empty();
    let mut drain =
        |decoder: &mut ffmpeg::decoder::Audio, samples: &mut Vec<f32>| -> Result<(), MediaError> {
            while decoder.receive_frame(&mut frame).is_ok() {
                converter.convert(&frame, samples).map_err(failed)?;
            }
            Ok(())
        };
    let mut packet = ffmpeg::Packet::empty();
    loop {
        match packet.read(&mut input) {
            Ok(()) if packet.stream() == index => {
                decoder.send_packet(&packet).map_err(failed)?;
                drain(&mut decoder, &mut samples)?;
            }
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(error) => return Err(failed(error)),
        }
    }
    decoder.send_eof().map_err(failed)?;
    drain(&mut decoder, &mut samples)?;
    converter.flush(&mut samples).map_err(failed)?;
    Ok(samples)
}
