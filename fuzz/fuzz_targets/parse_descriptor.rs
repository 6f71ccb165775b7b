//! The OVF descriptor parser on arbitrary bytes: it returns Ok or an OvfError, never panics,
//! and whatever it accepts makes an image status that serializes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match vmi_operator::ovf::parse_descriptor(data) {
        Ok(info) => {
            let status = vmi_operator::image::desired::status_from_ovf(&info);
            serde_json::to_vec(&status).expect("an image status always serializes");
        }
        Err(e) => {
            // Every error has its stable reason and a message.
            assert!(!e.reason().is_empty());
            assert!(!e.to_string().is_empty());
        }
    }
});
