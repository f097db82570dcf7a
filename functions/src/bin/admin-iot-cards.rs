//! Lambda `admin-iot-cards`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_iot_cards::routes).await
}
