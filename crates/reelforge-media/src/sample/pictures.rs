//! Pictures of the sample: each shot comes from its own libavfilter source graph, and the
//! transitions (fades, dissolves) are blended here on YUV 4:2:0 planes.

use ffmpeg_next as ffmpeg;

/// The shot sources, each visually distinct and moving. `{W}`/`{H}` are the frame size,
/// `{w}`/`{h}` a quarter of it (sources that are slow or blocky at full size), `{R}` the rate.
const SOURCES: [(&str, &str); 8] = [
    ("testsrc2", "testsrc2=s={W}x{H}:r={R}"),
    (
        "mandelbrot",
        "mandelbrot=s={w}x{h}:r={R}:maxiter=100:end_pts=30:start_scale=1.5:end_scale=0.6,gblur=sigma=2,scale={W}:{H}",
    ),
    (
        "life",
        "life=s={w8}x{h8}:r={R}:mold=10:ratio=0.25:seed=7:life_color=#50ff70:death_color=#902818:\
         mold_color=#203060,scale={W}:{H}:flags=neighbor",
    ),
    (
        "smptehdbars+box",
        "smptehdbars=s={W}x{H}:r={R}[bars];color=c=white:s={box}x{box}:r={R}[box];\
         [bars][box]overlay=x='mod(t*{W}/4,W-w)':y='(H-h)/2+(H/4)*sin(t*2)':shortest=1",
    ),
    (
        "gradients",
        "gradients=s={W}x{H}:r={R}:speed=0.03:c0=0x2040a0:c1=0xf0a020:c2=0x20c080:nb_colors=3:seed=5",
    ),
    (
        "cellauto",
        "cellauto=s={w}x{h}:r={R}:rule=30:random_seed=3:scroll=1,format=rgb24,lutrgb=g=val*0.7:b=val*0.3,\
         scale={W}:{H}:flags=neighbor",
    ),
    ("color+noise", "color=c=0x305080:s={w}x{h}:r={R},noise=alls=40:allf=p,hue=H=t*0.8,scale={W}:{H}"),
    ("rgbtestsrc+scroll", "rgbtestsrc=s={W}x{H}:r={R},scroll=h=0.004:v=0.002"),
];

pub(crate) const SOURCE_COUNT: usize = SOURCES.len();

pub(crate) fn source_name(kind: usize) -> &'static str {
    SOURCES[kind % SOURCE_COUNT].0
}

/// Limited-range YUV black.
const BLACK_LUMA: f32 = 16.0;
const NEUTRAL_CHROMA: f32 = 128.0;

/// One shot's endless picture source.
pub(crate) struct ShotSource {
    graph: ffmpeg::filter::Graph,
    frame: ffmpeg::frame::Video,
}

impl ShotSource {
    pub(crate) fn new(kind: usize, width: u32, height: u32, fps: u32) -> Result<Self, ffmpeg::Error> {
        let even = |v: u32| (v.max(2)) & !1;
        let spec = SOURCES[kind % SOURCE_COUNT]
            .1
            .replace("{W}", &width.to_string())
            .replace("{H}", &height.to_string())
            .replace("{w}", &even(width / 4).to_string())
            .replace("{h}", &even(height / 4).to_string())
            .replace("{w8}", &even(width / 8).to_string())
            .replace("{h8}", &even(height / 8).to_string())
            .replace("{box}", &even(height / 5).to_string())
            .replace("{R}", &fps.to_string());
        let mut graph = ffmpeg::filter::Graph::new();
        let sink = ffmpeg::filter::find("buffersink").ok_or(ffmpeg::Error::FilterNotFound)?;
        graph.add(&sink, "out", "")?;
        // Every source ends in the encoder's format with square pixels.
        graph.input("out", 0)?.parse(&format!("{spec},format=yuv420p,setsar=1"))?;
        graph.validate()?;
        Ok(Self { graph, frame: ffmpeg::frame::Video::empty() })
    }

    pub(crate) fn next_picture(&mut self) -> Result<&ffmpeg::frame::Video, ffmpeg::Error> {
        let mut sink = self.graph.get("out").ok_or(ffmpeg::Error::FilterNotFound)?;
        sink.sink().frame(&mut self.frame)?;
        Ok(&self.frame)
    }
}

/// A YUV 4:2:0 picture with tightly packed planes, for blending.
pub(crate) struct Canvas {
    planes: [Vec<u8>; 3],
    widths: [usize; 3],
    heights: [usize; 3],
}

impl Canvas {
    pub(crate) fn new(width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let widths = [w, w.div_ceil(2), w.div_ceil(2)];
        let heights = [h, h.div_ceil(2), h.div_ceil(2)];
        let planes = [0, 1, 2].map(|i| vec![0u8; widths[i] * heights[i]]);
        Self { planes, widths, heights }
    }

    /// Copies a yuv420p frame of the canvas size in.
    pub(crate) fn load(&mut self, frame: &ffmpeg::frame::Video) {
        for plane in 0..3 {
            let (width, stride) = (self.widths[plane], frame.stride(plane));
            for (dst, src) in self.planes[plane].chunks_mut(width).zip(frame.data(plane).chunks(stride)) {
                dst.copy_from_slice(&src[..width]);
            }
        }
    }

    /// Mixes `other` in: `weight` 0 keeps this picture, 1 gives `other`.
    pub(crate) fn mix(&mut self, other: &Canvas, weight: f32) {
        for (dst, src) in self.planes.iter_mut().zip(&other.planes) {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = (f32::from(*d) * (1.0 - weight) + f32::from(*s) * weight).round() as u8;
            }
        }
    }

    /// Scales the picture towards black: `gain` 1 leaves it, 0 is black.
    pub(crate) fn fade(&mut self, gain: f32) {
        for (plane, values) in self.planes.iter_mut().enumerate() {
            let base = if plane == 0 { BLACK_LUMA } else { NEUTRAL_CHROMA };
            for v in values.iter_mut() {
                *v = (base + (f32::from(*v) - base) * gain).round().clamp(0.0, 255.0) as u8;
            }
        }
    }

    /// A new encoder frame holding this picture.
    pub(crate) fn to_frame(&self) -> ffmpeg::frame::Video {
        let mut frame = ffmpeg::frame::Video::new(
            ffmpeg::format::Pixel::YUV420P,
            self.widths[0] as u32,
            self.heights[0] as u32,
        );
        for plane in 0..3 {
            let (width, stride) = (self.widths[plane], frame.stride(plane));
            let rows = frame.data_mut(plane).chunks_mut(stride);
            for (dst, src) in rows.zip(self.planes[plane].chunks(width)) {
                dst[..width].copy_from_slice(src);
            }
        }
        frame
    }
}
