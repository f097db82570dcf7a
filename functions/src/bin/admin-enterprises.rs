//! Lambda `admin-enterprises`.

use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(
        shared::api::admin_enterprises::routes,
        Clients::API.bulk_queue(),
    )
    .await
}
