//! Lesson 15 end to end: the relay reads a token file and a note file on each request,
//! and a real echo with a token file lets only the relay with the right token through.

use testkit::*;

const RELAY: &str = env!("CARGO_BIN_EXE_relay-server");

#[test]
fn the_relay_sends_the_token_and_the_note_from_its_files() {
    let dir = std::env::temp_dir().join(format!("relay-files-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (echo_token, relay_token, note) = (
        dir.join("echo-token"),
        dir.join("relay-token"),
        dir.join("note"),
    );
    std::fs::write(&echo_token, "s3cret\n").unwrap();
    let token_file = Some(kit::setting_file::SettingFile::new(echo_token.clone()));
    let echo = InProcess::echo_app(echo_server::Echo { token_file }, &[]);
    let relay = Binary::start(
        RELAY,
        &[],
        &[
            ("TOKEN_FILE", relay_token.to_str().unwrap()),
            ("NOTE_FILE", note.to_str().unwrap()),
        ],
    );

    // No token file yet: echo refuses, and the relay passes echo's answer on as 502.
    let refused = relay.relay_to(echo.port);
    refused.expect(502, "answered 401 Unauthorized");
    assert!(
        refused.body.contains("The token is missing."),
        "{refused:?}"
    );
    assert_eq!(refused.header("x-relay-note"), None);

    // The files appear, as when the kubelet fills a mounted Secret and ConfigMap.
    std::fs::write(&relay_token, "s3cret").unwrap();
    std::fs::write(&note, "Settings from the ConfigMap relay\n").unwrap();
    let ok = relay.relay_to(echo.port);
    ok.expect(200, "Reply:\nEcho host: ");
    assert_eq!(
        ok.header("x-relay-note"),
        Some("Settings from the ConfigMap relay")
    );

    // A changed note shows on the next request; a wrong token is refused again.
    std::fs::write(&note, "version 2").unwrap();
    std::fs::write(&relay_token, "old").unwrap();
    let after = relay.relay_to(echo.port);
    after.expect(502, "The token is wrong.");
    assert_eq!(after.header("x-relay-note"), Some("version 2"));
    std::fs::remove_dir_all(&dir).unwrap();
}
