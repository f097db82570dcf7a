//! Lambda `admin-orders`.

use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_orders::routes, Clients::API).await
}
