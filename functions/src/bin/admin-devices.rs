//! Lambda `admin-devices`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_devices::routes).await
}
