//! `devauth serve --log-format` and `DEVAUTH_LOG_FORMAT`: JSON lines for a
//! log collector, text lines for a person. Here stderr is a pipe, so with
//! neither given the logs are JSON, as they always were.

use std::time::Duration;

/// Starts a server with `args` and `env` (logging at info) and returns the
/// log line of the "listening" event.
fn listening_event(args: &[&str], env: &[(&str, &str)]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut all_args = vec!["--listen", "127.0.0.1:0"];
    all_args.extend_from_slice(args);
    let mut env = env.to_vec();
    env.push(("DEVAUTH_LOG", "info"));
    let mut server = crate::start_serve(home.path(), &all_args, &env, Duration::from_secs(60));
    server.terminate();
    let lines = server.lines();
    lines
        .iter()
        .find(|l| l.contains("listening") && !l.starts_with("devauth serve:"))
        .unwrap_or_else(|| panic!("no listening event in {lines:?}"))
        .clone()
}

#[test]
fn logs_are_json_on_a_pipe_unless_text_is_asked_for() {
    let json = listening_event(&[], &[]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("a JSON line");
    assert_eq!(v["fields"]["message"], "listening", "{json}");
    assert_eq!(v["level"], "INFO", "{json}");

    let text = listening_event(&["--log-format", "text"], &[]);
    assert!(!text.starts_with('{'), "{text}");
    assert!(text.contains(" INFO "), "{text}");
    assert!(text.contains("listening bound=127.0.0.1:"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colours on a pipe: {text:?}");

    let text = listening_event(&[], &[("DEVAUTH_LOG_FORMAT", "text")]);
    assert!(!text.starts_with('{'), "{text}");
    let json = listening_event(&["--log-format", "json"], &[("DEVAUTH_LOG_FORMAT", "text")]);
    assert!(
        json.starts_with('{'),
        "the flag wins over the variable: {json}"
    );
}
