use base64::Engine;

/// Why a `record-idle` chunk could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("chunk is not valid base64: {0}")]
    Base64(String),
    #[error("chunk is a data URL without ';base64,'")]
    NotBase64DataUrl,
}

/// Decodes a chunk as the original's page sends it (`data:audio/webm;base64,AAAA...`: what
/// follows `base64,` is kept) or as bare base64.
pub fn decode_chunk(raw: &str) -> Result<Vec<u8>, ChunkError> {
    let payload = if raw.starts_with("data:") {
        match raw.find("base64,") {
            Some(at) => &raw[at + "base64,".len()..],
            None => return Err(ChunkError::NotBase64DataUrl),
        }
    } else {
        raw
    };
    base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|err| ChunkError::Base64(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn refuses_bad_input() {
        assert!(matches!(
            decode_chunk("not base64!"),
            Err(ChunkError::Base64(_))
        ));
        assert_eq!(
            decode_chunk("data:audio/webm,AAEC"),
            Err(ChunkError::NotBase64DataUrl)
        );
    }
}
