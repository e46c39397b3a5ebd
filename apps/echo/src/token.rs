//! The token check: with `--token-file`, `/echo` answers only requests that carry the token.
//!
//! The token file usually comes from a Kubernetes Secret, mounted into the pod.
//! Echo reads the file on each request, so a changed Secret counts without a restart.
//! A request sends the token as `Authorization: Bearer <token>`.
//! A missing or empty file means: no check.

use kit::http::{text, Response};
use kit::hyper::header::AUTHORIZATION;
use kit::hyper::{HeaderMap, StatusCode};
use kit::setting_file::{same_secret, SettingFile};

/// Checks the request's token against the file. `Some` holds the answer to send instead.
pub fn refusal(file: Option<&SettingFile>, headers: &HeaderMap) -> Option<Response> {
    let file = file?;
    let expected = match file.read() {
        Ok(Some(token)) => token,
        Ok(None) => return None,
        Err(why) => {
            tracing::error!("✖ Echo cannot check tokens: {why}.");
            return Some(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "✖ Echo cannot read its token file. Its log says why.\n",
            ));
        }
    };
    let sent = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match sent {
        Some(token) if same_secret(token.trim(), &expected) => None,
        Some(_) => Some(refuse("The token is wrong.")),
        None => Some(refuse("The token is missing.")),
    }
}

fn refuse(reason: &str) -> Response {
    text(
        StatusCode::UNAUTHORIZED,
        format!("✖ {reason} Send: Authorization: Bearer <token>\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kit::hyper::header::HeaderValue;

    fn token_file(content: &str) -> SettingFile {
        let dir = std::env::temp_dir().join(format!("echo-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("token-{}", content.len()));
        std::fs::write(&path, content).unwrap();
        SettingFile::new(path)
    }

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn status(refused: Option<Response>) -> u16 {
        refused.map_or(200, |r| r.status().as_u16())
    }

    #[test]
    fn no_file_or_an_empty_file_lets_every_request_in() {
        assert_eq!(status(refusal(None, &HeaderMap::new())), 200);
        let missing = SettingFile::new("/no/such/token");
        assert_eq!(status(refusal(Some(&missing), &HeaderMap::new())), 200);
        assert_eq!(
            status(refusal(Some(&token_file("\n")), &HeaderMap::new())),
            200
        );
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let file = token_file("s3cret\n");
        assert_eq!(
            status(refusal(Some(&file), &with_auth("Bearer s3cret"))),
            200
        );
        assert_eq!(
            status(refusal(Some(&file), &with_auth("Bearer wrong"))),
            401
        );
        assert_eq!(status(refusal(Some(&file), &with_auth("s3cret"))), 401);
        assert_eq!(status(refusal(Some(&file), &HeaderMap::new())), 401);
    }

    #[test]
    fn an_unreadable_file_is_a_500_not_an_open_door() {
        let dir = SettingFile::new(std::env::temp_dir());
        assert_eq!(status(refusal(Some(&dir), &with_auth("Bearer x"))), 500);
    }
}
