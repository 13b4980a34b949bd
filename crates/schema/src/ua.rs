//! Operating-system and browser families, from a vendor's own labels or a raw user agent.
//!
//! A device without a fingerprint is known by its OS and browser family, so every source
//! must name them alike: Okta's `CHROME` / `Mac OS X`, Entra's `Chrome 120.0.0` /
//! `MacOs` and a raw `Mozilla/5.0 (Macintosh; ...) Chrome/...` all become `Chrome` on
//! `Mac OS X`.

/// The OS family of a vendor label or of a raw user agent (`None` when unknown).
#[must_use]
pub fn os_family(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    let families: [(&[&str], &str); 8] = [
        (&["iphone", "ipad", "ipod", "ios"], "iOS"),
        (&["android"], "Android"),
        (&["cros", "chrome os", "chromeos"], "Chrome OS"),
        (&["windows", "win64", "win32"], "Windows"),
        (
            &["mac os", "macos", "macintosh", "os x", "darwin"],
            "Mac OS X",
        ),
        (&["linux", "ubuntu", "fedora", "debian"], "Linux"),
        (&["freebsd", "openbsd"], "BSD"),
        (&["okhttp"], "Android"),
    ];
    families
        .iter()
        .find(|(keys, _)| keys.iter().any(|k| has_word(&t, k)))
        .map(|(_, f)| *f)
}

/// Whether `key` starts a word in `text` (`cros` in `X11; CrOS x86_64`, not in
/// `Microsoft`; `ios` in `iOS 16`, not in `BIOS`).
fn has_word(text: &str, key: &str) -> bool {
    text.match_indices(key).any(|(i, _)| {
        text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_ascii_alphabetic())
    })
}

/// The browser family of a vendor label (`CHROME`, `Chrome 120.0`) or a raw user agent.
#[must_use]
pub fn browser_family(text: &str) -> Option<&'static str> {
    let t = text.to_ascii_lowercase();
    // Order matters: Edge and Opera agents also say Chrome, Chrome says Safari.
    let families: [(&[&str], &str); 9] = [
        (&["edg/", "edge", "edga/", "edgios/"], "Edge"),
        (&["opr/", "opera"], "Opera"),
        (&["samsungbrowser"], "Samsung Internet"),
        (&["firefox", "fxios"], "Firefox"),
        (&["crios", "chrome", "chromium"], "Chrome"),
        (&["msie", "trident/", "internet explorer"], "IE"),
        (&["safari", "mobile safari"], "Safari"),
        (&["okta verify", "oktaverify", "okta-verify"], "Okta Verify"),
        (
            &[
                "curl/",
                "python-requests",
                "go-http-client",
                "okhttp",
                "java/",
                "powershell",
            ],
            "Script",
        ),
    ];
    match t.trim() {
        "unknown" | "" => return None,
        "ie" => return Some("IE"),
        _ => {}
    }
    families
        .iter()
        .find(|(keys, _)| keys.iter().any(|k| t.contains(k)))
        .map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_names_inside_other_words_do_not_count() {
        assert_eq!(
            os_family("Microsoft Windows 10 Pro , 64-bit"),
            Some("Windows")
        );
        assert_eq!(
            os_family("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)"),
            Some("Chrome OS")
        );
        assert_eq!(os_family("iOS 16.1"), Some("iOS"));
    }

    const MAC_CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.83 Safari/537.36";
    const WIN_EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
    const IPHONE_SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

    #[test]
    fn raw_user_agents() {
        assert_eq!(
            (os_family(MAC_CHROME), browser_family(MAC_CHROME)),
            (Some("Mac OS X"), Some("Chrome"))
        );
        assert_eq!(
            (os_family(WIN_EDGE), browser_family(WIN_EDGE)),
            (Some("Windows"), Some("Edge"))
        );
        assert_eq!(
            (os_family(IPHONE_SAFARI), browser_family(IPHONE_SAFARI)),
            (Some("iOS"), Some("Safari"))
        );
        assert_eq!(browser_family("curl/8.4.0"), Some("Script"));
    }

    #[test]
    fn vendor_labels_map_to_the_same_families() {
        assert_eq!(browser_family("CHROME"), Some("Chrome"));
        assert_eq!(browser_family("Chrome 120.0.0"), Some("Chrome"));
        assert_eq!(browser_family("UNKNOWN"), None);
        assert_eq!(os_family("Mac OS X"), Some("Mac OS X"));
        assert_eq!(os_family("MacOs"), Some("Mac OS X"));
        assert_eq!(os_family("Windows 10"), Some("Windows"));
        assert_eq!(os_family("iOS"), Some("iOS"));
        assert_eq!(os_family("Unknown"), None);
    }
}
