//! Payments (issue [11]): payment configurations (masking, the single active one,
//! delete protections, sealed secrets), online agent recharges paid through the fake
//! WeChat Pay and Fuiou over real HTTP, notifications that do not verify or match,
//! replays, the expiry job and its race with a callback, late payments, and the
//! audit log.

use std::sync::OnceLock;

use serde_json::{json, Value};
use shared::domain::wallet::WalletKind;
use shared::integrations::fuiou::fake::{FakeFuiou, Tweak as FuiouTweak};
use shared::integrations::pay_keys::{generate_key_pair, parse_private_key};
use shared::integrations::wechat_pay::fake::{FakeWechatPay, Tweak};
use shared::store::{str_attr, Store};

use crate::helpers::actors::Actors;
use crate::helpers::{spawn_app_with, TestApp};

const CONFIGS: &str = "/api/admin/wechat-configs";
const RECHARGES: &str = "/api/admin/agent-recharges";
const V3_KEY: &str = "0123456789abcdefghijABCDEFGHIJ01";
const MCH_ID: &str = "1900000109";
const SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

/// Key pairs made once per test process (3072-bit generation takes a while):
/// merchant, WeChat Pay platform, Fuiou.
fn keys() -> &'static [(String, String); 3] {
    static KEYS: OnceLock<[(String, String); 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            generate_key_pair().unwrap(),
            generate_key_pair().unwrap(),
            generate_key_pair().unwrap(),
        ]
    })
}

const FUIOU: (&str, &str, &str) = ("08A9999999", "0002900F0370542", "88888888");

/// The app serving on a real port (the fakes post notifications to it), a fake
/// WeChat Pay it pays through, and the cast.
struct World {
    app: TestApp,
    url: String,
    wechat: FakeWechatPay,
    fuiou: FakeFuiou,
    cast: Actors,
}

async fn world() -> World {
    let wechat = FakeWechatPay::start_with_key(0, &keys()[1].0)
        .await
        .unwrap();
    let merchant = parse_private_key(&keys()[0].0).unwrap().to_public_key();
    wechat.register_merchant(MCH_ID, SERIAL, merchant.clone(), V3_KEY);
    let fuiou = FakeFuiou::start_with_key(0, &keys()[2].0).await.unwrap();
    fuiou.register_merchant(FUIOU.0, FUIOU.1, FUIOU.2, merchant);
    let fake_url = wechat.url.clone();
    let app = spawn_app_with(|cfg| cfg.wechat_pay_url = fake_url).await;
    let url = shared::integrations::serve_local(app.router.clone(), 0)
        .await
        .unwrap();
    let cast = Actors::new(&app).await;
    World {
        app,
        url,
        wechat,
        fuiou,
        cast,
    }
}

fn wechat_config(w: &World, name: &str) -> Value {
    json!({
        "name": name,
        "provider_type": "wechat",
        "oa_app_id": "wx8888888888888888",
        "oa_app_secret": "oa-secret-abcdefgh-1234",
        "wx_mch_id": MCH_ID,
        "wx_api_v3_key": V3_KEY,
        "wx_cert_content": "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----",
        "wx_key_content": keys()[0].0,
        "wx_serial_no": SERIAL,
        "wx_notify_url": format!("{}/api/callback/wechat-pay", w.url),
        "wx_pay_public_key_id": w.wechat.platform_key_id(),
        "wx_pay_public_key": w.wechat.platform_public_key_pem(),
    })
}

fn fuiou_config(w: &World) -> Value {
    json!({
        "name": "富友",
        "provider_type": "fuiou",
        "fy_ins_cd": FUIOU.0,
        "fy_mchnt_cd": FUIOU.1,
        "fy_term_id": FUIOU.2,
        // Fuiou hands keys out as bare Base64.
        "fy_private_key": keys()[0].0.lines().filter(|l| !l.starts_with("-----")).collect::<String>(),
        "fy_public_key": w.fuiou.fuiou_public_key_pem(),
        "fy_api_url": w.fuiou.url,
        "fy_notify_url": format!("{}/api/callback/fuiou-pay", w.url),
    })
}

