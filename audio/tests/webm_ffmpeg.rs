//! The post-processor checked by a tool nobody here wrote: ffprobe reads the duration of the
//! remuxed file, and ffmpeg's `-c copy -f framemd5` shows every audio packet unchanged.
//! Needs ffmpeg (Debian package `ffmpeg`, installed by scripts/test); fails without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use audio::remux;

fn fixture() -> Vec<u8> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mediarecorder-webm-opus-250ms");
    (0..14)
        .flat_map(|i| std::fs::read(dir.join(format!("chunk-{i:03}.bin"))).unwrap())
        .collect()
}

fn ffprobe_duration(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=nw=1:nk=1",
        ])
        .arg(path)
        .output()
        .expect("ffprobe must be installed (Debian package ffmpeg)");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Per-packet hashes, without the header lines that name the input.
fn framemd5(path: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg must be installed (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            // stream, dts, pts, duration, size, hash: keep size and hash (timestamps are what we fix).
            let fields: Vec<&str> = l.split(',').map(str::trim).collect();
            format!("{} {}", fields[4], fields[5])
        })
        .collect()
}

#[test]
fn ffprobe_prints_the_duration_and_every_packet_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("upload.webm");
    let processed = dir.path().join("processed.webm");
    let input = fixture();
    std::fs::write(&upload, &input).unwrap();
    let out = remux(&input).unwrap();
    std::fs::write(&processed, &out.bytes).unwrap();

    assert_eq!(
        ffprobe_duration(&upload),
        "N/A",
        "the upload should show MediaRecorder's defect"
    );
    let seconds: f64 = ffprobe_duration(&processed).parse().unwrap();
    assert!((seconds - 3.96).abs() <= 0.02, "ffprobe says {seconds}");

    let before = framemd5(&upload);
    let after = framemd5(&processed);
    // Chrome writes 60 ms Opus packets: 66 of them make 3.96 s.
    assert_eq!(before.len(), 66, "packets in the upload");
    assert_eq!(before, after, "audio packets changed");
}
