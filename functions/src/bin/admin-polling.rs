//! Lambda `admin-polling`: polling configurations, data cleanup configurations, logs
//! and run-now requests (api.md §23).

#![recursion_limit = "256"]
use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_polling::routes, Clients::API).await
}
