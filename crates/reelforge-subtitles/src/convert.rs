//! CTranslate2 Whisper model (`model.bin` + `vocabulary.txt`) → whisper.cpp ggml file.
//!
//! The registry only ships Whisper weights in CTranslate2's format; whisper.cpp wants its own.
//! The weights are the same numbers: this renames tensors, splits the fused attention
//! projections, and adds what ggml files carry and CTranslate2 files do not (the mel filter
//! bank, computed here, and the byte-level vocabulary).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use half::f16;

use crate::SubtitleError;
use crate::models::Quantization;

const GGML_MAGIC: u32 = 0x6767_6d6c;
const CT2_BINARY_VERSION: u32 = 6;
/// Whisper's STFT: 16 kHz audio, 400-sample window → 201 frequency bins.
const SAMPLE_RATE: f64 = 16_000.0;
const N_FFT: usize = 400;
/// ggml tensor types.
const GGML_F32: i32 = 0;
const GGML_F16: i32 = 1;
/// Quantised files say so in `ftype`: GGML_QNT_VERSION (2) × 1000 + ggml's "mostly" file type.
const GGML_QNT_FTYPE_BASE: u32 = 2 * 1000;
/// Whisper's attention heads are 64 wide; used only if a model omits `num_heads`.
const HEAD_WIDTH: u32 = 64;

fn bad(message: impl Into<String>) -> SubtitleError {
    SubtitleError::Convert(message.into())
}

impl Quantization {
    fn ggml_type(self) -> whisper_rs::whisper_rs_sys::ggml_type {
        use whisper_rs::whisper_rs_sys as sys;
        match self {
            Quantization::Q8_0 => sys::ggml_type_GGML_TYPE_Q8_0,
            Quantization::Q5_1 => sys::ggml_type_GGML_TYPE_Q5_1,
            Quantization::Iq4Nl => sys::ggml_type_GGML_TYPE_IQ4_NL,
            Quantization::Q4_0 => sys::ggml_type_GGML_TYPE_Q4_0,
            Quantization::Q4K => sys::ggml_type_GGML_TYPE_Q4_K,
        }
    }

    /// ggml's `GGML_FTYPE_MOSTLY_*`: the weight matrices have this type, the rest stay f16/f32.
    fn file_type(self) -> u32 {
        match self {
            Quantization::Q8_0 => 7,
            Quantization::Q5_1 => 9,
            Quantization::Iq4Nl => 19,
            Quantization::Q4_0 => 2,
            Quantization::Q4K => 12,
        }
    }

    /// Quantises a row-major matrix of `rows` × `row_len` with ggml's own quantiser.
    fn quantize(self, values: &[f32], row_len: usize) -> Result<Vec<u8>, SubtitleError> {
        use whisper_rs::whisper_rs_sys as sys;
        let ty = self.ggml_type();
        // SAFETY: pure functions of the type and a length.
        let (block, row_bytes) = unsafe { (sys::ggml_blck_size(ty), sys::ggml_row_size(ty, row_len as i64)) };
        if row_len == 0
            || !row_len.is_multiple_of(block.max(1) as usize)
            || !values.len().is_multiple_of(row_len)
        {
            return Err(bad(format!(
                "a matrix with rows of {row_len} weights cannot be quantised to {} (blocks of {block})",
                self.name()
            )));
        }
        let rows = values.len() / row_len;
        let mut out = vec![0u8; rows * row_bytes];
        // SAFETY: `values` holds rows × row_len floats and `out` rows × row_size(row_len)
        // bytes, exactly what ggml_quantize_chunk reads and writes; these types need no
        // importance matrix (null is allowed).
        let written = unsafe {
            sys::ggml_quantize_chunk(
                ty,
                values.as_ptr(),
                out.as_mut_ptr().cast(),
                0,
                rows as i64,
                row_len as i64,
                std::ptr::null(),
            )
        };
        if written != out.len() {
            return Err(bad(format!(
                "ggml wrote {written} bytes of {} for a {} matrix",
                out.len(),
                self.name()
            )));
        }
        Ok(out)
    }
}

