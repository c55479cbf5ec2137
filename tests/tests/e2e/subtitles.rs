//! End-to-end tests of the `subtitles` stage.
