//! SigmaHQ's Okta rules against events written from the Okta System Log documentation
//! (event types and fields as the System Log API returns them), each rule with events it
//! must find and look-alikes it must not. The base record is Sekoia's genuine
//! `user.account.lock` event (`../shared/corpus/okta`), turned into a sign-in.

mod common;

use common::{case, run_cases};
use serde_json::{Value, json};

/// Sekoia's genuine record as a plain successful sign-in, no proxy, no new behaviour.
fn base() -> Value {
    let path = common::corpus().join("okta/sekoia-okta-system-logs.messages.ndjson");
    let text = std::fs::read_to_string(&path).unwrap();
    let genuine = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|o| o["file"] == "test_account_lock.json")
        .expect("the lock event");
    let record: Value = serde_json::from_str(genuine["message"].as_str().unwrap()).unwrap();
    common::merged(
        &record,
        &json!({
            "eventType": "user.session.start",
            "displayMessage": "User login to Okta",
            "legacyEventType": "core.user_auth.login_success",
            "outcome": {"result": "SUCCESS", "reason": null},
            "actor": {"alternateId": "ann.lee@acme.test", "displayName": "Ann Lee"},
            "target": [],
            "debugContext": {"debugData": {
                "behaviors": "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}",
                "requestUri": "/idp/idx/identify"
            }}
        }),
    )
}

fn finish(mut v: Value, line: usize) -> Value {
    v["uuid"] = format!("00000000-0000-4000-8000-{line:012}").into();
    v["published"] = format!("2024-05-01T{:02}:{:02}:00.000Z", line / 60, line % 60).into();
    v
}

fn event(t: &str) -> Value {
    json!({"eventType": t})
}

