//! SigmaHQ's Entra ID sign-in rules (`rules/cloud/azure/signin_logs`, written against
//! Microsoft Sentinel's `SigninLogs` names: `ResultType`, `Status`,
//! `AuthenticationRequirement`, `DeviceDetail.trustType`) against sign-ins in the shape
//! Entra's diagnostic settings export (`resultType`, `properties.status.errorCode`,
//! `properties.authenticationRequirement`). The base record is Sekoia's genuine
//! sign-in (`../shared/corpus/entra`); error codes and messages are Entra's documented
//! ones.

mod common;

use common::{case, run_cases};
use serde_json::{Value, json};

fn base() -> Value {
    let path = common::corpus().join("entra/sekoia-azure-ad/sign-in_activity6.json");
    let test: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_str(test["input"]["message"].as_str().unwrap()).unwrap()
}

fn finish(mut v: Value, line: usize) -> Value {
    let at = format!("2025-07-24T{:02}:{:02}:00Z", line / 60, line % 60);
    v["time"] = at.clone().into();
    v["properties"]["createdDateTime"] = at.into();
    v["properties"]["id"] = format!("sign-in-{line}").into();
    v
}

/// A failed sign-in with Entra's error code and message.
fn failed(code: i64, message: &str) -> Value {
    json!({"resultType": code.to_string(), "resultSignature": "None", "resultDescription": message,
           "properties": {"status": {"errorCode": code, "failureReason": message}}})
}

