//! The end-of-run check: every completed recording is downloaded and compared, byte by byte,
//! with what its session sent (its metadata's size and chunk count first).

use std::time::Duration;

use futures_util::StreamExt;

use crate::args::Args;
use crate::session::{payload, SessionResult};

/// What one session left on the server, as the check needs it.
pub struct Expected<'a> {
    pub recording_id: &'a str,
    /// The chunk the session sent, every time.
    pub chunk: Vec<u8>,
    pub chunks: u64,
}

/// Why a stored recording does not hold what was sent; `None` from [`check`] when it does.
#[derive(Debug)]
pub enum Mismatch {
    Unreachable(String),
    Metadata(String),
    Bytes(String),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Unreachable(why) => write!(f, "not readable: {why}"),
            Mismatch::Metadata(why) => write!(f, "metadata: {why}"),
            Mismatch::Bytes(why) => write!(f, "bytes: {why}"),
        }
    }
}

/// Checks every completed session's recording (16 at a time) through the REST API: `--http`, or
/// the WebSocket URL's origin. Returns how many were checked and how many differ, and names the
/// first five that differ on stderr.
pub async fn check_all(args: &Args, results: &[SessionResult]) -> (usize, usize) {
    let base = args.http.clone().unwrap_or_else(|| {
        let http = args
            .url
            .replacen("ws://", "http://", 1)
            .replacen("wss://", "https://", 1);
        http.split("/ws/").next().unwrap_or(&http).to_owned()
    });
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    // Results are in session order (`join_all`), so the index gives each its payload.
    let checks: Vec<Expected> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.completed)
        .filter_map(|(index, r)| {
            Some(Expected {
                recording_id: r.recording_id.as_deref()?,
                chunk: payload(index, args.chunk_bytes),
                chunks: r.sent,
            })
        })
        .collect();
    let mismatches: Vec<Option<Mismatch>> = futures_util::stream::iter(&checks)
        .map(|expected| check(&client, &base, expected))
        .buffer_unordered(16)
        .collect()
        .await;
    let checked = mismatches.len();
    let differing: Vec<Mismatch> = mismatches.into_iter().flatten().collect();
    for mismatch in differing.iter().take(5) {
        eprintln!("loadgen: stored recording does not match what was sent: {mismatch}");
    }
    (checked, differing.len())
}

/// Checks one recording through the REST API at `base`: its metadata, then its file, streamed
/// (a recording is never held in memory whole).
pub async fn check(client: &awc::Client, base: &str, expected: &Expected<'_>) -> Option<Mismatch> {
    let id = expected.recording_id;
    let size = expected.chunk.len() as u64 * expected.chunks;
    let mut response = match client
        .get(format!("{base}/api/recordings/{id}"))
        .send()
        .await
    {
        Ok(response) => response,
        Err(err) => return Some(Mismatch::Unreachable(format!("{id}: {err}"))),
    };
    let meta = match response.json::<serde_json::Value>().await {
        Ok(meta) => meta,
        Err(err) => return Some(Mismatch::Unreachable(format!("{id}: {err}"))),
    };
    if meta["size"].as_u64() != Some(size) || meta["chunks"].as_u64() != Some(expected.chunks) {
        return Some(Mismatch::Metadata(format!(
            "{id}: size {} and chunks {}, sent {size} bytes in {} chunks",
            meta["size"], meta["chunks"], expected.chunks
        )));
    }
    let Some(file_name) = meta["fileName"].as_str() else {
        return Some(Mismatch::Metadata(format!("{id}: no fileName")));
    };
    let mut body = match client
        .get(format!("{base}/api/download/{file_name}"))
        .send()
        .await
    {
        Ok(body) if body.status().is_success() => body,
        Ok(body) => {
            return Some(Mismatch::Unreachable(format!(
                "{file_name}: download answered {}",
                body.status()
            )))
        }
        Err(err) => return Some(Mismatch::Unreachable(format!("{file_name}: {err}"))),
    };
    let mut offset = 0u64;
    while let Some(piece) = body.next().await {
        let piece = match piece {
            Ok(piece) => piece,
            Err(err) => return Some(Mismatch::Unreachable(format!("{file_name}: {err}"))),
        };
        if let Some(at) = first_difference(&expected.chunk, offset, &piece) {
            return Some(Mismatch::Bytes(format!(
                "{file_name}: differs at byte {at} of {size}"
            )));
        }
        offset += piece.len() as u64;
    }
    (offset != size).then(|| {
        Mismatch::Bytes(format!(
            "{file_name}: {offset} bytes downloaded, {size} sent"
        ))
    })
}

/// Where `piece`, found at `offset` in a stream of `chunk` repeated, first differs from it (as
/// an offset in the stream); `None` if it matches.
fn first_difference(chunk: &[u8], offset: u64, piece: &[u8]) -> Option<u64> {
    if chunk.is_empty() {
        return (!piece.is_empty()).then_some(offset);
    }
    let mut at = (offset % chunk.len() as u64) as usize;
    let mut done = 0;
    while done < piece.len() {
        let len = (chunk.len() - at).min(piece.len() - done);
        let (want, got) = (&chunk[at..at + len], &piece[done..done + len]);
        if want != got {
            let i = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
            return Some(offset + (done + i) as u64);
        }
        done += len;
        at = 0;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn a_stream_of_the_chunk_repeated_matches_wherever_it_is_cut() {
        let chunk: Vec<u8> = (0..7).collect();
        let stream: Vec<u8> = chunk.iter().copied().cycle().take(7 * 5).collect();
        for cut in [0, 1, 6, 7, 8, 20, 35] {
            let (a, b) = stream.split_at(cut);
            assert_eq!(first_difference(&chunk, 0, a), None);
            assert_eq!(first_difference(&chunk, cut as u64, b), None);
        }
    }

    #[test]
    fn a_changed_byte_is_found_at_its_place_in_the_stream() {
        let chunk: Vec<u8> = (0..7).collect();
        let mut stream: Vec<u8> = chunk.iter().copied().cycle().take(7 * 5).collect();
        stream[23] ^= 0xff;
        assert_eq!(first_difference(&chunk, 0, &stream), Some(23));
        assert_eq!(first_difference(&chunk, 20, &stream[20..]), Some(23));
    }
}