fn admin_target(name: &str) -> Value {
    json!([{"id": "0oa1", "type": "AppInstance", "alternateId": name, "displayName": name}])
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<common::Case> {
    let proxy = json!({"securityContext": {"isProxy": true}});
    vec![
        case(
            "rules/identity/okta/okta_admin_activity_from_proxy_query.yml",
            vec![
                json!({"eventType": "user.session.access_admin_app", "securityContext": {"isProxy": true},
                       "debugContext": {"debugData": {"requestUri": "/admin/users/search"}}}),
                json!({"eventType": "system.api_token.create", "securityContext": {"isProxy": true},
                       "debugContext": {"debugData": {"requestUri": "/api/internal/admin/tokens"}}}),
            ],
            vec![
                // The admin console, but not through a proxy.
                json!({"eventType": "user.session.access_admin_app",
                       "debugContext": {"debugData": {"requestUri": "/admin/users/search"}}}),
                // A proxy, but a user's own sign-in.
                proxy.clone(),
            ],
        ),
        case(
            "rules/identity/okta/okta_admin_role_assigned_to_user_or_group.yml",
            vec![
                event("user.account.privilege.grant"),
                event("group.privilege.grant"),
            ],
            vec![
                event("user.account.privilege.revoke"),
                event("group.privilege.revoke"),
            ],
        ),
        case(
            "rules/identity/okta/okta_admin_role_assignment_created.yml",
            vec![event("iam.resourceset.bindings.add")],
            vec![event("iam.resourceset.bindings.delete")],
        ),
        case(
            "rules/identity/okta/okta_api_token_created.yml",
            vec![event("system.api_token.create")],
            vec![
                event("system.api_token.revoke"),
                event("system.api_token.create.extended"),
            ],
        ),
        case(
            "rules/identity/okta/okta_api_token_revoked.yml",
            vec![event("system.api_token.revoke")],
            vec![event("system.api_token.create")],
        ),
        case(
            "rules/identity/okta/okta_application_modified_or_deleted.yml",
            vec![
                event("application.lifecycle.update"),
                event("application.lifecycle.delete"),
            ],
            vec![
                event("application.lifecycle.create"),
                event("application.lifecycle.activate"),
            ],
        ),
        case(
            "rules/identity/okta/okta_application_sign_on_policy_modified_or_deleted.yml",
            vec![
                event("application.policy.sign_on.update"),
                event("application.policy.sign_on.rule.delete"),
            ],
            vec![
                event("application.policy.sign_on.rule.create"),
                event("policy.lifecycle.update"),
            ],
        ),
        case(
            "rules/identity/okta/okta_fastpass_phishing_detection.yml",
            vec![
                json!({"eventType": "user.authentication.auth_via_mfa", "displayMessage": "Authentication of user via MFA",
                       "outcome": {"result": "FAILURE", "reason": "FastPass declined phishing attempt"}}),
            ],
            vec![
                // Okta Verify answered, no phishing.
                json!({"eventType": "user.authentication.auth_via_mfa",
                       "outcome": {"result": "SUCCESS"}}),
                // A wrong code, not a phishing site.
                json!({"eventType": "user.authentication.auth_via_mfa",
                       "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}}),
                // The same words on a sign-in event.
                json!({"eventType": "user.session.start",
                       "outcome": {"result": "FAILURE", "reason": "FastPass declined phishing attempt"}}),
            ],
        ),
        case(
            "rules/identity/okta/okta_identity_provider_created.yml",
            vec![event("system.idp.lifecycle.create")],
            vec![
                event("system.idp.lifecycle.update"),
                event("user.authentication.auth_via_IDP"),
            ],
        ),
        case(
            "rules/identity/okta/okta_mfa_reset_or_deactivated.yml",
            vec![
                event("user.mfa.factor.deactivate"),
                event("user.mfa.factor.reset_all"),
            ],
            vec![
                event("user.mfa.factor.activate"),
                event("system.mfa.factor.deactivate"),
            ],
        ),
        case(
            "rules/identity/okta/okta_network_zone_deactivated_or_deleted.yml",
            vec![event("zone.deactivate"), event("zone.delete")],
            vec![event("zone.activate"), event("zone.update")],
        ),
        case(
            "rules/identity/okta/okta_new_behaviours_admin_console.yml",
            vec![
                json!({"eventType": "policy.evaluate_sign_on", "target": admin_target("Okta Admin Console"),
                       "debugContext": {"debugData": {"behaviors": "{New Geo-Location=POSITIVE, New Device=NEGATIVE, New IP=POSITIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=POSITIVE}"}}}),
                // Okta's log-only security data says it, the behaviours do not.
                json!({"eventType": "policy.evaluate_sign_on", "target": admin_target("Okta Admin Console"),
                       "debugContext": {"debugData": {"logOnlySecurityData": "{\"risk\":{\"level\":\"MEDIUM\"},\"behaviors\":{\"New Geo-Location\":\"POSITIVE\",\"New Device\":\"POSITIVE\"}}"}}}),
            ],
            vec![
                // Nothing new about this admin.
                json!({"eventType": "policy.evaluate_sign_on", "target": admin_target("Okta Admin Console")}),
                // New, but into another app.
                json!({"eventType": "policy.evaluate_sign_on", "target": admin_target("Slack"),
                       "debugContext": {"debugData": {"behaviors": "{New Device=POSITIVE}"}}}),
            ],
        ),
        case(
            "rules/identity/okta/okta_password_in_alternateid_field.yml",
            vec![
                json!({"eventType": "user.session.start", "legacyEventType": "core.user_auth.login_failed",
                       "outcome": {"result": "FAILURE", "reason": "VERIFICATION_ERROR"},
                       "actor": {"alternateId": "Winter2024!x", "displayName": "unknown"}}),
            ],
            vec![
                // A mistyped password for a real account.
                json!({"eventType": "user.session.start", "legacyEventType": "core.user_auth.login_failed",
                       "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}}),
                // An Okta service client.
                json!({"eventType": "user.session.start", "legacyEventType": "core.user_auth.login_failed",
                       "actor": {"alternateId": "0oa8x2k5b1ZzQ3abc357", "type": "PublicClientApp"}}),
                // A password-looking name on a success is not this rule's.
                json!({"actor": {"alternateId": "Winter2024!x"}}),
            ],
        ),
        case(
            "rules/identity/okta/okta_policy_modified_or_deleted.yml",
            vec![
                event("policy.lifecycle.update"),
                event("policy.lifecycle.delete"),
            ],
            vec![
                event("policy.lifecycle.create"),
                event("policy.rule.update"),
            ],
        ),
        case(
            "rules/identity/okta/okta_policy_rule_modified_or_deleted.yml",
            vec![event("policy.rule.update"), event("policy.rule.delete")],
            vec![event("policy.rule.add"), event("policy.rule.activate")],
        ),
        case(
            "rules/identity/okta/okta_security_threat_detected.yml",
            vec![
                json!({"eventType": "security.threat.detected", "displayMessage": "Request from suspicious actor",
                        "outcome": {"result": "DENY", "reason": "Password Spray"}}),
            ],
            vec![event("security.request.blocked")],
        ),
        case(
            "rules/identity/okta/okta_suspicious_activity_enduser_report.yml",
            vec![event("user.account.report_suspicious_activity_by_enduser")],
            vec![event("user.account.update_profile")],
        ),
        case(
            "rules/identity/okta/okta_unauthorized_access_to_app.yml",
            vec![json!({"eventType": "app.generic.unauth_app_access_attempt",
                        "displayMessage": "User attempted unauthorized access to app",
                        "outcome": {"result": "FAILURE"}})],
            vec![
                json!({"eventType": "user.authentication.sso", "displayMessage": "User single sign on to app"}),
                json!({"displayMessage": "User attempted unauthorized access to app store"}),
            ],
        ),
        case(
            "rules/identity/okta/okta_user_account_locked_out.yml",
            vec![
                json!({"eventType": "user.account.lock", "displayMessage": "Max sign in attempts exceeded",
                       "outcome": {"result": "FAILURE", "reason": "LOCKED_OUT"}}),
                // Sigma's strings match without regard to case.
                json!({"eventType": "user.account.lock", "displayMessage": "MAX SIGN IN ATTEMPTS EXCEEDED"}),
            ],
            vec![
                json!({"eventType": "user.account.unlock", "displayMessage": "Unlock user account"}),
            ],
        ),
        case(
            "rules/identity/okta/okta_user_created.yml",
            vec![event("user.lifecycle.create")],
            vec![event("user.lifecycle.activate")],
        ),
        case(
            "rules/identity/okta/okta_user_session_start_via_anonymised_proxy.yml",
            vec![proxy.clone()],
            vec![
                // No proxy.
                json!({}),
                // A proxy, but an SSO into an app, not the sign-in.
                json!({"eventType": "user.authentication.sso", "securityContext": {"isProxy": true}}),
                // Okta did not say (isProxy null).
                json!({"securityContext": {"isProxy": null}}),
            ],
        ),
        case(
            "rules-threat-hunting/cloud/okta/okta_password_health_report_query.yml",
            vec![json!({"eventType": "user.session.access_admin_app",
                        "debugContext": {"debugData": {"requestUri": "/reports/password-health/csv_download"}}})],
            vec![json!({"eventType": "user.session.access_admin_app",
                        "debugContext": {"debugData": {"requestUri": "/reports/user/password-health"}}})],
        ),
        case(
            "rules-emerging-threats/2023/TA/Okta-Support-System-Breach/okta_apt_suspicious_user_creation.yml",
            vec![
                json!({"eventType": "user.lifecycle.create",
                       "target": [{"id": "00u9", "type": "User", "alternateId": "svc_network_backup@acme.test", "displayName": "svc_network_backup"}]}),
                // The second target of the list is the one.
                json!({"eventType": "user.lifecycle.activate",
                       "target": [{"type": "Group", "displayName": "Everyone"}, {"type": "User", "displayName": "SVC_NETWORK_BACKUP2"}]}),
            ],
            vec![
                json!({"eventType": "user.lifecycle.create",
                       "target": [{"type": "User", "displayName": "svc_backup"}]}),
                json!({"eventType": "user.lifecycle.deactivate",
                       "target": [{"type": "User", "displayName": "svc_network_backup"}]}),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn sigmahq_okta_rules_find_their_events_and_not_the_look_alikes() {
    let cases = cases();
    let outcome = run_cases(&cases, &base(), "okta-system-log.ndjson", finish).await;
    assert!(outcome.failed.is_empty(), "{}", outcome.failed.join("\n\n"));
    // Every one of SigmaHQ's 21 Okta rules (rules/identity/okta) is tested here.
    let main = outcome
        .passed
        .iter()
        .filter(|r| r.starts_with("rules/identity/okta/"))
        .count();
    assert_eq!(main, 21, "{:?}", outcome.passed);
}
