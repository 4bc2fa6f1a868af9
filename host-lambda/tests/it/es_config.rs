//! `EsConfig::from_env`: every variable read, every bad value named.

use expect_test::{Expect, expect};
use sluicegate_lambda::es::EsConfig;

/// Reads a configuration from `KEY=value` lines and renders it, or the error.
#[track_caller]
fn check(env: &str, expect: Expect) {
    let vars: Vec<(&str, &str)> = env.lines().filter_map(|line| line.trim().split_once('=')).collect();
    let get = |name: &str| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned());
    let rendered = match EsConfig::from_env(get) {
        Ok(config) => format!("{config:?}"),
        Err(error) => format!("error: {error}"),
    };
    expect.assert_eq(&rendered);
}

#[test]
fn defaults() {
    check(
        "SLUICEGATE_ES_URL=http://127.0.0.1:9200",
        expect![[
            r#"EsConfig { url: "http://127.0.0.1:9200", auth: None, gzip: true, action: Index, request_timeout: 30s, backoff: Backoff { max_attempts: 8, base: 100ms, cap: 5s, start_margin: 250ms }, max_concurrency: 4, collection: None, ca_bundle: None }"#
        ]],
    );
}

#[test]
fn every_setting() {
    check(
        "SLUICEGATE_ES_URL=https://search-logs.eu-west-1.es.amazonaws.com/prefix/
         SLUICEGATE_ES_AUTH=sigv4-aoss
         SLUICEGATE_ES_REGION=eu-west-1
         AWS_REGION=us-east-1
         SLUICEGATE_ES_GZIP=false
         SLUICEGATE_BULK_ACTION=create
         SLUICEGATE_ES_TIMEOUT_MS=2500
         SLUICEGATE_ES_MAX_ATTEMPTS=3
         SLUICEGATE_ES_CONCURRENCY=2
         SLUICEGATE_ES_COLLECTION_TYPE=timeseries",
        expect![[
            r#"EsConfig { url: "https://search-logs.eu-west-1.es.amazonaws.com/prefix/", auth: SigV4 { service: Aoss, region: "eu-west-1" }, gzip: false, action: Create, request_timeout: 2.5s, backoff: Backoff { max_attempts: 3, base: 100ms, cap: 5s, start_margin: 250ms }, max_concurrency: 2, collection: Some(TimeSeries), ca_bundle: None }"#
        ]],
    );
}

#[test]
fn sigv4_region_defaults_to_aws_region() {
    check(
        "SLUICEGATE_ES_URL=https://x.es.amazonaws.com
         SLUICEGATE_ES_AUTH=sigv4-es
         AWS_REGION=us-east-1",
        expect![[
            r#"EsConfig { url: "https://x.es.amazonaws.com", auth: SigV4 { service: Es, region: "us-east-1" }, gzip: true, action: Index, request_timeout: 30s, backoff: Backoff { max_attempts: 8, base: 100ms, cap: 5s, start_margin: 250ms }, max_concurrency: 4, collection: None, ca_bundle: None }"#
        ]],
    );
    check(
        "SLUICEGATE_ES_URL=https://x.es.amazonaws.com
         SLUICEGATE_ES_AUTH=sigv4-es",
        expect!["error: SLUICEGATE_ES_REGION is not set: sigv4 needs a region (and AWS_REGION is not set either)"],
    );
}

#[test]
fn secrets_are_not_printed() {
    check(
        "SLUICEGATE_ES_URL=https://es.example.com
         SLUICEGATE_ES_AUTH=basic
         SLUICEGATE_ES_USERNAME=shipper
         SLUICEGATE_ES_PASSWORD=hunter2",
        expect![[
            r#"EsConfig { url: "https://es.example.com", auth: Basic { username: "shipper", password: "<redacted>" }, gzip: true, action: Index, request_timeout: 30s, backoff: Backoff { max_attempts: 8, base: 100ms, cap: 5s, start_margin: 250ms }, max_concurrency: 4, collection: None, ca_bundle: None }"#
        ]],
    );
    check(
        "SLUICEGATE_ES_URL=https://es.example.com
         SLUICEGATE_ES_AUTH=api-key
         SLUICEGATE_ES_API_KEY=c2VjcmV0OmtleQ==",
        expect![[
            r#"EsConfig { url: "https://es.example.com", auth: ApiKey("<redacted>"), gzip: true, action: Index, request_timeout: 30s, backoff: Backoff { max_attempts: 8, base: 100ms, cap: 5s, start_margin: 250ms }, max_concurrency: 4, collection: None, ca_bundle: None }"#
        ]],
    );
}