fn with(mut a: Value, b: &Value) -> Value {
    a = common::merged(&a, b);
    a
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<common::Case> {
    let single = json!({"properties": {"authenticationRequirement": "singleFactorAuthentication"}});
    let multi = json!({"properties": {"authenticationRequirement": "multiFactorAuthentication"}});
    vec![
        case(
            "rules/cloud/azure/signin_logs/azure_account_lockout.yml",
            vec![failed(
                50053,
                "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
            )],
            vec![failed(
                50126,
                "Error validating credentials due to invalid username or password.",
            )],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_ad_azurehound_discovery.yml",
            vec![json!({"properties": {"userAgent": "azurehound/v2.1.7"}})],
            vec![
                with(
                    failed(50126, "Invalid username or password"),
                    &json!({"properties": {"userAgent": "azurehound/v2.1.7"}}),
                ),
                json!({}),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_ad_device_registration_or_join_without_mfa.yml",
            vec![
                json!({"properties": {"resourceDisplayName": "Device Registration Service",
                                       "conditionalAccessStatus": "success",
                                       "authenticationRequirement": "singleFactorAuthentication"}}),
            ],
            vec![
                json!({"properties": {"resourceDisplayName": "Device Registration Service",
                                      "conditionalAccessStatus": "success",
                                      "authenticationRequirement": "multiFactorAuthentication"}}),
                json!({"properties": {"resourceDisplayName": "Device Registration Service",
                                      "conditionalAccessStatus": "notApplied"}}),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_ad_only_single_factor_auth_required.yml",
            vec![single.clone()],
            vec![
                multi.clone(),
                with(failed(50126, "Invalid username or password"), &single),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_ad_risky_sign_ins_with_singlefactorauth_from_unknown_devices.yml",
            vec![
                json!({"properties": {"authenticationRequirement": "singleFactorAuthentication",
                                      "riskState": "atRisk", "deviceDetail": {"trustType": ""}}}),
                // No trust type at all.
                json!({"properties": {"authenticationRequirement": "singleFactorAuthentication",
                                      "riskState": "atRisk", "deviceDetail": {"trustType": null}}}),
            ],
            vec![
                // A joined device.
                json!({"properties": {"authenticationRequirement": "singleFactorAuthentication",
                                      "riskState": "atRisk"}}),
                json!({"properties": {"authenticationRequirement": "singleFactorAuthentication",
                                      "riskState": "none", "deviceDetail": {"trustType": ""}}}),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_ad_sign_ins_from_noncompliant_devices.yml",
            vec![json!({"properties": {"deviceDetail": {"isCompliant": false}}})],
            vec![
                json!({"properties": {"deviceDetail": {"isCompliant": true}}}),
                json!({}),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_ad_sign_ins_from_unknown_devices.yml",
            vec![
                json!({"properties": {"networkLocationDetails": [], "deviceDetail": {"deviceId": ""}}}),
            ],
            vec![
                // A known device on a named network: the genuine record.
                json!({}),
                json!({"properties": {"networkLocationDetails": [], "deviceDetail": {"deviceId": ""},
                                      "authenticationRequirement": "multiFactorAuthentication"}}),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_ad_suspicious_signin_bypassing_mfa.yml",
            vec![json!({"properties": {"userAgent": "BAV2ROPC"}})],
            vec![
                with(
                    failed(50126, "Invalid username or password"),
                    &json!({"properties": {"userAgent": "BAV2ROPC"}}),
                ),
                json!({}),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_app_device_code_authentication.yml",
            vec![json!({"properties": {"message": "Device Code"}})],
            vec![json!({"properties": {"message": "ROPC"}})],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_app_ropc_authentication.yml",
            vec![json!({"properties": {"message": "ROPC"}})],
            vec![json!({"properties": {"message": "Device Code"}})],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_blocked_account_attempt.yml",
            vec![failed(50057, "Failure")],
            vec![failed(50053, "Failure")],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_conditional_access_failure.yml",
            vec![failed(53003, "Blocked by Conditional Access")],
            vec![
                failed(53000, "Device is not in required device state"),
                failed(
                    53003,
                    "Access has been blocked by Conditional Access policies",
                ),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_legacy_authentication_protocols.yml",
            vec![
                json!({"properties": {"ActivityDetails": "Sign-ins", "clientAppUsed": "IMAP",
                                       "userPrincipalName": "UPN"}}),
            ],
            vec![
                json!({"properties": {"ActivityDetails": "Sign-ins", "clientAppUsed": "Browser",
                                       "userPrincipalName": "UPN"}}),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_login_to_disabled_account.yml",
            vec![failed(
                50057,
                "User account is disabled. The account has been disabled by an administrator.",
            )],
            vec![failed(50057, "Failure")],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_mfa_denies.yml",
            vec![with(
                failed(
                    500121,
                    "Authentication failed during strong authentication request.",
                ),
                &json!({"properties": {"authenticationRequirement": "multiFactorAuthentication",
                                       "status": {"additionalDetails": "MFA denied; user declined the authentication"}}}),
            )],
            vec![
                json!({"properties": {"authenticationRequirement": "multiFactorAuthentication",
                                      "status": {"additionalDetails": "MFA completed in Azure AD"}}}),
                // Denied, but on a sign-in that did not ask for MFA (the rule wants both).
                with(
                    failed(
                        500121,
                        "Authentication failed during strong authentication request.",
                    ),
                    &json!({"properties": {"authenticationRequirement": "singleFactorAuthentication",
                                           "status": {"additionalDetails": "MFA denied; user declined the authentication"}}}),
                ),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_mfa_interrupted.yml",
            vec![
                failed(
                    50074,
                    "Strong Authentication is required. (Strong Auth required)",
                ),
                failed(
                    500121,
                    "Authentication failed during strong authentication request.",
                ),
            ],
            vec![
                failed(50074, "User did not pass the MFA challenge"),
                failed(50076, "Strong Auth required by policy"),
            ],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_unusual_authentication_interruption.yml",
            vec![
                failed(50097, "Device authentication is required"),
                failed(50155, "DeviceAuthenticationFailed"),
                failed(
                    50158,
                    "ExternalSecurityChallenge - External security challenge was not satisfied",
                ),
            ],
            vec![failed(50097, "DeviceAuthenticationFailed")],
        ),
        case(
            "rules/cloud/azure/signin_logs/azure_user_login_blocked_by_conditional_access.yml",
            vec![failed(
                53003,
                "Access has been blocked by Conditional Access policies.",
            )],
            vec![
                json!({}),
                failed(53000, "Device is not in required device state"),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn sigmahq_entra_signin_rules_find_their_events_and_not_the_look_alikes() {
    let cases = cases();
    let outcome = run_cases(&cases, &base(), "entra-signins.json", finish).await;
    assert!(outcome.failed.is_empty(), "{}", outcome.failed.join("\n\n"));
    assert_eq!(outcome.passed.len(), 18);
}
