//! Lambda `admin-package-series`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_package_series::routes).await
}
