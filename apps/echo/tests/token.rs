//! The token check of lesson 15, over real HTTP: a file with a token, requests with and without it.

use testkit::{raw, Binary};

const BIN: &str = env!("CARGO_BIN_EXE_echo-server");

fn get_with_auth(port: u16, path: &str, auth: Option<&str>) -> testkit::Reply {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    raw(port, request.as_bytes()).expect("the server answers")
}

#[test]
fn with_a_token_file_echo_wants_the_token_and_sees_changes_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("echo-token-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    let server = Binary::start(BIN, &[], &[("TOKEN_FILE", token.to_str().unwrap())]);

    // No file yet (an optional Secret that does not exist): no check.
    assert_eq!(
        get_with_auth(server.port, "/echo?message=hi", None).status,
        200
    );

    std::fs::write(&token, "first\n").unwrap();
    let missing = get_with_auth(server.port, "/echo?message=hi", None);
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.text(),
        "✖ The token is missing. Send: Authorization: Bearer <token>\n"
    );
    let wrong = get_with_auth(server.port, "/echo?message=hi", Some("Bearer second"));
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().starts_with("✖ The token is wrong."));
    let right = get_with_auth(server.port, "/echo?message=hi", Some("Bearer first"));
    assert_eq!(right.status, 200);
    assert!(right.text().ends_with("Message: hi\n"));

    // The kubelet updates a mounted Secret in place: the next request sees the change.
    std::fs::write(&token, "second").unwrap();
    assert_eq!(
        get_with_auth(server.port, "/echo", Some("Bearer first")).status,
        401
    );
    assert_eq!(
        get_with_auth(server.port, "/echo", Some("Bearer second")).status,
        200
    );

    // The probes and the other kit paths never need the token.
    for path in ["/ready", "/alive", "/version"] {
        assert_eq!(get_with_auth(server.port, path, None).status, 200, "{path}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