/// Element type of a CTranslate2 variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl DType {
    fn from_code(code: u8) -> Result<Self, SubtitleError> {
        Ok(match code {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::Bf16,
            other => return Err(bad(format!("unknown CTranslate2 dtype {other}"))),
        })
    }
}

/// One variable of a CTranslate2 model, borrowing its bytes from the file.
#[derive(Clone, Debug)]
struct Variable<'a> {
    dims: Vec<u32>,
    dtype: DType,
    data: &'a [u8],
}

impl Variable<'_> {
    /// The values as f32 (f16/f32 weights only; quantised models are not supported).
    fn to_f32(&self) -> Result<Vec<f32>, SubtitleError> {
        match self.dtype {
            DType::F32 => {
                Ok(self.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
            }
            DType::F16 => {
                Ok(self.data.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect())
            }
            other => Err(bad(format!("weights of type {other:?} are not supported (f16/f32 models only)"))),
        }
    }

    /// A rank-0 integer such as `encoder/num_heads`.
    fn scalar(&self) -> Option<u32> {
        let value = match (self.dtype, self.data) {
            (DType::I8, [a, ..]) => i64::from(*a as i8),
            (DType::I16, [a, b, ..]) => i64::from(i16::from_le_bytes([*a, *b])),
            (DType::I32, [a, b, c, d, ..]) => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
            _ => return None,
        };
        u32::try_from(value).ok()
    }
}

/// A little-endian reader over the model bytes that fails cleanly at a truncated file.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SubtitleError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| bad(format!("model.bin is truncated at byte {}", self.at)))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, SubtitleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, SubtitleError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, SubtitleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// u16 length including a trailing NUL, then the bytes.
    fn string(&mut self) -> Result<String, SubtitleError> {
        let len = usize::from(self.u16()?);
        let bytes = self.take(len)?;
        let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(text.to_vec()).map_err(|_| bad("a variable name is not UTF-8"))
    }
}

/// The variables of a CTranslate2 `model.bin` (binary version 6), by name.
#[derive(Debug)]
pub struct Ct2Model<'a> {
    variables: BTreeMap<String, Variable<'a>>,
}

impl<'a> Ct2Model<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SubtitleError> {
        let mut cursor = Cursor { bytes, at: 0 };
        let version = cursor.u32()?;
        if version != CT2_BINARY_VERSION {
            return Err(bad(format!("CTranslate2 binary version {version}, expected {CT2_BINARY_VERSION}")));
        }
        let spec = cursor.string()?;
        if spec != "WhisperSpec" {
            return Err(bad(format!("the model is a {spec}, not a Whisper model")));
        }
        let _revision = cursor.u32()?;
        let count = cursor.u32()?;
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = cursor.string()?;
            let rank = cursor.u8()?;
            let dims = (0..rank).map(|_| cursor.u32()).collect::<Result<Vec<_>, _>>()?;
            let dtype = DType::from_code(cursor.u8()?)?;
            let nbytes = cursor.u32()? as usize;
            let data = cursor.take(nbytes)?;
            variables.insert(name, Variable { dims, dtype, data });
        }
        if variables.keys().any(|name| name.ends_with("weight_scale")) {
            return Err(bad("quantised (int8) CTranslate2 models are not supported; use an f16 model"));
        }
        Ok(Self { variables })
    }

    fn get(&self, name: &str) -> Result<&Variable<'a>, SubtitleError> {
        self.variables.get(name).ok_or_else(|| bad(format!("the model has no `{name}`")))
    }

    fn layer_count(&self, stack: &str) -> u32 {
        (0..)
            .take_while(|l| self.variables.contains_key(&format!("{stack}/layer_{l}/ffn/linear_0/weight")))
            .count() as u32
    }

    fn heads(&self, stack: &str, state: u32) -> u32 {
        self.variables
            .get(&format!("{stack}/num_heads"))
            .and_then(Variable::scalar)
            .unwrap_or(state / HEAD_WIDTH)
    }
}

