//! Lambda `admin-iot-cards`.

use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(
        shared::api::admin_iot_cards::routes,
        Clients::API.s3().import_queue().bulk_queue(),
    )
    .await
}
