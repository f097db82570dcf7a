//! Lambda `admin-agent-recharges`.

use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_agent_recharges::routes, Clients::API).await
}