/// whisper.cpp's model header, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: u32,
    pub n_audio_ctx: u32,
    pub n_audio_state: u32,
    pub n_audio_head: u32,
    pub n_audio_layer: u32,
    pub n_text_ctx: u32,
    pub n_text_state: u32,
    pub n_text_head: u32,
    pub n_text_layer: u32,
    pub n_mels: u32,
    /// 1 = f16 weights; 2000 + ggml file type for quantised weights.
    pub ftype: u32,
}

impl Hparams {
    fn of(model: &Ct2Model<'_>) -> Result<Self, SubtitleError> {
        let dim = |name: &str, axis: usize| -> Result<u32, SubtitleError> {
            model
                .get(name)?
                .dims
                .get(axis)
                .copied()
                .ok_or_else(|| bad(format!("`{name}` has no axis {axis}")))
        };
        let n_audio_state = dim("encoder/position_encodings/encodings", 1)?;
        let n_text_state = dim("decoder/embeddings/weight", 1)?;
        Ok(Self {
            n_vocab: dim("decoder/embeddings/weight", 0)?,
            n_audio_ctx: dim("encoder/position_encodings/encodings", 0)?,
            n_audio_state,
            n_audio_head: model.heads("encoder", n_audio_state),
            n_audio_layer: model.layer_count("encoder"),
            n_text_ctx: dim("decoder/position_encodings/encodings", 0)?,
            n_text_state,
            n_text_head: model.heads("decoder", n_text_state),
            n_text_layer: model.layer_count("decoder"),
            n_mels: dim("encoder/conv1/weight", 1)?,
            ftype: 1,
        })
    }

    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        for value in [
            GGML_MAGIC,
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ] {
            out.write_all(&value.to_le_bytes())?;
        }
        Ok(())
    }
}

/// The mel filter bank as librosa builds it by default (Slaney mel scale, Slaney area
/// normalisation), which is how OpenAI made Whisper's `mel_filters.npz`: `n_mels` rows of
/// `n_fft / 2 + 1` weights, row-major.
pub fn slaney_mel_filters(sample_rate: f64, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let fft_freq = |k: usize| k as f64 * sample_rate / n_fft as f64;
    let (low, high) = (hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0));
    let mel_points: Vec<f64> =
        (0..n_mels + 2).map(|i| mel_to_hz(low + (high - low) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut weights = Vec::with_capacity(n_mels * bins);
    for m in 0..n_mels {
        let (left, centre, right) = (mel_points[m], mel_points[m + 1], mel_points[m + 2]);
        // Slaney normalisation: every triangle has the same area.
        let norm = 2.0 / (right - left);
        for k in 0..bins {
            let f = fft_freq(k);
            let rising = (f - left) / (centre - left);
            let falling = (right - f) / (right - centre);
            weights.push((rising.min(falling).max(0.0) * norm) as f32);
        }
    }
    weights
}

/// Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz { min_log_mel + (hz / min_log_hz).ln() / log_step } else { hz / f_sp }
}

fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let log_step = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel { min_log_hz * (log_step * (mel - min_log_mel)).exp() } else { mel * f_sp }
}

/// GPT-2's byte-level BPE writes each byte as a printable character (so tokens are text):
/// printable Latin-1 bytes stand for themselves, the other 68 bytes map to U+0100 onwards.
/// Returns the inverse table, character → byte.
pub fn gpt2_byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut table = HashMap::with_capacity(256);
    let mut next = 256u32;
    for byte in 0..=255u8 {
        let ch = if printable(byte) {
            char::from(byte)
        } else {
            let ch = char::from_u32(next).unwrap_or(char::REPLACEMENT_CHARACTER);
            next += 1;
            ch
        };
        table.insert(ch, byte);
    }
    table
}

