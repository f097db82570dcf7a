//! Client ↔ fake round trips, and notifications from the fake through our checks.

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use rsa::PublicKey;

use super::fake::{FakeWechatPay, Forge, Tweak};
use super::sign::{authorization, nonce_str, verify};
use super::*;
use crate::integrations::pay_keys::{generate_key_pair, parse_private_key, parse_public_key};

const MCH: &str = "1900009191";
const SERIAL: &str = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C";
const APP: &str = "wxd678efh567hg6787";
const V3_KEY: &str = "0123456789abcdefghijABCDEFGHIJ01";

/// Key pair `i` (0: merchant, 1: platform, 2: a stranger), generated once per run.
pub(super) fn key_pem(i: usize) -> &'static (String, String) {
    static KEYS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..3).map(|_| s.spawn(generate_key_pair)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        })
    });
    &keys[i]
}

fn merchant(fake: &FakeWechatPay, key: usize, notify_url: &str) -> Merchant {
    Merchant {
        mch_id: MCH.into(),
        app_id: APP.into(),
        serial_no: SERIAL.into(),
        private_key: parse_private_key(&key_pem(key).0).unwrap(),
        api_v3_key: V3_KEY.into(),
        platform_key_id: fake.platform_key_id().into(),
        platform_key: parse_public_key(fake.platform_public_key_pem()).unwrap(),
        notify_url: notify_url.into(),
    }
}

async fn setup(notify_url: &str) -> (FakeWechatPay, WechatPayClient) {
    let fake = FakeWechatPay::start_with_key(0, &key_pem(1).0)
        .await
        .unwrap();
    let public = parse_public_key(&key_pem(0).1).unwrap();
    fake.register_merchant(MCH, SERIAL, public, V3_KEY);
    let client = WechatPayClient::new(&fake.url, merchant(&fake, 0, notify_url));
    (fake, client)
}

fn expire() -> i64 {
    chrono::Utc::now().timestamp() + 900
}

