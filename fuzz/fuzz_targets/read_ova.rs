//! The OVA reader on arbitrary bytes as a tar stream: Ok or an OvaError, never a panic; a
//! descriptor it returns has a safe member name and is within the descriptor size limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match vmi_operator::ovf::ova::read_ova(data) {
        Ok(ova) => {
            assert!(
                ova.name.to_ascii_lowercase().ends_with(".ovf"),
                "{:?}",
                ova.name
            );
            assert!(!ova.name.starts_with('/'), "{:?}", ova.name);
            assert!(!ova.name.split('/').any(|s| s == ".."), "{:?}", ova.name);
            assert!(ova.bytes.len() as u64 <= vmi_operator::source::MAX_DESCRIPTOR_BYTES);
            // What a published library item would do next with it.
            let _ = vmi_operator::ovf::parse_descriptor(&ova.bytes);
        }
        Err(e) => assert!(!e.reason().is_empty()),
    }
});
