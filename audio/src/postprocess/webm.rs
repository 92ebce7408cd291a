//! Makes a MediaRecorder WebM seekable. Browsers write the Segment and every Cluster with an
//! unknown size and leave out `Duration` and `Cues`, so players show an infinite duration and
//! cannot seek. `remux` rebuilds the file with known sizes, `Info/Duration`, a `SeekHead` and
//! `Cues`, copying every block byte for byte: the audio packets are unchanged. Remuxing its own
//! output gives the same bytes again.
//!
//! A file cut inside a cluster keeps its whole clusters (the cut is reported); a file with no
//! whole cluster, or that is not WebM at all, is refused with a reason.

use super::ebml::{self, id, ReadError};

#[derive(Debug, Clone, PartialEq)]
pub struct Remuxed {
    pub bytes: Vec<u8>,
    pub duration_ms: f64,
    pub codec: Option<String>,
    pub sample_rate: Option<f64>,
    pub channels: Option<u64>,
    pub clusters: usize,
    pub blocks: usize,
    /// What was dropped to repair a damaged file, if anything.
    pub repaired: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebmError {
    #[error("not a WebM file: {0}")]
    NotWebm(&'static str),
    #[error("no whole cluster of audio in the file ({0})")]
    NoAudio(String),
}

struct Cluster<'a> {
    timecode: u64,
    /// The cluster's children, as they were (Timecode and blocks).
    children: Vec<&'a [u8]>,
    blocks: Vec<Block>,
}

/// What timing needs of a block; its length is worked out once the track is known, so the
/// same file always gives the same duration.
struct Block {
    /// Absolute time, in timecode units.
    at: u64,
    /// `BlockDuration`, if the block had one.
    duration: Option<u64>,
    /// The first bytes of its frame (an Opus packet's TOC and frame count).
    head: [u8; 2],
}

#[derive(Default)]
struct Track {
    number: u64,
    codec: Option<String>,
    sample_rate: Option<f64>,
    channels: Option<u64>,
}

pub fn remux(input: &[u8]) -> Result<Remuxed, WebmError> {
    let (ebml_raw, segment_start, segment_end) = segment_bounds(input)?;
    let parts = read_segment(input, segment_start, segment_end);
    let tracks_raw = parts.tracks_raw.ok_or(WebmError::NotWebm("no Tracks"))?;
    if parts.clusters.is_empty() {
        return Err(WebmError::NoAudio(
            parts
                .repaired
                .unwrap_or_else(|| "the file has no clusters".into()),
        ));
    }
    let duration = end_time(&parts.clusters, &parts.track, parts.scale);
    let bytes = write(
        ebml_raw,
        &parts.info,
        duration as f64,
        tracks_raw,
        &parts.extra,
        &parts.clusters,
        parts.track.number,
    );
    Ok(Remuxed {
        bytes,
        duration_ms: duration as f64 * parts.scale as f64 / 1e6,
        codec: parts.track.codec,
        sample_rate: parts.track.sample_rate,
        channels: parts.track.channels,
        clusters: parts.clusters.len(),
        blocks: parts.clusters.iter().map(|c| c.blocks.len()).sum(),
        repaired: parts.repaired,
    })
}

/// The EBML header's bytes, and where the Segment's content starts and ends (at the end of the
/// input for a Segment of unknown size, as MediaRecorder writes it).
fn segment_bounds(input: &[u8]) -> Result<(&[u8], usize, usize), WebmError> {
    let header = ebml::read_header(input, 0).map_err(|_| WebmError::NotWebm("no EBML header"))?;
    let ebml_size = header
        .size
        .filter(|_| header.id == id::EBML)
        .ok_or(WebmError::NotWebm("no EBML header"))?;
    let ebml_end = header.data_start.saturating_add(ebml_size as usize);
    let ebml_raw = input
        .get(..ebml_end)
        .ok_or(WebmError::NotWebm("EBML header cut short"))?;
    let segment =
        ebml::read_header(input, ebml_end).map_err(|_| WebmError::NotWebm("no Segment"))?;
    if segment.id != id::SEGMENT {
        return Err(WebmError::NotWebm("no Segment"));
    }
    let segment_end = segment.size.map_or(input.len(), |size| {
        segment
            .data_start
            .saturating_add(size as usize)
            .min(input.len())
    });
    Ok((ebml_raw, segment.data_start, segment_end))
}

/// What a Segment holds that the remuxed file keeps.
struct SegmentParts<'a> {
    /// Info's children but its duration (written anew).
    info: Vec<&'a [u8]>,
    /// Nanoseconds a timecode tick lasts.
    scale: u64,
    tracks_raw: Option<&'a [u8]>,
    track: Track,
    /// Top-level elements kept as they are (Tags, Chapters, ...).
    extra: Vec<&'a [u8]>,
    clusters: Vec<Cluster<'a>>,
    /// What was dropped, when the input was damaged.
    repaired: Option<String>,
}

