//! swscale to the tightly packed Gray8/RGB24 pictures analyzers ask for.

use ffmpeg_next as ffmpeg;
use reelforge_core::{FrameRequest, PixelLayout};

pub(crate) struct FrameScaler {
    request: FrameRequest,
    /// The context and the source (format, width, height) it was made for.
    context: Option<(ffmpeg::software::scaling::Context, (ffmpeg::format::Pixel, u32, u32))>,
    scaled: ffmpeg::frame::Video,
}

impl FrameScaler {
    pub(crate) fn new(request: FrameRequest) -> Self {
        Self { request, context: None, scaled: ffmpeg::frame::Video::empty() }
    }

    /// The picture at the requested size and layout, rows tightly packed.
    pub(crate) fn scale(&mut self, frame: &ffmpeg::frame::Video) -> Result<Vec<u8>, ffmpeg::Error> {
        let request = self.request;
        let source = (frame.format(), frame.width(), frame.height());
        // The source size or format can change mid-stream (broadcast recordings): re-create.
        let context = match &mut self.context {
            Some((context, made_for)) if *made_for == source => context,
            slot => {
                let target = match request.layout {
                    PixelLayout::Gray8 => ffmpeg::format::Pixel::GRAY8,
                    PixelLayout::Rgb24 => ffmpeg::format::Pixel::RGB24,
                };
                let context = ffmpeg::software::scaling::Context::get(
                    source.0,
                    source.1,
                    source.2,
                    target,
                    request.width,
                    request.height,
                    ffmpeg::software::scaling::Flags::AREA,
                )?;
                &mut slot.insert((context, source)).0
            }
        };
        context.run(frame, &mut self.scaled)?;
        // swscale pads rows to its alignment; analyzers get exactly width × bytes per pixel.
        let row_bytes = request.width as usize * request.layout.bytes_per_pixel();
        let mut data = Vec::with_capacity(row_bytes * request.height as usize);
        for row in self.scaled.data(0).chunks(self.scaled.stride(0)).take(request.height as usize) {
            data.extend_from_slice(&row[..row_bytes]);
        }
        Ok(data)
    }
}
