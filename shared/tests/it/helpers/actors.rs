//! The one cast of actors the permission tests use: the super admin, platform staff,
//! an agent at level 1 (shop A), an agent at level 3 (shop C, under B under A), the
//! agent of a sibling level-1 shop (D) and an enterprise account (enterprise EA,
//! owned by A).

use serde_json::json;

use super::TestApp;

/// Names of the actors, in the order of [`Actors::tokens`].
pub const ACTORS: [&str; 6] = [
    "super admin",
    "platform",
    "agent L1",
    "agent L3",
    "sibling L1",
    "enterprise",
];

/// Tokens and ids of the cast.
pub struct Actors {
    /// Super admin.
    pub sa: String,
    /// Platform staff (`ops`).
    pub platform: String,
    /// Agent of shop A (level 1).
    pub l1: String,
    /// Agent of shop C (level 3, below B).
    pub l3: String,
    /// Agent of shop D (level 1, beside A).
    pub sibling: String,
    /// Account of enterprise EA.
    pub enterprise: String,
    /// The customer role every shop was created with.
    pub role: u64,
    /// Shop A (L1).
    pub a: u64,
    /// Shop B (L2, under A).
    pub b: u64,
    /// Shop C (L3, under B).
    pub c: u64,
    /// Shop D (L1, sibling of A).
    pub d: u64,
    /// Enterprise EA (owned by A).
    pub ea: u64,
}

impl Actors {
    /// Creates the tree, the platform account and the enterprise, and logs everyone in.
    pub async fn new(app: &TestApp) -> Self {
        let sa = app.admin().await;
        let role = app.customer_role(&sa, "default").await;
        let a = app.shop(&sa, "A", None, role).await;
        let b = app.shop(&sa, "B", Some(a), role).await;
        let c = app.shop(&sa, "C", Some(b), role).await;
        let d = app.shop(&sa, "D", None, role).await;
        app.platform_account(&sa, "ops", "password-ops").await;
        let ea = app
            .post(
                "/api/admin/enterprises",
                &sa,
                json!({"enterprise_name": "EA", "enterprise_code": "EA", "owner_shop_id": a}),
            )
            .await
            .ok()["id"]
            .as_u64()
            .unwrap();
        let ent = json!({"username": "ent", "password": "password-e", "user_type": 4, "enterprise_id": ea});
        app.account_with_roles(&sa, &sa, ent, &[role]).await;
        Self {
            platform: app.login("ops", "password-ops").await,
            l1: app.agent("A").await,
            l3: app.agent("C").await,
            sibling: app.agent("D").await,
            enterprise: app.login("ent", "password-e").await,
            sa,
            role,
            a,
            b,
            c,
            d,
            ea,
        }
    }

    /// Every actor's token, in the order of [`ACTORS`].
    pub fn tokens(&self) -> Vec<String> {
        vec![
            self.sa.clone(),
            self.platform.clone(),
            self.l1.clone(),
            self.l3.clone(),
            self.sibling.clone(),
            self.enterprise.clone(),
        ]
    }
}