/// Reads the Segment's top-level elements from `start` to `end`, up to the first damage, which
/// ends the reading with what was read so far (the `repaired` note says what was dropped).
fn read_segment(input: &[u8], start: usize, end: usize) -> SegmentParts<'_> {
    let mut parts = SegmentParts {
        info: Vec::new(),
        scale: 1_000_000,
        tracks_raw: None,
        track: Track::default(),
        extra: Vec::new(),
        clusters: Vec::new(),
        repaired: None,
    };
    let segment_end = end;
    let mut pos = start;
    while pos < segment_end {
        let header = match ebml::read_header(input, pos) {
            Ok(header) => header,
            Err(ReadError::Truncated) => {
                parts.repaired = Some(format!(
                    "the file ends inside an element header at byte {pos}"
                ));
                break;
            }
            Err(ReadError::Invalid) => {
                parts.repaired = Some(format!("unreadable bytes from byte {pos} on were dropped"));
                break;
            }
        };
        if header.id == id::CLUSTER {
            match read_cluster(input, header, segment_end) {
                Ok((cluster, next)) => {
                    parts.clusters.push(cluster);
                    pos = next;
                }
                Err(why) => {
                    parts.repaired = Some(format!(
                        "a partial cluster at byte {pos} was dropped ({why})"
                    ));
                    break;
                }
            }
            continue;
        }
        let end = header
            .size
            .map(|size| header.data_start.saturating_add(size as usize));
        let Some((end, body)) = end
            .and_then(|end| Some((end, input.get(header.data_start..end)?)))
            .filter(|(end, _)| *end <= segment_end)
        else {
            parts.repaired = Some(format!(
                "an element cut short or of unknown size at byte {pos} was dropped"
            ));
            break;
        };
        parts.take(header.id, &input[pos..end], body);
        pos = end;
    }
    parts
}

impl<'a> SegmentParts<'a> {
    /// Keeps what a top-level element other than a Cluster contributes.
    fn take(&mut self, element: u32, raw: &'a [u8], body: &'a [u8]) {
        match element {
            id::INFO => {
                for child in ebml::children(body) {
                    match child.id {
                        id::DURATION | id::VOID | id::CRC32 => {}
                        id::TIMECODE_SCALE => {
                            self.scale = ebml::read_uint(child.body).max(1);
                            self.info.push(child.raw);
                        }
                        _ => self.info.push(child.raw),
                    }
                }
            }
            // The first Tracks is the one: later copies (damage, concatenated files) are dropped.
            id::TRACKS if self.tracks_raw.is_none() => {
                self.tracks_raw = Some(raw);
                self.track = read_track(body);
            }
            id::TRACKS => {}
            // Rebuilt by `write`.
            id::SEEK_HEAD | id::CUES | id::VOID | id::CRC32 => {}
            _ => self.extra.push(raw),
        }
    }
}

