//! Any registration body: parsed and validated as the registry does, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use registry::model::InstanceEnvelope;
use registry::validate_registration;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = serde_json::from_slice::<InstanceEnvelope>(data) {
        if let Ok(instance) = validate_registration("AUDIO-SERVICE", envelope.instance) {
            assert_eq!(instance.app, "AUDIO-SERVICE");
            assert!(!instance.instance_id.contains('/'));
        }
    }
});
