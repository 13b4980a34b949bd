#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    midgame_sources::fuzz::source("admin-audit", data);
});
