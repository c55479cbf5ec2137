//! The languages whisper knows, by the ISO 639-1 codes it takes (`yue` and `haw` have none),
//! without linking whisper.cpp: settings are checked before any model loads.

/// In whisper's own order (its token ids follow it).
pub const WHISPER_LANGUAGES: &[&str] = &[
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id",
    "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg",
    "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br",
    "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si", "km", "sn", "yo", "so",
    "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt",
    "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue",
];

pub fn is_whisper_language(code: &str) -> bool {
    WHISPER_LANGUAGES.contains(&code)
}

/// Container tags are ISO 639-2 (`eng`, `fre`/`fra`); whisper wants ISO 639-1 (`en`, `fr`).
/// `und` and unknown codes give `None` (detect instead).
pub fn iso639_1(tag: &str) -> Option<String> {
    let tag = tag.to_ascii_lowercase();
    if tag.len() == 2 {
        return is_whisper_language(&tag).then_some(tag);
    }
    let code = match tag.as_str() {
        "eng" => "en",
        "fre" | "fra" => "fr",
        "ger" | "deu" => "de",
        "spa" => "es",
        "ita" => "it",
        "por" => "pt",
        "dut" | "nld" => "nl",
        "rus" => "ru",
        "jpn" => "ja",
        "chi" | "zho" => "zh",
        "kor" => "ko",
        "ara" => "ar",
        "pol" => "pl",
        "tur" => "tr",
        "swe" => "sv",
        "hin" => "hi",
        _ => return None,
    };
    Some(code.to_owned())
}

#[cfg(all(test, feature = "recognition"))]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_whispers_own() {
        for (id, code) in WHISPER_LANGUAGES.iter().enumerate() {
            assert_eq!(whisper_rs::get_lang_id(code), Some(id as i32), "{code}");
        }
        assert_eq!(whisper_rs::get_lang_str(WHISPER_LANGUAGES.len() as i32), None);
    }
}
