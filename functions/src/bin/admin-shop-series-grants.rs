//! Lambda `admin-shop-series-grants`.

use shared::app::Clients;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    functions::serve_group(shared::api::admin_shop_series_grants::routes, Clients::API).await
}
