//! Just enough EBML (the binary format under Matroska/WebM) to read and write elements.

/// Element IDs used by the post-processor.
pub mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMECODE_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const CODEC_ID: u32 = 0x86;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMECODE: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const BLOCK_GROUP: u32 = 0xA0;
    pub const BLOCK: u32 = 0xA1;
    pub const BLOCK_DURATION: u32 = 0x9B;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
    pub const VOID: u32 = 0xEC;
    pub const CRC32: u32 = 0xBF;
    /// Children a Cluster may hold; anything else ends an unknown-size Cluster.
    pub const CLUSTER_CHILDREN: [u32; 9] = [
        TIMECODE,
        SIMPLE_BLOCK,
        BLOCK_GROUP,
        0xA7,
        0xAB,
        0x5854,
        0xAF,
        VOID,
        CRC32,
    ];
}

/// The header of one element: its ID, where its data starts, and its size (`None`: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u32,
    pub data_start: usize,
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// The input ends inside the header.
    Truncated,
    /// Bytes that cannot be an element header.
    Invalid,
}

fn vint_len(first: u8) -> Option<usize> {
    (first != 0).then(|| first.leading_zeros() as usize + 1)
}

/// Reads an element header at `pos`.
pub fn read_header(data: &[u8], pos: usize) -> Result<Header, ReadError> {
    let first = *data.get(pos).ok_or(ReadError::Truncated)?;
    let id_len = vint_len(first)
        .filter(|&n| n <= 4)
        .ok_or(ReadError::Invalid)?;
    let id_bytes = data.get(pos..pos + id_len).ok_or(ReadError::Truncated)?;
    let id = id_bytes
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    let size_pos = pos + id_len;
    let first = *data.get(size_pos).ok_or(ReadError::Truncated)?;
    let size_len = vint_len(first).ok_or(ReadError::Invalid)?;
    let size_bytes = data
        .get(size_pos..size_pos + size_len)
        .ok_or(ReadError::Truncated)?;
    let mask = if size_len == 8 { 0 } else { 0xFFu8 >> size_len };
    let mut value = u64::from(size_bytes[0] & mask);
    for &b in &size_bytes[1..] {
        value = (value << 8) | u64::from(b);
    }
    let all_ones = (1u64 << (7 * size_len)) - 1;
    Ok(Header {
        id,
        data_start: size_pos + size_len,
        size: (value != all_ones).then_some(value),
    })
}

pub fn read_uint(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

pub fn read_float(bytes: &[u8]) -> Option<f64> {
    match bytes.len() {
        4 => Some(f64::from(f32::from_be_bytes(bytes.try_into().ok()?))),
        8 => Some(f64::from_be_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

/// One child element: its ID, its data, and its whole bytes (header included).
#[derive(Debug, Clone, Copy)]
pub struct Child<'a> {
    pub id: u32,
    pub body: &'a [u8],
    pub raw: &'a [u8],
}

/// The children of a known-size element's data; stops at the first malformed or truncated one.
pub fn children(data: &[u8]) -> Vec<Child<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let Ok(header) = read_header(data, pos) else {
            break;
        };
        let Some(size) = header.size else { break };
        let end = header.data_start.saturating_add(size as usize);
        let Some(body) = data.get(header.data_start..end) else {
            break;
        };
        out.push(Child {
            id: header.id,
            body,
            raw: &data[pos..end],
        });
        pos = end;
    }
    out
}

fn write_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.extend_from_slice(&bytes[skip..]);
}

/// Writes a size as the shortest vint that holds it (an all-ones value would mean "unknown").
pub fn write_size(out: &mut Vec<u8>, size: u64) {
    let len = (1..=8).find(|&n| size < (1u64 << (7 * n)) - 1).unwrap_or(8);
    write_size_len(out, size, len);
}

/// Writes a size as a vint of exactly `len` bytes.
pub fn write_size_len(out: &mut Vec<u8>, size: u64, len: usize) {
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

pub fn element(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    write_id(out, id);
    write_size(out, body.len() as u64);
    out.extend_from_slice(body);
}

pub fn uint_element(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    element(out, id, &bytes[skip..]);
}

/// An unsigned integer always written on 8 bytes, so an element's size does not depend on it.
pub fn fixed_uint_element(out: &mut Vec<u8>, id: u32, value: u64) {
    element(out, id, &value.to_be_bytes());
}

pub fn float_element(out: &mut Vec<u8>, id: u32, value: f64) {
    element(out, id, &value.to_be_bytes());
}

pub fn header_bytes(id: u32, size: u64, size_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    write_id(&mut out, id);
    write_size_len(&mut out, size, size_len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_headers_and_unknown_sizes() {
        let mut out = Vec::new();
        element(&mut out, id::CLUSTER, &[1, 2, 3]);
        let header = read_header(&out, 0).unwrap();
        assert_eq!(
            (header.id, header.size, header.data_start),
            (id::CLUSTER, Some(3), 5)
        );
        let unknown = [
            0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        assert_eq!(read_header(&unknown, 0).unwrap().size, None);
        assert_eq!(read_header(&[0x00, 0x81], 0), Err(ReadError::Invalid));
        assert_eq!(read_header(&[0x1A, 0x45], 0), Err(ReadError::Truncated));
        let mut big = Vec::new();
        write_size(&mut big, 127);
        assert_eq!(big, [0x40, 0x7F]);
    }
}
