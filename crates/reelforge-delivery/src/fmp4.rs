//! Just enough ISO BMFF parsing to measure fragmented-MP4 segments as written: their decode
//! times and durations (for manifests that match the files exactly) and where the first key
//! frame ends (for I-frame playlists); and moving a segment on the timeline, for segments
//! encoded as a render-farm chunk whose timestamps started at 0.

use crate::error::DeliveryError;

/// What one media segment file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentInfo {
    /// Decode time of the first sample (tfdt), in the track timescale.
    pub base_decode_time: u64,
    /// Sum of all sample durations, in the track timescale.
    pub duration: u64,
    pub sample_count: u64,
    /// Byte offset just past the first sample's data.
    pub first_sample_end: u64,
    /// Whether the first sample is a sync sample (key frame); `None` when the segment leaves
    /// it to the defaults of the init segment.
    pub first_sample_sync: Option<bool>,
}

/// An ISO BMFF box: its type and payload range within the buffer.
struct BoxRef {
    kind: [u8; 4],
    start: usize,
    body: usize,
    end: usize,
}

/// The boxes directly inside `data[from..to]`.
fn boxes(data: &[u8], from: usize, to: usize) -> Result<Vec<BoxRef>, String> {
    let mut out = Vec::new();
    let mut at = from;
    while at + 8 <= to {
        let size32 = u64::from(read_u32(data, at)?);
        let kind = [data[at + 4], data[at + 5], data[at + 6], data[at + 7]];
        let (size, header) = match size32 {
            0 => ((to - at) as u64, 8),
            1 => (read_u64(data, at + 8)?, 16),
            other => (other, 8),
        };
        let end =
            usize::try_from(size).ok().and_then(|s| at.checked_add(s)).filter(|&e| e <= to && size >= header);
        let Some(end) = end else {
            return Err(format!("box `{}` at byte {at} runs past the end", String::from_utf8_lossy(&kind)));
        };
        out.push(BoxRef { kind, start: at, body: at + header as usize, end });
        at = end;
    }
    Ok(out)
}

fn child<'a>(list: &'a [BoxRef], kind: &[u8; 4]) -> Option<&'a BoxRef> {
    list.iter().find(|b| &b.kind == kind)
}

fn read_u32(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| format!("unexpected end of data at byte {at}"))
}

fn read_u64(data: &[u8], at: usize) -> Result<u64, String> {
    Ok((u64::from(read_u32(data, at)?) << 32) | u64::from(read_u32(data, at + 4)?))
}

/// The media timescale (mdhd) of the first track of an initialisation segment.
pub fn parse_init_timescale(file: &str, data: &[u8]) -> Result<u32, DeliveryError> {
    let bad = |reason: String| DeliveryError::BadSegment { file: file.to_owned(), reason };
    let top = boxes(data, 0, data.len()).map_err(bad)?;
    let moov = child(&top, b"moov").ok_or_else(|| bad("no moov box".into()))?;
    let in_moov = boxes(data, moov.body, moov.end).map_err(bad)?;
    let trak = child(&in_moov, b"trak").ok_or_else(|| bad("no trak box".into()))?;
    let in_trak = boxes(data, trak.body, trak.end).map_err(bad)?;
    let mdia = child(&in_trak, b"mdia").ok_or_else(|| bad("no mdia box".into()))?;
    let in_mdia = boxes(data, mdia.body, mdia.end).map_err(bad)?;
    let mdhd = child(&in_mdia, b"mdhd").ok_or_else(|| bad("no mdhd box".into()))?;
    let version = data.get(mdhd.body).copied().unwrap_or(0);
    let offset = if version == 1 { 4 + 16 } else { 4 + 8 };
    let timescale = read_u32(data, mdhd.body + offset).map_err(bad)?;
    if timescale == 0 { Err(bad("timescale 0".into())) } else { Ok(timescale) }
}

/// Moves one media segment later on the timeline, in place: every fragment's decode time
/// (tfdt) and the earliest presentation time of its segment index (sidx) gain
/// `decode_time_shift` ticks of the track timescale, and its fragment sequence numbers (mfhd)
/// gain `sequence_shift`. Box sizes never change (FFmpeg writes 64-bit times).
pub fn shift_fragment(
    file: &str,
    data: &mut [u8],
    decode_time_shift: u64,
    sequence_shift: u32,
) -> Result<(), DeliveryError> {
    let bad = |reason: String| DeliveryError::BadSegment { file: file.to_owned(), reason };
    let top = boxes(data, 0, data.len()).map_err(bad)?;
    let mut moofs = 0;
    for item in &top {
        match &item.kind {
            b"sidx" => {
                let at = item.body + 4 + 4 + 4;
                add_time(data, item.body, at, decode_time_shift).map_err(bad)?;
            }
            b"moof" => {
                moofs += 1;
                let in_moof = boxes(data, item.body, item.end).map_err(bad)?;
                let mfhd = child(&in_moof, b"mfhd").ok_or_else(|| bad("moof without mfhd".into()))?;
                let sequence = read_u32(data, mfhd.body + 4).map_err(bad)?;
                let shifted = sequence
                    .checked_add(sequence_shift)
                    .ok_or_else(|| bad("fragment sequence number overflows".into()))?;
                data[mfhd.body + 4..mfhd.body + 8].copy_from_slice(&shifted.to_be_bytes());
                for traf in in_moof.iter().filter(|b| &b.kind == b"traf") {
                    let in_traf = boxes(data, traf.body, traf.end).map_err(bad)?;
                    let tfdt = child(&in_traf, b"tfdt").ok_or_else(|| bad("traf without tfdt".into()))?;
                    add_time(data, tfdt.body, tfdt.body + 4, decode_time_shift).map_err(bad)?;
                }
            }
            _ => {}
        }
    }
    if moofs == 0 { Err(bad("no moof box".into())) } else { Ok(()) }
}

