//! Text from outside (a server's `error_description`, a user code, an issuer
//! URL, a profile name, an environment variable) made safe to print.
//!
//! Terminal escapes are control characters: [`sanitize`] replaces every one
//! with a space, so a hostile server cannot rewrite the person's terminal or
//! clipboard, and caps the length so it cannot flood it. It depends on nothing
//! else in the crate, so any module (errors, the store, the screen) can use it.

/// Removes control characters (terminal escapes) from server-supplied text
/// and caps its length, so a hostile server cannot rewrite the terminal.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_spaces_and_length_is_capped() {
        assert_eq!(sanitize("a\u{1b}[2Jb\u{7}"), "a [2Jb ");
        assert_eq!(sanitize(&"x".repeat(1000)).len(), 300);
    }
}