/// A vocabulary line (`Ġinformants`) back to the bytes the token stands for (` informants`).
pub fn decode_token(token: &str, decoder: &HashMap<char, u8>) -> Result<Vec<u8>, SubtitleError> {
    token
        .chars()
        .map(|c| {
            decoder
                .get(&c)
                .copied()
                .ok_or_else(|| bad(format!("token {token:?} has a character outside GPT-2's byte table")))
        })
        .collect()
}

/// The text tokens of `vocabulary.txt` (one per line, up to `<|endoftext|>`), as bytes.
/// whisper.cpp adds the special and timestamp tokens itself.
fn text_tokens(vocabulary: &str) -> Result<Vec<Vec<u8>>, SubtitleError> {
    let decoder = gpt2_byte_decoder();
    let lines: Vec<&str> = vocabulary.split('\n').collect();
    let end = lines
        .iter()
        .position(|line| *line == "<|endoftext|>")
        .ok_or_else(|| bad("vocabulary.txt has no <|endoftext|>"))?;
    lines[..end].iter().map(|line| decode_token(line, &decoder)).collect()
}

/// Element type a tensor is stored as in the ggml file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stored {
    F32,
    F16,
    Quantized(Quantization),
}

impl Stored {
    fn ggml_type(self) -> i32 {
        match self {
            Stored::F32 => GGML_F32,
            Stored::F16 => GGML_F16,
            Stored::Quantized(q) => q.ggml_type() as i32,
        }
    }
}

/// Writes one tensor: n_dims, name length, type, the shape reversed (ggml's order), name, data.
/// `shape` is the PyTorch shape (rows first, so its last entry is the row length).
fn write_tensor(
    out: &mut impl Write,
    name: &str,
    shape: &[u32],
    values: &[f32],
    stored: Stored,
) -> Result<(), SubtitleError> {
    let io = |e| SubtitleError::io("writing the ggml model", e);
    let bytes = match stored {
        Stored::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Stored::F16 => values.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect(),
        Stored::Quantized(q) => q.quantize(values, shape.last().copied().unwrap_or(0) as usize)?,
    };
    out.write_all(&(shape.len() as i32).to_le_bytes()).map_err(io)?;
    out.write_all(&(name.len() as i32).to_le_bytes()).map_err(io)?;
    out.write_all(&stored.ggml_type().to_le_bytes()).map_err(io)?;
    for dim in shape.iter().rev() {
        out.write_all(&(*dim as i32).to_le_bytes()).map_err(io)?;
    }
    out.write_all(name.as_bytes()).map_err(io)?;
    out.write_all(&bytes).map_err(io)
}

/// Name, PyTorch shape, values and storage type of one output tensor.
type GgmlTensor = (String, Vec<u32>, Vec<f32>, Stored);

/// Collects the ggml tensors while checking shapes; written once complete.
struct Tensors<'m, 'a> {
    model: &'m Ct2Model<'a>,
    out: Vec<GgmlTensor>,
}

impl Tensors<'_, '_> {
    /// Copies a variable under a new name, f16 for matrices and f32 for vectors.
    fn copy(&mut self, from: &str, to: &str) -> Result<(), SubtitleError> {
        let var = self.model.get(from)?;
        let stored = if var.dims.len() >= 2 { Stored::F16 } else { Stored::F32 };
        self.out.push((to.to_owned(), var.dims.clone(), var.to_f32()?, stored));
        Ok(())
    }

    fn copy_f32(&mut self, from: &str, to: &str, shape: Vec<u32>) -> Result<(), SubtitleError> {
        let var = self.model.get(from)?;
        self.out.push((to.to_owned(), shape, var.to_f32()?, Stored::F32));
        Ok(())
    }

    fn layer_norm(&mut self, from: &str, to: &str) -> Result<(), SubtitleError> {
        self.copy(&format!("{from}/gamma"), &format!("{to}.weight"))?;
        self.copy(&format!("{from}/beta"), &format!("{to}.bias"))
    }

    fn linear(&mut self, from: &str, to: &str) -> Result<(), SubtitleError> {
        self.copy(&format!("{from}/weight"), &format!("{to}.weight"))?;
        self.copy(&format!("{from}/bias"), &format!("{to}.bias"))
    }