/// Adds `shift` to the time at `at` of the full box whose body starts at `body`: 64 bits in
/// version 1, else 32 bits (which must not overflow).
fn add_time(data: &mut [u8], body: usize, at: usize, shift: u64) -> Result<(), String> {
    if data.get(body) == Some(&1) {
        let shifted = read_u64(data, at)?.checked_add(shift).ok_or("time overflows 64 bits")?;
        data[at..at + 8].copy_from_slice(&shifted.to_be_bytes());
    } else {
        let shifted = u64::from(read_u32(data, at)?) + shift;
        let shifted = u32::try_from(shifted).map_err(|_| "time overflows a version 0 box")?;
        data[at..at + 4].copy_from_slice(&shifted.to_be_bytes());
    }
    Ok(())
}

/// Measures one media segment (any number of moof/mdat pairs, one track).
pub fn parse_fragment(file: &str, data: &[u8]) -> Result<FragmentInfo, DeliveryError> {
    let bad = |reason: String| DeliveryError::BadSegment { file: file.to_owned(), reason };
    let top = boxes(data, 0, data.len()).map_err(bad)?;
    let mut info: Option<FragmentInfo> = None;
    for moof in top.iter().filter(|b| &b.kind == b"moof") {
        let in_moof = boxes(data, moof.body, moof.end).map_err(bad)?;
        let traf = child(&in_moof, b"traf").ok_or_else(|| bad("moof without traf".into()))?;
        let fragment = parse_traf(data, moof.start, traf).map_err(bad)?;
        match &mut info {
            None => info = Some(fragment),
            Some(so_far) => {
                so_far.duration += fragment.duration;
                so_far.sample_count += fragment.sample_count;
            }
        }
    }
    info.ok_or_else(|| bad("no moof box".into()))
}

