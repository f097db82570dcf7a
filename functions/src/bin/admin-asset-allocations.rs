//! Lambda `admin-asset-allocations`: allocation records and bulk tasks (the
//! results file is presigned from object storage).

use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(
        shared::api::admin_asset_allocations::routes,
        Clients::API.s3(),
    )
    .await
}
