//! Just enough of RFC 6455 framing for a byte-level relay: where frames end (so a close frame can
//! be added when one side vanishes, without cutting a frame in two), whether a side has
//! already sent its close, and how to write a close frame.

/// Follows one direction of a WebSocket byte stream, frame header by frame header, without
/// copying or unmasking payloads.
#[derive(Debug, Default)]
pub struct FrameTracker {
    header: [u8; 14],
    header_len: usize,
    payload_left: u64,
    close_seen: bool,
}

impl FrameTracker {
    /// Moves past `data`, which follows what was seen before.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.payload_left > 0 {
                let skip = data.len().min(self.payload_left as usize);
                self.payload_left -= skip as u64;
                data = &data[skip..];
                continue;
            }
            self.header[self.header_len] = data[0];
            self.header_len += 1;
            data = &data[1..];
            if let Some(payload) = self.complete_header() {
                if self.header[0] & 0x0f == 0x8 {
                    self.close_seen = true;
                }
                self.payload_left = payload;
                self.header_len = 0;
            }
        }
    }

    /// The payload length once the header gathered so far is whole.
    fn complete_header(&self) -> Option<u64> {
        if self.header_len < 2 {
            return None;
        }
        let masked = self.header[1] & 0x80 != 0;
        let (extended, needed) = match self.header[1] & 0x7f {
            126 => (2, 4),
            127 => (8, 10),
            _ => (0, 2),
        };
        let needed = needed + if masked { 4 } else { 0 };
        if self.header_len < needed {
            return None;
        }
        Some(match extended {
            0 => u64::from(self.header[1] & 0x7f),
            2 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            _ => {
                let mut length = [0; 8];
                length.copy_from_slice(&self.header[2..10]);
                u64::from_be_bytes(length)
            }
        })
    }

    /// True between frames: a frame written now would not land inside another.
    pub fn at_boundary(&self) -> bool {
        self.header_len == 0 && self.payload_left == 0
    }

    /// True once this side has sent a close frame (it owes no further one).
    pub fn close_seen(&self) -> bool {
        self.close_seen
    }
}

/// A close frame with `code` and `reason` (at most 123 bytes of it). Frames from a client must
/// be masked; a zero key keeps the payload as it is.
pub fn close_frame(code: u16, reason: &str, masked: bool) -> Vec<u8> {
    let mut reason = reason.as_bytes();
    if reason.len() > 123 {
        reason = &reason[..123];
    }
    let mut frame = vec![0x88, (2 + reason.len()) as u8];
    if masked {
        frame[1] |= 0x80;
        frame.extend_from_slice(&[0; 4]);
    }
    frame.extend_from_slice(&code.to_be_bytes());
    frame.extend_from_slice(reason);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload_len: usize, masked: bool) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        let mask = if masked { 0x80 } else { 0 };
        match payload_len {
            0..=125 => out.push(mask | payload_len as u8),
            126..=65535 => {
                out.push(mask | 126);
                out.extend_from_slice(&(payload_len as u16).to_be_bytes());
            }
            _ => {
                out.push(mask | 127);
                out.extend_from_slice(&(payload_len as u64).to_be_bytes());
            }
        }
        if masked {
            out.extend_from_slice(&[1, 2, 3, 4]);
        }
        out.extend(std::iter::repeat_n(7, payload_len));
        out
    }

    #[test]
    fn boundaries_are_found_whatever_the_chunking() {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        for (len, masked) in [
            (0, false),
            (5, true),
            (125, false),
            (126, true),
            (70_000, false),
        ] {
            stream.extend(frame(0x2, len, masked));
            ends.push(stream.len());
        }
        // The close's header (2 bytes and a 4-byte mask) is where it is known to be a close.
        let close_known = stream.len() + 6;
        stream.extend(close_frame(1000, "done", true));
        ends.push(stream.len());
        for chunk in [1, 2, 3, 7, 100, 4096, stream.len()] {
            let mut tracker = FrameTracker::default();
            let mut offset = 0;
            for piece in stream.chunks(chunk) {
                tracker.feed(piece);
                offset += piece.len();
                assert_eq!(
                    tracker.at_boundary(),
                    ends.contains(&offset),
                    "chunk {chunk}, offset {offset}"
                );
                assert_eq!(tracker.close_seen(), offset >= close_known);
            }
        }
    }

    #[test]
    fn a_cut_frame_is_not_a_boundary() {
        let mut tracker = FrameTracker::default();
        let data = frame(0x1, 300, false);
        tracker.feed(&data[..100]);
        assert!(!tracker.at_boundary());
        tracker.feed(&data[100..]);
        assert!(tracker.at_boundary());
        assert!(!tracker.close_seen());
    }

    #[test]
    fn close_frames_carry_code_and_reason() {
        assert_eq!(
            close_frame(1001, "bye", false),
            [0x88, 5, 0x03, 0xe9, b'b', b'y', b'e']
        );
        let masked = close_frame(1001, "", true);
        assert_eq!(masked, [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]);
        assert_eq!(
            close_frame(1000, &"x".repeat(200), false).len(),
            2 + 2 + 123
        );
    }
}
