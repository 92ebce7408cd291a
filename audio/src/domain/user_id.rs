/// The user a recording belongs to, as the client declares it (`metaData.userId`). It is only
/// stored as data, never used in a path, but it is bounded and free of control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserIdError {
    #[error("userId is longer than {} characters", UserId::MAX_LEN)]
    TooLong,
    #[error("userId may not hold control characters")]
    ControlCharacter,
}

impl UserId {
    pub const MAX_LEN: usize = 128;

    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, UserIdError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(value) if value.chars().count() > Self::MAX_LEN => Err(UserIdError::TooLong),
            Some(value) if value.chars().any(char::is_control) => {
                Err(UserIdError::ControlCharacter)
            }
            Some(value) => Ok(Some(Self(value.to_owned()))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}
