//! Test harness: every test gets its own table on the local emulator and the full
//! router, exercised with real HTTP requests through `tower::ServiceExt::oneshot`.

pub mod actors;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use shared::api::app;
use shared::api::extract::ClientIp;
use shared::app::AppState;
use shared::config::Config;
use shared::store::calls::CallCounter;
use shared::store::{schema, Store};
use tower::ServiceExt;

pub mod assets;

/// Password of the super admin every test app starts with.
pub const ADMIN_PASSWORD: &str = "super-secret-1";

/// The local emulator's endpoint (set by `scripts/test.sh`).
pub fn endpoint() -> String {
    std::env::var("CMP_TEST_AWS_ENDPOINT")
        .expect("CMP_TEST_AWS_ENDPOINT is not set: run the tests with scripts/test.sh")
}

/// A DynamoDB client for the emulator, with the call counter installed.
pub fn client() -> Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .interceptor(CallCounter)
        .build();
    Client::from_conf(conf)
}

/// A fresh table; dropped (deleted) with the guard.
pub struct TestTable {
    pub store: Store,
}

impl TestTable {
    pub async fn new() -> Self {
        let name = format!("t-{}", uuid::Uuid::new_v4().simple());
        let client = client();
        schema::create_table(&client, &name)
            .await
            .expect("create table");
        Self {
            store: Store::new(client, &name),
        }
    }

    /// Every item of the table (tests only; the service never scans).
    pub async fn scan(&self) -> Vec<shared::store::Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .store
                .client()
                .scan()
                .table_name(self.store.table())
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return items,
            }
        }
    }
}

impl TestTable {
    /// Keys of the business items (ignoring id counters, rate-limit windows, sessions
    /// and audit entries), to prove a refused request wrote nothing.
    pub async fn entity_keys(&self) -> std::collections::BTreeSet<(String, String)> {
        self.keys_where(|_| true).await
    }

    /// Like [`TestTable::entity_keys`], without soft-deleted items.
    pub async fn live_keys(&self) -> std::collections::BTreeSet<(String, String)> {
        self.keys_where(|i| !i.contains_key("deleted_at")).await
    }

    async fn keys_where(
        &self,
        keep: impl Fn(&shared::store::Item) -> bool,
    ) -> std::collections::BTreeSet<(String, String)> {
        self.scan()
            .await
            .iter()
            .filter(|i| keep(i))
            .map(|i| {
                let get = |k| {
                    shared::store::str_attr(i, k)
                        .unwrap_or_default()
                        .to_string()
                };
                (get("pk"), get("sk"))
            })
            .filter(|(pk, sk)| {
                !["COUNTER#", "RL#", "AUDIT#"]
                    .iter()
                    .any(|p| pk.starts_with(p))
                    && !sk.starts_with("SESSION#")
            })
            .collect()
    }
}

impl Drop for TestTable {
    fn drop(&mut self) {
        let store = self.store.clone();
        // Leave nothing behind: delete the table on a helper thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let _ = rt.block_on(schema::delete_table(store.client(), store.table()));
        })
        .join();
    }
}

/// The whole API over a fresh table, with a seeded super admin.
pub struct TestApp {
    pub table: TestTable,
    pub state: AppState,
    pub router: Router,
}

