//! RFC 6381 codec strings for the CODECS attribute of HLS and the codecs attribute of DASH.

/// AAC low complexity.
pub const AAC_LC_CODEC: &str = "mp4a.40.2";

/// "avc1.PPCCLL" from an H.264 encoder's extradata, either an `avcC` record or Annex B NAL
/// units (what libx264 gives with a global header). `None` when no SPS is found.
pub fn h264_codec_string(extradata: &[u8]) -> Option<String> {
    let sps = if extradata.first() == Some(&1) && extradata.len() >= 4 {
        // avcC: configurationVersion 1, then profile, compatibility and level.
        &extradata[1..4]
    } else {
        annex_b_sps(extradata)?
    };
    Some(format!("avc1.{:02x}{:02x}{:02x}", sps[0], sps[1], sps[2]))
}

/// The three bytes after the header of the first SPS (NAL type 7) behind a start code.
fn annex_b_sps(data: &[u8]) -> Option<&[u8]> {
    let mut index = 0;
    while index + 3 <= data.len() {
        if data[index..index + 3] == [0, 0, 1] {
            let nal = index + 3;
            if data.get(nal).is_some_and(|header| header & 0x1f == 7) && nal + 4 <= data.len() {
                return Some(&data[nal + 1..nal + 4]);
            }
            index = nal;
        } else {
            index += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_profile_and_level_from_annex_b_and_avcc() {
        // High profile (100 = 0x64), no constraints, level 3.1 (31 = 0x1f).
        let annex_b = [0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0, 0, 1, 0x68, 0xeb];
        assert_eq!(h264_codec_string(&annex_b).as_deref(), Some("avc1.64001f"));
        let avcc = [1, 0x42, 0xc0, 0x1e, 0xff, 0xe1];
        assert_eq!(h264_codec_string(&avcc).as_deref(), Some("avc1.42c01e"));
        assert_eq!(h264_codec_string(&[0, 0, 1, 0x68, 1, 2, 3]), None);
    }
}
