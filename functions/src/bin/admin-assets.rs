//! Lambda `admin-assets`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_assets::routes).await
}
