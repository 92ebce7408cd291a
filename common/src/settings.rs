//! Building a service's settings (a `clap::Parser` whose every field has a flag and an
//! environment variable): from the environment, as a process that embeds services does, or
//! from the declared defaults alone, which is what tests build on, so that a developer's
//! `AUDIO_*` or `GATEWAY_*` variables never reach a test. And the one format of every duration
//! setting.

use std::time::Duration;

use clap::Parser;

/// A duration setting whose variable ends in `_MS`: `30s`, `1500ms`, `2m`, `1h 30m`
/// (humantime), or a bare number of milliseconds, as the name says.
pub fn millis(raw: &str) -> Result<Duration, String> {
    duration(raw, Duration::from_millis)
}

/// A duration setting whose variable ends in `_SECS`: `30s`, `2m`, `1h` (humantime), or a bare
/// number of seconds, as the name says.
pub fn seconds(raw: &str) -> Result<Duration, String> {
    duration(raw, Duration::from_secs)
}

fn duration(raw: &str, bare: fn(u64) -> Duration) -> Result<Duration, String> {
    let raw = raw.trim();
    if let Ok(number) = raw.parse::<u64>() {
        return Ok(bare(number));
    }
    humantime::parse_duration(raw)
        .map_err(|err| format!("{err}: give a duration such as 30s, 1500ms or 2m"))
}

/// The settings as declared, every environment variable ignored.
pub fn declared_defaults<T: Parser>() -> T {
    let command = T::command().mut_args(|arg| arg.env(None::<&str>));
    let name = command.get_name().to_owned();
    let matches = command
        .try_get_matches_from([name])
        .expect("every setting has a default");
    T::from_arg_matches(&matches).expect("every setting has a default")
}

/// The settings from the environment and the declared defaults, without command-line flags.
pub fn from_environment<T: Parser>() -> T {
    T::parse_from([T::command().get_name().to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    #[command(name = "probe")]
    struct Probe {
        #[arg(long, env = "STACK_COMMON_SETTINGS_PROBE", default_value_t = 7)]
        value: u32,
    }

    #[test]
    fn durations_take_units_or_a_bare_number_in_the_unit_of_their_name() {
        assert_eq!(millis("1500"), Ok(Duration::from_millis(1500)));
        assert_eq!(millis("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(millis("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds("30"), Ok(Duration::from_secs(30)));
        assert_eq!(seconds("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(seconds(" 1h 30m "), Ok(Duration::from_secs(5400)));
        for bad in ["", "-5", "5 parsecs", "1.5"] {
            let err = millis(bad).unwrap_err();
            assert!(err.contains("30s, 1500ms or 2m"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_declared_defaults_ignore_the_environment_and_the_environment_is_read_otherwise() {
        // The variable is this test's own; no other test reads it.
        std::env::set_var("STACK_COMMON_SETTINGS_PROBE", "9");
        assert_eq!(declared_defaults::<Probe>().value, 7);
        assert_eq!(from_environment::<Probe>().value, 9);
        std::env::remove_var("STACK_COMMON_SETTINGS_PROBE");
    }
}