    /// Splits a fused projection (rows stacked: one block of `d` rows per output) into
    /// `targets`; a target without a bias (`key`: Whisper has none) must have a zero bias slice.
    fn split(&mut self, from: &str, targets: &[(&str, bool)]) -> Result<(), SubtitleError> {
        let weight = self.model.get(&format!("{from}/weight"))?;
        let bias = self.model.get(&format!("{from}/bias"))?;
        let (rows, cols) = match weight.dims[..] {
            [rows, cols] => (rows, cols),
            _ => return Err(bad(format!("`{from}/weight` is not a matrix"))),
        };
        let parts = targets.len() as u32;
        if rows % parts != 0 {
            return Err(bad(format!("`{from}` has {rows} rows, not {parts} equal blocks")));
        }
        let d = rows / parts;
        let (w, b) = (weight.to_f32()?, bias.to_f32()?);
        let (block_w, block_b) = ((d * cols) as usize, d as usize);
        if w.len() != block_w * targets.len() || b.len() != block_b * targets.len() {
            return Err(bad(format!("`{from}` data does not match its shape")));
        }
        for (i, (target, has_bias)) in targets.iter().enumerate() {
            self.out.push((
                format!("{target}.weight"),
                vec![d, cols],
                w[i * block_w..(i + 1) * block_w].to_vec(),
                Stored::F16,
            ));
            let slice = &b[i * block_b..(i + 1) * block_b];
            if *has_bias {
                self.out.push((format!("{target}.bias"), vec![d], slice.to_vec(), Stored::F32));
            } else if slice.iter().any(|v| *v != 0.0) {
                return Err(bad(format!(
                    "`{from}` has a non-zero bias for `{target}`, which whisper.cpp cannot load"
                )));
            }
        }
        Ok(())
    }
}

/// Converts a CTranslate2 Whisper model and its vocabulary into a complete ggml file, with
/// f16 weight matrices or quantised ones.
pub fn convert(
    model: &Ct2Model<'_>,
    vocabulary: &str,
    quantization: Option<Quantization>,
    out: &mut impl Write,
) -> Result<Hparams, SubtitleError> {
    let mut hparams = Hparams::of(model)?;
    if let Some(q) = quantization {
        hparams.ftype = GGML_QNT_FTYPE_BASE + q.file_type();
    }
    let tokens = text_tokens(vocabulary)?;
    let tensors = tensors(model, &hparams)?;

    let io = |e| SubtitleError::io("writing the ggml model", e);
    hparams.write(out).map_err(io)?;
    let bins = N_FFT / 2 + 1;
    out.write_all(&hparams.n_mels.to_le_bytes()).map_err(io)?;
    out.write_all(&(bins as u32).to_le_bytes()).map_err(io)?;
    for v in slaney_mel_filters(SAMPLE_RATE, N_FFT, hparams.n_mels as usize) {
        out.write_all(&v.to_le_bytes()).map_err(io)?;
    }
    out.write_all(&(tokens.len() as u32).to_le_bytes()).map_err(io)?;
    for token in &tokens {
        out.write_all(&(token.len() as u32).to_le_bytes()).map_err(io)?;
        out.write_all(token).map_err(io)?;
    }
    for (name, shape, values, stored) in &tensors {
        // whisper.cpp gives the file's weight type to every matrix; the 3-D convolution
        // kernels stay f16 and the vectors and positional embeddings f32.
        let stored = match (stored, quantization) {
            (Stored::F16, Some(q)) if shape.len() == 2 => Stored::Quantized(q),
            _ => *stored,
        };
        write_tensor(out, name, shape, values, stored)?;
    }
    Ok(hparams)
}

