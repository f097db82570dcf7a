//! Lambda `admin-asset-allocations`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_asset_allocations::routes).await
}
