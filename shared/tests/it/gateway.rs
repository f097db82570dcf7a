//! The carrier gateway protocol, client against the fake server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shared::clock::Clock;
use shared::integrations::gateway::client::{GatewayClient, GatewayConfig, GatewayError};
use shared::integrations::gateway::crypto::{AesEcbMd5, GatewayCrypto};
use shared::integrations::gateway::fake::{FakeCard, FakeGateway, Fault};

const SECRET: &str = "0123456789abcdef-app-secret";
const ICCID: &str = "89860012345678901234";

async fn setup(timeout_ms: u64) -> (FakeGateway, GatewayClient) {
    let crypto: Arc<dyn GatewayCrypto> = Arc::new(AesEcbMd5::new(SECRET).unwrap());
    let fake = FakeGateway::start("app-1", crypto.clone(), 0)
        .await
        .unwrap();
    fake.set_card(
        ICCID,
        FakeCard {
            started: true,
            verified: false,
            used_mb: 12.5,
        },
    );
    let client = client(&fake.url, crypto, timeout_ms);
    (fake, client)
}

fn client(url: &str, crypto: Arc<dyn GatewayCrypto>, timeout_ms: u64) -> GatewayClient {
    let cfg = GatewayConfig {
        base_url: url.to_string(),
        app_id: "app-1".into(),
        attempt_timeout: Duration::from_millis(timeout_ms),
        max_retries: 2,
    };
    GatewayClient::new(cfg, crypto, Clock::default()).unwrap()
}

#[tokio::test]
async fn a_captured_request_decrypts_to_exactly_the_params() {
    let (fake, client) = setup(2000).await;
    let flow: Value = client
        .call("/flow-card/flow", &json!({"cardNo": ICCID}))
        .await
        .unwrap();
    assert_eq!(flow, json!({"iccid": ICCID, "used": 12.5, "unit": "MB"}));
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].params, json!({"cardNo": ICCID}));
    assert!(
        (1_000_000_000..10_000_000_000).contains(&calls[0].timestamp),
        "10-digit seconds"
    );
    // Independently: the logged data decrypts to the wrapper with the key of the secret.
    let plain = AesEcbMd5::new(SECRET)
        .unwrap()
        .decrypt(&calls[0].data)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&plain).unwrap(),
        json!({"params": {"cardNo": ICCID}})
    );
    let stopped: Value = client
        .call("/flow-card/cardStop", &json!({"cardNo": ICCID}))
        .await
        .unwrap();
    assert_eq!(stopped, Value::Null, "a stop answers no data");
    assert!(!fake.card(ICCID).unwrap().started);
}

#[tokio::test]
async fn tampered_signatures_wrong_keys_and_old_timestamps_are_rejected() {
    let (fake, _) = setup(2000).await;
    let wrong_key: Arc<dyn GatewayCrypto> =
        Arc::new(AesEcbMd5::new("another-secret-of-16+").unwrap());
    let err = client(&fake.url, wrong_key, 2000)
        .call::<_, Value>("/flow-card/flow", &json!({"cardNo": ICCID}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        GatewayError::Business {
            code: 401,
            msg: "bad sign".into()
        }
    );
    // Hand-made envelopes: a tampered sign and a 13-digit millisecond timestamp.
    let crypto = AesEcbMd5::new(SECRET).unwrap();
    let data = crypto.encrypt(br#"{"params":{"cardNo":"89860012345678901234"}}"#);
    let http = shared::integrations::http_client();
    for (timestamp, sign) in [
        (1_800_000_000i64, "0".repeat(32)),
        (
            1_800_000_000_000,
            crypto.sign("app-1", &data, 1_800_000_000_000),
        ),
    ] {
        let body = json!({"appId": "app-1", "data": data, "sign": sign, "timestamp": timestamp});
        let r: Value = http
            .post(format!("{}/flow-card/flow", fake.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_ne!(r["code"], 200, "{r}");
    }
    // Unknown paths are HTTP 404 (path case matters).
    let r = http
        .post(format!("{}/flow-card/realname", fake.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn timeouts_are_retried_with_fresh_timestamps_and_the_same_data() {
    let (fake, client) = setup(700).await;
    fake.fail_next(2, Fault::Delay(Duration::from_millis(1200)));
    let started = Instant::now();
    let real: Value = client
        .call("/flow-card/realName", &json!({"cardNo": ICCID}))
        .await
        .unwrap();
    assert_eq!(real["realStatus"], false);
    let calls = fake.calls();
    assert_eq!(calls.len(), 3, "2 retries");
    assert!(
        calls.iter().all(|c| c.data == calls[0].data),
        "encrypted once"
    );
    assert!(
        calls[0].timestamp < calls[2].timestamp,
        "fresh timestamp per attempt"
    );
    assert_ne!(calls[0].sign, calls[2].sign, "fresh signature per attempt");
    // 2 × 700 ms timeouts + 100 ms + 200 ms back-off.
    assert!(
        started.elapsed() >= Duration::from_millis(1700),
        "{:?}",
        started.elapsed()
    );

    // Three timeouts in a row: the error after 3 attempts.
    fake.fail_next(3, Fault::Delay(Duration::from_millis(1200)));
    let before = fake.calls().len();
    let err = client
        .call::<_, Value>("/flow-card/flow", &json!({"cardNo": ICCID}))
        .await
        .unwrap_err();
    assert_eq!(err, GatewayError::Timeout);
    assert_eq!(fake.calls().len() - before, 3);
}

#[tokio::test]
async fn http_errors_bad_bodies_and_business_errors_are_not_retried() {
    let (fake, client) = setup(2000).await;
    let cases = [
        (Fault::Status(500), GatewayError::Status(500)),
        (
            Fault::InvalidJson,
            GatewayError::InvalidResponse(String::new()),
        ),
        (
            Fault::Business(500, "upstream busy".into()),
            GatewayError::Business {
                code: 500,
                msg: "upstream busy".into(),
            },
        ),
    ];
    for (fault, expected) in cases {
        fake.fail_next(1, fault);
        let before = fake.calls().len();
        let err = client
            .call::<_, Value>("/flow-card/flow", &json!({"cardNo": ICCID}))
            .await
            .unwrap_err();
        match (&err, &expected) {
            (GatewayError::InvalidResponse(_), GatewayError::InvalidResponse(_)) => {}
            _ => assert_eq!(err, expected),
        }
        assert_eq!(
            fake.calls().len() - before,
            1,
            "{err:?} must not be retried"
        );
    }
    // A business error of the fake itself (unknown card).
    let err = client
        .call::<_, Value>(
            "/flow-card/flow",
            &json!({"cardNo": "89860000000000000000"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        GatewayError::Business {
            code: 404,
            msg: "card not found".into()
        }
    );
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    let crypto: Arc<dyn GatewayCrypto> = Arc::new(AesEcbMd5::new(SECRET).unwrap());
    // Nothing listens on port 9.
    let client = client("http://127.0.0.1:9", crypto, 500);
    let started = Instant::now();
    let err = client
        .call::<_, Value>("/flow-card/flow", &json!({"cardNo": ICCID}))
        .await
        .unwrap_err();
    assert!(matches!(err, GatewayError::Network(_)), "{err:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "100 ms + 200 ms back-off"
    );
}