#[test]
fn bad_values_name_the_variable() {
    check("", expect!["error: SLUICEGATE_ES_URL is not set: the elasticsearch endpoint is needed"]);
    check("SLUICEGATE_ES_URL=ftp://es", expect![[r#"error: SLUICEGATE_ES_URL is "ftp://es": scheme ftp is not http or https"#]]);
    check(
        "SLUICEGATE_ES_URL=es.example.com:9200",
        expect![[r#"error: SLUICEGATE_ES_URL is "es.example.com:9200": no scheme (expected http:// or https://)"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es:9200/?pretty",
        expect![[r#"error: SLUICEGATE_ES_URL is "http://es:9200/?pretty": a query is not allowed in the base url"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://user:pw@es:9200",
        expect![[
            r#"error: SLUICEGATE_ES_URL is "http://***@es:9200": credentials in the url are not allowed (use SLUICEGATE_ES_AUTH=basic)"#
        ]],
    );
    check(
        "SLUICEGATE_ES_URL=https://shipper:hunter2@es:9200/prefix",
        expect![[
            r#"error: SLUICEGATE_ES_URL is "https://***@es:9200/prefix": credentials in the url are not allowed (use SLUICEGATE_ES_AUTH=basic)"#
        ]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es:9200\n SLUICEGATE_ES_AUTH=basic\n SLUICEGATE_ES_USERNAME=u\n SLUICEGATE_ES_PASSWORD=p",
        expect![[
            r#"error: SLUICEGATE_ES_URL is "http://es:9200": plain http would send the password in clear text: use https, or set SLUICEGATE_ES_ALLOW_HTTP=true for a cluster on a private network"#
        ]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es:9200\n SLUICEGATE_ES_AUTH=api-key\n SLUICEGATE_ES_API_KEY=k",
        expect![[
            r#"error: SLUICEGATE_ES_URL is "http://es:9200": plain http would send the api key in clear text: use https, or set SLUICEGATE_ES_ALLOW_HTTP=true for a cluster on a private network"#
        ]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es:9200\n SLUICEGATE_ES_CA_BUNDLE=/nonexistent/ca.pem",
        expect![[r#"error: SLUICEGATE_ES_CA_BUNDLE is "/nonexistent/ca.pem": no such file"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es\n SLUICEGATE_ES_AUTH=sigv4",
        expect![[r#"error: SLUICEGATE_ES_AUTH is "sigv4": expected sigv4-es, sigv4-aoss, basic, api-key or none"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es\n SLUICEGATE_ES_AUTH=basic\n SLUICEGATE_ES_USERNAME=u",
        expect!["error: SLUICEGATE_ES_PASSWORD is not set: basic auth needs a password"],
    );
    check(
        "SLUICEGATE_ES_URL=http://es\n SLUICEGATE_ES_AUTH=api-key",
        expect!["error: SLUICEGATE_ES_API_KEY is not set: api-key auth needs the key"],
    );
    check(
        "SLUICEGATE_ES_URL=http://es\n SLUICEGATE_ES_GZIP=maybe",
        expect![[r#"error: SLUICEGATE_ES_GZIP is "maybe": expected true or false"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es\n SLUICEGATE_BULK_ACTION=update",
        expect![[r#"error: SLUICEGATE_BULK_ACTION is "update": unknown bulk action "update" (expected index or create)"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es\n SLUICEGATE_ES_TIMEOUT_MS=0",
        expect![[r#"error: SLUICEGATE_ES_TIMEOUT_MS is "0": expected a positive whole number"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es\n SLUICEGATE_ES_TIMEOUT_MS=5s",
        expect![[r#"error: SLUICEGATE_ES_TIMEOUT_MS is "5s": expected a positive whole number"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://es\n SLUICEGATE_ES_MAX_ATTEMPTS=-1",
        expect![[r#"error: SLUICEGATE_ES_MAX_ATTEMPTS is "-1": expected a positive whole number"#]],
    );
}

#[test]
fn serverless_needs_its_collection_type_and_time_series_take_no_ids() {
    let aoss = "SLUICEGATE_ES_URL=https://abc.us-east-1.aoss.amazonaws.com\nSLUICEGATE_ES_AUTH=sigv4-aoss\nAWS_REGION=us-east-1";
    check(
        aoss,
        expect![[
            r#"error: SLUICEGATE_ES_COLLECTION_TYPE is not set: sigv4-aoss ships to an OpenSearch Serverless collection: say whether it is timeseries, search or vector (time-series and vector collections refuse document ids)"#
        ]],
    );
    check(
        &format!("{aoss}\nSLUICEGATE_ES_COLLECTION_TYPE=logs"),
        expect![[r#"error: SLUICEGATE_ES_COLLECTION_TYPE is "logs": expected timeseries, search or vector"#]],
    );
    check(
        "SLUICEGATE_ES_URL=http://127.0.0.1:9200\nSLUICEGATE_ES_COLLECTION_TYPE=search",
        expect![[r#"error: SLUICEGATE_ES_COLLECTION_TYPE is "search": only for OpenSearch Serverless (SLUICEGATE_ES_AUTH=sigv4-aoss)"#]],
    );
    let sends_ids = |collection: &str| {
        let env = format!("{aoss}\nSLUICEGATE_ES_COLLECTION_TYPE={collection}");
        let vars: Vec<(&str, &str)> = env.lines().filter_map(|line| line.split_once('=')).collect();
        EsConfig::from_env(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())).unwrap().sends_ids()
    };
    assert_eq!((sends_ids("timeseries"), sends_ids("vector"), sends_ids("search")), (false, false, true));
    assert!(EsConfig::new("http://127.0.0.1:9200").sends_ids());
}