async fn create_config(w: &World, name: &str) -> u64 {
    let r = w
        .app
        .post(CONFIGS, &w.cast.sa, wechat_config(w, name))
        .await;
    r.ok()["id"].as_u64().unwrap()
}

async fn activate(w: &World, id: u64) -> Value {
    let r = w
        .app
        .post(&format!("{CONFIGS}/{id}/activate"), &w.cast.sa, json!({}))
        .await;
    r.ok().clone()
}

async fn balance(store: &Store, shop: u64) -> i64 {
    store
        .wallet(shop, WalletKind::Main)
        .await
        .unwrap()
        .unwrap()
        .balance
}

/// An online recharge of `amount` for the agent's own shop: (id, recharge number).
async fn online_recharge(w: &World, amount: i64) -> (u64, String) {
    let r = w
        .app
        .post(
            RECHARGES,
            &w.cast.l1,
            json!({"shop_id": w.cast.a, "amount": amount, "payment_method": "wechat"}),
        )
        .await;
    let d = r.ok();
    assert_eq!(d["payment_channel"], "wechat_direct");
    assert!(d["payment"]["code_url"]
        .as_str()
        .unwrap()
        .starts_with("weixin://wxpay/bizpayurl"));
    (
        d["id"].as_u64().unwrap(),
        d["recharge_no"].as_str().unwrap().to_string(),
    )
}

async fn deliver(w: &World, no: &str, tweak: &Tweak) -> (u16, String) {
    let (headers, body) = w.wechat.notification(no, tweak);
    let url = format!("{}/api/callback/wechat-pay", w.url);
    w.wechat.deliver(&url, &headers, &body).await.unwrap()
}

