//! Client ↔ fake round trips and notifications.

use std::sync::OnceLock;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use rsa::PublicKey;

use super::client::china_time;
use super::fake::{FakeFuiou, FakeOrderState, Fault, Tweak};
use super::xml::decode_body;
use super::*;
use crate::integrations::pay_keys::{generate_key_pair, parse_private_key};

/// The merchant's key pair (PEM), made once per test run.
pub(crate) fn merchant_keys() -> (String, String) {
    static KEYS: OnceLock<(String, String)> = OnceLock::new();
    KEYS.get_or_init(|| generate_key_pair().unwrap()).clone()
}

/// Fuiou's private key (PEM), made once per test run.
fn fuiou_key() -> String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| generate_key_pair().unwrap().0).clone()
}

const INS: &str = "08A9999999";
const MCHNT: &str = "0002900F0313432";
const TERM: &str = "88888888";
const NOW: i64 = 1_700_000_000;

/// Our side of the notification: decode, verify with Fuiou's key, acknowledge.
async fn receive(
    State(key): State<PublicKey>,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, Vec<u8>) {
    let (status, body) = match parse_notify(&body).and_then(|n| verify_notify(&n, &key).map(|_| n))
    {
        Ok(n) if n.paid() => answer_success(),
        Ok(_) => answer_failure("支付未成功"),
        Err(e) => answer_failure(&e.to_string()),
    };
    (axum::http::StatusCode::from_u16(status).unwrap(), body)
}

async fn notify_server(key: PublicKey) -> String {
    let app = Router::new()
        .route("/notify", post(receive))
        .with_state(key);
    let base = crate::integrations::serve_local(app, 0).await.unwrap();
    format!("{base}/notify")
}

/// A fake with the merchant registered, and a client of that merchant.
async fn setup() -> (FakeFuiou, FuiouClient) {
    let fake = FakeFuiou::start_with_key(0, &fuiou_key()).await.unwrap();
    let key = parse_private_key(&merchant_keys().0).unwrap();
    fake.register_merchant(INS, MCHNT, TERM, key.to_public_key());
    let notify_url = notify_server(fake.fuiou_public_key()).await;
    let client = FuiouClient::new(Merchant {
        ins_cd: INS.into(),
        mchnt_cd: MCHNT.into(),
        term_id: TERM.into(),
        private_key: key,
        fuiou_public_key: fake.fuiou_public_key(),
        api_url: format!("{}/", fake.url),
        notify_url,
    });
    (fake, client)
}

fn answer_fields(answer: (u16, Vec<u8>)) -> Fields {
    assert_eq!(answer.0, 200);
    decode_body(&answer.1).unwrap()
}

#[test]
fn china_time_is_utc_plus_8() {
    assert_eq!(china_time(NOW).unwrap(), "20231115061320");
    assert!(china_time(i64::MAX).is_err());
}

#[tokio::test]
async fn pre_create_query_and_pay() {
    let (fake, client) = setup().await;
    let qr = client
        .pre_create("ORD202311150000000001", "流量套餐", 990, "10.0.0.1", NOW)
        .await
        .unwrap();
    assert!(qr.starts_with("weixin://wxpay/bizpayurl?pr="), "{qr}");
    let order = fake.order("ORD202311150000000001").unwrap();
    assert_eq!((order.amount, order.order_type.as_str()), (990, "WECHAT"));
    assert_eq!(order.goods_des, "流量套餐");
    let call = &fake.calls()[0];
    assert_eq!(call.path, "/preCreate");
    assert_eq!(call.fields["txn_begin_ts"], "20231115061320");
    assert_eq!(call.fields["curr_type"], "CNY");
    assert_eq!(call.fields["goods_detail"], "");

    let again = client
        .pre_create("ORD202311150000000001", "流量套餐", 990, "10.0.0.1", NOW)
        .await;
    assert!(matches!(again, Err(FuiouError::Rejected { code, .. }) if code == "2001"));

    let q = client
        .query("ORD202311150000000001", "WECHAT")
        .await
        .unwrap();
    assert!(!q.paid());
    assert_eq!(q.order_amt, 990);

    let answer = fake.pay("ORD202311150000000001").await.unwrap();
    assert_eq!(answer_fields(answer)["result_code"], SUCCESS);
    assert_eq!(
        fake.order_state("ORD202311150000000001"),
        Some(FakeOrderState::Paid)
    );
    let q = client
        .query("ORD202311150000000001", "WECHAT")
        .await
        .unwrap();
    assert!(q.paid() && q.transaction_id.starts_with("4200"));
    let missing = client.query("ORD202311150000000009", "WECHAT").await;
    assert!(matches!(missing, Err(FuiouError::Rejected { code, .. }) if code == "2002"));
}

