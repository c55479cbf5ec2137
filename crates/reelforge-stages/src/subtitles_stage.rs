//! `subtitles`: not built yet.