#[tokio::test]
async fn configurations_mask_secrets_and_only_the_platform_manages_them() {
    let w = world().await;
    let id = create_config(&w, "主配置").await;
    let shown = w
        .app
        .get(&format!("{CONFIGS}/{id}"), &w.cast.platform)
        .await;
    let d = shown.ok();
    assert_eq!(d["oa_app_secret"], "oa-s***1234");
    assert_eq!(d["wx_api_v3_key"], "0123***IJ01");
    assert_eq!(d["wx_key_content"], "[已配置]");
    assert_eq!(d["wx_cert_content"], "[已配置]");
    assert_eq!(d["fy_private_key"], "[未配置]");
    assert_eq!(d["is_active"], false);
    // The stored item holds no secret in clear.
    let raw = format!("{:?}", w.app.table.scan().await);
    assert!(!raw.contains(V3_KEY) && !raw.contains("oa-secret-abcdefgh-1234"));
    assert!(!raw.contains("PRIVATE KEY"));
    // Update: an empty secret keeps, a new one replaces.
    let up = w
        .app
        .put(
            &format!("{CONFIGS}/{id}"),
            &w.cast.sa,
            json!({"wx_api_v3_key": "", "oa_app_secret": "another-secret-9999", "description": "备用"}),
        )
        .await;
    assert_eq!(up.ok()["wx_api_v3_key"], "0123***IJ01");
    assert_eq!(up.ok()["oa_app_secret"], "anot***9999");
    // Missing provider fields, bad keys.
    let mut bad = wechat_config(&w, "缺字段");
    bad["wx_mch_id"] = json!(null);
    w.app.post(CONFIGS, &w.cast.sa, bad).await.err(400, 1001);
    let mut bad = wechat_config(&w, "坏密钥");
    bad["wx_key_content"] = json!("not a key");
    w.app.post(CONFIGS, &w.cast.sa, bad).await.err(400, 1001);
    // Agents and enterprises are refused every route.
    for token in [&w.cast.l1, &w.cast.l3, &w.cast.enterprise] {
        w.app.get(CONFIGS, token).await.err(403, 1005);
        w.app
            .get(&format!("{CONFIGS}/{id}"), token)
            .await
            .err(403, 1005);
        w.app
            .post(&format!("{CONFIGS}/{id}/activate"), token, json!({}))
            .await
            .err(403, 1005);
        w.app
            .post(CONFIGS, token, wechat_config(&w, "x"))
            .await
            .err(403, 1005);
    }
    w.app
        .get(&format!("{CONFIGS}/999999"), &w.cast.sa)
        .await
        .err(404, 1170);
    let list = w.app.get(CONFIGS, &w.cast.platform).await;
    assert_eq!(list.ok()["list"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn activation_swaps_and_delete_is_refused_while_active_or_in_use() {
    let w = world().await;
    let first = create_config(&w, "一").await;
    let second = create_config(&w, "二").await;
    assert_eq!(activate(&w, first).await["is_active"], true);
    assert_eq!(activate(&w, second).await["is_active"], true);
    let active = w.app.get(&format!("{CONFIGS}/active"), &w.cast.sa).await;
    assert_eq!(active.ok()["id"], second);
    let one = w.app.get(&format!("{CONFIGS}/{first}"), &w.cast.sa).await;
    assert_eq!(one.ok()["is_active"], false);
    // Active: 1171. Referenced by a pending payment: 1172.
    w.app
        .delete(&format!("{CONFIGS}/{second}"), &w.cast.sa)
        .await
        .err(409, 1171);
    online_recharge(&w, 10_000).await;
    w.app
        .post(
            &format!("{CONFIGS}/{second}/deactivate"),
            &w.cast.sa,
            json!({}),
        )
        .await
        .ok();
    w.app
        .delete(&format!("{CONFIGS}/{second}"), &w.cast.sa)
        .await
        .err(409, 1172);
    // Nothing active: online recharges are refused.
    w.app
        .post(
            RECHARGES,
            &w.cast.l1,
            json!({"shop_id": w.cast.a, "amount": 10_000, "payment_method": "wechat"}),
        )
        .await
        .err(400, 1175);
    let none = w.app.get(&format!("{CONFIGS}/active"), &w.cast.sa).await;
    assert!(none.ok().is_null());
    // The unused one deletes, then is gone.
    w.app
        .delete(&format!("{CONFIGS}/{first}"), &w.cast.sa)
        .await
        .ok();
    w.app
        .get(&format!("{CONFIGS}/{first}"), &w.cast.sa)
        .await
        .err(404, 1170);
}

#[tokio::test]
async fn racing_activations_leave_exactly_one_active() {
    let w = world().await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(create_config(&w, &format!("配置{n}")).await);
    }
    for _round in 0..3 {
        let paths: Vec<String> = ids
            .iter()
            .map(|id| format!("{CONFIGS}/{id}/activate"))
            .collect();
        let calls = paths.iter().map(|p| w.app.post(p, &w.cast.sa, json!({})));
        for r in futures_all(calls.collect()).await {
            r.ok();
        }
        let list = w.app.get(CONFIGS, &w.cast.sa).await;
        let active: Vec<u64> = list.ok()["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["is_active"] == true)
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        assert_eq!(active.len(), 1, "{active:?}");
        let pointer = w.app.get(&format!("{CONFIGS}/active"), &w.cast.sa).await;
        assert_eq!(pointer.ok()["id"].as_u64(), Some(active[0]));
    }
}

async fn futures_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(|r| r.unwrap()).collect()
}

#[tokio::test]
async fn a_wechat_payment_credits_once_whatever_is_replayed() {
    let w = world().await;
    let id = create_config(&w, "主").await;
    activate(&w, id).await;
    let before = balance(&w.app.state.store, w.cast.a).await;
    let (rid, no) = online_recharge(&w, 25_000).await;
    // A second configuration of the same merchant and key becomes the active one:
    // the payment is still checked against the configuration the record names.
    let backup = create_config(&w, "备用").await;
    activate(&w, backup).await;
    // Refused notifications: nothing credited, a failure answered.
    let spoiled = [
        Tweak {
            wrong_serial: true,
            ..Default::default()
        },
        Tweak {
            bad_signature: true,
            ..Default::default()
        },
        Tweak {
            tampered_ciphertext: true,
            ..Default::default()
        },
        Tweak {
            amount: Some(1),
            ..Default::default()
        },
        Tweak {
            timestamp: Some(1_600_000_000),
            ..Default::default()
        },
        Tweak {
            out_trade_no: Some("XYZ20260101000001".into()),
            ..Default::default()
        },
        Tweak {
            out_trade_no: Some("ARCH20260101999999".into()),
            ..Default::default()
        },
    ];
    for tweak in &spoiled {
        let (status, body) = deliver(&w, &no, tweak).await;
        assert!(status >= 400, "{tweak:?} answered {status}");
        assert!(body.contains("FAIL"), "{body}");
    }
    // Orders and asset recharges: a clean failure until client payments exist.
    let (status, _) = deliver(
        &w,
        &no,
        &Tweak {
            out_trade_no: Some("ORD20260101000001".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(balance(&w.app.state.store, w.cast.a).await, before);
    // The real payment, then nine replays, some at once: one credit.
    let (status, body) = w.wechat.pay(&no).await.unwrap();
    assert_eq!((status, body.as_str()), (200, ""));
    let plain = Tweak::default();
    let replays = (0..9).map(|_| deliver(&w, &no, &plain));
    for (status, body) in futures_all(replays.collect()).await {
        assert_eq!((status, body.as_str()), (200, ""));
    }
    assert_eq!(balance(&w.app.state.store, w.cast.a).await, before + 25_000);
    let r = w.app.get(&format!("{RECHARGES}/{rid}"), &w.cast.l1).await;
    assert_eq!(r.ok()["status"], 2);
    let lines = w
        .app
        .table
        .scan()
        .await
        .into_iter()
        .filter(|i| str_attr(i, "event_id") == Some(&format!("recharge:{rid}")))
        .count();
    assert_eq!(lines, 1);
}

#[tokio::test]
async fn unpaid_recharges_expire_and_a_late_payment_is_refunded_by_hand() {
    let w = world().await;
    let id = create_config(&w, "主").await;
    activate(&w, id).await;
    let before = balance(&w.app.state.store, w.cast.a).await;
    let (rid, no) = online_recharge(&w, 30_000).await;
    let (other, other_no) = online_recharge(&w, 40_000).await;
    let state = &w.app.state;
    // Not yet due: nothing happens.
    state.clock.advance(29 * 60);
    let report = shared::jobs::payment_expiry::run(state).await.unwrap();
    assert_eq!(report.cancelled, 0);
    // Paid just in time.
    w.wechat.pay(&other_no).await.unwrap();
    state.clock.advance(2 * 60);
    let report = shared::jobs::payment_expiry::run(state).await.unwrap();
    assert_eq!((report.due, report.cancelled), (1, 1));
    // An overlapping run finds nothing more.
    let again = shared::jobs::payment_expiry::run(state).await.unwrap();
    assert_eq!(again.due, 0);
    let r = w.app.get(&format!("{RECHARGES}/{rid}"), &w.cast.l1).await;
    assert_eq!(r.ok()["status"], 3);
    let r = w.app.get(&format!("{RECHARGES}/{other}"), &w.cast.l1).await;
    assert_eq!(r.ok()["status"], 2);
    // The provider's order was closed; a payment arriving anyway is recorded for a
    // manual refund (once), credited never.
    assert_eq!(w.wechat.order_state(&no).as_deref(), Some("CLOSED"));
    for _ in 0..3 {
        let (status, _) = deliver(&w, &no, &Tweak::default()).await;
        assert_eq!(status, 200);
    }
    assert_eq!(balance(&state.store, w.cast.a).await, before + 40_000);
    let refunds = w
        .app
        .get("/api/admin/manual-refunds", &w.cast.platform)
        .await;
    let list = refunds.ok()["list"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["out_trade_no"], no.as_str());
    assert_eq!(list[0]["amount"], 30_000);
    let closed = w
        .app
        .post(
            &format!("/api/admin/manual-refunds/{no}/close"),
            &w.cast.platform,
            json!({"remark": "已原路退回"}),
        )
        .await;
    assert_eq!(closed.ok()["status"], "closed");
    w.app
        .post(
            &format!("/api/admin/manual-refunds/{no}/close"),
            &w.cast.platform,
            json!({}),
        )
        .await
        .err(404, 1002);
    w.app
        .get("/api/admin/manual-refunds", &w.cast.l1)
        .await
        .err(403, 1005);
}

#[tokio::test]
async fn a_callback_racing_the_expiry_job_wins_cleanly_or_loses_cleanly() {
    let w = world().await;
    let id = create_config(&w, "主").await;
    activate(&w, id).await;
    let state = &w.app.state;
    let mut credited = 0;
    let mut refunded = 0;
    // Three rounds of 31 minutes stay within the tokens' 2 hours.
    for _ in 0..3 {
        let before = balance(&state.store, w.cast.a).await;
        let (rid, no) = online_recharge(&w, 10_000).await;
        state.clock.advance(31 * 60);
        w.wechat.mark_paid(&no).ok();
        let plain = Tweak::default();
        let (answer, job) = tokio::join!(
            deliver(&w, &no, &plain),
            shared::jobs::payment_expiry::run(state)
        );
        assert_eq!(answer.0, 200);
        job.unwrap();
        let r = w.app.get(&format!("{RECHARGES}/{rid}"), &w.cast.l1).await;
        let after = balance(&state.store, w.cast.a).await;
        match r.ok()["status"].as_i64() {
            Some(2) => {
                assert_eq!(after, before + 10_000);
                credited += 1;
            }
            Some(3) => {
                assert_eq!(after, before);
                let refund = state.store.manual_refund(&no).await.unwrap();
                assert!(
                    refund.is_some(),
                    "a cancelled recharge's payment is recorded"
                );
                refunded += 1;
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
    assert_eq!(credited + refunded, 3);
}

#[tokio::test]
async fn configuration_changes_are_audited_through_the_queue() {
    let w = world().await;
    let id = create_config(&w, "审计").await;
    activate(&w, id).await;
    w.app
        .post(&format!("{CONFIGS}/{id}/deactivate"), &w.cast.sa, json!({}))
        .await
        .ok();
    let state = &w.app.state;
    let mut written = 0;
    for _ in 0..10 {
        written += shared::local::pump_audit_queue(state, 1).await.unwrap();
        if written >= 3 {
            break;
        }
    }
    let path = format!("/api/admin/audit-logs?target_type=payment_config&target_id={id}");
    let r = w.app.get(&path, &w.cast.platform).await;
    let list = r.ok()["list"].as_array().unwrap().clone();
    let actions: Vec<&str> = list
        .iter()
        .map(|e| e["operation_type"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["deactivate", "activate", "create"]);
    // Snapshots are masked.
    let text = serde_json::to_string(&list).unwrap();
    assert!(!text.contains(V3_KEY) && text.contains("0123***IJ01"));
    // Agents see no payment-configuration entries (platform objects).
    let mine = w.app.get(&path, &w.cast.l1).await;
    assert!(mine.ok()["list"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_fuiou_payment_credits_once_and_bad_notifications_are_refused() {
    let w = world().await;
    let r = w.app.post(CONFIGS, &w.cast.sa, fuiou_config(&w)).await;
    let id = r.ok()["id"].as_u64().unwrap();
    assert_eq!(r.ok()["fy_private_key"], "[已配置]");
    activate(&w, id).await;
    let before = balance(&w.app.state.store, w.cast.a).await;
    let r = w
        .app
        .post(
            RECHARGES,
            &w.cast.l1,
            json!({"shop_id": w.cast.a, "amount": 12_300, "payment_method": "wechat"}),
        )
        .await;
    let d = r.ok().clone();
    assert_eq!(d["payment_channel"], "fuyou");
    assert_eq!(d["payment_config_id"], id);
    assert!(!d["payment"]["code_url"].as_str().unwrap().is_empty());
    let no = d["recharge_no"].as_str().unwrap().to_string();
    let url = format!("{}/api/callback/fuiou-pay", w.url);
    let success = |body: &[u8]| String::from_utf8_lossy(body).contains("000000");
    for tweak in [
        FuiouTweak {
            bad_signature: true,
            ..Default::default()
        },
        FuiouTweak {
            tampered_amount: Some(1),
            ..Default::default()
        },
        FuiouTweak {
            amount: Some(1),
            ..Default::default()
        },
        FuiouTweak {
            order_no: Some("QQ20260101000001".into()),
            ..Default::default()
        },
    ] {
        let body = w.fuiou.notification(&no, &tweak);
        let (status, answer) = w.fuiou.deliver(&url, body).await.unwrap();
        assert!(!success(&answer), "{tweak:?}");
        assert_eq!(status, 400, "{tweak:?}");
    }
    assert_eq!(balance(&w.app.state.store, w.cast.a).await, before);
    let (_, answer) = w.fuiou.pay(&no).await.unwrap();
    assert!(success(&answer));
    for _ in 0..4 {
        let body = w.fuiou.notification(&no, &FuiouTweak::default());
        let (_, answer) = w.fuiou.deliver(&url, body).await.unwrap();
        assert!(success(&answer));
    }
    assert_eq!(balance(&w.app.state.store, w.cast.a).await, before + 12_300);
}

#[tokio::test]
async fn agents_see_the_audit_entries_of_their_subtree_only() {
    let w = world().await;
    // Offline recharges of shop C (under A, B) and shop D, confirmed by the platform.
    for shop in [w.cast.c, w.cast.d] {
        let r = w
            .app
            .post(
                RECHARGES,
                &w.cast.sa,
                json!({"shop_id": shop, "amount": 10_000, "payment_method": "offline"}),
            )
            .await;
        let id = r.ok()["id"].as_u64().unwrap();
        w.app
            .post(
                &format!("{RECHARGES}/{id}/offline-pay"),
                &w.cast.sa,
                json!({"operation_password": crate::helpers::ADMIN_PASSWORD}),
            )
            .await
            .ok();
    }
    assert_eq!(seen(&w, &w.cast.platform).await.len(), 2);
    let l1 = seen(&w, &w.cast.l1).await;
    assert_eq!(l1.len(), 1);
    assert!(l1[0].ends_with(&format!("/{}/", w.cast.c)));
    assert_eq!(seen(&w, &w.cast.l3).await, l1);
    let sibling = seen(&w, &w.cast.sibling).await;
    assert_eq!(sibling.len(), 1);
    assert!(sibling[0].ends_with(&format!("/{}/", w.cast.d)));
    w.app
        .get("/api/admin/audit-logs", &w.cast.enterprise)
        .await
        .err(403, 1005);
}

/// The shop paths of the offline-recharge audit entries `token` sees, sorted.
async fn seen(w: &World, token: &str) -> Vec<String> {
    let r = w
        .app
        .get(
            "/api/admin/audit-logs?operation_type=offline_recharge",
            token,
        )
        .await;
    let mut shops: Vec<String> = r.ok()["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["shop_path"].as_str().unwrap().to_string())
        .collect();
    shops.sort();
    shops
}