/// The first audio track (or the first track) of `Tracks`.
fn read_track(tracks: &[u8]) -> Track {
    let mut found = Track::default();
    for entry in ebml::children(tracks)
        .into_iter()
        .filter(|c| c.id == id::TRACK_ENTRY)
    {
        let mut track = Track::default();
        let mut is_audio = false;
        for child in ebml::children(entry.body) {
            match child.id {
                id::TRACK_NUMBER => track.number = ebml::read_uint(child.body),
                id::CODEC_ID => {
                    track.codec = Some(
                        String::from_utf8_lossy(child.body)
                            .trim_end_matches('\0')
                            .to_owned(),
                    )
                }
                id::AUDIO => {
                    is_audio = true;
                    for audio in ebml::children(child.body) {
                        match audio.id {
                            id::SAMPLING_FREQUENCY => {
                                track.sample_rate = ebml::read_float(audio.body)
                            }
                            id::CHANNELS => track.channels = Some(ebml::read_uint(audio.body)),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if found.number == 0 || (is_audio && found.sample_rate.is_none()) {
            found = track;
        }
    }
    if found.number == 0 {
        found.number = 1;
    }
    found
}

/// Reads a cluster of known or unknown size; an unknown-size cluster ends where an element that
/// cannot be its child begins. A cluster cut short is an error (it is dropped whole).
fn read_cluster(
    input: &[u8],
    header: ebml::Header,
    segment_end: usize,
) -> Result<(Cluster<'_>, usize), String> {
    let limit = match header.size {
        Some(size) => {
            let end = header.data_start.saturating_add(size as usize);
            if end > segment_end {
                return Err("it is cut short".into());
            }
            end
        }
        None => segment_end,
    };
    let mut cluster = Cluster {
        timecode: 0,
        children: Vec::new(),
        blocks: Vec::new(),
    };
    let mut pos = header.data_start;
    while pos < limit {
        let child = match ebml::read_header(input, pos) {
            Ok(child) => child,
            Err(ReadError::Truncated) => return Err("it ends inside a block header".into()),
            Err(ReadError::Invalid) if header.size.is_none() => break,
            Err(ReadError::Invalid) => return Err("it holds unreadable bytes".into()),
        };
        if header.size.is_none() && !id::CLUSTER_CHILDREN.contains(&child.id) {
            break;
        }
        let size = child.size.ok_or("a child of unknown size")?;
        let end = child.data_start.saturating_add(size as usize);
        if end > limit {
            return Err("it ends inside a block".into());
        }
        let body = &input[child.data_start..end];
        match child.id {
            id::TIMECODE => cluster.timecode = ebml::read_uint(body),
            id::SIMPLE_BLOCK => cluster.blocks.push(block_timing(body, None)),
            id::BLOCK_GROUP => {
                let parts = ebml::children(body);
                let duration = parts
                    .iter()
                    .find(|c| c.id == id::BLOCK_DURATION)
                    .map(|c| ebml::read_uint(c.body));
                if let Some(block) = parts.iter().find(|c| c.id == id::BLOCK) {
                    cluster.blocks.push(block_timing(block.body, duration));
                }
            }
            _ => {}
        }
        cluster.children.push(&input[pos..end]);
        pos = end;
    }
    // Block times were read relative to the cluster's timecode, which may come first or not.
    for block in &mut cluster.blocks {
        block.at = block.at.wrapping_add(cluster.timecode);
    }
    Ok((cluster, pos))
}

/// A block's time relative to its cluster, its `BlockDuration` and the head of its frame.
fn block_timing(block: &[u8], duration: Option<u64>) -> Block {
    let track_len = block
        .first()
        .and_then(|&b| (b != 0).then(|| b.leading_zeros() as usize + 1))
        .unwrap_or(1);
    let relative = block
        .get(track_len..track_len + 2)
        .map_or(0, |b| i16::from_be_bytes([b[0], b[1]]));
    let frame = block.get(track_len + 3..).unwrap_or_default();
    Block {
        at: relative.max(0) as u64,
        duration,
        head: [
            frame.first().copied().unwrap_or(0),
            frame.get(1).copied().unwrap_or(0),
        ],
    }
}

/// A block's length in timecode units, when it can be known: its `BlockDuration`, or for Opus
/// the packet's own length.
fn block_length(block: &Block, track: &Track, scale: u64) -> Option<u64> {
    block.duration.or_else(|| {
        (track.codec.as_deref() == Some("A_OPUS"))
            .then(|| opus_packet_ms(&block.head))
            .flatten()
            .map(|ms| (ms * 1e6 / scale as f64) as u64)
    })
}

/// An Opus packet's duration in milliseconds, from its TOC byte (RFC 6716 §3.1).
fn opus_packet_ms(packet: &[u8]) -> Option<f64> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame_ms = match config {
        0..=11 => [10.0, 20.0, 40.0, 60.0][usize::from(config % 4)],
        12..=15 => [10.0, 20.0][usize::from(config % 2)],
        _ => [2.5, 5.0, 10.0, 20.0][usize::from(config % 4)],
    };
    let frames = match toc & 3 {
        0 => 1.0,
        1 | 2 => 2.0,
        _ => f64::from(packet.get(1)? & 0x3F),
    };
    Some(frame_ms * frames)
}

/// The end of the last block: its start plus its length, or plus the gap before it when its
/// length is unknown.
fn end_time(clusters: &[Cluster], track: &Track, scale: u64) -> u64 {
    let mut times: Vec<(u64, Option<u64>)> = clusters
        .iter()
        .flat_map(|c| c.blocks.iter())
        .map(|b| (b.at, block_length(b, track, scale)))
        .collect();
    times.sort_by_key(|(at, _)| *at);
    let gap = match times.as_slice() {
        [.., (a, _), (b, _)] => b - a,
        _ => 0,
    };
    times
        .iter()
        .map(|(at, length)| at.saturating_add(length.unwrap_or(gap)))
        .max()
        .unwrap_or(0)
}

/// Size of a SeekHead with three entries whose positions are written on 8 bytes.
fn seek_head(info: u64, tracks: u64, cues: u64) -> Vec<u8> {
    let mut body = Vec::new();
    for (target, position) in [(id::INFO, info), (id::TRACKS, tracks), (id::CUES, cues)] {
        let mut seek = Vec::new();
        ebml::element(
            &mut seek,
            id::SEEK_ID,
            &target.to_be_bytes()[target.leading_zeros() as usize / 8..],
        );
        ebml::fixed_uint_element(&mut seek, id::SEEK_POSITION, position);
        ebml::element(&mut body, id::SEEK, &seek);
    }
    let mut out = Vec::new();
    ebml::element(&mut out, id::SEEK_HEAD, &body);
    out
}

fn write(
    ebml_raw: &[u8],
    info_children: &[&[u8]],
    duration: f64,
    tracks_raw: &[u8],
    extra: &[&[u8]],
    clusters: &[Cluster],
    track_number: u64,
) -> Vec<u8> {
    let mut info_body: Vec<u8> = info_children.concat();
    ebml::float_element(&mut info_body, id::DURATION, duration);
    let mut info = Vec::new();
    ebml::element(&mut info, id::INFO, &info_body);

    // Positions are relative to the start of the Segment's data.
    let seek_len = seek_head(0, 0, 0).len() as u64;
    let info_at = seek_len;
    let tracks_at = info_at + info.len() as u64;
    let mut body_after_tracks: Vec<u8> = extra.concat();
    let mut cues_body = Vec::new();
    let mut cluster_at = tracks_at + tracks_raw.len() as u64 + body_after_tracks.len() as u64;
    for cluster in clusters {
        let mut element = Vec::new();
        ebml::element(&mut element, id::CLUSTER, &cluster.children.concat());
        let mut positions = Vec::new();
        ebml::uint_element(&mut positions, id::CUE_TRACK, track_number);
        ebml::uint_element(&mut positions, id::CUE_CLUSTER_POSITION, cluster_at);
        let mut point = Vec::new();
        ebml::uint_element(&mut point, id::CUE_TIME, cluster.timecode);
        ebml::element(&mut point, id::CUE_TRACK_POSITIONS, &positions);
        ebml::element(&mut cues_body, id::CUE_POINT, &point);
        cluster_at += element.len() as u64;
        body_after_tracks.extend_from_slice(&element);
    }
    let cues_at = cluster_at;
    let mut cues = Vec::new();
    ebml::element(&mut cues, id::CUES, &cues_body);

    let seek = seek_head(info_at, tracks_at, cues_at);
    let segment_size =
        (seek.len() + info.len() + tracks_raw.len() + body_after_tracks.len() + cues.len()) as u64;
    let mut out = Vec::with_capacity(ebml_raw.len() + segment_size as usize + 12);
    out.extend_from_slice(ebml_raw);
    out.extend_from_slice(&ebml::header_bytes(id::SEGMENT, segment_size, 8));
    out.extend_from_slice(&seek);
    out.extend_from_slice(&info);
    out.extend_from_slice(tracks_raw);
    out.extend_from_slice(&body_after_tracks);
    out.extend_from_slice(&cues);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/mediarecorder-webm-opus-250ms");
        (0..14)
            .flat_map(|i| std::fs::read(dir.join(format!("chunk-{i:03}.bin"))).unwrap())
            .collect()
    }

    #[test]
    fn finds_the_duration_and_keeps_every_block() {
        let input = fixture();
        let out = remux(&input).unwrap();
        assert!(
            (out.duration_ms - 3960.0).abs() <= 20.0,
            "duration {}",
            out.duration_ms
        );
        assert_eq!(out.codec.as_deref(), Some("A_OPUS"));
        assert_eq!(out.sample_rate, Some(48_000.0));
        assert_eq!(out.channels, Some(1));
        assert!(out.repaired.is_none());
        // Idempotent: the output remuxes to itself.
        let again = remux(&out.bytes).unwrap();
        assert_eq!(again.bytes, out.bytes);
        assert_eq!(again.blocks, out.blocks);
    }

    /// Found by `scripts/fuzz` (webm_remux): remuxing must give its own output back.
    #[test]
    fn remuxing_is_idempotent_on_inputs_the_fuzzer_found() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/fuzz-regressions");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("webm-")
            {
                continue;
            }
            let input = std::fs::read(&path).unwrap();
            if let Ok(first) = remux(&input) {
                let second = remux(&first.bytes)
                    .unwrap_or_else(|err| panic!("{}: output unreadable: {err}", path.display()));
                if second.bytes != first.bytes {
                    let at = first
                        .bytes
                        .iter()
                        .zip(&second.bytes)
                        .position(|(a, b)| a != b);
                    panic!(
                        "{}: not idempotent: {} vs {} bytes, first difference at {at:?}; blocks {} vs {}, duration {} vs {}",
                        path.display(), first.bytes.len(), second.bytes.len(), first.blocks, second.blocks, first.duration_ms, second.duration_ms
                    );
                }
            }
        }
    }

    #[test]
    fn a_cut_file_keeps_its_whole_clusters_and_garbage_is_refused() {
        let input = fixture();
        let whole = remux(&input).unwrap();
        let cut = remux(&input[..input.len() - 3000]).unwrap();
        assert!(cut.repaired.is_some());
        assert!(cut.blocks < whole.blocks && cut.blocks > 0);
        assert!(remux(b"garbage garbage garbage").is_err());
        assert!(remux(&input[..200]).is_err());
        assert!(remux(&[]).is_err());
        // Garbage after valid clusters is dropped with a reason.
        let mut trailing = input.clone();
        trailing.extend_from_slice(&[0u8; 64]);
        let repaired = remux(&trailing).unwrap();
        assert_eq!(repaired.blocks, whole.blocks);
    }
}
