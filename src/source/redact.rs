//! URLs as messages show them: never with credentials.

use url::Url;

/// The URL without user info, for messages.
pub(crate) fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}
