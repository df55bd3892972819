//! libFuzzer entry of the `pcap` target: the body is `synack_fuzz::pcap::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzz::pcap::run(data));