/// A response, decoded.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Resp {
    /// The envelope's business code.
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(-1)
    }

    /// The envelope's data.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// DynamoDB calls the request used.
    pub fn ddb_read_units(&self) -> f64 {
        self.headers["x-ddb-read-units"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn ddb_calls(&self) -> usize {
        self.headers["x-ddb-calls"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Items the request's DynamoDB operations read (a Query's scanned items, a get's
    /// returned ones).
    pub fn ddb_items_read(&self) -> usize {
        self.headers["x-ddb-items-read"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Panics unless the request succeeded; returns the data.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected success, got {:?}",
            self.body
        );
        assert_eq!(self.code(), 0, "{:?}", self.body);
        self.data()
    }

    /// Asserts an error with this HTTP status and business code.
    #[track_caller]
    pub fn err(&self, status: u16, code: i64) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "unexpected answer {:?}",
            self.body
        );
        assert!(self.body["data"].is_null());
        assert!(self.body["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with("+08:00")));
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with configuration changes (e.g. a small import chunk size).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    // Failed tests show the service's warnings and errors.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let table = TestTable::new().await;
    let mut cfg = Config::for_local(table.store.table(), &endpoint());
    cfg.super_admin_password = Some(ADMIN_PASSWORD.into());
    cfg.bucket = format!("b-{}", uuid::Uuid::new_v4().simple());
    tweak(&mut cfg);
    let queue = format!("q-{}.fifo", uuid::Uuid::new_v4().simple());
    let state = shared::local::ensure(cfg, &endpoint(), &queue)
        .await
        .expect("local infra");
    shared::services::auth::bootstrap(&state)
        .await
        .expect("bootstrap");
    let router = app(state.clone());
    TestApp {
        table,
        state,
        router,
    }
}

impl TestApp {
    /// The body of a GET without a token, as text (pages that are not JSON).
    pub async fn raw_get(&self, path: &str) -> String {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let res = self.router.clone().oneshot(req).await.expect("router");
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    /// Sends a raw request through the router.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let res = self.router.clone().oneshot(req).await.expect("router");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        Resp {
            status,
            body,
            headers,
        }
    }

    /// Sends a JSON request, with a bearer token when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.call_from("127.0.0.1", method, path, token, body).await
    }

    /// Like [`TestApp::call`], from client IP `ip`.
    pub async fn call_from(
        &self,
        ip: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        req.extensions_mut().insert(ClientIp(ip.into()));
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call("PUT", path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call("DELETE", path, Some(token), None).await
    }

    /// Logs in; returns the whole token pair.
    pub async fn login_pair(&self, username: &str, password: &str) -> Value {
        let r = self
            .call(
                "POST",
                "/api/admin/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        r.ok().clone()
    }

    /// Logs in; returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        self.login_pair(username, password).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The super admin's access token.
    pub async fn admin(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates an enabled customer role holding every permission meant for agents
    /// and enterprises (what the built-in "代理商管理员" holds); returns its id.
    pub async fn customer_role(&self, token: &str, name: &str) -> u64 {
        let codes: Vec<&str> = shared::domain::permissions::CATALOGUE
            .iter()
            .filter(|d| d.audience == shared::domain::permissions::Audience::Everyone)
            .map(|d| d.code)
            .collect();
        self.role_with(token, name, 2, &codes).await
    }

    /// Creates an enabled role of `role_type` holding exactly `codes`; returns its id.
    pub async fn role_with(&self, token: &str, name: &str, role_type: u8, codes: &[&str]) -> u64 {
        let r = self
            .post(
                "/api/admin/roles",
                token,
                json!({"role_name": name, "role_type": role_type}),
            )
            .await;
        let id = r.ok()["id"].as_u64().unwrap();
        let ids = self.permission_ids(token, codes).await;
        self.put(
            &format!("/api/admin/roles/{id}/permissions"),
            token,
            json!({ "permission_ids": ids }),
        )
        .await
        .ok();
        id
    }

    /// Ids of the permissions with these codes.
    pub async fn permission_ids(&self, token: &str, codes: &[&str]) -> Vec<u64> {
        fn walk(nodes: &Value, out: &mut Vec<(String, u64)>) {
            for n in nodes.as_array().into_iter().flatten() {
                out.push((
                    n["perm_code"].as_str().unwrap().to_string(),
                    n["id"].as_u64().unwrap(),
                ));
                walk(&n["children"], out);
            }
        }
        let tree = self.get("/api/admin/permissions", token).await;
        let mut all = Vec::new();
        walk(tree.ok(), &mut all);
        codes
            .iter()
            .map(|c| {
                all.iter()
                    .find(|(code, _)| code == c)
                    .unwrap_or_else(|| panic!("no permission {c}"))
                    .1
            })
            .collect()
    }

    /// Id of a built-in role (`shared::services::auth::BUILT_IN_ROLES`).
    pub async fn built_in_role(&self, token: &str, name: &str) -> u64 {
        let roles = self.get("/api/admin/roles", token).await;
        roles.ok()["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["role_name"] == name)
            .unwrap_or_else(|| panic!("no built-in role {name}"))["id"]
            .as_u64()
            .unwrap()
    }

    /// Creates an account with `body` (by `token`), gives it `roles` (by the super
    /// admin `sa`), and returns its id.
    pub async fn account_with_roles(
        &self,
        token: &str,
        sa: &str,
        body: Value,
        roles: &[u64],
    ) -> u64 {
        let id = self.post("/api/admin/accounts", token, body).await.ok()["id"]
            .as_u64()
            .unwrap();
        self.put(
            &format!("/api/admin/accounts/{id}/roles"),
            sa,
            json!({ "role_ids": roles }),
        )
        .await
        .ok();
        id
    }

    /// Creates platform staff `username` holding the built-in platform role; returns
    /// the account id.
    pub async fn platform_account(&self, sa: &str, username: &str, password: &str) -> u64 {
        let role = self.built_in_role(sa, "平台管理员").await;
        let body = json!({"username": username, "password": password, "user_type": 2});
        self.account_with_roles(sa, sa, body, &[role]).await
    }

    /// Creates a shop under `parent` with an initial agent `<code>-agent` /
    /// `password-<code>`; returns the shop id.
    pub async fn shop(&self, token: &str, code: &str, parent: Option<u64>, role: u64) -> u64 {
        let r = self
            .post("/api/admin/shops", token, shop_body(code, parent, role))
            .await;
        r.ok()["id"].as_u64().unwrap()
    }

    /// Access token of the initial agent of the shop created with `code`.
    pub async fn agent(&self, code: &str) -> String {
        self.login(&format!("{code}-agent"), &format!("password-{code}"))
            .await
    }
}

/// Body of a shop creation request.
pub fn shop_body(code: &str, parent: Option<u64>, role: u64) -> Value {
    json!({
        "shop_name": format!("Shop {code}"),
        "shop_code": code,
        "parent_id": parent,
        "default_role_id": role,
        "contact_phone": "13800138000",
        "initial_account": {"username": format!("{code}-agent"), "password": format!("password-{code}")}
    })
}

/// The items of a list answer that holds the whole list (one page, nothing more to
/// read); fails if more pages follow.
#[track_caller]
pub fn whole(page: &Value) -> &Vec<Value> {
    assert_eq!(page["has_more"], false, "more pages follow: {page}");
    assert!(page["next_cursor"].is_null(), "{page}");
    page["list"].as_array().expect("a list")
}