fn parse_traf(data: &[u8], moof_start: usize, traf: &BoxRef) -> Result<FragmentInfo, String> {
    let in_traf = boxes(data, traf.body, traf.end)?;
    let tfhd = child(&in_traf, b"tfhd").ok_or("traf without tfhd")?;
    let tfhd_flags = read_u32(data, tfhd.body)? & 0x00ff_ffff;
    // tfhd: version/flags, track id, then the optional fields its flags announce.
    let mut at = tfhd.body + 8;
    if tfhd_flags & 0x01 != 0 {
        at += 8;
    }
    if tfhd_flags & 0x02 != 0 {
        at += 4;
    }
    let mut default_duration = 0;
    if tfhd_flags & 0x08 != 0 {
        default_duration = read_u32(data, at)?;
        at += 4;
    }
    let mut default_size = 0;
    if tfhd_flags & 0x10 != 0 {
        default_size = read_u32(data, at)?;
        at += 4;
    }
    let default_flags = (tfhd_flags & 0x20 != 0).then(|| read_u32(data, at)).transpose()?;

    let base_decode_time = match child(&in_traf, b"tfdt") {
        Some(tfdt) if data.get(tfdt.body) == Some(&1) => read_u64(data, tfdt.body + 4)?,
        Some(tfdt) => u64::from(read_u32(data, tfdt.body + 4)?),
        None => 0,
    };

    let mut duration = 0u64;
    let mut sample_count = 0u64;
    let mut first: Option<(u64, Option<bool>)> = None;
    for trun in in_traf.iter().filter(|b| &b.kind == b"trun") {
        let flags = read_u32(data, trun.body)? & 0x00ff_ffff;
        let count = read_u32(data, trun.body + 4)?;
        let mut at = trun.body + 8;
        let mut data_offset = 0i64;
        if flags & 0x01 != 0 {
            data_offset = i64::from(read_u32(data, at)? as i32);
            at += 4;
        }
        let mut first_flags = None;
        if flags & 0x04 != 0 {
            first_flags = Some(read_u32(data, at)?);
            at += 4;
        }
        for index in 0..count {
            let mut sample_duration = default_duration;
            let mut size = default_size;
            let mut sample_flags = if index == 0 { first_flags.or(default_flags) } else { default_flags };
            if flags & 0x100 != 0 {
                sample_duration = read_u32(data, at)?;
                at += 4;
            }
            if flags & 0x200 != 0 {
                size = read_u32(data, at)?;
                at += 4;
            }
            if flags & 0x400 != 0 {
                let explicit = read_u32(data, at)?;
                at += 4;
                if !(index == 0 && first_flags.is_some()) {
                    sample_flags = Some(explicit);
                }
            }
            if flags & 0x800 != 0 {
                at += 4;
            }
            if first.is_none() {
                // Data offsets count from the start of the moof (default-base-is-moof).
                let end = moof_start as i64 + data_offset + i64::from(size);
                // Bit 16 is sample_is_non_sync_sample.
                first = Some((end.max(0) as u64, sample_flags.map(|f| f & 0x0001_0000 == 0)));
            }
            duration += u64::from(sample_duration);
            sample_count += 1;
        }
    }
    let (first_sample_end, first_sample_sync) = first.ok_or("traf without samples")?;
    Ok(FragmentInfo { base_decode_time, duration, sample_count, first_sample_end, first_sample_sync })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn full(version: u8, flags: u32, rest: &[u8]) -> Vec<u8> {
        let mut out = ((u32::from(version) << 24) | flags).to_be_bytes().to_vec();
        out.extend_from_slice(rest);
        out
    }

    fn words(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// A segment like FFmpeg's: styp, moof(mfhd, traf(tfhd, tfdt, trun)), mdat.
    fn segment(sizes: &[u32], first_sync: bool) -> Vec<u8> {
        let tfhd = boxed(b"tfhd", &full(0, 0x020000 | 0x08, &words(&[1, 512])));
        let tfdt = boxed(b"tfdt", &full(1, 0, &[0, 0, 0, 0, 0, 0, 0x30, 0x00]));
        let build = |data_offset: u32| {
            let first_flags = if first_sync { 0x0200_0000 } else { 0x0101_0000 };
            let mut run = words(&[sizes.len() as u32, data_offset, first_flags]);
            run.extend(words(sizes));
            let trun = boxed(b"trun", &full(0, 0x01 | 0x04 | 0x200, &run));
            let traf = boxed(b"traf", &[tfhd.clone(), tfdt.clone(), trun].concat());
            boxed(b"moof", &[boxed(b"mfhd", &full(0, 0, &words(&[1]))), traf].concat())
        };
        let moof_len = build(0).len() as u32;
        let styp = boxed(b"styp", b"msdh\0\0\0\0");
        let mdat_body = vec![0u8; sizes.iter().sum::<u32>() as usize];
        [styp.clone(), build(moof_len + 8), boxed(b"mdat", &mdat_body)].concat()
    }

    #[test]
    fn measures_durations_start_and_first_key_frame() {
        let data = segment(&[1000, 200, 300], true);
        let info = parse_fragment("seg.m4s", &data).unwrap();
        assert_eq!(info.base_decode_time, 0x3000);
        assert_eq!(info.duration, 3 * 512);
        assert_eq!(info.sample_count, 3);
        assert_eq!(info.first_sample_sync, Some(true));
        // styp (16) + moof + mdat header (8) + the 1000-byte key frame.
        let moof_len = data.len() - 16 - 8 - 1500;
        assert_eq!(info.first_sample_end, (16 + moof_len + 8 + 1000) as u64);
        assert_eq!(parse_fragment("s", &segment(&[10], false)).unwrap().first_sample_sync, Some(false));
    }

    #[test]
    fn shifting_moves_decode_times_and_sequence_numbers_only() {
        let mut data = segment(&[1000, 200], true);
        let before = parse_fragment("seg.m4s", &data).unwrap();
        shift_fragment("seg.m4s", &mut data, 90_000, 5).unwrap();
        let after = parse_fragment("seg.m4s", &data).unwrap();
        assert_eq!(after.base_decode_time, before.base_decode_time + 90_000);
        assert_eq!(FragmentInfo { base_decode_time: before.base_decode_time, ..after }, before);
        let top = boxes(&data, 0, data.len()).unwrap();
        let moof = child(&top, b"moof").unwrap();
        let mfhd =
            boxes(&data, moof.body, moof.end).unwrap().into_iter().find(|b| &b.kind == b"mfhd").unwrap();
        assert_eq!(read_u32(&data, mfhd.body + 4).unwrap(), 6);
        assert!(shift_fragment("x", &mut b"not a segment".to_vec(), 1, 1).is_err());
    }

    #[test]
    fn reads_the_init_timescale() {
        let mdhd = boxed(b"mdhd", &full(0, 0, &words(&[0, 0, 15360, 0])));
        let moov = boxed(b"moov", &boxed(b"trak", &boxed(b"mdia", &mdhd)));
        let data = [boxed(b"ftyp", b"iso6"), moov].concat();
        assert_eq!(parse_init_timescale("init.mp4", &data), Ok(15360));
    }

    #[test]
    fn garbage_is_a_bad_segment() {
        assert!(parse_fragment("x", b"hello world, not mp4").is_err());
        assert!(parse_fragment("x", &boxed(b"free", b"")).is_err());
        assert!(parse_init_timescale("x", &[0, 0, 0, 99, b'm', b'o', b'o', b'v']).is_err());
    }
}
