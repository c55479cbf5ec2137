//! A small generated sample shared by the tests of this crate (made once per test run).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use reelforge_core::NoProgress;

use crate::sample::{SampleSpec, SampleTruth, generate_sample};

pub(crate) const SMALL: SampleSpec = SampleSpec { width: 256, height: 144, fps: 25, duration_seconds: 12 };

struct Generated {
    // Kept for the whole run so the files stay; never dropped (a static).
    _dir: tempfile::TempDir,
    episode: PathBuf,
    truth: SampleTruth,
}

fn generated() -> &'static Generated {
    static SAMPLE: OnceLock<Generated> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let truth = generate_sample(&SMALL, dir.path(), &NoProgress).expect("small sample generates");
        Generated { episode: dir.path().join("episode.mp4"), _dir: dir, truth }
    })
}

pub(crate) fn small_sample() -> &'static Path {
    &generated().episode
}

pub(crate) fn small_truth() -> &'static SampleTruth {
    &generated().truth
}

/// A copy of the small sample cut to `fraction` of its size, in `dir`.
pub(crate) fn cut_copy(dir: &Path, fraction: f64) -> PathBuf {
    let bytes = std::fs::read(small_sample()).expect("read sample");
    let path = dir.join("cut.mp4");
    std::fs::write(&path, &bytes[..(bytes.len() as f64 * fraction) as usize]).expect("write cut copy");
    path
}
