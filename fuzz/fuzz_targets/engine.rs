//! libFuzzer entry of the `engine` target: the body is `synack_fuzz::engine::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synack_fuzz::engine::run(data));
