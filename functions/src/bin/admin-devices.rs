//! Lambda `admin-devices`.

use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(
        shared::api::admin_devices::routes,
        Clients::API.s3().import_queue().bulk_queue().gateway(),
    )
    .await
}