#[tokio::test]
async fn wx_pre_create_jsapi_and_letpay() {
    let (fake, client) = setup().await;
    for (no, trade) in [
        ("ORD202311150000000002", TradeType::Jsapi),
        ("ORD202311150000000003", TradeType::Letpay),
    ] {
        let p = client
            .wx_pre_create(
                no,
                "流量套餐",
                1500,
                "10.0.0.1",
                NOW,
                trade,
                "wxapp1",
                "oUser1",
            )
            .await
            .unwrap();
        assert_eq!(p.app_id, "wxapp1");
        assert!(p.package.starts_with("prepay_id=wx"));
        let json = serde_json::to_value(&p).unwrap();
        for k in [
            "appId",
            "timeStamp",
            "nonceStr",
            "package",
            "signType",
            "paySign",
        ] {
            assert!(json[k].as_str().is_some_and(|v| !v.is_empty()), "{k}");
        }
        let order = fake.order(no).unwrap();
        assert_eq!(order.order_type, trade.as_str());
        assert_eq!((order.sub_openid.as_str(), order.amount), ("oUser1", 1500));
    }
    let call = &fake.calls()[1];
    assert_eq!(call.path, "/wxPreCreate");
    assert_eq!(call.fields["trade_type"], "LETPAY");
    let missing = client
        .wx_pre_create(
            "ORD202311150000000004",
            "x",
            1,
            "10.0.0.1",
            NOW,
            TradeType::Jsapi,
            "",
            "oUser1",
        )
        .await;
    assert!(matches!(missing, Err(FuiouError::Invalid(_))));
}

#[tokio::test]
async fn fuiou_refuses_wrong_keys_merchants_and_fields() {
    let (fake, client) = setup().await;
    // Signed with another key than the one registered.
    let mut wrong = client.merchant().clone();
    wrong.private_key = fake.fuiou_private_key();
    let r = FuiouClient::new(wrong.clone())
        .pre_create("ORD202311150000000005", "套餐", 100, "10.0.0.1", NOW)
        .await;
    assert!(matches!(r, Err(FuiouError::Rejected { code, .. }) if code == "1010"));
    // Unknown merchant, or a term_id that does not match.
    let mut stranger = client.merchant().clone();
    stranger.term_id = "12345678".into();
    let r = FuiouClient::new(stranger)
        .pre_create("ORD202311150000000005", "套餐", 100, "10.0.0.1", NOW)
        .await;
    assert!(matches!(r, Err(FuiouError::Rejected { code, .. }) if code == "1011"));
    // A bad order number, text outside GBK, a non-positive amount.
    let r = client
        .pre_create("ORD-1", "套餐", 100, "10.0.0.1", NOW)
        .await;
    assert!(matches!(r, Err(FuiouError::Rejected { code, .. }) if code == "1012"));
    let r = client
        .pre_create("ORD202311150000000006", "套餐😀", 100, "10.0.0.1", NOW)
        .await;
    assert!(matches!(r, Err(FuiouError::Invalid(_))));
    let r = client
        .pre_create("ORD202311150000000006", "套餐", 0, "10.0.0.1", NOW)
        .await;
    assert!(matches!(r, Err(FuiouError::Invalid(_))));
    assert!(fake.order("ORD202311150000000005").is_none());
}

#[tokio::test]
async fn client_refuses_answers_it_cannot_trust() {
    let (fake, client) = setup().await;
    let place = |no: &'static str| {
        let client = client.clone();
        async move { client.pre_create(no, "套餐", 100, "10.0.0.1", NOW).await }
    };
    fake.fail_next(Fault::BadSignature);
    assert_eq!(
        place("ORD202311150000000007").await,
        Err(FuiouError::BadSignature)
    );
    fake.fail_next(Fault::Garbage);
    assert!(matches!(
        place("ORD202311150000000008").await,
        Err(FuiouError::Malformed(_))
    ));
    fake.fail_next(Fault::Status(502));
    assert!(matches!(
        place("ORD202311150000000009").await,
        Err(FuiouError::Transport(_))
    ));
    // Configured with the wrong Fuiou public key: nothing Fuiou says is believed.
    let mut wrong = client.merchant().clone();
    wrong.fuiou_public_key = wrong.private_key.to_public_key();
    let r = FuiouClient::new(wrong)
        .pre_create("ORD202311150000000010", "套餐", 100, "10.0.0.1", NOW)
        .await;
    assert_eq!(r, Err(FuiouError::BadSignature));
    // Nobody listening.
    let mut gone = client.merchant().clone();
    gone.api_url = "http://127.0.0.1:9".into();
    let r = FuiouClient::new(gone)
        .pre_create("ORD202311150000000011", "套餐", 100, "10.0.0.1", NOW)
        .await;
    assert!(matches!(r, Err(FuiouError::Transport(_))));
}

