//! libFuzzer entry of the `packetdrill` target: the body is `synack_fuzz::packetdrill::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzz::packetdrill::run(data));
