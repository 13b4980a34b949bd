//! MITRE ATT&CK technique names for the ids detection headers give, so the report says
//! "T1621 Multi-Factor Authentication Request Generation" rather than a bare number.
//! (ATT&CK names from attack.mitre.org, Enterprise matrix; only the identity and cloud
//! techniques this kind of detection names.)

const TECHNIQUES: &[(&str, &str)] = &[
    ("T1021", "Remote Services"),
    ("T1069", "Permission Groups Discovery"),
    ("T1074", "Data Staged"),
    ("T1078", "Valid Accounts"),
    ("T1078.001", "Valid Accounts: Default Accounts"),
    ("T1078.004", "Valid Accounts: Cloud Accounts"),
    ("T1087", "Account Discovery"),
    ("T1090", "Proxy"),
    ("T1090.003", "Proxy: Multi-hop Proxy"),
    ("T1098", "Account Manipulation"),
    (
        "T1098.001",
        "Account Manipulation: Additional Cloud Credentials",
    ),
    ("T1098.003", "Account Manipulation: Additional Cloud Roles"),
    ("T1098.005", "Account Manipulation: Device Registration"),
    ("T1110", "Brute Force"),
    ("T1110.003", "Brute Force: Password Spraying"),
    ("T1110.004", "Brute Force: Credential Stuffing"),
    ("T1136", "Create Account"),
    ("T1136.003", "Create Account: Cloud Account"),
    ("T1213", "Data from Information Repositories"),
    ("T1484", "Domain or Tenant Policy Modification"),
    (
        "T1484.002",
        "Domain or Tenant Policy Modification: Trust Modification",
    ),
    ("T1528", "Steal Application Access Token"),
    ("T1530", "Data from Cloud Storage"),
    ("T1531", "Account Access Removal"),
    ("T1539", "Steal Web Session Cookie"),
    ("T1550", "Use Alternate Authentication Material"),
    (
        "T1550.001",
        "Use Alternate Authentication Material: Application Access Token",
    ),
    (
        "T1550.004",
        "Use Alternate Authentication Material: Web Session Cookie",
    ),
    ("T1556", "Modify Authentication Process"),
    (
        "T1556.006",
        "Modify Authentication Process: Multi-Factor Authentication",
    ),
    ("T1562", "Impair Defenses"),
    ("T1562.008", "Impair Defenses: Disable or Modify Cloud Logs"),
    ("T1566", "Phishing"),
    ("T1567", "Exfiltration Over Web Service"),
    ("T1621", "Multi-Factor Authentication Request Generation"),
];

/// The technique's name, if it is one of those above.
#[must_use]
pub fn technique_name(id: &str) -> Option<&'static str> {
    let id = id.trim().to_ascii_uppercase();
    TECHNIQUES
        .binary_search_by(|(k, _)| (*k).cmp(id.as_str()))
        .ok()
        .map(|i| TECHNIQUES[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_found_and_the_table_is_sorted() {
        assert!(super::TECHNIQUES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(
            super::technique_name("t1621"),
            Some("Multi-Factor Authentication Request Generation")
        );
        assert_eq!(super::technique_name("T9999"), None);
    }
}
