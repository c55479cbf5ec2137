//! The end title card: white text on black, drawn by libavfilter (`drawtext`, FreeType) over a
//! `color` source, one centred line of text per line of the card.

use std::path::Path;

use ffmpeg_next as ffmpeg;

use crate::error::MediaError;

/// DejaVu Sans Bold, from Debian's `fonts-dejavu-core` (see `scripts/install-deps`).
const FONT_FILE: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
const FONT_PACKAGE: &str = "fonts-dejavu-core";
/// Text height as a share of the picture height, for a short one-line card.
const FONT_SHARE_OF_HEIGHT: f64 = 0.09;
/// Glyphs of DejaVu Sans Bold are at most about this wide on average (in font sizes), so
/// long lines are set smaller to stay inside the picture.
const GLYPH_WIDTH: f64 = 0.7;
/// Lines fill at most this share of the picture width.
const TEXT_WIDTH_SHARE: f64 = 0.85;
const LINE_SPACING: f64 = 1.3;

/// The card as one YUV 4:2:0 picture of `width` × `height`.
pub(super) fn draw_title_card(
    path: &Path,
    text: &str,
    width: u32,
    height: u32,
) -> Result<ffmpeg::frame::Video, MediaError> {
    if !Path::new(FONT_FILE).is_file() {
        return Err(MediaError::MissingTool {
            path: path.to_path_buf(),
            tool: FONT_FILE.to_owned(),
            hint: format!(
                "the title card is drawn with this font: install the Debian package {FONT_PACKAGE}"
            ),
        });
    }
    if text.contains('\0') {
        return Err(MediaError::InvalidSpec {
            path: path.to_path_buf(),
            reason: "the title card text contains a NUL character".into(),
        });
    }
    let failed = |e| MediaError::ffmpeg(path, "drawing the title card with libavfilter", e);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(1).max(1) as f64;
    let size = (f64::from(height) * FONT_SHARE_OF_HEIGHT)
        .min(f64::from(width) * TEXT_WIDTH_SHARE / (GLYPH_WIDTH * longest))
        .max(8.0)
        .round();
    let line_height = size * LINE_SPACING;
    let top = (f64::from(height) - line_height * lines.len() as f64) / 2.0;

    let mut graph = ffmpeg::filter::Graph::new();
    let find = |name: &str| ffmpeg::filter::find(name).ok_or(ffmpeg::Error::FilterNotFound);
    graph
        .add(&find("color").map_err(failed)?, "background", &format!("c=black:s={width}x{height}:r=1"))
        .map_err(failed)?;
    let mut previous = "background".to_owned();
    for (i, line) in lines.iter().enumerate() {
        let name = format!("line{i}");
        let y = (top + line_height * i as f64 + (line_height - size) / 2.0).round();
        let args = format!(
            "fontfile={}:expansion=none:fontcolor=white:fontsize={size}:x=(w-text_w)/2:y={y}:text={}",
            escape(FONT_FILE),
            escape(line)
        );
        graph.add(&find("drawtext").map_err(failed)?, &name, &args).map_err(failed)?;
        link(&mut graph, &previous, &name).map_err(failed)?;
        previous = name;
    }
    graph.add(&find("format").map_err(failed)?, "yuv", "pix_fmts=yuv420p").map_err(failed)?;
    link(&mut graph, &previous, "yuv").map_err(failed)?;
    graph.add(&find("buffersink").map_err(failed)?, "out", "").map_err(failed)?;
    link(&mut graph, "yuv", "out").map_err(failed)?;
    graph.validate().map_err(failed)?;
    let mut picture = ffmpeg::frame::Video::empty();
    graph
        .get("out")
        .ok_or(ffmpeg::Error::FilterNotFound)
        .map_err(failed)?
        .sink()
        .frame(&mut picture)
        .map_err(failed)?;
    Ok(picture)
}

fn link(graph: &mut ffmpeg::filter::Graph, from: &str, to: &str) -> Result<(), ffmpeg::Error> {
    let mut target = graph.get(to).ok_or(ffmpeg::Error::FilterNotFound)?;
    graph.get(from).ok_or(ffmpeg::Error::FilterNotFound)?.link(0, &mut target, 0);
    Ok(())
}

/// A filter option value taken literally: FFmpeg's option parser treats `\`, `'` and `:` as
/// syntax (drawtext's own `%{…}` expansion is off).
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | '\'' | ':') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Share of luma samples brighter than mid-grey, and how many dark-to-bright edges a row
    /// crosses at most (text crosses many).
    fn ink(picture: &ffmpeg::frame::Video) -> (f64, usize) {
        let (w, h, stride) = (picture.width() as usize, picture.height() as usize, picture.stride(0));
        let luma = picture.data(0);
        let mut bright = 0;
        let mut most_edges = 0;
        for y in 0..h {
            let row = &luma[y * stride..y * stride + w];
            bright += row.iter().filter(|&&v| v > 128).count();
            most_edges = most_edges.max(row.windows(2).filter(|p| p[0] <= 128 && p[1] > 128).count());
        }
        (bright as f64 / (w * h) as f64, most_edges)
    }

    #[test]
    fn text_is_drawn_white_on_black_even_with_option_syntax_in_it() {
        crate::init::ensure_init();
        let picture =
            draw_title_card(Path::new("card"), "Coming: 'soon'\\\nat 9:30", 640, 360).expect("drawn");
        assert_eq!((picture.width(), picture.height()), (640, 360));
        assert_eq!(picture.format(), ffmpeg::format::Pixel::YUV420P);
        let (share, edges) = ink(&picture);
        assert!((0.005..0.3).contains(&share), "bright share {share}");
        assert!(edges >= 8, "{edges} strokes in the busiest row");
        // The corners stay black.
        assert!(picture.data(0)[0] <= 20);
    }

    #[test]
    fn an_empty_card_is_black() {
        crate::init::ensure_init();
        let picture = draw_title_card(Path::new("card"), " \n ", 64, 36).expect("drawn");
        assert_eq!(ink(&picture).0, 0.0);
    }
}
