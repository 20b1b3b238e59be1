//! The configuration loader, `switchyard_server::config::parse_with_env`, on arbitrary text with
//! a fixed environment (some variables set, the rest unset). Properties: no panic, in parsing,
//! validation, or the `Debug` and `Display` of what it returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_server::config::parse_with_env;

fn env(name: &str) -> Option<String> {
    let value = match name {
        "OPENAI_API_KEY" | "ANTHROPIC_API_KEY" | "GEMINI_API_KEY" => "sk-fuzz",
        "SWITCHYARD_MASTER_KEY" => "sk-master-fuzz",
        "AWS_ACCESS_KEY_ID" => "AKIDFUZZ",
        "AWS_SECRET_ACCESS_KEY" => "fuzz-secret",
        "AWS_REGION" => "us-east-1",
        "REDIS_HOST" => "127.0.0.1",
        "REDIS_PORT" => "6379",
        "EMPTY" => "",
        "NOT_A_NUMBER" => "x",
        _ => return None,
    };
    Some(value.to_owned())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_with_env(text, &env) {
        Ok(loaded) => {
            let _ = format!("{:?}", loaded.settings);
            for warning in &loaded.warnings {
                let _ = warning.to_string();
            }
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});
