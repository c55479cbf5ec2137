//! Language tags as players and packagers' QC expect them: BCP-47 (the shortest ISO 639 code,
//! so "en" rather than the container's "eng" or the bibliographic "fre") and a track name in
//! the language itself ("English", "Français") for player menus.

use isolang::Language;

/// A track's language, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackLanguage {
    /// BCP-47 tag: ISO 639-1 where the language has one, else ISO 639-3; a region or script
    /// subtag given in the input is kept ("pt-BR").
    pub tag: String,
    /// The language's own name with an initial capital, e.g. "Français"; the English name
    /// where no autonym is known.
    pub name: String,
}

/// ISO 639-2/B codes (used by some muxers) that differ from their 639-2/T form.
const BIBLIOGRAPHIC: [(&str, &str); 20] = [
    ("alb", "sqi"),
    ("arm", "hye"),
    ("baq", "eus"),
    ("bur", "mya"),
    ("chi", "zho"),
    ("cze", "ces"),
    ("dut", "nld"),
    ("fre", "fra"),
    ("geo", "kat"),
    ("ger", "deu"),
    ("gre", "ell"),
    ("ice", "isl"),
    ("mac", "mkd"),
    ("mao", "mri"),
    ("may", "msa"),
    ("per", "fas"),
    ("rum", "ron"),
    ("slo", "slk"),
    ("tib", "bod"),
    ("wel", "cym"),
];

/// Normalises a language code from a container or a file name: ISO 639-1, 639-2/T or /B,
/// 639-3, or BCP-47 with subtags. `None` for empty, undetermined ("und", "mul", "zxx") or
/// unknown codes.
pub fn track_language(code: &str) -> Option<TrackLanguage> {
    let code = code.trim();
    let (primary, subtags) = match code.split_once(['-', '_']) {
        Some((primary, rest)) => (primary, Some(rest)),
        None => (code, None),
    };
    let primary = primary.to_ascii_lowercase();
    let language = match primary.len() {
        2 => Language::from_639_1(&primary),
        3 => {
            let terminology =
                BIBLIOGRAPHIC.iter().find(|(b, _)| *b == primary).map_or(primary.as_str(), |(_, t)| t);
            Language::from_639_3(terminology)
        }
        _ => None,
    }?;
    if matches!(language, Language::Und | Language::Mul | Language::Zxx | Language::Mis) {
        return None;
    }
    let mut tag = language.to_639_1().unwrap_or_else(|| language.to_639_3()).to_owned();
    if let Some(subtags) = subtags {
        for subtag in subtags.split(['-', '_']).filter(|s| !s.is_empty()) {
            tag.push('-');
            // BCP-47 case conventions: regions upper case, scripts title case.
            match subtag.len() {
                2 => tag.push_str(&subtag.to_ascii_uppercase()),
                4 => tag.push_str(&capitalised(&subtag.to_ascii_lowercase())),
                _ => tag.push_str(&subtag.to_ascii_lowercase()),
            }
        }
    }
    let name = capitalised(language.to_autonym().unwrap_or_else(|| language.to_name()));
    Some(TrackLanguage { tag, name })
}

/// `text` with its first character in upper case ("français" → "Français").
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(code: &str) -> Option<String> {
        track_language(code).map(|l| l.tag)
    }

    #[test]
    fn container_codes_become_the_shortest_tag() {
        assert_eq!(tag("eng").as_deref(), Some("en"));
        assert_eq!(tag("fra").as_deref(), Some("fr"));
        assert_eq!(tag("fre").as_deref(), Some("fr"));
        assert_eq!(tag("ger").as_deref(), Some("de"));
        assert_eq!(tag("spa").as_deref(), Some("es"));
        assert_eq!(tag("EN").as_deref(), Some("en"));
        // No ISO 639-1 code: the three-letter code is the BCP-47 tag.
        assert_eq!(tag("yue").as_deref(), Some("yue"));
    }

    #[test]
    fn region_and_script_subtags_are_kept_in_bcp47_case() {
        assert_eq!(tag("pt_br").as_deref(), Some("pt-BR"));
        assert_eq!(tag("zh-hant").as_deref(), Some("zh-Hant"));
        assert_eq!(tag("eng-US").as_deref(), Some("en-US"));
    }

    #[test]
    fn undetermined_and_unknown_codes_have_no_tag() {
        for code in ["", "und", "mul", "zxx", "xx", "qqq", "english", "a1"] {
            assert_eq!(tag(code), None, "{code}");
        }
    }

    #[test]
    fn names_are_autonyms_with_a_capital() {
        let name = |code| track_language(code).map(|l| l.name).unwrap_or_default();
        assert_eq!(name("eng"), "English");
        assert_eq!(name("fr"), "Français");
        assert_eq!(name("deu"), "Deutsch");
        assert_eq!(name("es"), "Español");
    }
}
