use std::cell::RefCell;

use base64::engine::general_purpose::STANDARD;
use base64::DecodeSliceError;
use base64::Engine;

/// Why a `record-idle` chunk could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("chunk is not valid base64: {0}")]
    Base64(String),
    #[error("chunk is a data URL without ';base64,'")]
    NotBase64DataUrl,
}

/// Chunks up to this size are decoded into a buffer kept per thread; a larger one gets its own.
const SCRATCH_MAX: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Decodes a chunk as the original's page sends it (`data:audio/webm;base64,AAAA...`: what
/// follows `base64,` is kept) or as bare base64, and hands its bytes to `use_bytes`. The bytes
/// are in a buffer this thread keeps, so a chunk costs no allocation and no zeroing (callgrind
/// counted the zeroing alone at 5,000 instructions a 5 KB chunk).
pub fn with_decoded_chunk<R>(
    raw: &str,
    use_bytes: impl FnOnce(&[u8]) -> R,
) -> Result<R, ChunkError> {
    let payload = if raw.starts_with("data:") {
        match raw.find("base64,") {
            Some(at) => &raw[at + "base64,".len()..],
            None => return Err(ChunkError::NotBase64DataUrl),
        }
    } else {
        raw
    }
    .trim();
    let needed = base64::decoded_len_estimate(payload.len());
    // Taken out while in use (a nested call would find it empty and allocate its own).
    let mut buffer = if needed <= SCRATCH_MAX {
        SCRATCH.take()
    } else {
        Vec::new()
    };
    if buffer.len() < needed {
        buffer.resize(needed, 0);
    }
    let decoded = STANDARD
        .decode_slice(payload, &mut buffer)
        .map_err(|err| match err {
            DecodeSliceError::DecodeError(err) => ChunkError::Base64(err.to_string()),
            other => ChunkError::Base64(other.to_string()),
        });
    let result = decoded.map(|len| use_bytes(&buffer[..len]));
    if buffer.len() <= SCRATCH_MAX {
        SCRATCH.set(buffer);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_chunk(raw: &str) -> Result<Vec<u8>, ChunkError> {
        with_decoded_chunk(raw, <[u8]>::to_vec)
    }

    #[test]
    fn decodes_data_urls_and_bare_base64() {
        assert_eq!(
            decode_chunk("data:audio/webm;codecs=opus;base64,AAEC").unwrap(),
            [0, 1, 2]
        );
        assert_eq!(decode_chunk("AAEC").unwrap(), [0, 1, 2]);
        assert_eq!(
            decode_chunk("data:audio/webm;base64,").unwrap(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn the_reused_buffer_gives_each_chunk_only_its_own_bytes() {
        let large: Vec<u8> = (0..=255).cycle().take(SCRATCH_MAX * 2).collect();
        let long: Vec<u8> = (0..=255).rev().cycle().take(6000).collect();
        for bytes in [
            &long[..],
            &[9, 8, 7][..],
            &large[..],
            &[][..],
            &long[..],
            &[1][..],
        ] {
            assert_eq!(decode_chunk(&STANDARD.encode(bytes)).unwrap(), bytes);
        }
        // A nested decode (the buffer is in use) still gets its own bytes.
        let outer = with_decoded_chunk("AAEC", |outer| {
            (outer.to_vec(), decode_chunk("CQgH").unwrap())
        })
        .unwrap();
        assert_eq!(outer, (vec![0, 1, 2], vec![9, 8, 7]));
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(
            decode_chunk("not base64!"),
            Err(ChunkError::Base64("Invalid symbol 32, offset 3.".into()))
        );
        assert_eq!(
            decode_chunk("data:audio/webm,AAEC"),
            Err(ChunkError::NotBase64DataUrl)
        );
    }
}
