//! Lambda `admin-asset-allocations`.

use shared::app::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_asset_allocations::routes, Clients::API).await
}
