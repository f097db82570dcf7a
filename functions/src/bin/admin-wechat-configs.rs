//! Lambda `admin-wechat-configs`: payment configurations and the audit log.

#![recursion_limit = "256"]
use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_wechat_configs::routes, Clients::API).await
}
