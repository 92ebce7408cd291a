/// The container a client declares for its recording. It decides the stored file's extension
/// and the `Content-Type` it is served with. The default is what MediaRecorder produces in
/// Chromium and Firefox: WebM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingMime {
    /// As declared, e.g. `audio/webm;codecs=opus`, normalised to lower case without spaces.
    full: String,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Webm,
    Ogg,
    Mp4,
    Wav,
    Mpeg,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unsupported mime type {0:?}: use audio/webm, audio/ogg, audio/mp4, audio/wav or audio/mpeg"
)]
pub struct MimeError(pub String);

impl RecordingMime {
    pub fn parse_optional(raw: Option<&str>) -> Result<Self, MimeError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Self::webm()),
            Some(value) => Self::parse(value),
        }
    }

    pub fn parse(raw: &str) -> Result<Self, MimeError> {
        let full: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let essence = full.split(';').next().unwrap_or_default();
        let kind = match essence {
            "audio/webm" | "video/webm" => Kind::Webm,
            "audio/ogg" => Kind::Ogg,
            "audio/mp4" | "video/mp4" => Kind::Mp4,
            "audio/wav" | "audio/wave" | "audio/x-wav" => Kind::Wav,
            "audio/mpeg" => Kind::Mpeg,
            _ => return Err(MimeError(raw.chars().take(100).collect())),
        };
        let params_ok = full.len() <= 100 && full.chars().all(|c| c.is_ascii_graphic());
        if !params_ok {
            return Err(MimeError(raw.chars().take(100).collect()));
        }
        Ok(Self { full, kind })
    }

    pub fn webm() -> Self {
        Self {
            full: "audio/webm".into(),
            kind: Kind::Webm,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.full
    }

    pub fn extension(&self) -> &'static str {
        match self.kind {
            Kind::Webm => "webm",
            Kind::Ogg => "ogg",
            Kind::Mp4 => "m4a",
            Kind::Wav => "wav",
            Kind::Mpeg => "mp3",
        }
    }

    /// The `Content-Type` a stored file is served with, chosen by its extension.
    pub fn content_type_for_extension(ext: &str) -> &'static str {
        match ext {
            "webm" => "audio/webm",
            "ogg" => "audio/ogg",
            "m4a" => "audio/mp4",
            "wav" => "audio/wav",
            "mp3" => "audio/mpeg",
            _ => "application/octet-stream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_declared_types_to_extensions() {
        let opus = RecordingMime::parse("audio/webm; codecs=opus").unwrap();
        assert_eq!(opus.as_str(), "audio/webm;codecs=opus");
        assert_eq!(opus.extension(), "webm");
        assert_eq!(
            RecordingMime::parse("audio/mp4").unwrap().extension(),
            "m4a"
        );
        assert_eq!(
            RecordingMime::parse_optional(None).unwrap().extension(),
            "webm"
        );
        assert!(RecordingMime::parse("text/html").is_err());
    }
}
