//! cargo-fuzz target `tokenizer`: libFuzzer feeds [`targets::tokenizer`] (its doc says what must hold).
#![no_main]

#[allow(dead_code)] // each binary runs one of the bodies
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| targets::tokenizer(bytes));
