//! A true-peak limiter: streaming services ask for at most −1 dBTP, peaks of the waveform
//! between the samples included (ITU-R BS.1770 measures them 4× oversampled), which a
//! sample-peak limiter lets through.

/// Oversampling factor of the peak estimate (BS.1770's for 48 kHz).
const OVERSAMPLE: usize = 4;
/// Taps per phase of the interpolating filter (a Hann-windowed sinc, 48 taps in all).
const TAPS_PER_PHASE: usize = 12;
/// How far ahead the gain starts to fall before a peak, in seconds.
const LOOK_AHEAD_SECONDS: f64 = 0.0015;
/// Time constant of the gain's recovery after a peak, in seconds.
const RELEASE_SECONDS: f64 = 0.08;

/// The interpolation filter for phases 1..OVERSAMPLE (phase 0 is the sample itself).
fn phases() -> Vec<[f32; TAPS_PER_PHASE]> {
    let half = (TAPS_PER_PHASE / 2) as f64;
    (1..OVERSAMPLE)
        .map(|phase| {
            let offset = phase as f64 / OVERSAMPLE as f64;
            let mut taps = [0.0f32; TAPS_PER_PHASE];
            for (k, tap) in taps.iter_mut().enumerate() {
                // Tap k weighs sample n + k - half + 1 for the point n + offset.
                let x = k as f64 - half + 1.0 - offset;
                let sinc = if x.abs() < 1e-9 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                let window = 0.5 + 0.5 * (std::f64::consts::PI * x / (half + 1.0)).cos();
                *tap = (sinc * window) as f32;
            }
            taps
        })
        .collect()
}

/// The largest absolute value of each sample frame and the three points after it on the
/// 4× oversampled waveform, over all channels.
fn frame_peaks(samples: &[f32], channels: usize) -> Vec<f32> {
    let frames = samples.len() / channels.max(1);
    let filters = phases();
    let half = TAPS_PER_PHASE / 2;
    let at = |frame: isize, channel: usize| {
        if frame < 0 || frame as usize >= frames { 0.0 } else { samples[frame as usize * channels + channel] }
    };
    (0..frames)
        .map(|n| {
            let mut peak = 0.0f32;
            for channel in 0..channels {
                peak = peak.max(at(n as isize, channel).abs());
                for taps in &filters {
                    let value: f32 = taps
                        .iter()
                        .enumerate()
                        .map(|(k, tap)| tap * at(n as isize + k as isize - half as isize + 1, channel))
                        .sum();
                    peak = peak.max(value.abs());
                }
            }
            peak
        })
        .collect()
}

/// Lowers the gain around every peak so the oversampled waveform stays at or under
/// `ceiling_dbtp`: the gain falls over the look-ahead before a peak (no click) and recovers
/// exponentially after it, leaving the rest untouched.
pub(crate) fn limit_true_peak(samples: &mut [f32], channels: usize, sample_rate: u32, ceiling_dbtp: f64) {
    let ceiling = 10f32.powf(ceiling_dbtp as f32 / 20.0);
    let peaks = frame_peaks(samples, channels);
    let wanted: Vec<f32> = peaks.iter().map(|&p| if p > ceiling { ceiling / p } else { 1.0 }).collect();
    let look_ahead = ((LOOK_AHEAD_SECONDS * f64::from(sample_rate)).round() as usize).max(1);
    // The lowest gain wanted over the next `look_ahead` frames, then averaged over the last
    // `look_ahead`: every average that covers frame n includes a minimum over n, so the gain
    // at n never exceeds what n wants, and it moves smoothly.
    let frames = wanted.len();
    let ahead_min: Vec<f32> = (0..frames)
        .map(|n| wanted[n..(n + look_ahead).min(frames)].iter().copied().fold(1.0, f32::min))
        .collect();
    let recover = 1.0 - (-1.0 / (RELEASE_SECONDS * f64::from(sample_rate))).exp() as f32;
    let mut sum = 0.0f32;
    let mut gain = 1.0f32;
    for n in 0..frames {
        sum += ahead_min[n];
        if n >= look_ahead {
            sum -= ahead_min[n - look_ahead];
        }
        let smooth = sum / (n + 1).min(look_ahead) as f32;
        gain = (gain + (1.0 - gain) * recover).min(smooth);
        for sample in &mut samples[n * channels..(n + 1) * channels] {
            *sample *= gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The highest true peak of interleaved `samples`, in dBTP (−∞ for silence).
    fn true_peak_dbtp(samples: &[f32], channels: usize) -> f64 {
        let peak = frame_peaks(samples, channels).into_iter().fold(0.0f32, f32::max);
        20.0 * f64::from(peak).log10()
    }

    /// A stereo sine whose peaks fall between samples: a quarter of the sample rate, offset
    /// by 45°, so every sample is at 0.707 of the wave's true peak.
    fn between_samples(amplitude: f32, frames: usize) -> Vec<f32> {
        (0..frames)
            .flat_map(|n| {
                let value =
                    amplitude * (std::f32::consts::FRAC_PI_2 * n as f32 + std::f32::consts::FRAC_PI_4).sin();
                [value, value]
            })
            .collect()
    }

    #[test]
    fn true_peaks_between_samples_are_seen() {
        let wave = between_samples(1.0, 4800);
        let sample_peak = wave.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((20.0 * sample_peak.log10() + 3.0).abs() < 0.1, "samples sit 3 dB under the wave");
        assert!(true_peak_dbtp(&wave, 2).abs() < 0.5, "{}", true_peak_dbtp(&wave, 2));
    }

    #[test]
    fn limited_audio_stays_under_the_ceiling_and_quiet_audio_is_untouched() {
        let mut loud = between_samples(1.0, 48_000);
        limit_true_peak(&mut loud, 2, 48_000, -1.0);
        assert!(true_peak_dbtp(&loud, 2) <= -1.0 + 0.05, "{}", true_peak_dbtp(&loud, 2));
        let quiet = between_samples(0.5, 4800);
        let mut limited = quiet.clone();
        limit_true_peak(&mut limited, 2, 48_000, -1.0);
        assert_eq!(limited, quiet);
    }

    #[test]
    fn a_single_spike_is_limited_without_a_step() {
        let mut audio = vec![0.1f32; 2 * 4800];
        audio[2 * 2400] = 1.0;
        audio[2 * 2400 + 1] = 1.0;
        limit_true_peak(&mut audio, 2, 48_000, -1.0);
        assert!(true_peak_dbtp(&audio, 2) <= -0.95);
        // The gain eases down before the spike: no frame jumps by more than a few percent.
        let steps = audio.chunks_exact(2).map(|f| f[0]).collect::<Vec<_>>();
        let worst = steps[..2399].windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
        assert!(worst < 0.01, "{worst}");
    }
}
