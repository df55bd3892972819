//! libFuzzer entry of the `wire` target: the body is `synack_fuzz::wire::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzz::wire::run(data));
