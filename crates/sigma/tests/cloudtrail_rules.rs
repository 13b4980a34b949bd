//! SigmaHQ's CloudTrail rules (`rules/cloud/aws/cloudtrail`) against CloudTrail records
//! as AWS documents them (one record per line, as shippers write them), each with calls
//! it must find and look-alikes it must not: the same call on another service, another
//! call on the same service, or the call with what the rule filters out. The base record
//! is Sekoia's genuine `iam:CreateUser` (`../shared/corpus/cloudtrail`), made an IAM
//! user's call.

mod common;

use common::{case, run_cases};
use serde_json::{Value, json};

fn base() -> Value {
    let path = common::corpus().join("cloudtrail/sekoia-aws-cloudtrail.messages.ndjson");
    let text = std::fs::read_to_string(path).unwrap();
    let genuine = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|o| o["file"] == "event_iam.json")
        .expect("the IAM event");
    let mut r: Value = serde_json::from_str(genuine["message"].as_str().unwrap()).unwrap();
    r["userIdentity"] = json!({
        "type": "IAMUser", "principalId": "AIDA22222222222222", "accountId": "1111111111",
        "arn": "arn:aws:iam::1111111111:user/ops-admin", "accessKeyId": "AKIA22222222222222",
        "userName": "ops-admin"
    });
    r["requestParameters"] = json!({});
    r["responseElements"] = Value::Null;
    r
}

fn finish(mut v: Value, line: usize) -> Value {
    v["eventTime"] = format!("2024-03-01T{:02}:{:02}:00Z", line / 60, line % 60).into();
    v["eventID"] = format!("00000000-0000-4000-8000-{line:012}").into();
    v
}

/// A call: `service` is the part of `eventSource` before `.amazonaws.com`.
fn call(service: &str, name: &str) -> Value {
    json!({"eventSource": format!("{service}.amazonaws.com"), "eventName": name})
}

fn with(a: Value, b: Value) -> Value {
    common::merged(&a, &b)
}

/// Calls a rule of (service, names) must find, and the look-alikes: every name on
/// another service and `other` on the same one.
fn calls(rule: &'static str, service: &str, names: &[&str], other: &str) -> common::Case {
    let mut must_not: Vec<Value> = names.iter().map(|n| call("iam-lookalike", n)).collect();
    must_not.push(call(service, other));
    case(
        rule,
        names.iter().map(|n| call(service, n)).collect(),
        must_not,
    )
}

const D: &str = "rules/cloud/aws/cloudtrail/";