fn rejected(e: PayError) -> (u16, String) {
    match e {
        PayError::Rejected { status, code, .. } => (status, code),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn native_orders_query_close_and_duplicates() {
    let (fake, client) = setup("https://example.com/notify").await;
    let url = client
        .native("ORD0001", "流量卡套餐", 990, expire())
        .await
        .unwrap();
    assert!(url.starts_with("weixin://wxpay/bizpayurl?pr="), "{url}");
    let sent: serde_json::Value = serde_json::from_str(&fake.calls()[0].body).unwrap();
    assert!(sent["time_expire"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(
        sent["amount"],
        serde_json::json!({"total": 990, "currency": "CNY"})
    );
    assert_eq!(sent["notify_url"], "https://example.com/notify");
    assert_eq!(fake.order_state("ORD0001").as_deref(), Some("NOTPAY"));

    // The same order again: the same code_url; other content: OUT_TRADE_NO_USED.
    let exp = fake.order("ORD0001").unwrap().request["time_expire"].clone();
    let at = chrono::DateTime::parse_from_rfc3339(exp.as_str().unwrap()).unwrap();
    let again = client
        .native("ORD0001", "流量卡套餐", 990, at.timestamp())
        .await;
    assert_eq!(again.unwrap(), url);
    let other = client
        .native("ORD0001", "流量卡套餐", 991, at.timestamp())
        .await;
    assert_eq!(
        rejected(other.unwrap_err()),
        (403, "OUT_TRADE_NO_USED".into())
    );

    let tx = client.query("ORD0001").await.unwrap();
    assert_eq!((tx.trade_state.as_str(), tx.amount.total), ("NOTPAY", 990));
    assert_eq!((tx.transaction_id, tx.success_time), (None, None));
    assert_eq!(
        fake.calls().last().unwrap().path,
        format!("/v3/pay/transactions/out-trade-no/ORD0001?mchid={MCH}")
    );

    client.close("ORD0001").await.unwrap();
    assert_eq!(fake.calls().last().unwrap().status, 204);
    assert_eq!(client.query("ORD0001").await.unwrap().trade_state, "CLOSED");
    let closed = client
        .native("ORD0001", "流量卡套餐", 990, at.timestamp())
        .await;
    assert_eq!(rejected(closed.unwrap_err()), (400, "ORDER_CLOSED".into()));

    let missing = client.query("ORD9999").await.unwrap_err();
    assert_eq!(rejected(missing), (404, "ORDER_NOT_EXIST".into()));
    let zero = client
        .native("ORD0002", "x", 0, expire())
        .await
        .unwrap_err();
    assert_eq!(rejected(zero), (400, "PARAM_ERROR".into()));
    assert!(matches!(
        client.query("bad/no").await,
        Err(PayError::Invalid(_))
    ));
}

#[tokio::test]
async fn jsapi_params_are_signed_and_payment_shows_in_query() {
    let (fake, client) = setup("https://example.com/notify").await;
    let p = client
        .jsapi(
            "CRCH000001",
            "充值",
            5000,
            expire(),
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        )
        .await
        .unwrap();
    assert!(p.package.starts_with("prepay_id=wx"), "{}", p.package);
    assert_eq!((p.app_id.as_str(), p.sign_type.as_str()), (APP, "RSA"));
    let message = format!(
        "{}\n{}\n{}\n{}\n",
        p.app_id, p.time_stamp, p.nonce_str, p.package
    );
    let merchant_public = parse_public_key(&key_pem(0).1).unwrap();
    assert!(verify(&merchant_public, message.as_bytes(), &p.pay_sign));
    let wire = serde_json::to_value(&p).unwrap();
    for k in [
        "appId",
        "timeStamp",
        "nonceStr",
        "package",
        "signType",
        "paySign",
    ] {
        assert!(wire.get(k).is_some(), "{k}");
    }
    let no_payer = client.jsapi("CRCH000002", "充值", 5000, expire(), "").await;
    assert_eq!(rejected(no_payer.unwrap_err()), (400, "PARAM_ERROR".into()));

    fake.mark_paid("CRCH000001").unwrap();
    let tx = client.query("CRCH000001").await.unwrap();
    assert_eq!(tx.trade_state, "SUCCESS");
    assert_eq!(tx.trade_type.as_deref(), Some("JSAPI"));
    assert_eq!(tx.payer.unwrap().openid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    assert_eq!(tx.amount.payer_total, Some(5000));
    assert!(tx.transaction_id.unwrap().starts_with("4200"));
    assert!(tx.success_time.unwrap().ends_with("+08:00"));
    let paid = client.close("CRCH000001").await.unwrap_err();
    assert_eq!(rejected(paid), (400, "ORDERPAID".into()));
}

#[tokio::test]
async fn wrong_credentials_and_requests_are_refused() {
    let (fake, _) = setup("https://example.com/notify").await;
    let stranger = WechatPayClient::new(&fake.url, merchant(&fake, 2, "https://e.com/n"));
    let e = stranger
        .native("ORD0003", "x", 1, expire())
        .await
        .unwrap_err();
    assert_eq!(rejected(e), (401, "SIGN_ERROR".into()));
    let mut m = merchant(&fake, 0, "https://e.com/n");
    m.serial_no = "0000".into();
    let e = WechatPayClient::new(&fake.url, m)
        .query("ORD0003")
        .await
        .unwrap_err();
    assert_eq!(rejected(e), (401, "SIGN_ERROR".into()));
    let mut m = merchant(&fake, 0, "https://e.com/n");
    m.mch_id = "1230000109".into();
    let e = WechatPayClient::new(&fake.url, m)
        .query("ORD0003")
        .await
        .unwrap_err();
    assert_eq!(rejected(e), (400, "MCH_NOT_EXISTS".into()));

    // By hand: a signature for another path, or too old, does not pass.
    let m = merchant(&fake, 0, "https://e.com/n");
    let body = r#"{"mchid":"1900009191"}"#;
    let send = |auth: String| {
        crate::integrations::http_client()
            .post(format!(
                "{}/v3/pay/transactions/out-trade-no/ORD0003/close",
                fake.url
            ))
            .header("Authorization", auth)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("User-Agent", "test")
            .body(body)
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    let path = "/v3/pay/transactions/out-trade-no/ORD0003/close";
    let other_path = authorization(
        &m,
        "POST",
        "/v3/pay/transactions/native",
        body,
        now,
        &nonce_str(32),
    );
    assert_eq!(send(other_path.unwrap()).await.unwrap().status(), 401);
    let old = authorization(&m, "POST", path, body, now - 301, &nonce_str(32));
    assert_eq!(send(old.unwrap()).await.unwrap().status(), 401);
    let good = authorization(&m, "POST", path, body, now, &nonce_str(32));
    // Signed right, so the order lookup answers.
    assert_eq!(send(good.unwrap()).await.unwrap().status(), 404);
    let codes: Vec<_> = fake.calls().iter().map(|c| c.code.clone()).collect();
    assert_eq!(
        codes[codes.len() - 3..],
        [
            Some("SIGN_ERROR".into()),
            Some("SIGN_ERROR".into()),
            Some("ORDER_NOT_EXIST".into())
        ]
    );
}

#[tokio::test]
async fn responses_that_do_not_verify_are_refused() {
    let (fake, client) = setup("https://example.com/notify").await;
    fake.forge_next_responses(1, Forge::BadSignature);
    let e = client
        .native("ORD0004", "x", 1, expire())
        .await
        .unwrap_err();
    assert_eq!(e, PayError::BadSignature);
    fake.forge_next_responses(1, Forge::WrongSerial);
    assert_eq!(
        client.query("ORD0004").await.unwrap_err(),
        PayError::BadSignature
    );
    assert_eq!(client.query("ORD0004").await.unwrap().trade_state, "NOTPAY");
    let mut m = merchant(&fake, 0, "https://e.com/n");
    m.platform_key = parse_public_key(&key_pem(2).1).unwrap();
    let e = WechatPayClient::new(&fake.url, m)
        .close("ORD0004")
        .await
        .unwrap_err();
    assert_eq!(e, PayError::BadSignature);
}

fn header_pairs(h: &[(String, String)]) -> Result<NotifyHeaders, NotifyError> {
    NotifyHeaders::from_pairs(h.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

fn check(
    fake: &FakeWechatPay,
    h: &[(String, String)],
    body: &[u8],
    key: &str,
) -> Result<Transaction, NotifyError> {
    let now = chrono::Utc::now().timestamp();
    let public: PublicKey = fake.platform_public_key();
    verify_notification(
        &header_pairs(h)?,
        body,
        fake.platform_key_id(),
        &public,
        now,
    )?;
    let n = parse_notification(body)?;
    assert_eq!(
        (n.event_type.as_str(), n.resource.associated_data.as_str()),
        ("TRANSACTION.SUCCESS", "transaction")
    );
    decrypt_transaction(&n.resource, key)
}

#[tokio::test]
async fn notifications_verify_decrypt_and_fail_precisely() {
    let (fake, client) = setup("https://example.com/notify").await;
    client.native("ORD0005", "x", 1234, expire()).await.unwrap();
    let (h, body) = fake.notification("ORD0005", &Tweak::default());
    let tx = check(&fake, &h, &body, V3_KEY).unwrap();
    assert_eq!(
        (tx.out_trade_no.as_str(), tx.trade_state.as_str()),
        ("ORD0005", "SUCCESS")
    );
    assert_eq!(
        (tx.mchid.as_str(), tx.appid.as_str(), tx.amount.total),
        (MCH, APP, 1234)
    );
    assert_eq!(tx.amount.currency, "CNY");
    assert!(tx.transaction_id.is_some() && tx.success_time.is_some());
    let lower: Vec<_> = h
        .iter()
        .map(|(n, v)| (n.to_lowercase(), v.clone()))
        .collect();
    assert!(
        check(&fake, &lower, &body, V3_KEY).is_ok(),
        "names are case-insensitive"
    );

    let spoilt = |t: Tweak| {
        let (h, b) = fake.notification("ORD0005", &t);
        check(&fake, &h, &b, V3_KEY)
    };
    let wrong_serial = Tweak {
        wrong_serial: true,
        ..Tweak::default()
    };
    assert_eq!(spoilt(wrong_serial), Err(NotifyError::WrongSerial));
    let bad_sig = Tweak {
        bad_signature: true,
        ..Tweak::default()
    };
    assert_eq!(spoilt(bad_sig), Err(NotifyError::BadSignature));
    let tampered = Tweak {
        tampered_ciphertext: true,
        ..Tweak::default()
    };
    assert_eq!(spoilt(tampered), Err(NotifyError::Decrypt));
    let old = chrono::Utc::now().timestamp() - 301;
    assert_eq!(
        spoilt(Tweak {
            timestamp: Some(old),
            ..Tweak::default()
        }),
        Err(NotifyError::Stale)
    );
    let amount = spoilt(Tweak {
        amount: Some(1),
        ..Tweak::default()
    })
    .unwrap();
    assert_eq!(
        (amount.amount.total, amount.amount.payer_total),
        (1, Some(1))
    );
    let unknown = Tweak {
        out_trade_no: Some("ORD7777".into()),
        ..Tweak::default()
    };
    assert_eq!(spoilt(unknown).unwrap().out_trade_no, "ORD7777");
    let (h2, b2) = fake.notification("NEVER1", &Tweak::default());
    let never = check(&fake, &h2, &b2, V3_KEY).unwrap();
    assert_eq!(
        (never.out_trade_no.as_str(), never.amount.total),
        ("NEVER1", 1)
    );

    // Body altered after signing; wrong API v3 key; a header missing.
    let mut altered = body.clone();
    altered.push(b' ');
    assert_eq!(
        check(&fake, &h, &altered, V3_KEY),
        Err(NotifyError::BadSignature)
    );
    assert_eq!(
        check(&fake, &h, &body, "ZZZZ456789abcdefghijABCDEFGHIJ01"),
        Err(NotifyError::Decrypt)
    );
    let partial: Vec<_> = h
        .iter()
        .filter(|(n, _)| n != "Wechatpay-Signature")
        .cloned()
        .collect();
    assert_eq!(
        check(&fake, &partial, &body, V3_KEY),
        Err(NotifyError::MissingHeader("Wechatpay-Signature"))
    );
    assert!(matches!(
        parse_notification(b"{}"),
        Err(NotifyError::Malformed(_))
    ));
}

#[derive(Clone)]
struct Receiver {
    key_id: String,
    key: PublicKey,
    got: Arc<Mutex<Vec<(String, Transaction)>>>,
}

/// A notify endpoint built from the public functions only.
async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let lookup = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let now = chrono::Utc::now().timestamp();
    let outcome = NotifyHeaders::from_lookup(lookup)
        .and_then(|h| verify_notification(&h, &body, &r.key_id, &r.key, now))
        .and_then(|()| parse_notification(&body))
        .and_then(|n| Ok((n.id.clone(), decrypt_transaction(&n.resource, V3_KEY)?)));
    let (status, text) = match outcome {
        Ok(got) => {
            r.got.lock().unwrap().push(got);
            answer_success()
        }
        Err(e) => answer_failure(&e.to_string()),
    };
    (StatusCode::from_u16(status).unwrap(), text)
}

#[tokio::test]
async fn pay_posts_the_notification_to_notify_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let notify_url = format!("http://{}/notify", listener.local_addr().unwrap());
    let (fake, client) = setup(&notify_url).await;
    let receiver = Receiver {
        key_id: fake.platform_key_id().into(),
        key: fake.platform_public_key(),
        got: Arc::default(),
    };
    let app = Router::new()
        .route("/notify", post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    client.native("ORD0006", "x", 300, expire()).await.unwrap();
    assert_eq!(fake.pay("ORD0006").await.unwrap(), (200, String::new()));
    assert_eq!(fake.order_state("ORD0006").as_deref(), Some("SUCCESS"));
    assert_eq!(fake.pay("ORD0006").await.unwrap().0, 200, "redelivery");
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, got[1].0, "a redelivery keeps the notification id");
    assert_eq!(
        (got[0].1.out_trade_no.as_str(), got[0].1.amount.total),
        ("ORD0006", 300)
    );

    let (h, b) = fake.notification(
        "ORD0006",
        &Tweak {
            bad_signature: true,
            ..Tweak::default()
        },
    );
    let (status, text) = fake.deliver(&notify_url, &h, &b).await.unwrap();
    assert_eq!(status, 500);
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["code"], "FAIL");
    assert_eq!(fake.deliveries().len(), 3);

    client.native("ORD0007", "x", 1, expire()).await.unwrap();
    client.close("ORD0007").await.unwrap();
    assert!(
        fake.pay("ORD0007").await.is_err(),
        "a closed order cannot be paid"
    );
    assert_eq!(answer_success(), (200, String::new()));
    assert_eq!(answer_failure_with(401, "bad").0, 401);
}

#[tokio::test]
async fn a_fake_started_with_its_own_key_and_merchant_debug_hide_secrets() {
    let fake = FakeWechatPay::start(0).await.unwrap();
    let id = fake.platform_key_id();
    assert!(id.starts_with("PUB_KEY_ID_01") && id.len() == 39, "{id}");
    let public = parse_public_key(fake.platform_public_key_pem()).unwrap();
    assert_eq!(public, fake.platform_private_key().to_public_key());
    let shown = format!("{:?}", merchant(&fake, 0, "https://e.com/n"));
    assert!(shown.contains(MCH) && !shown.contains(V3_KEY), "{shown}");
    assert!(
        !shown.contains("BoxedUint") && !shown.contains("primes"),
        "{shown}"
    );
}