#[tokio::test]
async fn notifications_parse_verify_and_refuse_forgeries() {
    let (fake, client) = setup().await;
    let no = "ORD202311150000000012";
    client
        .wx_pre_create(
            no,
            "流量套餐",
            2990,
            "10.0.0.1",
            NOW,
            TradeType::Letpay,
            "wxapp1",
            "oU9",
        )
        .await
        .unwrap();
    let key = fake.fuiou_public_key();

    let n = parse_notify(&fake.notification(no, &Tweak::default())).unwrap();
    verify_notify(&n, &key).unwrap();
    assert!(n.paid());
    assert_eq!(
        (n.mchnt_cd.as_str(), n.mchnt_order_no.as_str()),
        (MCHNT, no)
    );
    assert_eq!((n.order_amt, n.settle_order_amt), (2990, 2990));
    assert_eq!(
        (n.order_type.as_str(), n.fields["user_id"].as_str()),
        ("LETPAY", "oU9")
    );
    assert_eq!(n.txn_fin_ts.len(), 14);

    let once = Tweak {
        encoded_once: true,
        ..Tweak::default()
    };
    verify_notify(&parse_notify(&fake.notification(no, &once)).unwrap(), &key).unwrap();

    for tweak in [
        Tweak {
            bad_signature: true,
            ..Tweak::default()
        },
        Tweak {
            tampered_amount: Some(1),
            ..Tweak::default()
        },
    ] {
        let n = parse_notify(&fake.notification(no, &tweak)).unwrap();
        assert_eq!(verify_notify(&n, &key), Err(FuiouError::BadSignature));
    }
    // Signed by Fuiou, but not what we expect: the caller compares.
    let cheap = Tweak {
        amount: Some(1),
        ..Tweak::default()
    };
    let n = parse_notify(&fake.notification(no, &cheap)).unwrap();
    verify_notify(&n, &key).unwrap();
    assert_eq!(n.order_amt, 1);
    let failed = Tweak {
        result_code: Some("010001".into()),
        ..Tweak::default()
    };
    let n = parse_notify(&fake.notification(no, &failed)).unwrap();
    verify_notify(&n, &key).unwrap();
    assert!(!n.paid());
    let other = Tweak {
        order_no: Some("ORD999".into()),
        ..Tweak::default()
    };
    assert_eq!(
        parse_notify(&fake.notification(no, &other))
            .unwrap()
            .mchnt_order_no,
        "ORD999"
    );
    // Verified with another key (say, another configuration's): refused.
    assert_eq!(
        verify_notify(
            &parse_notify(&fake.notification(no, &Tweak::default())).unwrap(),
            &client.merchant().private_key.to_public_key()
        ),
        Err(FuiouError::BadSignature)
    );

    // Through HTTP: our answer to a forged and to a failed notification.
    let url = &client.merchant().notify_url;
    let forged = fake.notification(
        no,
        &Tweak {
            bad_signature: true,
            ..Tweak::default()
        },
    );
    let a = answer_fields(fake.deliver(url, forged).await.unwrap());
    assert_eq!(a["result_code"], "000001");
    assert_eq!(a["result_msg"], "bad Fuiou signature");
    let a = answer_fields(
        fake.deliver(url, fake.notification(no, &failed))
            .await
            .unwrap(),
    );
    assert_eq!(
        (a["result_code"].as_str(), a["result_msg"].as_str()),
        ("000001", "支付未成功")
    );
    assert_eq!(fake.order_state(no), Some(FakeOrderState::NotPaid));
    let a = answer_fields(fake.pay(no).await.unwrap());
    assert_eq!(
        (a["result_code"].as_str(), a["result_msg"].as_str()),
        (SUCCESS, "SUCCESS")
    );
    assert!(fake.pay("ORD000000").await.is_err());
}

#[test]
fn answers_are_gbk_xml() {
    let (status, body) = answer_success();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(text
        .ends_with("<xml><result_code>000000</result_code><result_msg>SUCCESS</result_msg></xml>"));
    let (_, body) = answer_failure("验签失败");
    assert!(body.windows(2).any(|w| w == [0xD1, 0xE9]), "验 in GBK");
    let f = decode_body(&body).unwrap();
    assert_eq!(
        (f["result_code"].as_str(), f["result_msg"].as_str()),
        ("000001", "验签失败")
    );
    let f = decode_body(&answer_failure("😀").1).unwrap();
    assert_eq!(f["result_msg"], "FAIL");
}

#[test]
fn garbage_notifications_are_malformed_never_a_panic() {
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"req=".to_vec(),
        b"req=%".to_vec(),
        b"req=%3Cxml%3E%3C%2Fxml%3E".to_vec(),
        b"<xml><result_code>000000</result_code></xml>".to_vec(),
        b"<xml><result_code>0</result_code><mchnt_order_no>A</mchnt_order_no><order_amt>x</order_amt></xml>".to_vec(),
        vec![0xFF; 64],
    ];
    for body in cases {
        assert!(
            matches!(parse_notify(&body), Err(FuiouError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    // Pseudo-random bytes, with and without a form prefix: errors only.
    const ALPHABET: &[u8] = b"<>/%&=;#x0aZ +\xD6\xD0";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..2000 {
        let len = (i % 97) as usize;
        let mut body: Vec<u8> = if i % 2 == 0 {
            b"req=".to_vec()
        } else {
            b"<xml>".to_vec()
        };
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            body.push(ALPHABET[(x % ALPHABET.len() as u64) as usize]);
        }
        let _ = parse_notify(&body);
    }
}