fn tensors(model: &Ct2Model<'_>, hparams: &Hparams) -> Result<Vec<GgmlTensor>, SubtitleError> {
    let mut t = Tensors { model, out: Vec::new() };
    for conv in ["conv1", "conv2"] {
        t.copy(&format!("encoder/{conv}/weight"), &format!("encoder.{conv}.weight"))?;
        let out_channels = model.get(&format!("encoder/{conv}/bias"))?.dims.first().copied().unwrap_or(0);
        t.copy_f32(&format!("encoder/{conv}/bias"), &format!("encoder.{conv}.bias"), vec![out_channels, 1])?;
    }
    let pos = |stack: &str, ctx: u32, state: u32| {
        (format!("{stack}/position_encodings/encodings"), vec![ctx, state])
    };
    let (from, shape) = pos("encoder", hparams.n_audio_ctx, hparams.n_audio_state);
    t.copy_f32(&from, "encoder.positional_embedding", shape)?;
    let (from, shape) = pos("decoder", hparams.n_text_ctx, hparams.n_text_state);
    t.copy_f32(&from, "decoder.positional_embedding", shape)?;
    t.layer_norm("encoder/layer_norm", "encoder.ln_post")?;
    t.copy("decoder/embeddings/weight", "decoder.token_embedding.weight")?;
    t.layer_norm("decoder/layer_norm", "decoder.ln")?;

    for (stack, layers) in [("encoder", hparams.n_audio_layer), ("decoder", hparams.n_text_layer)] {
        for l in 0..layers {
            let (from, to) = (format!("{stack}/layer_{l}"), format!("{stack}.blocks.{l}"));
            t.layer_norm(&format!("{from}/self_attention/layer_norm"), &format!("{to}.attn_ln"))?;
            t.split(
                &format!("{from}/self_attention/linear_0"),
                &[
                    (&format!("{to}.attn.query"), true),
                    (&format!("{to}.attn.key"), false),
                    (&format!("{to}.attn.value"), true),
                ],
            )?;
            t.linear(&format!("{from}/self_attention/linear_1"), &format!("{to}.attn.out"))?;
            if stack == "decoder" {
                t.layer_norm(&format!("{from}/attention/layer_norm"), &format!("{to}.cross_attn_ln"))?;
                t.linear(&format!("{from}/attention/linear_0"), &format!("{to}.cross_attn.query"))?;
                t.split(
                    &format!("{from}/attention/linear_1"),
                    &[(&format!("{to}.cross_attn.key"), false), (&format!("{to}.cross_attn.value"), true)],
                )?;
                t.linear(&format!("{from}/attention/linear_2"), &format!("{to}.cross_attn.out"))?;
            }
            t.layer_norm(&format!("{from}/ffn/layer_norm"), &format!("{to}.mlp_ln"))?;
            t.linear(&format!("{from}/ffn/linear_0"), &format!("{to}.mlp.0"))?;
            t.linear(&format!("{from}/ffn/linear_1"), &format!("{to}.mlp.2"))?;
        }
    }
    Ok(t.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_filters_match_openai_values() {
        let filters = slaney_mel_filters(SAMPLE_RATE, N_FFT, 80);
        assert_eq!(filters.len(), 80 * 201);
        // Reference values from Whisper's mel_filters.npz (mel_80).
        assert!((filters[1] - 0.024_862_593).abs() < 1e-7, "{}", filters[1]);
        assert_eq!(filters[0], 0.0);
        // Every filter is a non-negative triangle with a single peak.
        for row in filters.chunks(201) {
            assert!(row.iter().all(|v| *v >= 0.0));
            assert!(row.iter().any(|v| *v > 0.0));
        }
    }

    #[test]
    fn mel_scale_is_linear_below_1khz_and_inverts() {
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(200.0) - 3.0).abs() < 1e-12);
        for hz in [0.0, 123.0, 999.0, 1000.0, 4321.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    #[test]
    fn byte_decoder_inverts_gpt2_table() {
        let decoder = gpt2_byte_decoder();
        assert_eq!(decoder.len(), 256);
        assert_eq!(decode_token("Ġinformants", &decoder).unwrap(), b" informants");
        assert_eq!(decode_token("Ċ", &decoder).unwrap(), b"\n");
        assert_eq!(decode_token("!", &decoder).unwrap(), b"!");
        // "é" as UTF-8 (C3 A9) written with the table's characters.
        assert_eq!(decode_token("Ã©", &decoder).unwrap(), "é".as_bytes());
        assert!(decode_token("\u{4e00}", &decoder).is_err());
    }

    #[test]
    fn text_tokens_stop_at_endoftext() {
        let tokens = text_tokens("!\nĠa\n\n<|endoftext|>\n<|startoftranscript|>").unwrap();
        assert_eq!(tokens, vec![b"!".to_vec(), b" a".to_vec(), Vec::new()]);
        assert!(text_tokens("a\nb").is_err());
    }

    #[test]
    fn tensor_header_is_ggml_layout() {
        let mut out = Vec::new();
        write_tensor(&mut out, "x.bias", &[3, 1], &[1.0, 2.0, 3.0], Stored::F32).unwrap();
        let ints: Vec<i32> =
            out[..20].chunks(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(ints, [2, 6, GGML_F32, 1, 3]);
        assert_eq!(&out[20..26], b"x.bias");
        assert_eq!(out.len(), 26 + 12);
        let mut half = Vec::new();
        write_tensor(&mut half, "w", &[2], &[1.0, -2.0], Stored::F16).unwrap();
        assert_eq!(&half[half.len() - 4..], &[0x00, 0x3c, 0x00, 0xc0]);
    }

    #[test]
    fn hparams_header_starts_with_magic() {
        let h = Hparams {
            n_vocab: 51864,
            n_audio_ctx: 1500,
            n_audio_state: 384,
            n_audio_head: 6,
            n_audio_layer: 4,
            n_text_ctx: 448,
            n_text_state: 384,
            n_text_head: 6,
            n_text_layer: 4,
            n_mels: 80,
            ftype: 1,
        };
        let mut out = Vec::new();
        h.write(&mut out).unwrap();
        assert_eq!(out.len(), 48);
        assert_eq!(&out[..4], &0x6767_6d6cu32.to_le_bytes());
        assert_eq!(&out[4..8], &51864u32.to_le_bytes());
    }

    /// A tiny hand-built model.bin: one fused layer exercises parsing and the q/k/v split.
    fn fake_model() -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&6u32.to_le_bytes());
        string(&mut out, "WhisperSpec");
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&2u32.to_le_bytes());
        // weight [3, 1] f16 = 1, 2, 3; bias [3] f32 = 0.5, 0, 0.25
        string(&mut out, "l/weight");
        out.push(2);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.push(4);
        out.extend_from_slice(&6u32.to_le_bytes());
        for v in [1.0f32, 2.0, 3.0] {
            out.extend_from_slice(&f16::from_f32(v).to_le_bytes());
        }
        string(&mut out, "l/bias");
        out.push(1);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.push(0);
        out.extend_from_slice(&12u32.to_le_bytes());
        for v in [0.5f32, 0.0, 0.25] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out
    }

    #[test]
    fn fused_projection_splits_and_drops_zero_key_bias() {
        let bytes = fake_model();
        let model = Ct2Model::parse(&bytes).unwrap();
        let mut t = Tensors { model: &model, out: Vec::new() };
        t.split("l", &[("q", true), ("k", false), ("v", true)]).unwrap();
        let names: Vec<&str> = t.out.iter().map(|(n, ..)| n.as_str()).collect();
        assert_eq!(names, ["q.weight", "q.bias", "k.weight", "v.weight", "v.bias"]);
        assert_eq!(t.out[2].2, vec![2.0]);
        assert_eq!(t.out[4].2, vec![0.25]);
        // A non-zero key bias cannot be dropped silently.
        let mut t = Tensors { model: &model, out: Vec::new() };
        assert!(t.split("l", &[("q", false), ("k", true), ("v", true)]).is_err());
    }

    #[test]
    fn q8_0_blocks_hold_a_scale_and_32_bytes() {
        // Two rows of 32: ramps up to 1.0 and down to -0.5.
        let mut values: Vec<f32> = (0..32).map(|i| i as f32 / 31.0).collect();
        values.extend((0..32).map(|i| -0.5 * i as f32 / 31.0));
        let bytes = Quantization::Q8_0.quantize(&values, 32).unwrap();
        assert_eq!(bytes.len(), 2 * 34);
        let scale = f16::from_le_bytes([bytes[0], bytes[1]]).to_f32();
        assert!((scale - 1.0 / 127.0).abs() < 1e-4, "scale {scale}");
        assert_eq!(bytes[2 + 31] as i8, 127);
        assert_eq!(bytes[34 + 2 + 31] as i8, -127);
        // Rows that are not whole blocks are refused instead of corrupting the file.
        assert!(Quantization::Q5_1.quantize(&[0.0; 30], 30).is_err());
        assert_eq!(Quantization::Q5_1.quantize(&values, 32).unwrap().len(), 2 * 24);
        assert_eq!(Quantization::parse("q5_1"), Some(Quantization::Q5_1));
        assert_eq!(Quantization::parse("q4_1"), None);
    }

    /// ggml's own dequantiser, to see what a quantised row decodes to.
    fn dequantize(q: Quantization, bytes: &[u8], len: usize) -> Vec<f32> {
        use whisper_rs::whisper_rs_sys as sys;
        let mut out = vec![0f32; len];
        // SAFETY: the traits are static; `bytes` holds whole rows of `len` weights of this type.
        unsafe {
            let to_float = (*sys::ggml_get_type_traits(q.ggml_type())).to_float.expect("a dequantiser");
            to_float(bytes.as_ptr().cast(), out.as_mut_ptr(), len as i64);
        }
        out
    }

    #[test]
    fn four_bit_quantisations_round_trip_within_their_precision() {
        // Two rows of 512 bell-shaped weights (sum of four uniforms), like a weight matrix's.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let values: Vec<f32> = (0..1024).map(|_| (0..4).map(|_| uniform()).sum::<f32>() * 0.1).collect();
        let rms = |v: &[f32]| (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        let signal = rms(&values);
        let mut relative_error = Vec::new();
        for q in [Quantization::Iq4Nl, Quantization::Q4_0, Quantization::Q4K] {
            let bytes = q.quantize(&values, 512).unwrap();
            // 4.5 bits a weight: 18 bytes per 32 (f16 scale) or 144 per 256 (Q4_K).
            assert_eq!(bytes.len(), 1024 * 9 / 16, "{}", q.name());
            let decoded = dequantize(q, &bytes, values.len());
            let error: Vec<f32> = values.iter().zip(&decoded).map(|(a, b)| a - b).collect();
            relative_error.push(rms(&error) / signal);
            assert_eq!(Quantization::parse(q.name()), Some(q));
            // SAFETY: a pure function of the type.
            assert!(!unsafe { whisper_rs::whisper_rs_sys::ggml_quantize_requires_imatrix(q.ggml_type()) });
        }
        // 4 bits keep the weights to within about a tenth of their spread.
        assert!(relative_error.iter().all(|e| *e > 0.0 && *e < 0.1), "{relative_error:?}");
        // The non-linear grid fits bell-shaped weights better than Q4_0's even steps.
        assert!(relative_error[0] < relative_error[1], "{relative_error:?}");
        // Q4_K's super-blocks need rows of 256: tiny.en's 384-wide matrices are refused.
        let err = Quantization::Q4K.quantize(&[0.0; 384], 384).unwrap_err().to_string();
        assert!(err.contains("384") && err.contains("256"), "{err}");
        assert!(Quantization::Iq4Nl.quantize(&[0.0; 384], 384).is_ok());
    }

    #[test]
    fn truncated_model_is_an_error() {
        let bytes = fake_model();
        assert!(Ct2Model::parse(&bytes[..bytes.len() - 8]).is_err());
    }
}
