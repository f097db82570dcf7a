//! Lambda `admin-shop-series-grants`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_shop_series_grants::routes).await
}
