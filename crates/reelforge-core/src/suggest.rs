//! "Did you mean" suggestions for misspelt names.

/// How similar (Jaro-Winkler, 0..1) a valid name must be to a typo to be suggested.
const MIN_SIMILARITY: f64 = 0.8;

/// The valid name closest to `given`, if any is close enough to be a likely typo.
pub fn closest<'a>(given: &str, valid: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    valid
        .into_iter()
        .map(|name| (strsim::jaro_winkler(given, name), name))
        .filter(|(similarity, _)| *similarity >= MIN_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// "; did you mean `x`?" or an empty string, to append to an error message.
pub fn did_you_mean<'a>(given: &str, valid: impl IntoIterator<Item = &'a str>) -> String {
    closest(given, valid).map(|name| format!("; did you mean `{name}`?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        let valid = ["analysis_width", "min_shot_frames"];
        assert_eq!(closest("min_shot_frame", valid), Some("min_shot_frames"));
        assert_eq!(closest("analysis_with", valid), Some("analysis_width"));
        assert_eq!(closest("threshold", valid), None);
        assert_eq!(did_you_mean("xyz", valid), "");
    }
}
