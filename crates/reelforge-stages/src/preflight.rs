//! What a pipeline needs from the machine and from its input, checked before any stage
//! starts (`validate`, `plan` and `run` call it): installed models, the streams each stage
//! reads, a trailer the episode has footage for. Settings alone were checked on load.

use reelforge_core::ErrorClass;
use reelforge_media::MediaInfo;
use reelforge_pipeline::{Pipeline, StageConfig, StageError, StageName};

/// Every model the pipeline's subtitles stage needs is installed (exit 4 with the command that
/// installs it otherwise).
pub fn check_models(pipeline: &Pipeline) -> Result<(), StageError> {
    if let Some(StageConfig::Subtitles(settings)) = pipeline.stage(StageName::Subtitles) {
        reelforge_subtitles::models::resolve(settings.model_name())
            .map_err(|error| StageError::from_classified("stage `subtitles`", error))?;
    }
    Ok(())
}

/// Stages the input cannot feed, one message each (empty when every stage can run).
pub fn input_problems(pipeline: &Pipeline, media: &MediaInfo) -> Vec<String> {
    let mut problems = Vec::new();
    let video = media.main_video().and_then(|stream| stream.video.as_ref());
    let audio_streams = media.audio_streams().count();
    for stage in pipeline.stages() {
        let name = stage.name();
        let needs_video = matches!(
            name,
            StageName::Shots | StageName::Trailer | StageName::Artwork | StageName::Renditions
        );
        if needs_video && video.is_none() {
            problems.push(format!("stage `{name}` needs a video stream, and the input has none"));
            continue;
        }
        match stage {
            StageConfig::Subtitles(settings) => {
                if audio_streams == 0 {
                    problems.push(
                        "stage `subtitles` needs an audio stream, and the input has none; remove the stage"
                            .to_owned(),
                    );
                } else if let Some(problem) = english_only_mismatch(settings, media) {
                    problems.push(problem);
                } else if settings.languages.len() > audio_streams {
                    problems.push(format!(
                        "`languages` in stage `subtitles` lists {} languages, one per audio stream, but the \
                         input has {audio_streams} audio stream(s)",
                        settings.languages.len()
                    ));
                }
            }
            StageConfig::Trailer(settings) => {
                if video.is_some_and(|video| !video.avg_fps.is_finite() || video.avg_fps <= 0.0) {
                    problems.push(
                        "stage `trailer` needs the video's frame rate, and the input does not give one"
                            .to_owned(),
                    );
                }
                if let Some(episode) = media.duration_seconds {
                    let usable = episode * settings.spoiler_cutoff;
                    if f64::from(settings.duration_seconds) > usable {
                        problems.push(format!(
                            "`duration_seconds` in stage `trailer` is {}, but the input has only {usable:.1} s \
                             before the spoiler cut-off ({} of {episode:.1} s); ask for a shorter trailer or \
                             raise `spoiler_cutoff`",
                            settings.duration_seconds, settings.spoiler_cutoff
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    problems
}

/// An English-only model asked (by a setting or a stream's tag) for another language.
fn english_only_mismatch(
    settings: &reelforge_subtitles::SubtitleSettings,
    media: &MediaInfo,
) -> Option<String> {
    let model = settings.model_name();
    let (spec, _) = reelforge_subtitles::models::parse_name(model)?;
    if !spec.english_only() {
        return None;
    }
    media.audio_streams().enumerate().find_map(|(stream, info)| {
        let language = settings.language_of(stream, info.language.as_deref())?;
        (language != "en").then(|| {
            format!(
                "audio stream {stream} is `{language}`, but `model` in stage `subtitles` is `{model}`, which knows \
                 English only; use a multilingual model (model: base) or set `languages`"
            )
        })
    })
}

/// [`check_models`], then [`input_problems`] as one configuration error naming the input.
pub fn preflight(pipeline: &Pipeline, media: &MediaInfo) -> Result<(), StageError> {
    check_models(pipeline)?;
    let problems = input_problems(pipeline, media);
    if problems.is_empty() {
        return Ok(());
    }
    let input = media.path.display();
    let lines: Vec<String> = problems.iter().map(|problem| format!("{input}: {problem}")).collect();
    Err(StageError::new(ErrorClass::Config, lines.join("\n")))
}