macro_rules! rule {
    ($f:literal) => {
        concat!("rules/cloud/aws/cloudtrail/", $f)
    };
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<common::Case> {
    let failed = json!({"errorCode": "AccessDenied", "errorMessage": "User is not authorized"});
    vec![
        calls(
            rule!("aws_cloudtrail_bedrock_guardrail_deleted.yml"),
            "bedrock",
            &["DeleteGuardrail"],
            "CreateGuardrail",
        ),
        calls(
            rule!("aws_cloudtrail_bedrock_guardrail_updated.yml"),
            "bedrock",
            &["UpdateGuardrail"],
            "GetGuardrail",
        ),
        case(
            rule!("aws_cloudtrail_bucket_deleted.yml"),
            vec![call("s3", "DeleteBucket")],
            vec![
                with(call("s3", "DeleteBucket"), failed.clone()),
                call("s3", "CreateBucket"),
            ],
        ),
        case(
            rule!("aws_cloudtrail_console_login_failed_authentication.yml"),
            vec![with(
                call("signin", "ConsoleLogin"),
                json!({"errorMessage": "Failed authentication",
                 "responseElements": {"ConsoleLogin": "Failure"}}),
            )],
            vec![with(
                call("signin", "ConsoleLogin"),
                json!({"responseElements": {"ConsoleLogin": "Success"}}),
            )],
        ),
        case(
            rule!("aws_cloudtrail_console_login_success_without_mfa.yml"),
            vec![with(
                call("signin", "ConsoleLogin"),
                json!({"additionalEventData": {"MFAUsed": "No"},
                 "responseElements": {"ConsoleLogin": "Success"}}),
            )],
            vec![
                with(
                    call("signin", "ConsoleLogin"),
                    json!({"additionalEventData": {"MFAUsed": "Yes"},
                     "responseElements": {"ConsoleLogin": "Success"}}),
                ),
                with(
                    call("signin", "ConsoleLogin"),
                    json!({"additionalEventData": {"MFAUsed": "No"},
                     "errorMessage": "Failed authentication", "responseElements": {"ConsoleLogin": "Failure"}}),
                ),
            ],
        ),
        calls(
            rule!("aws_cloudtrail_disable_logging.yml"),
            "cloudtrail",
            &["StopLogging", "UpdateTrail", "DeleteTrail"],
            "StartLogging",
        ),
        case(
            rule!("aws_cloudtrail_guardduty_detector_deleted_or_updated.yml"),
            vec![
                call("guardduty", "DeleteDetector"),
                with(
                    call("guardduty", "UpdateDetector"),
                    json!({"requestParameters": {"detectorId": "12abc", "enable": false}}),
                ),
            ],
            vec![
                with(
                    call("guardduty", "UpdateDetector"),
                    json!({"requestParameters": {"detectorId": "12abc", "enable": true}}),
                ),
                with(call("guardduty", "DeleteDetector"), failed.clone()),
            ],
        ),
        case(
            rule!("aws_cloudtrail_imds_malicious_usage.yml"),
            vec![with(
                call("s3", "ListBuckets"),
                json!({"sourceIPAddress": "203.0.113.9", "userIdentity": {"type": "AssumedRole",
                 "arn": "arn:aws:sts::1111111111:assumed-role/aws:ec2-instance/i-0123456789abcdef0"}}),
            )],
            vec![
                with(
                    call("ssm", "UpdateInstanceInformation"),
                    json!({"userIdentity": {"type": "AssumedRole",
                     "arn": "arn:aws:sts::1111111111:assumed-role/aws:ec2-instance/i-0123456789abcdef0"}}),
                ),
                with(
                    call("s3", "ListBuckets"),
                    json!({"userIdentity": {"type": "AssumedRole",
                     "arn": "arn:aws:sts::1111111111:assumed-role/deploy/ci"}}),
                ),
            ],
        ),
        calls(
            rule!("aws_cloudtrail_new_acl_entries.yml"),
            "ec2",
            &["CreateNetworkAclEntry"],
            "DeleteNetworkAclEntry",
        ),
        calls(
            rule!("aws_cloudtrail_new_route_added.yml"),
            "ec2",
            &["CreateRoute"],
            "DescribeRouteTables",
        ),
        case(
            rule!("aws_cloudtrail_pua_trufflehog.yml"),
            vec![with(
                call("sts", "GetCallerIdentity"),
                json!({"userAgent": "TruffleHog"}),
            )],
            vec![with(
                call("sts", "GetCallerIdentity"),
                json!({"userAgent": "aws-cli/2.15.0"}),
            )],
        ),
        calls(
            rule!("aws_cloudtrail_region_enabled.yml"),
            "account",
            &["EnableRegion"],
            "DisableRegion",
        ),
        calls(
            rule!("aws_cloudtrail_security_group_change_ingress_egress.yml"),
            "ec2",
            &[
                "AuthorizeSecurityGroupEgress",
                "AuthorizeSecurityGroupIngress",
                "RevokeSecurityGroupEgress",
                "RevokeSecurityGroupIngress",
            ],
            "DescribeSecurityGroups",
        ),
        calls(
            rule!("aws_cloudtrail_security_group_change_loadbalancer.yml"),
            "elasticloadbalancing",
            &["ApplySecurityGroupsToLoadBalancer", "SetSecurityGroups"],
            "DescribeLoadBalancers",
        ),
        calls(
            rule!("aws_cloudtrail_security_group_change_rds.yml"),
            "rds",
            &[
                "AuthorizeDBSecurityGroupIngress",
                "CreateDBSecurityGroup",
                "DeleteDBSecurityGroup",
                "RevokeDBSecurityGroupIngress",
            ],
            "DescribeDBSecurityGroups",
        ),
        case(
            rule!("aws_cloudtrail_ssm_malicious_usage.yml"),
            vec![call("ssm", "SendCommand")],
            vec![
                with(call("ssm", "SendCommand"), failed.clone()),
                call("ssm", "ListCommands"),
            ],
        ),
        case(
            rule!("aws_cloudtrail_vpc_flow_logs_deleted.yml"),
            vec![call("ec2", "DeleteFlowLogs")],
            vec![
                with(call("ec2", "DeleteFlowLogs"), failed.clone()),
                call("ec2", "CreateFlowLogs"),
            ],
        ),
        calls(
            rule!("aws_config_disable_recording.yml"),
            "config",
            &["DeleteDeliveryChannel", "StopConfigurationRecorder"],
            "StartConfigurationRecorder",
        ),
        case(
            rule!("aws_console_getsignintoken.yml"),
            vec![with(
                call("signin", "GetSigninToken"),
                json!({"userAgent": "python-requests/2.31.0"}),
            )],
            vec![
                with(
                    call("signin", "GetSigninToken"),
                    json!({"userAgent": "Jersey/${project.version} (HttpUrlConnection 1.8.0_392)"}),
                ),
                call("signin", "ConsoleLogin"),
            ],
        ),
        calls(
            rule!("aws_delete_identity.yml"),
            "ses",
            &["DeleteIdentity"],
            "VerifyEmailIdentity",
        ),
        case(
            // The rule also asks for a `status` the CloudTrail record format has not got.
            rule!("aws_delete_saml_provider.yml"),
            vec![with(
                call("iam", "DeleteSAMLProvider"),
                json!({"status": "success"}),
            )],
            vec![
                call("iam", "DeleteSAMLProvider"),
                with(
                    call("iam", "CreateSAMLProvider"),
                    json!({"status": "success"}),
                ),
            ],
        ),
        case(
            rule!("aws_disable_bucket_versioning.yml"),
            vec![with(
                call("s3", "PutBucketVersioning"),
                json!({"requestParameters": {"bucketName": "finance",
                 "VersioningConfiguration": {"Status": "Suspended", "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}}}),
            )],
            vec![with(
                call("s3", "PutBucketVersioning"),
                json!({"requestParameters": {"bucketName": "finance",
                 "VersioningConfiguration": {"Status": "Enabled"}}}),
            )],
        ),
        calls(
            rule!("aws_ec2_disable_encryption.yml"),
            "ec2",
            &["DisableEbsEncryptionByDefault"],
            "EnableEbsEncryptionByDefault",
        ),
        calls(
            rule!("aws_ec2_import_key_pair_activity.yml"),
            "ec2",
            &["ImportKeyPair"],
            "CreateKeyPair",
        ),
        case(
            rule!("aws_ec2_startup_script_change.yml"),
            vec![with(
                call("ec2", "ModifyInstanceAttribute"),
                json!({"requestParameters": {"instanceId": "i-0abc", "attribute": "userData"}}),
            )],
            vec![with(
                call("ec2", "ModifyInstanceAttribute"),
                json!({"requestParameters": {"instanceId": "i-0abc", "attribute": "instanceType"}}),
            )],
        ),
        case(
            rule!("aws_ec2_vm_export_failure.yml"),
            vec![with(
                call("ec2", "CreateInstanceExportTask"),
                json!({"responseElements": {"exportTask": {"state": "active"}}}),
            )],
            vec![
                with(call("ec2", "CreateInstanceExportTask"), failed.clone()),
                with(
                    call("ec2", "CreateInstanceExportTask"),
                    json!({"responseElements": {"result": "Failure"}}),
                ),
            ],
        ),
        case(
            rule!("aws_ecs_task_definition_cred_endpoint_query.yml"),
            vec![with(
                call("ecs", "RegisterTaskDefinition"),
                json!({"requestParameters": {"family": "x",
                 "containerDefinitions": [{"name": "a", "command": ["sh", "-c", "curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}]}}),
            )],
            vec![with(
                call("ecs", "RegisterTaskDefinition"),
                json!({"requestParameters": {"family": "x",
                 "containerDefinitions": [{"name": "a", "command": ["nginx"]}]}}),
            )],
        ),
        calls(
            rule!("aws_efs_fileshare_modified_or_deleted.yml"),
            "elasticfilesystem",
            &["DeleteFileSystem"],
            "CreateFileSystem",
        ),
        calls(
            rule!("aws_efs_fileshare_mount_modified_or_deleted.yml"),
            "elasticfilesystem",
            &["DeleteMountTarget"],
            "CreateMountTarget",
        ),
        calls(
            rule!("aws_eks_cluster_created_or_deleted.yml"),
            "eks",
            &["CreateCluster", "DeleteCluster"],
            "DescribeCluster",
        ),
        calls(
            rule!("aws_elasticache_security_group_created.yml"),
            "elasticache",
            &["CreateCacheSecurityGroup"],
            "DescribeCacheSecurityGroups",
        ),
        calls(
            rule!("aws_elasticache_security_group_modified_or_deleted.yml"),
            "elasticache",
            &[
                "DeleteCacheSecurityGroup",
                "AuthorizeCacheSecurityGroupIngress",
                "RevokeCacheSecurityGroupIngress",
                "AuthorizeCacheSecurityGroupEgress",
                "RevokeCacheSecurityGroupEgress",
            ],
            "DescribeCacheSecurityGroups",
        ),
        case(
            rule!("aws_enum_buckets.yml"),
            vec![call("s3", "ListBuckets")],
            vec![with(
                call("s3", "ListBuckets"),
                json!({"userIdentity": {"type": "AssumedRole",
                 "arn": "arn:aws:sts::1111111111:assumed-role/backup/nightly"}}),
            )],
        ),
        calls(
            rule!("aws_guardduty_disruption.yml"),
            "guardduty",
            &["CreateIPSet"],
            "ListIPSets",
        ),
        case(
            rule!("aws_iam_backdoor_users_keys.yml"),
            vec![with(
                call("iam", "CreateAccessKey"),
                json!({"requestParameters": {"userName": "victim"},
                 "responseElements": {"accessKey": {"userName": "victim", "status": "Active"}}}),
            )],
            vec![call("iam", "ListAccessKeys")],
        ),
        case(
            rule!("aws_iam_s3browser_loginprofile_creation.yml"),
            vec![
                with(
                    call("iam", "CreateLoginProfile"),
                    json!({"userAgent": "S3 Browser 11.5.7 https://s3browser.com"}),
                ),
                with(
                    call("iam", "GetLoginProfile"),
                    json!({"userAgent": "S3 Browser 11.5.7 https://s3browser.com"}),
                ),
            ],
            vec![call("iam", "CreateLoginProfile")],
        ),
        case(
            rule!("aws_iam_s3browser_templated_s3_bucket_policy_creation.yml"),
            vec![with(
                call("iam", "PutUserPolicy"),
                json!({"userAgent": "S3 Browser 11.5.7 https://s3browser.com",
                 "requestParameters": {"userName": "x", "policyName": "p",
                 "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::<YOUR-BUCKET-NAME>/*\"]}]}"}}),
            )],
            vec![with(
                call("iam", "PutUserPolicy"),
                json!({"userAgent": "S3 Browser 11.5.7 https://s3browser.com",
                 "requestParameters": {"userName": "x", "policyName": "p",
                 "policyDocument": "{\"Statement\":[{\"Effect\":\"Deny\",\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::finance/*\"]}]}"}}),
            )],
        ),
        case(
            rule!("aws_iam_s3browser_user_or_accesskey_creation.yml"),
            vec![
                with(
                    call("iam", "CreateUser"),
                    json!({"userAgent": "S3 Browser 11.5.7 https://s3browser.com"}),
                ),
                with(
                    call("iam", "CreateAccessKey"),
                    json!({"userAgent": "S3 Browser 11.5.7 https://s3browser.com"}),
                ),
            ],
            vec![call("iam", "CreateUser")],
        ),
        calls(
            rule!("aws_kms_import_key_material.yml"),
            "kms",
            &["ImportKeyMaterial", "DeleteImportedKeyMaterial"],
            "GetParametersForImport",
        ),
        calls(
            rule!("aws_lambda_function_url.yml"),
            "lambda",
            &["CreateFunctionUrlConfig"],
            "GetFunctionUrlConfig",
        ),
        case(
            rule!("aws_new_lambda_layer_attached.yml"),
            vec![with(
                call("lambda", "UpdateFunctionConfiguration20150331v2"),
                json!({"requestParameters": {"functionName": "f",
                 "layers": ["arn:aws:lambda:us-east-1:999999999999:layer:evil:1"]}}),
            )],
            vec![with(
                call("lambda", "UpdateFunctionConfiguration20150331v2"),
                json!({"requestParameters": {"functionName": "f", "timeout": 30}}),
            )],
        ),
        calls(
            rule!("aws_passed_role_to_glue_development_endpoint.yml"),
            "glue",
            &[
                "CreateDevEndpoint",
                "DeleteDevEndpoint",
                "UpdateDevEndpoint",
            ],
            "GetDevEndpoints",
        ),
        case(
            rule!("aws_rds_change_master_password.yml"),
            vec![with(
                call("rds", "ModifyDBInstance"),
                json!({"responseElements": {"pendingModifiedValues": {"masterUserPassword": "****"}}}),
            )],
            vec![with(
                call("rds", "ModifyDBInstance"),
                json!({"responseElements": {"pendingModifiedValues": {"dBInstanceClass": "db.m5.large"}}}),
            )],
        ),
        calls(
            rule!("aws_rds_dbcluster_actions.yml"),
            "rds",
            &["ModifyDBCluster", "DeleteDBCluster"],
            "DescribeDBClusters",
        ),
        case(
            rule!("aws_rds_public_db_restore.yml"),
            vec![with(
                call("rds", "RestoreDBInstanceFromDBSnapshot"),
                json!({"responseElements": {"publiclyAccessible": true}}),
            )],
            vec![with(
                call("rds", "RestoreDBInstanceFromDBSnapshot"),
                json!({"responseElements": {"publiclyAccessible": false}}),
            )],
        ),
        case(
            rule!("aws_root_account_usage.yml"),
            vec![with(
                call("iam", "CreateUser"),
                json!({"userIdentity": {"type": "Root", "arn": "arn:aws:iam::1111111111:root"}}),
            )],
            vec![
                with(
                    call("health", "SendNotification"),
                    json!({"eventType": "AwsServiceEvent",
                     "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1111111111:root"}}),
                ),
                call("iam", "CreateUser"),
            ],
        ),
        calls(
            rule!("aws_route_53_domain_transferred_lock_disabled.yml"),
            "route53",
            &["DisableDomainTransferLock"],
            "EnableDomainTransferLock",
        ),
        calls(
            rule!("aws_route_53_domain_transferred_to_another_account.yml"),
            "route53",
            &["TransferDomainToAnotherAwsAccount"],
            "ListDomains",
        ),
        calls(
            rule!("aws_s3_data_management_tampering.yml"),
            "s3",
            &[
                "PutBucketLogging",
                "PutBucketWebsite",
                "PutEncryptionConfiguration",
                "PutLifecycleConfiguration",
                "PutReplicationConfiguration",
                "ReplicateObject",
                "RestoreObject",
            ],
            "GetBucketLogging",
        ),
        calls(
            rule!("aws_securityhub_finding_evasion.yml"),
            "securityhub",
            &[
                "BatchUpdateFindings",
                "DeleteInsight",
                "UpdateFindings",
                "UpdateInsight",
            ],
            "GetFindings",
        ),
        calls(
            rule!("aws_snapshot_backup_exfiltration.yml"),
            "ec2",
            &["ModifySnapshotAttribute"],
            "DescribeSnapshotAttribute",
        ),
        case(
            rule!("aws_sso_idp_change.yml"),
            vec![
                call(
                    "sso-directory",
                    "DisableExternalIdPConfigurationForDirectory",
                ),
                call("sso", "AssociateDirectory"),
            ],
            vec![
                call("sso", "ListInstances"),
                call("iam", "AssociateDirectory"),
            ],
        ),
        case(
            rule!("aws_sts_assumerole_misuse.yml"),
            vec![with(
                call("s3", "GetObject"),
                json!({"userIdentity": {"type": "AssumedRole",
                 "arn": "arn:aws:sts::1111111111:assumed-role/deploy/ci",
                 "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::1111111111:role/deploy"}}}}),
            )],
            vec![call("s3", "GetObject")],
        ),
        case(
            rule!("aws_sts_getcalleridentity_trufflehog.yml"),
            vec![with(
                call("sts", "GetCallerIdentity"),
                json!({"userAgent": "TruffleHog aws-sdk-go/1.44"}),
            )],
            vec![call("sts", "GetCallerIdentity")],
        ),
        case(
            rule!("aws_sts_getsessiontoken_misuse.yml"),
            vec![call("sts", "GetSessionToken")],
            vec![with(
                call("sts", "GetSessionToken"),
                json!({"userIdentity": {"type": "Root", "arn": "arn:aws:iam::1111111111:root"}}),
            )],
        ),
        case(
            rule!("aws_susp_saml_activity.yml"),
            vec![
                call("sts", "AssumeRoleWithSAML"),
                call("iam", "UpdateSAMLProvider"),
            ],
            vec![call("sts", "AssumeRole"), call("iam", "AssumeRoleWithSAML")],
        ),
        case(
            rule!("aws_update_login_profile.yml"),
            vec![with(
                call("iam", "UpdateLoginProfile"),
                json!({"requestParameters": {"userName": "victim"}}),
            )],
            vec![
                // A user changing their own (the filter compares the two fields as given).
                with(
                    call("iam", "UpdateLoginProfile"),
                    json!({"requestParameters": {"userName": "arn:aws:iam::1111111111:user/ops-admin"}}),
                ),
                call("iam", "GetLoginProfile"),
            ],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn sigmahq_cloudtrail_rules_find_their_calls_and_not_the_look_alikes() {
    let cases = cases();
    assert!(cases.iter().all(|c| c.rule.starts_with(D)));
    let outcome = run_cases(&cases, &base(), "cloudtrail.ndjson", finish).await;
    assert!(outcome.failed.is_empty(), "{}", outcome.failed.join("\n\n"));
    assert_eq!(outcome.passed.len(), 57);
}
