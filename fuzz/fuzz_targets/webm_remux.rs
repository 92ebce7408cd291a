//! Any bytes as an uploaded recording: remuxing never panics, and what it produces remuxes to
//! itself (the post-processor's idempotence) with the same blocks.
#![no_main]
use audio::remux;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(first) = remux(data) {
        let second = remux(&first.bytes).expect("our own output must parse");
        assert_eq!(second.bytes, first.bytes, "remuxing is not idempotent");
        assert_eq!(second.blocks, first.blocks);
    }
});
